#!/bin/sh
# run.sh BUILD SECONDS TARGET... - runs each libFuzzer target BUILD/fuzz/fuzz_<t>
# for SECONDS on its committed corpus tests/fuzz/corpus/<t>/ (read only: new
# inputs go to BUILD/corpus/<t>/), prints the executions per target and exits
# non-zero if any target found a crash, leak, timeout or sanitizer report
# (reproducers are left in BUILD/artifacts/).
build=$1 secs=$2
shift 2
mkdir -p "$build/artifacts"
fail=0 failed="" total=0
printf '%-12s %10s %8s  %s\n' target execs exec/s result
for t in "$@"; do
    case "$t" in
    encode | template) max_len=1024 ;;
    json | safetensors | dataset | promptfile | config | vocabtxt) max_len=4096 ;;
    *) max_len=20000 ;; # tokenizer files, GGUF vocabularies and models
    esac
    mkdir -p "$build/corpus/$t"
    log="$build/fuzz_$t.log"
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: memory per process
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=$max_len -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" "tests/fuzz/corpus/$t" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        res=ok
    else
        res="FAILED (exit $rc, see $log)"
        fail=$((fail + 1))
        failed="$failed $t"
        grep -m 3 -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
    fi
    printf '%-12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$res"
    total=$((total + ${execs:-0}))
done
printf 'fuzz: %d targets, %d executions in total, %d failed%s\n' $# $total $fail \
    "${failed:+ (}${failed# }${failed:+)}"
[ $fail -eq 0 ]
