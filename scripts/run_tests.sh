#!/bin/sh
# run_tests.sh TEST... - runs each test program (or .sh script) from the
# repository root; exit 0 = passed, 77 = skipped, anything else = failed.
# A test that passes but skips part of its checks prints "SKIPPED: why"
# (t_note_skip in tests/test.h); those lines are counted and listed at the
# end. The last line is always the summary:
#   "N passed, M failed, K skipped, S sub-checks skipped"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
pass=0 fail=0 skip=0 sub=0 failed=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ptune-tests.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/skipped"
for t in "$@"; do
    name=$(basename "$t")
    printf '== %s\n' "$name"
    {
        case "$t" in
        *.sh) sh "$t" ;;
        *) "$t" ;;
        esac
        echo $? > "$tmp/rc"
    } 2>&1 | tee "$tmp/log"
    rc=$(cat "$tmp/rc")
    n=$(grep -c 'SKIPPED' "$tmp/log")
    if [ "$n" -gt 0 ]; then
        sub=$((sub + n))
        grep 'SKIPPED' "$tmp/log" | sed "s/^ */   $name: /" >> "$tmp/skipped"
    fi
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1)); printf '   PASS %s\n' "$name"
    elif [ "$rc" -eq 77 ]; then
        skip=$((skip + 1)); printf '   SKIP %s\n' "$name"
    else
        fail=$((fail + 1)); failed="$failed $name"; printf '   FAIL %s (exit %d)\n' "$name" "$rc"
    fi
done
if [ "$sub" -gt 0 ]; then
    echo "sub-checks skipped:"
    cat "$tmp/skipped"
fi
[ -n "$failed" ] && printf 'failed:%s\n' "$failed"
printf '%d passed, %d failed, %d skipped, %d sub-checks skipped\n' $pass $fail $skip $sub
[ $fail -eq 0 ]
