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
#  - errors: unknown type, existing output;
#  - Hugging Face directories in (scripts/gen_hf_quantize_fixtures.py): the tiny LLaMA
#    (tests/fixtures/llama/tiny_hf + a SentencePiece tokenizer.json), a LLaMA-3-style
#    model (llama3 RoPE scaling, byte-level BPE "llama-bpe") and a Qwen2 (biases,
#    head_dim 12, BPE "qwen2"): the F32 GGUF gives the HF directory's eval loss and
#    predictions and the same token ids on some lines; Q8_0 and Q4_0 GGUFs run;
#    GPT-2, BERT and RoBERTa are refused; stories260K's HF directory in ../shared if
#    there is one (skipped, saying so, otherwise).
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

# --- Hugging Face directories in -----------------------------------------------------
Q=tests/fixtures/quant
mkdir -p $T/spm && cp tests/fixtures/llama/tiny_hf/* $T/spm/ && cp $Q/hf_llama_tokenizer.json $T/spm/tokenizer.json
LD=tests/fixtures/peft/llama_dev.jsonl
loss_of() { sed 's/.*"loss":\([0-9.e-]*\).*/\1/'; }
hf_case() { # NAME DIR TEMPLATE LABELS
    n=$1 dir=$2 tm=$3 lb=$4
    $PT quantize $dir $T/$n.gguf F32 > $T/$n.q.txt 2>&1
    check "$n: quantize HF -> F32 GGUF: $(head -1 $T/$n.q.txt)" "[ -s $T/$n.gguf ] && ! grep -q 'no tokenizer' $T/$n.q.txt"
    a=$($PT eval --model $dir --template "$tm" --labels $lb --data $LD --json 2>/dev/null)
    b=$($PT eval --model $T/$n.gguf --template "$tm" --labels $lb --data $LD --json 2>/dev/null)
    la=$(echo "$a" | loss_of) lb2=$(echo "$b" | loss_of)
    d=$(awk -v a="$la" -v b="$lb2" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.3g", d }')
    check "$n: eval loss HF $la, GGUF $lb2 (difference $d, limit 1e-6)" \
        "[ -n \"$la\" ] && awk -v d=$d 'BEGIN { exit !(d <= 1e-6) }' && [ \"$(echo "$a" | json_acc)\" = \"$(echo "$b" | json_acc)\" ]"
    $PT tokenize --model $dir --json "the cat sat on the mat" > $T/$n.t1 2>&1
    $PT tokenize --model $T/$n.gguf --json "the cat sat on the mat" > $T/$n.t2 2>&1
    while read -r line; do
        $PT tokenize --model $dir "$line" >> $T/$n.t1 2>&1
        $PT tokenize --model $T/$n.gguf "$line" >> $T/$n.t2 2>&1
    done < $T/lines.txt
    check "$n: token ids of $(($(wc -l < $T/lines.txt) + 1)) lines equal (HF tokenizer vs the GGUF's)" \
        "[ -s $T/$n.t1 ] && cmp -s $T/$n.t1 $T/$n.t2"
    for q in Q8_0 Q4_0; do
        $PT quantize $dir $T/$n.$q.gguf $q > /dev/null 2>&1
        r=$($PT eval --model $T/$n.$q.gguf --template "$tm" --labels $lb --data $LD --json 2>&1)
        check "$n: $q GGUF from the HF directory runs: $r (F32 $lb2)" "echo '$r' | grep -q '\"loss\":[0-9]'"
    done
}
printf '%s\n' "the mat sat on a cat" "Hello world, 1234 times!" "  two  spaces and tabs\t." \
    "caf\303\251 na\303\257ve \342\200\224 line" > $T/lines.txt
hf_case llama_spm $T/spm "{sentence} [MASK]" a:mat,b:cat
hf_case llama3_bpe $Q/hf_llama3 "{sentence}[MASK]" a:line,b:he
hf_case qwen2_bpe $Q/hf_qwen2 "{sentence}[MASK]" a:line,b:he
$PT info $T/llama3_bpe.gguf > $T/l3info.txt 2>&1
check "llama3 RoPE scaling written as rope_freqs.weight factors ($(grep rope: $T/l3info.txt | tr -s ' '))" \
    "grep -qa 'rope_freqs.weight' $T/llama3_bpe.gguf && grep -q 'frequency factors' $T/l3info.txt"
$PT quantize $Q/hf_qwen2 $T/qm.gguf Q4_K_M > $T/qm.txt 2>&1
check "Q4_K_M from an HF directory: $(head -1 $T/qm.txt)" "grep -q 'kept in Q8_0 or F32' $T/qm.txt"
expect_err "HF GPT-2 refused" "no GGUF form" $PT quantize tests/fixtures/gpt2/tiny $T/x.gguf Q8_0
expect_err "HF BERT refused" "no GGUF form" $PT quantize tests/fixtures/bert/tiny $T/x.gguf Q8_0
expect_err "HF RoBERTa refused" "no GGUF form" $PT quantize tests/fixtures/families/roberta_hf $T/x.gguf Q8_0
$PT quantize tests/fixtures/llama/tiny_hf $T/notok.gguf F32 > $T/nt.txt 2>&1
check "an HF directory without a tokenizer: written, and said ($(tail -1 $T/nt.txt))" "grep -q 'no tokenizer' $T/nt.txt"
S=../shared/models/stories260K
SHF=""
for d in $S/hf $S/stories260K_hf $S; do [ -f $d/config.json ] && SHF=$d && break; done
if [ -n "$SHF" ]; then
    hf_case stories $SHF "{sentence} [MASK]" a:Lily,b:Tim
else
    echo "  skip stories260K HF directory: $S has no config.json (only GGUF / llama2.c files)"
fi
exit $fail
