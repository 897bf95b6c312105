#!/bin/sh
# test_quantize.sh - ptune quantize and what ptune info / --precision say about
# quantized files, end to end on the tiny LLaMA GGUF (width 32: Q8_0 and Q4_0
# blocks fit its rows, K blocks of 256 do not and fall back to Q8_0):
#  - Q8_0 and Q4_0 files load; info prints the type mix and the resident size;
#  - a manual-template eval of the Q4_0 file gives the same loss and accuracy
#    (to the printed digits) as the same model dequantized to F32 in a file
#    (the numeric 1e-5 comparison of loss and gradients is test_quant_model.c);
#  - --precision bf16 on a quantized file says it applies to float weights only;
#  - a random Q4_K_M model at a chosen shape is written and benchmarked;
#  - errors: unknown type, existing output, HF directory input.
PT=${PTUNE_BIN:-build/ptune}
M=tests/fixtures/llama/tiny.gguf
D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_quant.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh

$PT quantize $M $T/q8.gguf Q8_0 > $T/q8.txt 2>&1
check "quantize Q8_0: $(cat $T/q8.txt)" "grep -q 'Q8_0 16' $T/q8.txt"
$PT quantize $M $T/k.gguf Q4_K_M > $T/k.txt 2>&1
check "Q4_K_M on rows of 32 falls back and says so" "grep -q 'kept in Q8_0 or F32' $T/k.txt"
$PT quantize $M $T/q4.gguf Q4_0 > /dev/null 2>&1
$PT quantize $T/q4.gguf $T/q4f.gguf F32 > /dev/null 2>&1
$PT info $T/q4.gguf > $T/info.txt 2>&1
check "info: type mix" "grep -q 'type mix: *F32 5 .* Q4_0 16' $T/info.txt"
check "info: resident size" "grep -q 'resident: *about' $T/info.txt"
check "info: precision note" "grep -q 'applies only to float weights' $T/info.txt"
$PT info --json $T/q4.gguf > $T/info.json 2>&1
check "info --json: quantized, Q4_0 tensors" "grep -q '\"quantized\":true,.*\"Q4_0\":{\"tensors\":16' $T/info.json"

TM="{sentence} It is a [MASK]"
a=$($PT eval --model $T/q4.gguf --template "$TM" --labels animal:cat,fruit:mat --data $D/dev.jsonl --json 2>$T/e1.txt)
b=$($PT eval --model $T/q4f.gguf --template "$TM" --labels animal:cat,fruit:mat --data $D/dev.jsonl --json 2>$T/e2.txt)
la=$(echo "$a" | sed 's/.*"loss":\([0-9.e-]*\).*/\1/')
lb=$(echo "$b" | sed 's/.*"loss":\([0-9.e-]*\).*/\1/')
check "eval Q4_0 file vs its F32 dequantization: loss $la vs $lb" \
    "[ -n \"$la\" ] && awk -v a=$la -v b=$lb 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * b) }'"
check "eval accuracy equal" "[ \"$(echo "$a" | json_acc)\" = \"$(echo "$b" | json_acc)\" ]"
$PT eval --model $T/q4.gguf --precision bf16 --template "$TM" --labels animal:cat,fruit:mat --data $D/dev.jsonl --json > /dev/null 2> $T/p.txt
check "--precision on a quantized file: $(head -1 $T/p.txt)" "grep -q 'applies only to float weights' $T/p.txt"

$PT quantize --random 256,1,4,2,512,64 $T/r.gguf Q4_K_M > $T/r.txt 2>&1
check "random model: $(cat $T/r.txt)" "grep -q 'Q4_K 6 Q6_K 3' $T/r.txt"
$PT bench --model $T/r.gguf --batch 2 --seq 16 --prompts 2 --reps 1 > $T/b.txt 2>&1
check "bench on the random Q4_K_M model: $(grep 'peak RSS' $T/b.txt)" "grep -q 'train step' $T/b.txt"

expect_err "unknown type" "unknown TYPE" $PT quantize $M $T/x.gguf Q9_9
expect_err "existing output" "exists" $PT quantize $M $T/q8.gguf Q8_0
expect_err "HF directory" "not read yet" $PT quantize tests/fixtures/llama/tiny_hf $T/x.gguf Q8_0
exit $fail
