#!/bin/sh
# run_tests.sh TEST... - runs each test program (or .sh script) from the
# repository root; exit 0 = passed, 77 = skipped, anything else = failed.
# Ends with the summary line "N passed, M failed, K skipped".
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
pass=0 fail=0 skip=0 failed=""
for t in "$@"; do
    name=$(basename "$t")
    printf '== %s\n' "$name"
    case "$t" in
    *.sh) sh "$t" ;;
    *) "$t" ;;
    esac
    rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); printf '   PASS %s\n' "$name"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); printf '   SKIP %s\n' "$name"
    else
        fail=$((fail + 1)); failed="$failed $name"; printf '   FAIL %s (exit %d)\n' "$name" $rc
    fi
done
[ -n "$failed" ] && printf 'failed:%s\n' "$failed"
printf '%d passed, %d failed, %d skipped\n' $pass $fail $skip
[ $fail -eq 0 ]
