#!/bin/sh
# test_cli_bert.sh - P-tuning a masked LM end to end on the tiny BERT
# (tests/fixtures/bert/tiny): the render layout with [CLS]/[SEP] and virtual
# tokens around and after [MASK], learning with every encoder and both heads
# (tests/fixtures/learn/bert_*.jsonl), and BERT-specific errors.
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/bert/tiny
D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_bert.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
TMPL='[P*2] {sentence} [P] [MASK] [P*2] .'
LABELS='animal:yes,thing:no'
# token ids straight from vocab.txt (line number - 1), not from the tokenizer
id() { echo $(( $(grep -Fnx -- "$1" $M/vocab.txt | cut -d: -f1) - 1 )); }

# --- render: [CLS] P P this book was good P [MASK] P P . [SEP] -------------------
echo '{"sentence": "this book was good", "label": "thing"}' > $T/one.jsonl
r=$($PT render --model $M --template "$TMPL" --labels "$LABELS" --data $T/one.jsonl)
want="{\"ids\":[$(id '[CLS]'),-1,-1,$(id this),$(id book),$(id was),$(id good),-1,$(id '[MASK]'),-1,-1,$(id .),$(id '[SEP]')],\"virtual\":[1,2,7,9,10],\"answer\":8,\"label_ids\":[$(id yes),$(id no)],\"label\":1}"
echo "    $r"
check "render layout for a masked LM" '[ "$r" = "$want" ]'

# --- learning ------------------------------------------------------------------
base=$($PT eval --model $M --template "{sentence} [MASK] ." --labels "$LABELS" --data $D/bert_dev.jsonl --json)
echo "    manual prompt: $base"
for setting in lstm:0.01:60:lm mlp:0.1:30:lm embedding:0.1:30:lm lstm:0.03:30:linear; do
    enc=$(echo $setting | cut -d: -f1) lr=$(echo $setting | cut -d: -f2)
    ep=$(echo $setting | cut -d: -f3) head=$(echo $setting | cut -d: -f4)
    labels=$LABELS
    [ $head = linear ] && labels="animal,thing"
    $PT train --model $M --train $D/bert_train.jsonl --dev $D/bert_dev.jsonl --template "$TMPL" \
        --labels "$labels" --head $head --encoder $enc --lr $lr --epochs $ep --batch 16 --seed 3 \
        --out $T/p.safetensors --quiet 2> $T/err.txt || { cat $T/err.txt; bad "train $setting"; }
    res=$($PT eval --model $M --prompt $T/p.safetensors --data $D/bert_dev.jsonl --json)
    acc=$(echo "$res" | sed 's/.*"accuracy":\([0-9.]*\).*/\1/')
    echo "    $enc ($head head): $res"
    check "$enc encoder, $head head learns the rule (dev accuracy $acc >= 0.85)" 'awk "BEGIN{exit !($acc >= 0.85)}"'
done

# --- errors ----------------------------------------------------------------------
expect_err "template without [MASK]" "no \[MASK\]" $PT render --model $M --template "[P] {sentence}" --labels "$LABELS" --data $T/one.jsonl
mkdir -p $T/nomask && cp $M/config.json $M/model.safetensors $T/nomask/
sed 's/^\[MASK\]$/[MASKX]/' $M/vocab.txt > $T/nomask/vocab.txt
expect_err "vocabulary without [MASK]" "no \[MASK\]" $PT render --model $T/nomask --template "$TMPL" --labels "$LABELS" --data $T/one.jsonl
expect_err "label word unknown to the vocabulary" "not in the vocabulary" $PT render --model $M --template "$TMPL" --labels "animal:wonderful,thing:no" --data $T/one.jsonl
expect_err "label word of two pieces" "not one" $PT render --model $M --template "$TMPL" --labels "animal:dogs,thing:no" --data $T/one.jsonl
[ $fail -eq 0 ] && echo "  all BERT CLI checks passed"
exit $fail
