#!/bin/sh
# demo.sh - the README's main job: P-tune the real pretrained stories260K model
# (LLaMA architecture, 260K parameters, trained on TinyStories) on a task in its
# own domain - which character did it? - and compare a manual prompt with the
# P-tuned prompt on held-out examples (examples/data/stories/).
set -eu
PT=${PTUNE_BIN:-build/ptune}
E=examples/data/stories
OUT=${DEMO_OUT:-build/demo}
model=""
for d in "${PTUNE_MODELS:-}" ../shared/models; do
    if [ -n "$d" ] && [ -f "$d/stories260K/stories260K.gguf" ]; then
        model="$d/stories260K/stories260K.gguf"
        break
    fi
done
if [ -z "$model" ]; then
    echo "demo: stories260K.gguf not found in \$PTUNE_MODELS/stories260K/ or ../shared/models/stories260K/." >&2
    echo "demo: download it (1.2 MB) with:  sh scripts/fetch_stories260k.sh models && export PTUNE_MODELS=models" >&2
    exit 1
fi
mkdir -p "$OUT"
labels="Lily:Lily,Tim:Tim"
echo "model: $model"
echo "task:  $(wc -l < $E/train.jsonl) training and $(wc -l < $E/dev.jsonl) held-out examples like"
echo "       $(head -1 $E/dev.jsonl)"
echo
acc() { sed 's/.*"accuracy":\([0-9.]*\).*/\1/'; }
manual=$($PT eval --model "$model" --template "{sentence} The one who did it was [MASK]" \
    --labels "$labels" --data $E/dev.jsonl --json | acc)
echo "manual prompt  \"{sentence} The one who did it was [MASK]\"   held-out accuracy $manual"
start=$(date +%s)
$PT train --model "$model" --train $E/train.jsonl --template "{sentence} [P*8] [MASK]" \
    --labels "$labels" --encoder lstm --lr 1e-2 --batch 16 --steps 200 --seed 1 \
    --out "$OUT/stories.safetensors" --plot "$OUT/stories.svg"
tuned=$($PT eval --model "$model" --prompt "$OUT/stories.safetensors" --data $E/dev.jsonl --json | acc)
echo
echo "P-tuned prompt \"{sentence} [P*8] [MASK]\" (lstm encoder, 200 steps, $(($(date +%s) - start)) s)   held-out accuracy $tuned"
echo "prompt file: $OUT/stories.safetensors ($(wc -c < "$OUT/stories.safetensors") bytes); curve: $OUT/stories.svg"
echo "try: echo '{\"sentence\": \"Lily and Tim baked a cake. He ate it all.\"}' | $PT predict --model $model --prompt $OUT/stories.safetensors --data -"
