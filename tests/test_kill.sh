#!/bin/sh
# test_kill.sh - random SIGKILLs during training (issue 12), with and without
# --dev: each run is killed up to three times at random moments, every kill
# followed by a --resume (or, when no checkpoint was written yet, a fresh
# start), until it ends. Then the prompt file and the --log must be
# byte-identical to those of an uninterrupted run, and no temporary or lock
# file may be left. Without --dev the checkpoints come from --save-every
# alone (before issue 12 there were none until the end, so a kill lost the
# whole run); a kill after the first scheduled save must find a checkpoint.
# PTUNE_KILL_SEED=N repeats a sequence of delays.
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/gpt2/tiny
D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_kill.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
SEED=${PTUNE_KILL_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "  delays from seed $SEED (PTUNE_KILL_SEED=$SEED repeats them)"
# fractions of the uninterrupted run's duration, so that kills land inside
# the run however fast the machine is
awk -v s=$SEED 'BEGIN { srand(s); for (i = 0; i < 200; i++) printf "%.3f\n", 0.03 + rand() * 0.9 }' \
    > $T/fractions
# next_delay: sets $delay to the next fraction times the reference duration
# (not called in $(...): the counter must survive the call)
next_delay() {
    k=$((k + 1))
    delay=$(sed -n "${k}p" $T/fractions | awk -v d=$dur '{ printf "%.3f", $1 * d }')
}
now() { date +%s.%N; }
k=0
# exec: the background job's pid is ptune's own, so the signal reaches ptune
exec_run() {
    mode=$1
    shift
    if [ $mode = dev ]; then
        exec $PT train --model $M --train $D/train.jsonl --dev $D/dev.jsonl \
            --template "[P*4] {sentence} [P*2] It is a [MASK]" --labels animal:animal,fruit:fruit \
            --lr 0.03 --steps 150 --batch 16 --eval-every 4 --seed 11 --quiet "$@"
    else
        exec $PT train --model $M --train $D/train.jsonl \
            --template "[P*4] {sentence} [P*2] It is a [MASK]" --labels animal:animal,fruit:fruit \
            --lr 0.03 --steps 150 --batch 16 --save-every 7 --seed 11 --quiet "$@"
    fi
}
# run_killed MODE OUT DELAY [ARGS]: start, SIGKILL after DELAY seconds; sets rc
run_killed() {
    mode=$1 o=$2 delay=$3
    shift 3
    (exec_run $mode --out $o --log $o.log "$@") 2>> $T/err.txt &
    pid=$!
    sleep $delay
    kill -KILL $pid 2> /dev/null
    wait $pid
    rc=$?
}
resume_killed() {
    o=$1 delay=$2
    $PT train --resume $o.ckpt 2>> $T/err.txt &
    pid=$!
    sleep $delay
    kill -KILL $pid 2> /dev/null
    wait $pid
    rc=$?
}
killed=0 resumed=0
for mode in dev nodev; do
    t0=$(now)
    (exec_run $mode --out $T/ref-$mode.safetensors --log $T/ref-$mode.safetensors.log) ||
        bad "$mode: uninterrupted run"
    dur=$(awk -v a=$t0 -v b=$(now) 'BEGIN { printf "%.3f", b - a }')
    echo "  $mode: the uninterrupted run takes ${dur}s; kills land at 3-93% of that"
    for chain in 1 2 3 4 5 6; do
        o=$T/$mode$chain.safetensors
        next_delay
        run_killed $mode $o $delay
        kills=0
        while [ $rc -ne 0 ]; do
            kills=$((kills + 1))
            killed=$((killed + 1))
            if [ $kills -ge 3 ]; then # the last attempt runs to the end
                if [ -e $o.ckpt ]; then
                    $PT train --resume $o.ckpt 2>> $T/err.txt
                    rc=$?
                    resumed=$((resumed + 1))
                else
                    (exec_run $mode --out $o --log $o.log) 2>> $T/err.txt
                    rc=$?
                fi
                [ $rc -eq 0 ] || { bad "$mode chain $chain: the final run failed: $(tail -3 $T/err.txt)"; break; }
            elif [ -e $o.ckpt ]; then
                resumed=$((resumed + 1))
                next_delay
                resume_killed $o $delay
            else
                next_delay
                run_killed $mode $o $delay
            fi
        done
        if cmp -s $T/ref-$mode.safetensors $o && cmp -s $T/ref-$mode.safetensors.log $o.log; then
            ok "$mode chain $chain: $kills SIGKILLs, then the same prompt and the same log"
        else
            bad "$mode chain $chain ($kills SIGKILLs): prompt or log differs from the uninterrupted run"
            diff $T/ref-$mode.safetensors.log $o.log | head -5
        fi
    done
done
echo "  $killed SIGKILLs, $resumed resumes"
[ $killed -gt 0 ] || bad "no run was killed (the machine is too fast for these delays?)"
[ $resumed -gt 0 ] || bad "no killed run had a checkpoint to resume from"
check "no temporary or lock file left" '! ls $T | grep -q "\.tmp\.\|\.lock$"'
if grep -q "error" $T/err.txt; then bad "a run reported an error: $(grep error $T/err.txt | head -3)"; fi

# without --dev the scheduled save is what a kill leaves: a checkpoint by steps
# (--save-every N) and by time (Ts), and none with --save-every 0
long() {
    exec $PT train --model $M --train $D/train.jsonl --template "[P*2] {sentence} It is a [MASK]" \
        --labels animal:animal,fruit:fruit --steps 1000000 --batch 16 --quiet --out $T/$1.safetensors \
        --save-every $2
}
for how in "steps 5" "time 0.3s" "none 0"; do
    set -- $how
    name=$1 every=$2
    long $name $every 2> /dev/null &
    pid=$!
    sleep 1.5
    kill -KILL $pid
    wait $pid
    c=$T/$name.safetensors
    if [ $name = none ]; then
        check "--save-every 0 without --dev: no checkpoint before the end" '[ ! -e $c.ckpt ]'
    else
        check "--save-every $every without --dev: a SIGKILL leaves a checkpoint and the latest prompt" \
            '[ -e $c.ckpt ] && [ -e $c ]'
        step=$(grep -ao '"ptune.ckpt.step":"[0-9]*"' $c.ckpt | tr -dc 0-9)
        echo "    --save-every $every: checkpoint at step $step"
    fi
done
[ $fail -eq 0 ] && echo "  all kill checks passed"
exit $fail
