#!/bin/sh
# test_safety.sh - what ptune never does (issue 12): write over an input,
# find an unwritable output only after the run, exit 0 after a failed write,
# follow a planted temporary-file symlink, change an output's permissions,
# let two runs share an output, resume on changed data or silently drop a
# changed option; and the input rules that go with them (one UTF-8 rule for
# every format, no NUL in text, no unknown "-x" option) and the OpenBLAS hang
# under a memory limit.
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/gpt2/tiny
D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_safety.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
TMPL='[P*2] {sentence} It is a [MASK]'
LABELS='animal:animal,fruit:fruit'
cp -r $M $T/m
cp $D/train.jsonl $D/dev.jsonl $T/
trn() {
    $PT train --model $T/m --train $T/train.jsonl --template "$TMPL" --labels $LABELS \
        --steps 4 --batch 16 --quiet "$@"
}
# sum of every file a run may read, to prove none changed
inputs_sum() { cat $T/m/* $T/train.jsonl $T/dev.jsonl | cksum; }
before=$(inputs_sum)

# --- no output is an input -----------------------------------------------------
expect_err "--out = the model's weights" "ptune never writes over an input" \
    trn --out $T/m/model.safetensors
check "the model still loads after train --out aimed at it" \
    '$PT info $T/m > /dev/null && cmp -s $M/model.safetensors $T/m/model.safetensors'
expect_err "--out = the training data" "same file as --train" trn --out $T/train.jsonl
ln -s train.jsonl $T/alias.jsonl
ln $T/dev.jsonl $T/hard.jsonl
expect_err "--out = a symlink to the training data" "same file as --train" trn --out $T/alias.jsonl
expect_err "--out = a hard link to the dev data" "same file as --dev" \
    trn --dev $T/dev.jsonl --out $T/hard.jsonl
cp $T/dev.jsonl $T/x.ckpt
expect_err "--out's checkpoint = the dev data" "its checkpoint .* same file as --dev" \
    trn --dev $T/x.ckpt --out $T/x
mkdir -p $T/sub && ln -s ../m $T/sub/m
expect_err "--log = a model file through a directory symlink" "same file as the model file" \
    trn --out $T/p.safetensors --log $T/sub/m/vocab.json
expect_err "--plot = the config" "same file as the model file" \
    trn --out $T/p.safetensors --plot $T/m/config.json
expect_err "--log = --out" "are the same file" trn --out $T/p.safetensors --log $T/p.safetensors
trn --out $T/init.safetensors || bad "train"
expect_err "--out = --init FILE" "same file as --init" \
    trn --init $T/init.safetensors --out $T/init.safetensors
check "no input changed" '[ "$(inputs_sum)" = "$before" ]'

# --- every output checked before the first step ----------------------------------
expect_err "--out is a directory" "is a directory" trn --out $T/sub
expect_err "--plot in a missing directory" "cannot write" \
    trn --out $T/p.safetensors --plot $T/nowhere/c.svg
expect_err "--log in a missing directory" "cannot write" \
    trn --out $T/p.safetensors --log $T/nowhere/l.jsonl
for w in "--out $T/sub" "--plot $T/nowhere/c.svg" "--log $T/nowhere/l.jsonl"; do
    trn --out $T/p.safetensors $w 2> $T/e.txt
    check "refused before the first step: $w" '! grep -q "first step" $T/e.txt'
done

# --- standard output on a full device: one line, non-zero exit --------------------
trn --out $T/p.safetensors || bad "train"
full() {
    name=$1
    shift
    "$@" > /dev/full 2> $T/e.txt
    rc=$?
    if [ $rc -ne 0 ] && [ $(wc -l < $T/e.txt) -eq 1 ] && grep -q "standard output" $T/e.txt; then
        ok "$name to /dev/full: $(cat $T/e.txt)"
    else
        bad "$name to /dev/full (rc $rc): $(cat $T/e.txt)"
    fi
}
full predict $PT predict --model $M --prompt $T/p.safetensors --data $D/dev.jsonl
full eval $PT eval --model $M --prompt $T/p.safetensors --data $D/dev.jsonl
full render $PT render --model $M --template "$TMPL" --labels $LABELS --data $D/dev.jsonl
full tokenize $PT tokenize --model $M "the cat"
full generate $PT generate --model $M --max-tokens 3 --temperature 0
full info $PT info $M
full "info --build" $PT info --build
full help $PT --help

# --- temporary files: exclusive, stale ones removed, permissions kept --------------
echo precious > $T/victim
if command -v perl > /dev/null; then
    # symlinks under every name "OUT.tmp.PID" the next 100 processes could use
    perl -e 'open(F, "/proc/sys/kernel/ns_last_pid") or exit 1; $p = <F>;
             symlink("victim", "$ARGV[0].tmp." . ($p + $_)) for 1..100' $T/q.safetensors
    trn --out $T/q.safetensors || bad "train with planted symlinks"
    check "a planted OUT.tmp.PID symlink is never followed" '[ "$(cat $T/victim)" = precious ]'
    check "the output is a file, not a planted symlink" '[ -f $T/q.safetensors ] && [ ! -L $T/q.safetensors ]'
    # planted names whose pid a live process has taken since are (rightly) kept: remove them
    find $T -maxdepth 1 -name 'q.safetensors.tmp.*' -type l -exec rm -f {} +
else
    echo "  skip: no perl to plant the symlinks"
fi
sh -c 'exit 0' &
wait
dead=$!
echo junk > $T/q.safetensors.tmp.$dead
echo junk > $T/q.safetensors.ckpt.tmp.$dead.0badf00d
echo mine > $T/q.safetensors.tmp.$$ # a live process's: kept
trn --out $T/q.safetensors || bad "train"
check "temporary files of dead processes removed" \
    '[ ! -e $T/q.safetensors.tmp.$dead ] && [ ! -e $T/q.safetensors.ckpt.tmp.$dead.0badf00d ]'
check "a live process's temporary file kept" '[ -e $T/q.safetensors.tmp.$$ ]'
rm -f $T/q.safetensors.tmp.$$
chmod 444 $T/q.safetensors
chmod 640 $T/q.safetensors.ckpt
trn --out $T/q.safetensors || bad "train over a read-only output"
check "an existing output keeps its permissions (444, 640)" \
    '[ $(stat -c %a $T/q.safetensors) = 444 ] && [ $(stat -c %a $T/q.safetensors.ckpt) = 640 ]'
check "no temporary or lock file left" '! ls $T | grep -q "\.tmp\.\|\.lock$"'

# --- one run per output ------------------------------------------------------------
exec_long() {
    exec $PT train --model $T/m --train $T/train.jsonl --template "$TMPL" --labels $LABELS \
        --steps 100000 --batch 16 --quiet --out $T/k.safetensors 2> $T/long.txt
}
exec_long &
pid=$!
n=0
while [ ! -e $T/k.safetensors.lock ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
expect_err "a second run on the same --out is refused" "being written by another run" \
    trn --out $T/k.safetensors
kill -TERM $pid
wait $pid
rc=$?
check "the first run stopped cleanly (exit 130) after the refusal" '[ $rc -eq 130 ]'
$PT train --resume $T/k.safetensors.ckpt --steps 100000 --interrupt-at 1 2> /dev/null
[ -e $T/k.safetensors.lock ] && bad "lock file left behind" || ok "lock released at exit"

# --- resume: changed data refused by name, overrides applied or refused ---------------
run() {
    $PT train --model $T/m --train $T/train.jsonl --dev $T/dev.jsonl --template "$TMPL" \
        --labels $LABELS --encoder mlp --lr 0.03 --steps 20 --batch 16 --eval-every 5 --seed 3 "$@"
}
run --out $T/ref.safetensors 2> $T/ref.txt
run --out $T/r.safetensors --interrupt-at 12 2> /dev/null
expect_err "--resume with --lr refused by name" "\-\-lr 0.5 cannot change on --resume" \
    $PT train --resume $T/r.safetensors.ckpt --lr 0.5
expect_err "--resume with another --train refused by name" "\-\-train .* cannot change on --resume" \
    $PT train --resume $T/r.safetensors.ckpt --train $D/train.jsonl
cp $T/train.jsonl $T/train.keep
echo '{"sentence": "the dog is big", "label": "animal"}' >> $T/train.jsonl
expect_err "--resume after --train changed: refused naming it" "\-\-train $T/train.jsonl changed" \
    $PT train --resume $T/r.safetensors.ckpt
$PT train --resume $T/r.safetensors.ckpt --accept-changed-data --interrupt-at 13 2> $T/e.txt
check "--accept-changed-data: a warning, and the run goes on" 'grep -q "warning" $T/e.txt && ! grep -q "error" $T/e.txt'
cp $T/train.keep $T/train.jsonl
run --out $T/r.safetensors --interrupt-at 12 2> /dev/null
$PT train --resume $T/r.safetensors.ckpt --quiet --save-every 2 --interrupt-at 16 2> $T/e.txt
check "allowed overrides applied (--quiet, --save-every, --interrupt-at: stopped at 16)" \
    '! grep -q "^step" $T/e.txt' && check "... checkpoint at step 16" \
    'grep -q "ptune.ckpt.step\":\"16\"" $T/r.safetensors.ckpt'
$PT train --resume $T/r.safetensors.ckpt 2> $T/res.txt || bad "resume: $(cat $T/res.txt)"
check "resumed run: same prompt as the uninterrupted one" 'cmp -s $T/ref.safetensors $T/r.safetensors'
want=$(grep "best dev" $T/ref.txt | sed 's/ -> .*//')
got=$(grep "best dev" $T/res.txt | sed 's/ -> .*//')
echo "    uninterrupted: $want"
echo "    resumed:       $got"
check "resumed run reports the run's best dev accuracy" '[ -n "$want" ] && [ "$want" = "$got" ]'

# --- metrics log without --dev: training loss and learning rate ------------------------
trn --out $T/nd.safetensors --steps 25 --log $T/nd.jsonl || bad "train"
cat $T/nd.jsonl | sed 's/^/    /'
check "log without --dev: a line per 10 steps and the last" '[ $(wc -l < $T/nd.jsonl) -eq 3 ]'
check "log without --dev: train_loss and lr on every line" \
    '[ $(grep -c "\"train_loss\":[0-9.]*,\"lr\":[0-9.e-]*" $T/nd.jsonl) -eq 3 ]'

trn --out $T/e4.safetensors --steps 25 --eval-every 4 --log $T/e4.jsonl || bad "train"
steps=$(sed 's/{"step":\([0-9]*\),.*/\1/' $T/e4.jsonl | tr '\n' ' ')
echo "    --eval-every 4 without --dev: log lines at steps $steps"
check "--eval-every without --dev is not ignored: a log line at its steps too" \
    '[ "$steps" = "4 8 10 12 16 20 24 25 " ]'

# --- one UTF-8 rule, no NUL in text ----------------------------------------------------------
printf 'sentence\tlabel\nthe cat\377\376 is\tanimal\n' > $T/u.tsv
printf 'sentence,label\nthe cat\377\376 is,animal\n' > $T/u.csv
printf '{"sentence": "the cat\377\376 is", "label": "animal"}\n' > $T/u.jsonl
for f in u.tsv u.csv u.jsonl; do
    expect_err "invalid UTF-8 refused in $f" "line [12], column 8: invalid UTF-8\|line 1, column 22: invalid UTF-8" \
        $PT render --model $M --template "$TMPL" --labels $LABELS --data $T/$f
done
printf '\377\376s\000e\000' > $T/utf16.tsv
expect_err "UTF-16 named as such" "UTF-16" $PT render --model $M --template "$TMPL" --labels $LABELS --data $T/utf16.tsv
printf '{"sentence": "the cat\\u0000 is big", "label": "animal"}\n' > $T/n.jsonl
printf 'sentence\tlabel\nthe cat\000 is big\tanimal\n' > $T/n.tsv
printf 'sentence,label\n"the cat\000 is big",animal\n' > $T/n.csv
expect_err "\\u0000 in JSONL refused with line and column" "line 1, column 22: \\\\u0000" \
    $PT render --model $M --template "$TMPL" --labels $LABELS --data $T/n.jsonl
expect_err "raw NUL in TSV refused with line and column" "line 2, column 8: a NUL byte" \
    $PT render --model $M --template "$TMPL" --labels $LABELS --data $T/n.tsv
expect_err "raw NUL in CSV refused with line and column" "line 2, column 9: a NUL byte" \
    $PT render --model $M --template "$TMPL" --labels $LABELS --data $T/n.csv
printf '{"sentence": "a \\\\u0000 b", "label": "animal"}\n' > $T/lit.jsonl
$PT render --model $M --template "$TMPL" --labels $LABELS --data $T/lit.jsonl > /dev/null 2>&1 &&
    ok "an escaped backslash before u0000 is text, accepted" || bad "literal \\\\u0000 refused"

# --- a corrupt tokenizer file in a GPT-2 directory: its parse error, not "none found" ---
for f in vocab.json merges.txt tokenizer.json; do
    rm -rf $T/ct && cp -r $M $T/ct
    [ $f = tokenizer.json ] && rm $T/ct/vocab.json $T/ct/merges.txt
    printf '{"model": {"vocab": {"a": 1, broken' > $T/ct/$f
    for c in info tokenize; do
        if [ $c = info ]; then set -- $PT info $T/ct; else set -- $PT tokenize --model $T/ct "the cat"; fi
        expect_err "corrupt $f: ptune $c reports the parse error" "$T/ct/$f.*line 1" "$@"
        check "corrupt $f: ptune $c does not say none found" '! grep -q "none found" $T/e.txt $T/o.txt'
    done
done

# --- single-dash options ------------------------------------------------------------------------
expect_err "-x is an unknown option" "unknown option '-x'" $PT info -x foo
expect_err "-x on train" "unknown option '-x'" trn -x foo --out $T/p.safetensors
$PT tokenize --model $M -- "-5 degrees" > /dev/null && ok "after --, -5 is text" || bad "-- then -5"

# --- OpenBLAS under a memory limit: never a hang ---------------------------------------------------
(ulimit -v 450000 && $PT --help > /dev/null 2> $T/e.txt)
if grep -q AddressSanitizer $T/e.txt; then
    echo "  skip: the memory-limit checks (ASan's shadow memory cannot live under ulimit -v)"
elif $PT info --build | grep -q "engine: *openblas"; then
    ev() { $PT eval --model $M --template "{sentence} It is a [MASK]" --labels $LABELS --data $D/dev.jsonl; }
    for lim in 150000 200000 300000 450000; do
        for c in help eval; do
            if [ $c = help ]; then
                (ulimit -v $lim && timeout 60 $PT --help > $T/o.txt 2> $T/e.txt)
            else
                (ulimit -v $lim && timeout 60 $PT eval --model $M --template "{sentence} It is a [MASK]" \
                    --labels $LABELS --data $D/dev.jsonl > $T/o.txt 2> $T/e.txt)
            fi
            rc=$?
            if [ $rc -eq 124 ]; then
                bad "ulimit -v $lim, ptune $c: hung"
            elif [ $rc -ne 0 ] && ! grep -q "raise the limit" $T/e.txt; then
                bad "ulimit -v $lim, ptune $c: exit $rc without saying why: $(cat $T/e.txt)"
            else
                ok "ulimit -v $lim, ptune $c: exit $rc, no hang $(grep -v note $T/e.txt | head -c 100)"
            fi
        done
    done
    check "ulimit -v 450000: eval runs (on fewer threads) and gives the result" 'grep -q "^loss 1.9045" $T/o.txt'
    (ulimit -d 200000 && timeout 60 $PT --help > /dev/null 2> $T/e.txt)
    check "ulimit -d 200000, ptune --help: no hang" '[ $? -ne 124 ]'
else
    echo "  skip: the OpenBLAS checks (this build's engine is not OpenBLAS)"
fi
[ $fail -eq 0 ] && echo "  all safety checks passed"
exit $fail
