#!/bin/sh
# test_info_build.sh - `ptune info --build` names the CPU and its features and,
# when the environment's OPENBLAS_CORETYPE is below this CPU, says so in one
# warning line (text) and the "openblas_better" field (JSON); `ptune bench`
# names the CPU in both outputs. The environment is used as it is found.
PT=${PTUNE_BIN:-build/ptune}
T=$(mktemp -d /tmp/ptune_ib.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
$PT info --build > $T/b.txt
$PT info --build --json > $T/b.json
cat $T/b.txt | sed 's/^/    /'
model=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
check "cpu line names /proc/cpuinfo's model ($model)" 'grep -q "^cpu: *$model" $T/b.txt'
for f in avx2 avx512f avx512_bf16 amx_tile; do
    if grep -m1 '^flags' /proc/cpuinfo | grep -qw $f; then
        check "feature $f listed (the CPU has it)" 'grep "^cpu features:" $T/b.txt | grep -qw $f'
    else
        check "feature $f not listed (the CPU lacks it)" '! grep "^cpu features:" $T/b.txt | grep -qw $f'
    fi
done
better=$(sed 's/.*"openblas_better":"\([^"]*\)".*/\1/' $T/b.json)
if [ -n "$better" ]; then
    check "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE below the CPU: warning naming $better" \
        'grep -q "warning: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE .*OPENBLAS_CORETYPE=$better" $T/b.txt'
    $PT bench --layers 1 --dim 32 --heads 2 --vocab 50 --seq 16 --reps 1 > $T/o.txt 2> $T/e.txt
    check "bench warns once too" '[ $(grep -c "warning: OPENBLAS_CORETYPE" $T/e.txt) -eq 1 ]'
else
    check "no OPENBLAS_CORETYPE warning (none set, or not below the CPU)" '! grep -q "warning: OPENBLAS_CORETYPE=" $T/b.txt'
    $PT bench --layers 1 --dim 32 --heads 2 --vocab 50 --seq 16 --reps 1 > $T/o.txt 2> $T/e.txt
fi
check "bench names the CPU" 'grep -q "^cpu  *$model" $T/o.txt'
$PT bench --layers 1 --dim 32 --heads 2 --vocab 50 --seq 16 --reps 1 --json > $T/o.json 2> /dev/null
check "bench --json names the CPU" 'grep -q "\"cpu\":\"$model\"" $T/o.json'
check "info --build names the bf16 arithmetic" 'grep -Eq "^bf16 arith: +(f32|bf16|bf16x2) " $T/b.txt'
check "info --build --json has bf16_arith" 'grep -Eq "\"bf16_arith\":\"(f32|bf16|bf16x2)\"" $T/b.json'
PTUNE_BF16_ARITH=f32 $PT info --build > $T/f.txt
check "PTUNE_BF16_ARITH=f32 gives f32" 'grep -q "^bf16 arith: *f32 (PTUNE_BF16_ARITH" $T/f.txt'
if grep -m1 '^flags' /proc/cpuinfo | grep -qw avx512_bf16; then
    PTUNE_BF16_ARITH=bf16x2 $PT info --build > $T/x.txt
    check "PTUNE_BF16_ARITH=bf16x2 gives bf16x2 (the CPU has avx512_bf16)" 'grep -q "^bf16 arith: *bf16x2 (PTUNE_BF16_ARITH" $T/x.txt'
    check "bench --json names the bf16 arithmetic" 'grep -q "\"bf16_arith\":\"bf16\"" $T/o.json'
else
    check "no avx512_bf16: the arithmetic stays f32" 'grep -q "^bf16 arith: *f32" $T/b.txt'
fi
exit $fail
