#!/bin/sh
# test_interrupt.sh - real signals during training. SIGTERM at several points
# (the step finishes, the checkpoint is written, exit 130), and SIGKILL at
# several points (a crash mid-write must leave the previous files intact);
# every run is then resumed from its checkpoint and must end with exactly the
# prompt file of an uninterrupted run.
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/gpt2/tiny
D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_int.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
# --eval-every 1: a checkpoint and a prompt file are written after every step,
# so the signals often land during a write
run() {
    exec_run "$@" &
    wait $!
}
# exec: the background job's pid is ptune's own, so the signal reaches ptune
exec_run() {
    exec $PT train --model $M --train $D/train.jsonl --dev $D/dev.jsonl \
        --template "[P*4] {sentence} [P*2] It is a [MASK]" --labels animal:animal,fruit:fruit \
        --encoder lstm --lr 0.03 --steps 40 --batch 16 --eval-every 1 --seed 11 --quiet "$@"
}
run --out $T/ref.safetensors || bad "uninterrupted run"
interrupted=0
for sig in TERM KILL; do
    for delay in 0.05 0.2 0.4 0.7 1.0 1.5; do
        out=$T/$sig$delay.safetensors
        exec_run --out $out 2> $T/err.txt &
        pid=$!
        sleep $delay
        kill -$sig $pid 2> /dev/null
        wait $pid
        rc=$?
        if [ $rc -ne 0 ]; then
            interrupted=$((interrupted + 1))
            # 130 = stopped cleanly; 143 only if the signal came before ptune could install
            # its handler (then there is no checkpoint yet)
            [ $sig = TERM ] && [ $rc -ne 130 ] && { [ $rc -ne 143 ] || [ -e $out.ckpt ]; } &&
                bad "SIGTERM after ${delay}s: exit $rc, want 130"
            if [ -e $out.ckpt ]; then
                $PT train --resume $out.ckpt 2> $T/res.txt || { bad "resume after SIG$sig at ${delay}s: $(cat $T/res.txt)"; continue; }
            else # killed before the first checkpoint: start again
                run --out $out || bad "rerun"
            fi
        fi
        if cmp -s $T/ref.safetensors $out; then
            ok "SIG$sig after ${delay}s (exit $rc), resumed: same final prompt"
        else
            bad "SIG$sig after ${delay}s (exit $rc): final prompt differs"
        fi
        if [ $sig = TERM ] && ls $T/*.tmp.* > /dev/null 2>&1; then bad "temporary file left after SIGTERM"; fi
    done
done
echo "  $interrupted of 12 runs were interrupted before they finished"
[ $interrupted -gt 0 ] || bad "no run was interrupted (the machine is too fast for these delays?)"
[ $fail -eq 0 ] && echo "  all interruption checks passed"
exit $fail
