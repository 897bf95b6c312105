#!/bin/sh
# test_nan.sh - NaN and inf in a model's weights or a prompt file (issue 12):
# eval, predict and generate fail with one line naming the first non-finite
# tensor instead of printing "loss -nan", invalid JSON or confident wrong
# answers; train stops without claiming a checkpoint it does not have. The
# NaN models are copies of the tiny GPT-2 fixture with one weight patched here.
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/gpt2/tiny
D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_nan.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
TMPL='[P*4] {sentence} [P*2] It is a [MASK]'
LABELS='animal:animal,fruit:fruit'
NAN='\000\000\300\177'
INF='\000\000\200\177'
# a NaN in the query/key/value projection of block 0: before issue 12 the
# attention softmax turned it into ~0 and eval printed a finite accuracy
mkdir -p $T/attn $T/lnf && cp $M/* $T/attn/ && cp $M/* $T/lnf/
st_patch $T/attn/model.safetensors h.0.attn.c_attn.weight 0 "$NAN" || bad "patch"
st_patch $T/lnf/model.safetensors ln_f.weight 3 "$INF" || bad "patch"
train() {
    $PT train --train $D/train.jsonl --template "$TMPL" --labels $LABELS --encoder mlp \
        --lr 0.03 --steps 6 --batch 16 --seed 3 --quiet "$@"
}
train --model $M --out $T/p.safetensors || bad "training on the clean model"

# at load (the default): every command that computes refuses the model, naming
# the tensor, before any output; --no-check skips this and the output checks
# below catch the non-finite results instead
for c in eval predict generate train; do
    case $c in
    eval) set -- $PT eval --model $T/attn --template "{sentence} It is a [MASK]" --labels $LABELS --data $D/dev.jsonl ;;
    predict) set -- $PT predict --model $T/attn --prompt $T/p.safetensors --data $D/dev.jsonl ;;
    generate) set -- $PT generate --model $T/attn --max-tokens 4 --temperature 0 ;;
    train) set -- train --model $T/attn --out $T/l.safetensors ;;
    esac
    expect_err "$c: NaN weights refused at load" \
        "weights are not finite; the first non-finite tensor of the model is h.0.attn.c_attn.weight\[0\] = nan" "$@"
    check "$c: nothing written to standard output" '[ ! -s $T/o.txt ]'
done
check "train refused at load: no step ran, no file written" \
    '! grep -q "step" $T/e.txt && [ ! -e $T/l.safetensors ] && [ ! -e $T/l.safetensors.ckpt ]'
expect_err "eval: inf in ln_f refused at load" "ln_f.weight\[3\] = inf" \
    $PT eval --model $T/lnf --template "{sentence} It is a [MASK]" --labels $LABELS --data $D/dev.jsonl
# eval: one line naming the tensor, non-zero exit, nothing on standard output
for m in attn lnf; do
    t=h.0.attn.c_attn.weight
    [ $m = lnf ] && t=ln_f.weight
    expect_err "eval, $t not finite" "first non-finite tensor of the model is $t" \
        $PT eval --no-check --model $T/$m --template "{sentence} It is a [MASK]" --labels $LABELS --data $D/dev.jsonl
    check "eval with $t not finite prints no result" '[ ! -s $T/o.txt ]'
done
# predict: no "nan" (invalid JSON) on standard output
for m in attn lnf; do
    expect_err "predict, $m weight not finite" "first non-finite tensor" \
        $PT predict --no-check --model $T/$m --prompt $T/p.safetensors --data $D/dev.jsonl
    check "predict, $m: no non-finite probability written" '! grep -qi "nan\|inf" $T/o.txt'
done
expect_err "generate, NaN weight" "h.0.attn.c_attn.weight" \
    $PT generate --no-check --model $T/attn --max-tokens 4 --temperature 0
# train: no checkpoint yet, so no "the last checkpoint is intact"
expect_err "train, NaN weight: says no checkpoint exists" "before any checkpoint was written" \
    train --no-check --model $T/attn --out $T/n.safetensors
check "train, NaN weight: does not claim an intact checkpoint" '! grep -q "intact" $T/e.txt'
check "train, NaN weight: names the tensor" 'grep -q "h.0.attn.c_attn.weight" $T/e.txt'
# ... and, resumed from a real checkpoint, says that one is intact
# (the model gets its NaN between the interruption and the resume)
mkdir -p $T/late && cp $M/* $T/late/
train --model $T/late --out $T/r.safetensors --interrupt-at 3 2> /dev/null
cp $T/r.safetensors.ckpt $T/r.keep
st_patch $T/late/model.safetensors h.0.attn.c_attn.weight 0 "$NAN" || bad "patch"
expect_err "train resumed on NaN weights: the checkpoint is intact" \
    "checkpoint ($T/r.safetensors.ckpt) is intact" $PT train --resume $T/r.safetensors.ckpt --no-check
check "that checkpoint is untouched" 'cmp -s $T/r.keep $T/r.safetensors.ckpt'
# a prompt file with a NaN in its table is refused when loaded, naming the tensor
cp $T/p.safetensors $T/bad.safetensors
st_patch $T/bad.safetensors prompt.embeddings 5 "$NAN" || bad "patch"
expect_err "prompt file with a NaN" "prompt.embeddings\" holds a value that is not finite" \
    $PT eval --model $M --prompt $T/bad.safetensors --data $D/dev.jsonl
# the clean model still gives finite results (the checks do not misfire)
$PT eval --model $M --prompt $T/p.safetensors --data $D/dev.jsonl > $T/ok.txt ||
    bad "eval on the clean model"
check "clean model: finite loss" 'grep -q "^loss [0-9]" $T/ok.txt'
[ $fail -eq 0 ] && echo "  all NaN checks passed"
exit $fail
