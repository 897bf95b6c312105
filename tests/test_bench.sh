#!/bin/sh
# test_bench.sh - `ptune bench` on small random models of every family: it runs,
# prints one JSON line with the documented keys and sane values, and refuses
# bad shapes with a clear error.
PT=${PTUNE_BIN:-build/ptune}
fail=0
ok() { printf '  ok   %s\n' "$1"; }
bad() { printf '  FAIL %s\n' "$1"; fail=1; }
SMALL="--layers 2 --dim 32 --heads 4 --vocab 500 --positions 64 --batch 2 --seq 16 --prompts 3 --reps 2 --threads 1"
for fam in gpt2 bert llama; do
    kv=""
    [ $fam = llama ] && kv="--kv-heads 2"
    out=$($PT bench --family $fam $SMALL $kv --json 2> /tmp/ptune_bench_err.$$)
    if [ $? -ne 0 ]; then bad "$fam: bench failed: $out $(cat /tmp/ptune_bench_err.$$)"; continue; fi
    keys_ok=1
    for k in train_ms eval_ms tokens_per_s gflops peak_rss_mb start_to_first_step_ms loss; do
        echo "$out" | grep -q "\"$k\":[0-9]" || keys_ok=0
    done
    if [ $keys_ok = 1 ] && [ $(echo "$out" | wc -l) -eq 1 ]; then ok "$fam: one JSON line with every key"
    else bad "$fam: JSON line (standard output): $out"; fi
    # 2 labels and random weights: the loss is near ln 2 = 0.693
    if echo "$out" | grep -Eq '"loss":0\.[5-8]'; then ok "$fam: loss near ln 2"
    else bad "$fam: loss: $out"; fi
done
out=$($PT bench $SMALL 2>&1)
echo "$out" | grep -q "^train step" && echo "$out" | grep -q "^peak RSS" && ok "table output" || bad "table: $out"
out=$($PT bench --layers 1 --dim 30 --heads 4 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "multiple of heads" && ok "bad shape refused" || bad "bad shape: $out"
out=$($PT bench $SMALL --prompts 16 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "prompts" && ok "--prompts >= --seq refused" || bad "prompts: $out"
out=$($PT bench --family t5 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "family" && ok "unknown family refused" || bad "family: $out"
rm -f /tmp/ptune_bench_err.$$
exit $fail
