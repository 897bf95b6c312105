#!/bin/sh
# test_generate.sh - ptune generate end to end.
#  - stories260K (../shared, LLaMA, GGUF): greedy text from BOS (200 tokens)
#    and after --text (50 tokens) equals, byte for byte, what the independent
#    PyTorch reference scripts/ref_stories.py wrote to tests/fixtures/stories/
#    (skipped with a message when ../shared or the fixture is absent);
#  - tiny GPT-2: sampling is reproducible for a seed, the N-token output is a
#    prefix of the 2N-token one (same seed), stderr counts exactly N tokens,
#    another seed gives other text;
#  - P-tuned generation: a knowledge-probing prompt trained here; the first
#    greedy token generated from its template equals ptune predict's full-vocab
#    argmax for the same sentence (batched forward vs KV-cache decoding);
#    a classification prompt with --field runs and is deterministic;
#  - errors: one clear line, non-zero exit.
PT=${PTUNE_BIN:-build/ptune}
SH=${PTUNE_SHARED:-../shared}
M=tests/fixtures/gpt2/tiny
D=tests/fixtures/learn
F=tests/fixtures/stories
T=$(mktemp -d /tmp/ptune_gen.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh

# --- stories260K against the PyTorch reference --------------------------------
S=$SH/models/stories260K/stories260K.gguf
if [ ! -r "$S" ]; then
    echo "  SKIPPED: $S absent (stories260K greedy checks)"
elif [ ! -r $F/greedy200.txt ] || [ ! -r $F/greedy_prompt50.txt ]; then
    echo "  SKIPPED: $F/greedy200.txt not present yet (reference fixtures)"
else
    $PT generate --model $S --temperature 0 --max-tokens 200 > $T/g200.txt 2> $T/err.txt ||
        { cat $T/err.txt; bad "generate stories260K"; }
    check "stories260K greedy 200 tokens from BOS == reference, byte for byte" 'cmp $T/g200.txt $F/greedy200.txt'
    $PT generate --model $S --temperature 0 --max-tokens 50 --text "Once upon a time" \
        > $T/g50.txt 2> $T/err.txt || { cat $T/err.txt; bad "generate stories260K --text"; }
    check "stories260K greedy 50 tokens after --text == reference, byte for byte" 'cmp $T/g50.txt $F/greedy_prompt50.txt'
    $PT generate --model $S --temperature 0 --max-tokens 200 --ids > $T/g200.ids 2> /dev/null
    check "stories260K greedy ids == reference ids" '[ "$(cat $T/g200.ids)" = "$(cat $F/greedy200.ids)" ]'
    head -c 60 $T/g200.txt | sed 's/^/    /'; echo
fi

# --- tiny GPT-2: sampling ------------------------------------------------------
$PT generate --model $M --max-tokens 12 --seed 5 > $T/a.txt 2> $T/a.err || bad "generate gpt2"
$PT generate --model $M --max-tokens 12 --seed 5 > $T/b.txt 2> /dev/null
$PT generate --model $M --max-tokens 24 --seed 5 > $T/c.txt 2> /dev/null
$PT generate --model $M --max-tokens 12 --seed 6 --temperature 1.5 > $T/d.txt 2> /dev/null
$PT generate --model $M --max-tokens 12 --seed 5 --temperature 1.5 > $T/e.txt 2> /dev/null
check "same seed, same text" 'cmp -s $T/a.txt $T/b.txt'
check "stderr counts exactly 12 new tokens" 'grep -q "; 12 new tokens" $T/a.err'
n=$(($(wc -c < $T/a.txt) - 1))
check "12-token text is a prefix of the 24-token text" '[ "$(head -c $n $T/c.txt | od -An -c)" = "$(head -c $n $T/a.txt | od -An -c)" ]'
check "another seed, other text" '! cmp -s $T/d.txt $T/e.txt'
$PT generate --model $M --max-tokens 12 --temperature 0 --top-k 3 > $T/g1.txt 2> /dev/null
$PT generate --model $M --max-tokens 12 --temperature 0 --seed 9 > $T/g2.txt 2> /dev/null
check "greedy ignores the seed and top-k" 'cmp -s $T/g1.txt $T/g2.txt'
$PT generate --model $M --max-tokens 0 > $T/z.txt 2> /dev/null
check "--max-tokens 0 prints only the newline" '[ "$(od -An -c $T/z.txt | tr -d " ")" = "\n" ]'

# --- P-tuned generation ---------------------------------------------------------
TK='[P*4] {sentence} [P*2] It is a [MASK]'
# barely trained (lr 0.001, one epoch), so the full-vocabulary argmax still varies by sentence
$PT train --model $M --train $D/train.jsonl --template "$TK" --knowledge --encoder embedding \
    --lr 0.001 --epochs 1 --batch 16 --seed 3 --out $T/know.safetensors --quiet 2> $T/err.txt ||
    { cat $T/err.txt; bad "train a knowledge prompt"; }
seen=""
for s in "the cat is big" "this apple was red" "a dog" "the banana" "green"; do
    echo "{\"sentence\": \"$s\"}" > $T/one.jsonl
    pred=$($PT predict --model $M --prompt $T/know.safetensors --data $T/one.jsonl --top 1 |
        sed 's/.*"token_id":\([0-9]*\),"top".*/\1/')
    got=$($PT generate --model $M --prompt-file $T/know.safetensors --text "$s" --max-tokens 1 \
        --temperature 0 --ids 2> /dev/null)
    echo "    \"$s\": predict argmax id $pred, generate id $got"
    check "first generated token == predict's argmax (\"$s\")" '[ -n "$got" ] && [ "$got" = "$pred" ]'
    seen="$seen $got"
done
nd=$(echo $seen | tr ' ' '\n' | sort -u | wc -l)
check "the predicted token varies across sentences ($nd distinct)" '[ $nd -ge 2 ]'
$PT train --model $M --train $D/train.jsonl --template "[P*3] {sentence} [P*2] It is a [MASK]" \
    --labels "animal:animal,fruit:fruit" --encoder embedding --lr 0.1 --epochs 1 --batch 16 \
    --seed 3 --out $T/cls.safetensors --quiet 2> $T/err.txt || { cat $T/err.txt; bad "train cls"; }
$PT generate --model $M --prompt-file $T/cls.safetensors --field sentence="the cat" \
    --max-tokens 8 --seed 2 > $T/p1.txt 2> $T/err.txt || { cat $T/err.txt; bad "generate --field"; }
$PT generate --model $M --prompt-file $T/cls.safetensors --field=sentence="the cat" \
    --max-tokens 8 --seed 2 > $T/p2.txt 2> /dev/null
check "P-tuned sampling is deterministic (--field NAME=VALUE, both spellings)" 'cmp -s $T/p1.txt $T/p2.txt && [ -s $T/p1.txt ]'

# --- errors -----------------------------------------------------------------------
err() { # name, command...: non-zero exit, one line on stderr naming the problem, no stdout
    name=$1; shift
    if "$@" > $T/o.txt 2> $T/e.txt; then bad "$name: accepted"; return; fi
    if [ -s $T/o.txt ] || [ $(wc -l < $T/e.txt) -ne 1 ]; then bad "$name: output"; cat $T/e.txt; return; fi
    ok "$name: $(cat $T/e.txt)"
}
err "--field without --prompt-file" $PT generate --model $M --field a=b
err "unknown field" $PT generate --model $M --prompt-file $T/cls.safetensors --field nope=1
err "missing field" $PT generate --model $M --prompt-file $T/cls.safetensors
err "bad temperature" $PT generate --model $M --temperature -1
err "no model" $PT generate --text hi
err "masked LM (BERT)" $PT generate --model tests/fixtures/bert/tiny --text hi
[ $fail -eq 0 ] && echo "  all generate checks passed"
exit $fail
