#!/bin/sh
# test_deep_cli.sh - deep prompts from the command line (ptune train --method
# prefix | ptuning-v2): they train on the tiny learnable task next to P-tuning
# (accuracy above chance), their prompt files evaluate with eval/predict,
# generate decodes after the deep prompt exactly as a hand-made cache does
# (tests/test_deep --greedy puts the file's keys/values in the cache itself),
# and misuse is refused with a message.
PT=${PTUNE_BIN:-build/ptune}
TD=${TEST_DEEP:-build/tests/test_deep}
T=$(mktemp -d /tmp/ptune_deep.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
G=tests/fixtures/gpt2/tiny
L=tests/fixtures/llama/tiny.gguf
D=tests/fixtures/learn
common="--train $D/train.jsonl --labels animal:animal,fruit:fruit --epochs 5 --lr 1e-2 --quiet"
for meth in ptuning prefix ptuning-v2; do
    tmpl="{sentence} It is a [MASK]"
    [ $meth = ptuning ] && tmpl="{sentence} [P*4] It is a [MASK]"
    if $PT train --model $G $common --template "$tmpl" --method $meth --out $T/$meth.st 2> $T/e.txt; then
        acc=$($PT eval --model $G --prompt $T/$meth.st --data $D/dev.jsonl --json | json_acc)
        echo "    $meth: dev accuracy $acc"
        check "--method $meth learns the tiny task (accuracy $acc > 0.6)" \
            "awk 'BEGIN{exit !($acc > 0.6)}'"
    else
        bad "train --method $meth: $(cat $T/e.txt)"
    fi
done
check "a prefix prompt file records its method" 'grep -q "\"ptune.method\":\"prefix\"" $T/prefix.st'
check "ptuning-v2 uses the linear head by default" 'grep -q "head.weight" $T/ptuning-v2.st'
n=$($PT predict --model $G --prompt $T/prefix.st --data $D/dev.jsonl | wc -l)
check "predict with a deep prompt: one line per example ($n)" '[ "$n" -eq 48 ]'

# generate after a deep prompt = decoding with its keys/values put in the cache by hand
$PT train --model $L --train $D/train.jsonl --labels animal:cat,fruit:mat --epochs 1 --quiet \
    --template "{sentence} It is a [MASK]" --method prefix --prefix-len 4 --out $T/lp.st
a=$($PT generate --model $L --prompt-file $T/lp.st --text "the cat" --max-tokens 8 --ids \
    --temperature 0 2> /dev/null)
b=$($TD --greedy $L $T/lp.st "the cat" 8)
c=$($PT generate --model $L --text "the cat It is a" --max-tokens 8 --ids --temperature 0 2> /dev/null)
echo "    generate: $a; by hand: $b; without the prefix: $c"
check "generate with a prefix-tuned prompt equals the hand-filled cache" '[ -n "$a" ] && [ "$a" = "$b" ]'
check "the deep prompt changes what is generated" '[ "$a" != "$c" ]'

expect_err "--method prefix with [P] tokens in the template" "remove the template's" \
    $PT train --model $G $common --template "{sentence} [P*2] It is a [MASK]" --method prefix --out $T/x.st
expect_err "an unknown --method" "must be ptuning, prefix or ptuning-v2" \
    $PT train --model $G $common --template "{sentence} [MASK]" --method lora --out $T/x.st
expect_err "--method prefix --encoder lstm" "mlp or embedding" \
    $PT train --model $G $common --template "{sentence} [MASK]" --method prefix --encoder lstm --out $T/x.st
expect_err "a deep prompt for another model" "another model" \
    $PT eval --model $L --prompt $T/prefix.st --data $D/dev.jsonl
[ $fail = 0 ] && echo "  all deep-prompt CLI checks passed"
exit $fail
