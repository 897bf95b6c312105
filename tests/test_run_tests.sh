#!/bin/sh
# test_run_tests.sh - the summary `make test` ends with (scripts/run_tests.sh):
# on four made-up tests (one passes, one passes with a sub-check that printed
# SKIPPED, one exits 77, one fails) the last line is exactly
# "2 passed, 1 failed, 1 skipped, 1 sub-checks skipped", the runner fails, and
# the skipped sub-check and the failed test are listed above the summary.
T=$(mktemp -d /tmp/ptune_runtests.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
printf 'echo fine\n' > $T/test_a.sh
printf 'echo "  SKIPPED: a part that cannot run here"\necho fine\n' > $T/test_b.sh
printf 'echo "  SKIP: nothing to do"\nexit 77\n' > $T/test_c.sh
printf 'echo broken\nexit 1\n' > $T/test_d.sh
sh scripts/run_tests.sh $T/test_a.sh $T/test_b.sh $T/test_c.sh $T/test_d.sh > $T/out.txt 2>&1
rc=$?
last=$(tail -1 $T/out.txt)
echo "  last line: $last"
check "the last line is the summary, counting the sub-check that skipped" \
    "[ '$last' = '2 passed, 1 failed, 1 skipped, 1 sub-checks skipped' ]"
check "a failed test fails the run (exit $rc)" "[ $rc -ne 0 ]"
check "the skipped sub-check is listed by test" "grep -q 'test_b.sh: S[K]IPPED: a part that cannot run here' $T/out.txt"
check "the failed test is listed" "grep -q '^failed: test_d.sh' $T/out.txt"
sh scripts/run_tests.sh $T/test_a.sh $T/test_c.sh > $T/out2.txt 2>&1
check "all passing or skipped: exit 0, '1 passed, 0 failed, 1 skipped, 0 sub-checks skipped'" \
    "[ $? -eq 0 ] && [ \"\$(tail -1 $T/out2.txt)\" = '1 passed, 0 failed, 1 skipped, 0 sub-checks skipped' ]"
exit $fail
