#!/bin/sh
# test_mpi.sh - data-parallel training under mpirun (an MPI=1 build):
#   PTUNE_BIN=build-mpi/ptune sh tests/test_mpi.sh
# Trains the tiny GPT-2 (tests/fixtures/gpt2/tiny) on the synthetic task of
# tests/fixtures/learn on 1, 2 and 3 ranks, with a global batch of 7 over 96
# examples (the last batch of each epoch has 5: uneven shards on 2 and 3
# ranks), and compares with the single-process run (the reference, itself
# checked against PyTorch by test_ptune_step and test_train): the final
# prompt tables (largest difference printed, relative tolerance 1e-4), the
# metrics log (every number), and `ptune eval` of the prompt under mpirun.
# Two runs on the same N are bit-identical. Bad input stops every rank with
# one message. SIGKILL of one rank mid-run ends the job within a few seconds
# with a message, and --resume of its checkpoint on another N finishes,
# matching the uninterrupted run; SIGSTOP of one rank ends the job after
# PTUNE_MPI_TIMEOUT seconds (the bounded wait). Skipped (exit 77) without MPI in the binary
# or without mpirun.
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/gpt2/tiny
D=tests/fixtures/learn
if ! command -v mpirun > /dev/null 2>&1; then
    echo "SKIP: no mpirun (Debian: openmpi-bin)"
    exit 77
fi
if ! $PT info --build --json | grep -q '"mpi":true'; then
    echo "SKIP: $PT is built without MPI (make MPI=1 BUILD=build-mpi)"
    exit 77
fi
T=$(mktemp -d /tmp/ptune_mpi.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
# as root mpirun needs --allow-run-as-root; 3 ranks on 2 cores --oversubscribe;
# --bind-to none lets each rank's threads use every core
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
TMPL='[P*4] {sentence} [P*2] It is a [MASK]'
ARGS="--model $M --train $D/train.jsonl --dev $D/dev.jsonl --labels animal:animal,fruit:fruit --lr 0.02 --steps 30 --batch 7 --eval-every 10 --seed 5 --threads 1 --quiet"

# the float32 data of a safetensors file as one number a line
floats() {
    _n=$(od -An -t u8 -N8 "$1" | tr -d ' ')
    od -An -v -t f4 -j $((8 + _n)) "$1" | tr -s ' ' '\n' | grep -v '^$'
}
# largest |a-b| and largest |a| of two number lists: "maxdiff maxabs"
maxdiff() {
    paste "$1" "$2" | awk '{ d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1;
        if (d > md) md = d; if (a > ma) ma = a; n++ }
        END { if (n == 0) { print "nan nan"; exit } printf "%.3g %.3g\n", md, ma }'
}
# within relative tolerance: maxdiff <= tol * maxabs
within() { echo "$1" | awk -v t="$2" '{ exit !($1 <= t * $2 && $2 > 0) }'; }
nums() { grep -o -E -- '-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?' "$1"; }
# signal_rank1 SIG CKPT: once the job started in the background as $mp has
# written CKPT, send SIG to rank 1 (the ranks are mpirun's children) and wait
# for the job; sets victim, rc and took (seconds from the signal to the end).
signal_rank1() {
    i=0
    while [ ! -e "$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
    victim=$(pgrep -P $mp | sed -n 2p)
    t0=$(date +%s.%N)
    [ -n "$victim" ] && kill "$1" $victim
    wait $mp
    rc=$?
    t1=$(date +%s.%N)
    took=$(echo "$t1 $t0" | awk '{ printf "%.2f", $1 - $2 }')
}

# --- 1, 2, 3 ranks against the single process --------------------------------
$PT train $ARGS --template "$TMPL" --out $T/ref.safetensors --log $T/ref.jsonl 2> $T/e.txt ||
    { cat $T/e.txt; bad "train, one process"; }
floats $T/ref.safetensors > $T/ref.f
for n in 1 2 3; do
    $MPIRUN -np $n $PT train $ARGS --template "$TMPL" --out $T/n$n.safetensors \
        --log $T/n$n.jsonl > $T/o.txt 2> $T/e$n.txt || { cat $T/e$n.txt; bad "train on $n ranks"; }
    floats $T/n$n.safetensors > $T/n$n.f
    md=$(maxdiff $T/ref.f $T/n$n.f)
    check "$n ranks: prompt table vs one process, largest difference, largest value: $md" \
        'within "$md" 1e-4 && [ $(wc -l < $T/n$n.f) -eq $(wc -l < $T/ref.f) ]'
    nums $T/ref.jsonl > $T/ref.l
    nums $T/n$n.jsonl > $T/n$n.l
    ml=$(maxdiff $T/ref.l $T/n$n.l)
    check "$n ranks: metrics log ($(wc -l < $T/n$n.jsonl) lines), largest difference: $ml" \
        'echo "$ml" | awk "{ exit !(\$1 <= 1e-4) }" && [ $(wc -l < $T/n$n.l) -eq $(wc -l < $T/ref.l) ]'
    # dev evaluation also split: the same best step and dev example count
    check "$n ranks: dev metrics over all 48 examples" 'grep -c "\"dev_examples\":48" $T/n$n.jsonl | grep -qx 3'
done
check "rank 0 prints ranks, threads per rank and hosts" \
    'grep -q "data-parallel: 3 ranks x 1 thread per rank; hosts: .*(ranks 0-2)" $T/e3.txt'

# --- bit-identical for a fixed N ------------------------------------------------
for n in 2 3; do
    $MPIRUN -np $n $PT train $ARGS --template "$TMPL" --out $T/again$n.safetensors \
        --log $T/again$n.jsonl 2> $T/e.txt || { cat $T/e.txt; bad "train again on $n ranks"; }
    check "$n ranks twice: bit-identical prompt and log" \
        'cmp -s $T/n$n.safetensors $T/again$n.safetensors && cmp -s $T/n$n.jsonl $T/again$n.jsonl'
done

# --- eval under mpirun: the examples split, counts and loss sums reduced -----------
$PT eval --model $M --prompt $T/ref.safetensors --data $D/dev.jsonl --batch 5 --json > $T/ev.ref
for n in 2 3; do
    $MPIRUN -np $n $PT eval --model $M --prompt $T/ref.safetensors --data $D/dev.jsonl \
        --batch 5 --json > $T/ev$n 2> $T/e.txt || { cat $T/e.txt; bad "eval on $n ranks"; }
    nums $T/ev.ref > $T/a.l
    nums $T/ev$n > $T/b.l
    me=$(maxdiff $T/a.l $T/b.l)
    check "eval on $n ranks: one line, largest difference $me ($(cat $T/ev$n))" \
        '[ $(wc -l < $T/ev$n) -eq 1 ] && echo "$me" | awk "{ exit !(\$1 <= 2e-6) }"'
done

# --- bad input: every rank stops, one message ------------------------------------
head -5 $D/train.jsonl > $T/bad.jsonl
echo '{"sentence": "x", "label": ' >> $T/bad.jsonl
$MPIRUN -np 3 $PT train --model $M --train $T/bad.jsonl --template "$TMPL" \
    --labels animal:animal,fruit:fruit --steps 3 --out $T/bad.safetensors > $T/o.txt 2> $T/e.txt
rc=$?
check "malformed line: non-zero exit ($rc) and the message once ($(grep 'ptune train:.*line 6' $T/e.txt))" \
    '[ $rc -ne 0 ] && [ $(grep -c "ptune train: .*bad.jsonl line 6:" $T/e.txt) -eq 1 ] && [ ! -e $T/bad.safetensors ]'

# --- kill one rank mid-run, resume on another N ------------------------------------
KARGS="--model $M --train $D/train.jsonl --labels animal:animal,fruit:fruit --lr 0.005 --steps 400 --batch 14 --seed 5 --threads 1 --quiet --template"
$MPIRUN -np 3 $PT train $KARGS "$TMPL" --save-every 25 --out $T/k.safetensors 2> $T/k.txt &
mp=$!
signal_rank1 -9 $T/k.safetensors.ckpt
check "SIGKILL of rank 1: the job ended in $took s (rc $rc) with a message" \
    '[ -n "$victim" ] && [ $rc -ne 0 ] && echo $took | awk "{ exit !(\$1 < 10) }" && grep -q "exited on signal 9" $T/k.txt'
step=$(grep -a -o '"ptune.ckpt.step":"[0-9]*"' $T/k.safetensors.ckpt | tr -dc '0-9')
$MPIRUN -np 2 $PT train --resume $T/k.safetensors.ckpt --quiet 2> $T/r.txt ||
    { cat $T/r.txt; bad "resume on 2 ranks"; }
$PT train $KARGS "$TMPL" --out $T/full.safetensors 2> $T/e.txt || { cat $T/e.txt; bad "uninterrupted run"; }
floats $T/k.safetensors > $T/k.f
floats $T/full.safetensors > $T/full.f
mk=$(maxdiff $T/full.f $T/k.f)
check "killed at a checkpoint of step ${step:-?} on 3 ranks, resumed on 2: vs uninterrupted, largest difference, largest value: $mk" \
    'within "$mk" 1e-4'

# --- a rank that stops answering (SIGSTOP: alive, silent): the bounded wait ends the job
rm -f $T/s.safetensors.ckpt
PTUNE_MPI_TIMEOUT=2 $MPIRUN -x PTUNE_MPI_TIMEOUT -np 3 $PT train $KARGS "$TMPL" --save-every 25 \
    --out $T/s.safetensors 2> $T/s.txt &
mp=$!
signal_rank1 -STOP $T/s.safetensors.ckpt
check "SIGSTOP of rank 1, PTUNE_MPI_TIMEOUT=2: the job ended in $took s (rc $rc): $(grep -m1 'no answer' $T/s.txt)" \
    '[ -n "$victim" ] && [ $rc -ne 0 ] && echo $took | awk "{ exit !(\$1 < 15) }" && grep -q "no answer from the other ranks for 2 s" $T/s.txt'
exit $fail
