#!/bin/sh
# test_cli_llama.sh - P-tuning the LLaMA family end to end: the render layout
# on the tiny GGUF (BOS, SentencePiece spaces), and, with ../shared, P-tuning
# the real stories260K model on examples/data/stories (manual vs P-tuned).
PT=${PTUNE_BIN:-build/ptune}
T=$(mktemp -d /tmp/ptune_llama.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh

# --- render on tests/fixtures/llama/tiny.gguf --------------------------------------
# Its vocabulary (scripts/gen_llama_fixtures.py): <unk>=0 <s>=1 </s>=2, 256 byte tokens,
# then "▁"=259 ... "▁the"=271, "▁cat"=274, "▁sat"=276, "▁on"=278, "▁mat"=280.
# "[P*2] {sentence} [P] on the [MASK]" with "the cat sat": BOS, two virtual tokens, then
# the first text piece " the cat sat" with the dummy prefix ("▁▁the▁cat▁sat" -> ▁ ▁the
# ▁cat ▁sat), a virtual token, " on the" (no dummy prefix after the first piece), and the
# answer at the last position; label words with their leading space.
echo '{"sentence": "the cat sat", "label": "a"}' > $T/one.jsonl
r=$($PT render --model tests/fixtures/llama/tiny.gguf --template "[P*2] {sentence} [P] on the [MASK]" --labels "a:mat,b:cat" --data $T/one.jsonl)
echo "    $r"
check "render layout for LLaMA (GGUF tokenizer)" '[ "$r" = "{\"ids\":[1,-1,-1,259,271,274,276,-1,278,271],\"virtual\":[1,2,7],\"answer\":9,\"label_ids\":[280,274],\"label\":0}" ]'
r2=$($PT render --model tests/fixtures/llama/tiny_hf --template "{sentence} [MASK]" --labels "a:mat,b:cat" --data $T/one.jsonl 2>&1)
check "an HF LLaMA directory without tokenizer files: a clear error" 'echo "$r2" | grep -q "no tokenizer"'

# --- stories260K: a real pretrained model ----------------------------------------------
S=${PTUNE_SHARED:-../shared}/models/stories260K/stories260K.gguf
E=examples/data/stories
if [ ! -f "$S" ]; then
    echo "  SKIPPED: stories260K learning ($S not found)"
else
    man=$($PT eval --model $S --template "{sentence} The one who did it was [MASK]" --labels Lily:Lily,Tim:Tim --data $E/dev.jsonl --json)
    $PT train --model $S --train $E/train.jsonl --template "{sentence} [P*8] [MASK]" --labels Lily:Lily,Tim:Tim \
        --encoder embedding --lr 1e-2 --batch 16 --steps 80 --seed 1 --out $T/s.safetensors --quiet
    res=$($PT eval --model $S --prompt $T/s.safetensors --data $E/dev.jsonl --json)
    echo "    manual: $man"
    echo "    P-tuned (embedding, 80 steps): $res"
    acc=$(echo "$res" | sed 's/.*"accuracy":\([0-9.]*\).*/\1/')
    macc=$(echo "$man" | sed 's/.*"accuracy":\([0-9.]*\).*/\1/')
    check "stories260K: manual prompt near chance ($macc <= 0.6)" 'awk "BEGIN{exit !($macc <= 0.6)}"'
    check "stories260K: P-tuned held-out accuracy $acc >= 0.85" 'awk "BEGIN{exit !($acc >= 0.85)}"'
fi
[ $fail -eq 0 ] && echo "  all LLaMA CLI checks passed"
exit $fail
