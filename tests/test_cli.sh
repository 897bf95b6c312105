#!/bin/sh
# test_cli.sh - the ptune command line end to end on the tiny GPT-2
# (tests/fixtures/gpt2/tiny) and the synthetic task of tests/fixtures/learn:
# tokenize, info, render, train (every encoder, both heads), eval, predict,
# reproducibility, resume, and bad input (one clear error line, non-zero exit,
# no partial output).
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/gpt2/tiny
D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
TMPL='[P*4] {sentence} [P*2] It is a [MASK]'
LABELS='animal:animal,fruit:fruit'

# --- tokenize and info -------------------------------------------------------
ids=$($PT tokenize --model $M " the movie was great")
check "tokenize gives 4 ids" '[ $(echo "$ids" | wc -w) -eq 4 ]'
back=$($PT tokenize --model $M --decode "$ids")
check "decode(encode(x)) == x" '[ "$back" = " the movie was great" ]'
printf ' a\n\tb  ' > $T/in.txt
ids2=$($PT tokenize --model $M < $T/in.txt)
$PT tokenize --model $M --decode "$ids2" > $T/out.txt
check "stdin read byte for byte (round trip)" 'cmp -s $T/in.txt $T/out.txt'
js=$($PT tokenize --model $M --json " the cat")
check "--json list" 'echo "$js" | grep -q "^\[[0-9]*,[0-9]*\]$"'
pc=$($PT tokenize --model $M --pieces " the cat")
check "--pieces" '[ "$pc" = "Ġthe Ġcat" ]'
$PT info $M > $T/info.txt
check "info names the family and width" 'grep -q "family: *gpt2" $T/info.txt && grep -q "width: *32" $T/info.txt'
$PT info --json $M | grep -q '"parameters":' && ok "info --json" || bad "info --json"

# --- render ------------------------------------------------------------------
echo '{"sentence": "the cat", "label": "animal"}' > $T/one.jsonl
r=$($PT render --model $M --template "$TMPL" --labels "$LABELS" --data $T/one.jsonl)
echo "    $r"
check "render: virtual positions and answer" 'echo "$r" | grep -q "\"virtual\":\[0,1,2,3,6,7\],\"answer\":10"'
check "render: label index" 'echo "$r" | grep -q "\"label\":0}"'

# --- training: every encoder with the lm head, and the linear head -------------
base=$($PT eval --model $M --template "{sentence} It is a [MASK]" --labels "$LABELS" --data $D/dev.jsonl --json)
echo "    manual prompt: $base"
for setting in lstm:0.03:30 mlp:0.03:30 embedding:0.1:15; do
    enc=${setting%%:*} lr=$(echo $setting | cut -d: -f2) ep=${setting##*:}
    $PT train --model $M --train $D/train.jsonl --dev $D/dev.jsonl --template "$TMPL" \
        --labels "$LABELS" --encoder $enc --lr $lr --epochs $ep --batch 16 --seed 3 \
        --out $T/$enc.safetensors --quiet 2> $T/err.txt || { cat $T/err.txt; bad "train $enc"; }
    res=$($PT eval --model $M --prompt $T/$enc.safetensors --data $D/dev.jsonl --json)
    acc=$(echo "$res" | sed 's/.*"accuracy":\([0-9.]*\).*/\1/')
    echo "    $enc (lm head): $res"
    check "$enc encoder learns the rule (dev accuracy $acc >= 0.85)" 'awk "BEGIN{exit !($acc >= 0.85)}"'
done
$PT train --model $M --train $D/train.jsonl --dev $D/dev.jsonl --template "$TMPL" \
    --labels "animal,fruit" --head linear --encoder lstm --lr 0.03 --epochs 30 --batch 16 \
    --seed 3 --out $T/linear.safetensors --quiet 2> $T/err.txt || { cat $T/err.txt; bad "train linear"; }
res=$($PT eval --model $M --prompt $T/linear.safetensors --data $D/dev.jsonl --json)
acc=$(echo "$res" | sed 's/.*"accuracy":\([0-9.]*\).*/\1/')
echo "    lstm (linear head): $res"
check "linear head learns the rule (dev accuracy $acc >= 0.85)" 'awk "BEGIN{exit !($acc >= 0.85)}"'

# --- knowledge probing: the label is the answer word, scored over the whole vocabulary ---
kb=$($PT eval --model $M --template "{sentence} It is a [MASK]" --knowledge --data $D/dev.jsonl --json)
$PT train --model $M --train $D/train.jsonl --dev $D/dev.jsonl --template "$TMPL" --knowledge \
    --encoder mlp --lr 0.03 --epochs 20 --batch 16 --seed 3 --out $T/know.safetensors --quiet
res=$($PT eval --model $M --prompt $T/know.safetensors --data $D/dev.jsonl --json)
p1=$(echo "$res" | sed 's/.*"p_at_1":\([0-9.]*\).*/\1/')
echo "    knowledge: manual $kb; P-tuned $res"
check "knowledge probing learns (P@1 $p1 >= 0.6 over the 391-token vocabulary)" 'awk "BEGIN{exit !($p1 >= 0.6)}"'
printf 'animal\nfruit\n' > $T/filter.txt
check "--vocab-filter restricts P@1 to a word list" '$PT eval --model $M --prompt $T/know.safetensors --data $D/dev.jsonl --vocab-filter $T/filter.txt | grep -q "P@1"'
$PT predict --model $M --prompt $T/know.safetensors --data $D/dev.jsonl --top 3 > $T/kp.jsonl
check "knowledge predict lists the top candidates" 'head -1 $T/kp.jsonl | grep -q "\"top\":\[{\"word\":"'
# seed vectors from the vocabulary or from words
check "--init vocab" '$PT train --model $M --train $D/train.jsonl --template "$TMPL" --labels $LABELS --init vocab --steps 2 --out $T/iv.safetensors --quiet'
check "--init words:..." '$PT train --model $M --train $D/train.jsonl --template "$TMPL" --labels $LABELS --init "words:the cat is" --encoder embedding --steps 2 --out $T/iw.safetensors --quiet'

# --- predict -----------------------------------------------------------------
$PT predict --model $M --prompt $T/lstm.safetensors --data $D/dev.jsonl > $T/pred.jsonl
check "predict: one line per example" '[ $(wc -l < $T/pred.jsonl) -eq $(wc -l < $D/dev.jsonl) ]'
check "predict: label and probabilities" 'head -1 $T/pred.jsonl | grep -q "\"label\":\"[a-z]*\",\"probs\":{\"animal\":"'
echo '{"sentence": "the dog is big"}' | $PT predict --model $M --prompt $T/lstm.safetensors --data - > $T/p1.txt
check "predict from stdin without labels" 'grep -q "\"label\":\"animal\"" $T/p1.txt'

# --- reproducibility and resume --------------------------------------------------
args="--model $M --train $D/train.jsonl --dev $D/dev.jsonl --template \"$TMPL\" --labels $LABELS --encoder lstm --lr 0.02 --steps 30 --batch 16 --eval-every 10 --seed 5 --quiet"
eval $PT train $args --out $T/a.safetensors
eval $PT train $args --out $T/b.safetensors
check "same seed, same prompt file (bit for bit)" 'cmp -s $T/a.safetensors $T/b.safetensors'
eval $PT train ${args%--quiet} --recompute --out $T/r.safetensors 2> $T/r.txt
check "train reports its load time and when the first step starts" 'grep -q "loaded .* in [0-9.]* s" $T/r.txt && grep -q "first step starts [0-9.]* s after launch" $T/r.txt'
check "--recompute: the same prompt file (bit for bit)" 'cmp -s $T/a.safetensors $T/r.safetensors'
eval $PT train $args --out $T/c.safetensors --interrupt-at 13 2> $T/int.txt
rc=$?
check "interrupted run exits non-zero (130)" '[ $rc -eq 130 ]'
check "interruption says how to resume" 'grep -q "ptune train --resume $T/c.safetensors.ckpt" $T/int.txt'
$PT train --resume $T/c.safetensors.ckpt 2> $T/res.txt || { cat $T/res.txt; bad "resume"; }
check "resumed run ends with the uninterrupted run's prompt" 'cmp -s $T/a.safetensors $T/c.safetensors'

# --- logs and plot -------------------------------------------------------------
eval $PT train $args --out $T/d.safetensors --log $T/log.jsonl --plot $T/curve.svg
check "metrics log: one JSON line per evaluation" '[ $(wc -l < $T/log.jsonl) -eq 3 ] && grep -q "\"dev_accuracy\"" $T/log.jsonl'
check "training curve SVG" 'grep -q "<polyline" $T/curve.svg'

# --- bad input: one clear error line, non-zero exit ------------------------------
tr_args="--model $M --train $D/train.jsonl --labels $LABELS --out $T/x.safetensors --steps 1"
expect_err "unknown field" "{nosuch}" $PT train $tr_args --template "[P] {nosuch} [MASK]"
expect_err "no [MASK]" "no \[MASK\]" $PT train $tr_args --template "[P] {sentence}"
expect_err "[MASK] not last" "must end" $PT train $tr_args --template "[P] [MASK] {sentence}"
printf '{"sentence": "the cat", "label": "bird"}\n' > $T/badlabel.jsonl
expect_err "label not in --labels" "line 1: label \"bird\"" $PT train --model $M --train $T/badlabel.jsonl --template "$TMPL" --labels $LABELS --out $T/x.safetensors
expect_err "multi-token label word" "wonderful" $PT train $tr_args --template "$TMPL" --labels "animal:wonderful,fruit:fruit"
: > $T/empty.jsonl
expect_err "empty data file" "no examples" $PT train --model $M --train $T/empty.jsonl --template "$TMPL" --labels $LABELS --out $T/x.safetensors
printf '{"sentence": "a", "label": "animal"}\n{"sentence": oops}\n' > $T/mal.jsonl
expect_err "malformed data names the line" "line 2" $PT train --model $M --train $T/mal.jsonl --template "$TMPL" --labels $LABELS --out $T/x.safetensors
expect_err "unwritable output" "/nonexistent/dir/p.safetensors" $PT train --model $M --train $D/train.jsonl --template "$TMPL" --labels $LABELS --steps 1 --out /nonexistent/dir/p.safetensors
check "no partial output after errors" '[ ! -e $T/x.safetensors ]'
expect_err "lr out of range" "lr" $PT train $tr_args --template "$TMPL" --lr -1
expect_err "unknown option" "unknown option" $PT train --bogus
# a prompt file for another model: the same files with one embedding value changed
# (wte.weight is the first tensor of the fixture, so its data starts right after the header)
mkdir -p $T/other && cp $M/config.json $M/vocab.json $M/merges.txt $M/model.safetensors $T/other/
hlen=$(od -An -t u8 -N8 $M/model.safetensors | tr -d ' ')
printf '\177' | dd of=$T/other/model.safetensors bs=1 seek=$((8 + hlen + 3)) conv=notrunc 2>/dev/null
expect_err "prompt for another model" "another model" $PT eval --model $T/other --prompt $T/lstm.safetensors --data $D/dev.jsonl
# a NaN in the model (ln_f.weight[0]): training stops at step 1 and says so
mkdir -p $T/nan && cp $M/* $T/nan/
hl=$(od -An -t u8 -N8 $M/model.safetensors | tr -d ' ')
off=$(head -c $((8 + hl)) $M/model.safetensors | tail -c $hl | grep -o '"ln_f.weight":{[^}]*}' |
    sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
printf '\000\000\300\177' | dd of=$T/nan/model.safetensors bs=1 seek=$((8 + hl + off)) conv=notrunc 2>/dev/null
expect_err "NaN loss stops training, naming the step" "step 1: the loss or a gradient is not finite" $PT train --no-check --model $T/nan --train $D/train.jsonl --template "$TMPL" --labels $LABELS --steps 3 --out $T/nan/p.safetensors
# a model directory without tokenizer files
mkdir -p $T/notok && cp $M/config.json $M/model.safetensors $T/notok/
expect_err "tokenize without a tokenizer" "no tokenizer found" $PT tokenize --model $T/notok "hi"
expect_err "train without a tokenizer" "no tokenizer" $PT train --model $T/notok --train $D/train.jsonl --template "$TMPL" --labels $LABELS --out $T/x.safetensors
expect_err "truncated weights file" "model.safetensors" sh -c "mkdir -p $T/trunc && cp $M/* $T/trunc/ && head -c 50000 $M/model.safetensors > $T/trunc/model.safetensors && $PT info $T/trunc"

# --- the C API example ------------------------------------------------------------
EX=${BUILD:-build}/examples/classify
if [ -x $EX ]; then
    (cd $T && "$OLDPWD/$EX" "$OLDPWD/$M" "$OLDPWD/$D/train.jsonl" "$OLDPWD/$D/dev.jsonl" "$TMPL" "$LABELS" "the dog is big") > $T/ex.txt 2>&1
    check "examples/classify trains and predicts through the public API" 'grep -q "\"the dog is big\" -> animal" $T/ex.txt'
fi

[ $fail -eq 0 ] && echo "  all CLI checks passed"
exit $fail
