#!/bin/sh
# test_peft.sh - PEFT adapter directories through the CLI (tests/test_peft.c
# checks the same numbers through the library):
#  - `ptune export` rewrites tests/fixtures/peft/exported/ byte for byte from
#    prompt.safetensors (that is how the fixture was made:
#      ptune train --model tests/fixtures/gpt2/tiny --train tests/fixtures/learn/train.jsonl \
#        --dev tests/fixtures/learn/dev.jsonl --template "[P*6]{sentence} It is a [MASK]" \
#        --labels animal:animal,fruit:fruit --encoder mlp --lr 0.03 --epochs 10 --batch 16 \
#        --seed 3 --out tests/fixtures/peft/prompt.safetensors
#      ptune export --peft tests/fixtures/peft/exported \
#        --prompt tests/fixtures/peft/prompt.safetensors --model tests/fixtures/gpt2/tiny
#    then /usr/bin/python3 scripts/peft_eval.py);
#  - `ptune eval --prompt DIR` gives PEFT's loss and accuracy (scripts/peft_eval.py),
#    `ptune predict` PEFT's labels, and the same output as the prompt file;
#    `ptune generate --prompt-file DIR` the same text as the file;
#  - an adapter written as PEFT writes one (foreign/) with --labels, and its errors;
#  - a LLaMA prompt with the virtual tokens before BOS against PEFT's numbers;
#  - [START] layouts for BERT and LLaMA, their export and round trip;
#  - every layout and adapter type PEFT and ptune cannot share is refused, saying why;
#  - PREFIX_TUNING: deep prompts exported (byte for byte), PEFT's loss
#    (scripts/peft_prefix_eval.py), predict / generate equal to the prompt file's,
#    an adapter written as PEFT writes one, refusals.
PT=${PTUNE_BIN:-build/ptune}
G=tests/fixtures/gpt2/tiny B=tests/fixtures/bert/tiny L=tests/fixtures/llama/tiny.gguf
D=tests/fixtures/learn F=tests/fixtures/peft
T=$(mktemp -d /tmp/ptune_peft.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
GL=animal:animal,fruit:fruit
# |a - b| <= tol
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
jnum() { sed -n "s/.*\"$1\": *\([-0-9.e]*\).*/\1/p" | head -1; }

# --- export reproduces the committed directory ------------------------------------
$PT export --peft $T/exp --prompt $F/prompt.safetensors --model $G 2> $T/e.txt
check "ptune export: $(cat $T/e.txt)" "cmp -s $T/exp/adapter_config.json $F/exported/adapter_config.json &&
    cmp -s $T/exp/adapter_model.safetensors $F/exported/adapter_model.safetensors"
check "adapter_config.json: P_TUNING (mlp encoder), CAUSAL_LM, 6 virtual tokens, width 32" \
    "grep -q '\"peft_type\": \"P_TUNING\"' $T/exp/adapter_config.json &&
     grep -q '\"encoder_reparameterization_type\": \"MLP\"' $T/exp/adapter_config.json &&
     grep -q '\"task_type\": \"CAUSAL_LM\"' $T/exp/adapter_config.json &&
     grep -q '\"num_virtual_tokens\": 6,' $T/exp/adapter_config.json &&
     grep -q '\"token_dim\": 32' $T/exp/adapter_config.json"

# --- eval / predict / generate with the directory -----------------------------------
want_loss=$(jnum loss < $F/expected_exported.json)
want_acc=$(jnum accuracy < $F/expected_exported.json)
r=$($PT eval --model $G --prompt $F/exported --data $D/dev.jsonl --json)
loss=$(echo "$r" | sed 's/.*"loss":\([0-9.]*\).*/\1/') acc=$(echo "$r" | json_acc)
echo "    ptune eval --prompt exported/: loss $loss accuracy $acc; PEFT (scripts/peft_eval.py): loss $want_loss accuracy $want_acc"
check "eval --prompt DIR: PEFT's loss (within 2e-5) and accuracy" \
    "near $loss $want_loss 2e-5 && near $acc $want_acc 1e-6"
$PT predict --model $G --prompt $F/exported --data $D/dev.jsonl > $T/pd.txt
$PT predict --model $G --prompt $F/prompt.safetensors --data $D/dev.jsonl > $T/pf.txt
check "predict: the directory and the prompt file print the same" "cmp -s $T/pd.txt $T/pf.txt"
sed 's/.*"label":"\([a-z]*\)".*/\1/' $T/pd.txt > $T/labels.txt
tr -d ' \n' < $F/expected_exported.json | grep -o '"label":"[a-z]*"' | sed 's/.*:"\(.*\)"/\1/' > $T/want.txt
check "predict: PEFT's label for each of $(wc -l < $T/want.txt) examples" \
    "[ -s $T/want.txt ] && cmp -s $T/labels.txt $T/want.txt"
$PT generate --model $G --prompt-file $F/exported --text "the dog is" --temperature 0 --max-tokens 6 --ids > $T/gd.txt 2>/dev/null
$PT generate --model $G --prompt-file $F/prompt.safetensors --text "the dog is" --temperature 0 --max-tokens 6 --ids > $T/gf.txt 2>/dev/null
check "generate --prompt-file DIR: the same tokens as the file ($(cat $T/gd.txt))" \
    "[ -s $T/gd.txt ] && cmp -s $T/gd.txt $T/gf.txt"
expect_err "a prompt file takes no --labels" "carries its own template" \
    $PT eval --model $G --prompt $F/prompt.safetensors --labels $GL --data $D/dev.jsonl

# --- LLaMA: the virtual tokens before BOS, as PEFT places them ---------------------
# (llama_prompt.safetensors: ptune train --model tests/fixtures/llama/tiny.gguf
#    --train $F/llama_train.jsonl --template "[P*3][START]{sentence} [MASK]" --labels a:mat,b:cat
#    --encoder mlp --lr 0.03 --steps 30 --batch 8 --seed 2;
#  llama_exported/: ptune export --model tests/fixtures/llama/tiny_hf)
$PT export --peft $T/lexp --prompt $F/llama_prompt.safetensors --model tests/fixtures/llama/tiny_hf 2> /dev/null
check "ptune export rewrites llama_exported/ byte for byte" \
    "cmp -s $T/lexp/adapter_config.json $F/llama_exported/adapter_config.json &&
    cmp -s $T/lexp/adapter_model.safetensors $F/llama_exported/adapter_model.safetensors"
want_loss=$(jnum loss < $F/expected_llama.json)
want_acc=$(jnum accuracy < $F/expected_llama.json)
r=$($PT eval --model $L --prompt $F/llama_exported --data $F/llama_dev.jsonl --json)
loss=$(echo "$r" | sed 's/.*"loss":\([0-9.]*\).*/\1/') acc=$(echo "$r" | json_acc)
echo "    LLaMA: ptune eval --prompt llama_exported/: loss $loss accuracy $acc; PEFT: loss $want_loss accuracy $want_acc"
check "LLaMA eval --prompt DIR: PEFT's loss (within 2e-5) and accuracy" \
    "near $loss $want_loss 2e-5 && near $acc $want_acc 1e-6"
$PT predict --model $L --prompt $F/llama_exported --data $F/llama_dev.jsonl | sed 's/.*"label":"\([a-z]*\)".*/\1/' > $T/ll.txt
tr -d ' \n' < $F/expected_llama.json | grep -o '"label":"[a-z]*"' | sed 's/.*:"\(.*\)"/\1/' > $T/lw.txt
check "LLaMA predict: PEFT's label for each of $(wc -l < $T/lw.txt) examples" \
    "[ -s $T/lw.txt ] && cmp -s $T/ll.txt $T/lw.txt"

$PT export --peft $T/bexp --prompt $F/bert_prompt.safetensors --model $B 2> /dev/null
check "ptune export rewrites bert_exported/ byte for byte (BERT, [P*3][START])" \
    "cmp -s $T/bexp/adapter_config.json $F/bert_exported/adapter_config.json &&
    cmp -s $T/bexp/adapter_model.safetensors $F/bert_exported/adapter_model.safetensors"
want_loss=$(jnum loss < $F/expected_bert.json)
r=$($PT eval --model $B --prompt $F/bert_exported --data $D/bert_dev.jsonl --json)
loss=$(echo "$r" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
check "BERT eval --prompt DIR: PEFT's loss ($loss, PEFT $want_loss)" "near $loss $want_loss 2e-5"

# --- an adapter as PEFT writes it ------------------------------------------------
want_loss=$(jnum loss < $F/expected_foreign.json)
r=$($PT eval --model $G --prompt $F/foreign --labels $GL --data $F/foreign_dev.jsonl --json 2> $T/w.txt)
loss=$(echo "$r" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
echo "    foreign/: loss $loss, PEFT $want_loss"
check "foreign adapter + --labels (template [P*5][START]{text} [MASK] implied): PEFT's loss" \
    "near $loss $want_loss 2e-5"
check "  with a warning that it does not name its model" "grep -q 'does not say which model' $T/w.txt"
r2=$($PT eval --model $G --prompt $F/foreign --labels $GL --template "[P*5]{text} [MASK]" --data $F/foreign_dev.jsonl --json 2>/dev/null)
check "  the same with --template \"[P*5]{text} [MASK]\" (GPT-2 has no start token)" '[ "$r" = "$r2" ]'
want_bf=$(jnum loss < $F/expected_foreign_bf16.json)
r=$($PT eval --model $G --prompt $F/foreign_bf16 --labels $GL --data $F/foreign_dev.jsonl --json 2>/dev/null)
loss=$(echo "$r" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
check "a BF16 adapter (a bfloat16 model's): PEFT's loss ($loss, PEFT $want_bf)" "near $loss $want_bf 2e-5"
expect_err "foreign adapter without --labels" "needs --labels" $PT eval --model $G --prompt $F/foreign --data $F/foreign_dev.jsonl
expect_err "--template with the wrong count" "has 4 virtual tokens but the adapter's prompt_embeddings has 5 rows" \
    $PT eval --model $G --prompt $F/foreign --labels $GL --template "[P*4]{text} [MASK]" --data $F/foreign_dev.jsonl
expect_err "the adapter of another model" "trained for another model" \
    $PT eval --model $B --prompt $F/exported --data $D/bert_dev.jsonl

bad_dir() { # NAME SED-EXPR: a copy of foreign/ with its config edited
    mkdir -p $T/$1 && cp $F/foreign/* $T/$1/ && sed -i "$2" $T/$1/adapter_config.json
}
bad_dir lora 's/"P_TUNING"/"LORA"/'
expect_err "a LoRA adapter" "not a prompt-learning adapter" $PT eval --model $G --prompt $T/lora --labels $GL --data $F/foreign_dev.jsonl
bad_dir prefix 's/"P_TUNING"/"PREFIX_TUNING"/'
expect_err "PREFIX_TUNING config over input-prompt rows" "should be (5, 128)" $PT eval --model $G --prompt $T/prefix --labels $GL --data $F/foreign_dev.jsonl
bad_dir s2s 's/"num_transformer_submodules": 1/"num_transformer_submodules": 2/'
expect_err "an encoder-decoder adapter" "must be 1" $PT eval --model $G --prompt $T/s2s --labels $GL --data $F/foreign_dev.jsonl
bad_dir rows 's/"num_virtual_tokens": 5/"num_virtual_tokens": 4/'
expect_err "rows that contradict the config" "should be (4, 32)" $PT eval --model $G --prompt $T/rows --labels $GL --data $F/foreign_dev.jsonl
mkdir -p $T/bin && cp $F/foreign/adapter_config.json $T/bin/ && cp $F/foreign/adapter_model.safetensors $T/bin/adapter_model.bin
expect_err "a pickled adapter_model.bin" "safe_serialization" $PT eval --model $G --prompt $T/bin --labels $GL --data $F/foreign_dev.jsonl
mkdir -p $T/extra && cp $F/foreign/adapter_config.json $T/extra/ && cp $F/prompt.safetensors $T/extra/adapter_model.safetensors
expect_err "other tensors than prompt_embeddings" "besides prompt_embeddings" $PT eval --model $G --prompt $T/extra --labels $GL --data $F/foreign_dev.jsonl
mkdir -p $T/empty
expect_err "a directory without adapter_config.json" "not a PEFT adapter" $PT eval --model $G --prompt $T/empty --labels $GL --data $F/foreign_dev.jsonl

# --- [START]: the start token after the virtual tokens ------------------------------
echo '{"sentence": "this book was good", "label": "thing"}' > $T/b1.jsonl
r=$($PT render --model $B --template "[P*2][START]{sentence} [MASK]" --labels animal:yes,thing:no --data $T/b1.jsonl)
check "BERT: [P*2][START] puts [CLS] after the virtual tokens: $r" \
    "echo '$r' | grep -q '\"ids\":\[-1,-1,2,11,15,9,18,4,3\],\"virtual\":\[0,1\]'"
echo '{"sentence": "the cat sat", "label": "a"}' > $T/l1.jsonl
r=$($PT render --model $L --template "[P*2][START]{sentence} [MASK]" --labels a:mat,b:cat --data $T/l1.jsonl)
check "LLaMA: BOS after the virtual tokens: $r" \
    "echo '$r' | grep -q '\"ids\":\[-1,-1,1,271,274,276\],\"virtual\":\[0,1\]'"
expect_err "two [START]" "more than one \[START\]" $PT render --model $B --template "[START][P][START]{sentence} [MASK]" --labels animal:yes,thing:no --data $T/b1.jsonl

# --- export refusals and the BERT / LLaMA round trips ---------------------------------
train() { # OUT MODEL TRAIN TEMPLATE LABELS [more options]
    o=$1 m=$2 tr=$3 tm=$4 lb=$5
    shift 5
    $PT train --model $m --train $tr --template "$tm" --labels "$lb" --encoder lstm --steps 3 --batch 8 --seed 1 --out $T/$o.safetensors "$@" > /dev/null 2>&1
}
train bert_default $B $D/bert_train.jsonl "[P*3] {sentence} [MASK] ." animal:yes,thing:no
expect_err "BERT, virtual tokens after [CLS] (ptune's default)" "after the model's start token" \
    $PT export --peft $T/x --prompt $T/bert_default.safetensors
train bert_start $B $D/bert_train.jsonl "[P*3][START]{sentence} [MASK] ." animal:yes,thing:no
$PT export --peft $T/bert_peft --prompt $T/bert_start.safetensors --model $B 2> /dev/null
check "BERT [P*3][START]: exported (LSTM, FEATURE_EXTRACTION, encoder_hidden_size d/2)" \
    "grep -q '\"task_type\": \"FEATURE_EXTRACTION\"' $T/bert_peft/adapter_config.json &&
     grep -q '\"encoder_reparameterization_type\": \"LSTM\"' $T/bert_peft/adapter_config.json"
a=$($PT eval --model $B --prompt $T/bert_start.safetensors --data $D/bert_dev.jsonl --json)
b=$($PT eval --model $B --prompt $T/bert_peft --data $D/bert_dev.jsonl --json)
check "BERT round trip: the same eval ($a)" '[ -n "$a" ] && [ "$a" = "$b" ]'
for i in 1 2 3 4 5 6; do
    echo '{"sentence": "the cat sat on the", "label": "a"}'
    echo '{"sentence": "the mat sat on the", "label": "b"}'
done > $T/l.jsonl
train llama_start $L $T/l.jsonl "[P*2][START]{sentence} [MASK]" a:mat,b:cat
$PT export --peft $T/llama_peft --prompt $T/llama_start.safetensors 2> /dev/null
a=$($PT predict --model $L --prompt $T/llama_start.safetensors --data $T/l.jsonl)
b=$($PT predict --model $L --prompt $T/llama_peft --data $T/l.jsonl)
check "LLaMA [P*2][START] without --model (family from the prompt): same predictions" \
    '[ -n "$a" ] && [ "$a" = "$b" ]'
train llama_default $L $T/l.jsonl "[P*2]{sentence} [MASK]" a:mat,b:cat
expect_err "LLaMA, virtual tokens after BOS" "Train with \"\[P\*2\]\[START\]" \
    $PT export --peft $T/x --prompt $T/llama_default.safetensors
train two $G $D/train.jsonl "[P*2]{sentence} [P] It is a [MASK]" $GL
expect_err "two groups of virtual tokens" "in 2 places" $PT export --peft $T/x --prompt $T/two.safetensors
train late $G $D/train.jsonl "{sentence} [P*2] It is a [MASK]" $GL
expect_err "virtual tokens not first" "does not begin with its virtual tokens" $PT export --peft $T/x --prompt $T/late.safetensors
train lin $G $D/train.jsonl "[P*2]{sentence} It is a [MASK]" $GL --head linear
expect_err "a linear head" "linear head" $PT export --peft $T/x --prompt $T/lin.safetensors
$PT train --model $G --train $D/train.jsonl --template "{sentence} It is a [MASK]" --labels $GL \
    --method prefix --prefix-len 2 --steps 2 --batch 8 --seed 1 --out $T/deep.safetensors > /dev/null 2>&1
expect_err "a deep prompt without --model" "needs --model" \
    $PT export --peft $T/x --prompt $T/deep.safetensors
$PT train --model $G --train $D/train.jsonl --template "{sentence} It is a [MASK]" --labels $GL \
    --method ptuning-v2 --prefix-len 2 --steps 2 --batch 8 --seed 1 --out $T/v2lin.safetensors > /dev/null 2>&1
expect_err "ptuning-v2 with its linear head" "Train with --head lm" \
    $PT export --peft $T/x --prompt $T/v2lin.safetensors --model $G
train emb $G $D/train.jsonl "[P*2]{sentence} It is a [MASK]" $GL --encoder embedding
$PT export --peft $T/emb_peft --prompt $T/emb.safetensors 2> /dev/null
check "embedding encoder -> PROMPT_TUNING" "grep -q '\"peft_type\": \"PROMPT_TUNING\"' $T/emb_peft/adapter_config.json"
expect_err "export of another model's prompt" "another model" \
    $PT export --peft $T/x --prompt $T/emb.safetensors --model tests/fixtures/llama/tiny_tied.gguf
check "no directory left by refused exports" "[ ! -e $T/x ]"

# --- PREFIX_TUNING: deep prompts (prefix, ptuning-v2 --head lm) ---------------------
# (prefix_gpt2.safetensors: ptune train --model tests/fixtures/gpt2/tiny --train $D/train.jsonl
#    --dev $D/dev.jsonl --template "{sentence} It is a [MASK]" --labels animal:animal,fruit:fruit
#    --method prefix --prefix-len 4 --lr 0.03 --epochs 5 --batch 16 --seed 3;
#  prefix_llama.safetensors: ptune train --model tests/fixtures/llama/tiny.gguf
#    --train $F/llama_train.jsonl --template "{sentence} [MASK]" --labels a:mat,b:cat
#    --method ptuning-v2 --head lm --prefix-len 3 --lr 0.03 --steps 30 --batch 8 --seed 2;
#  prefix_bert.safetensors: ptune train --model tests/fixtures/bert/tiny --train $D/bert_train.jsonl
#    --dev $D/bert_dev.jsonl --template "{sentence} [MASK] ." --labels animal:yes,thing:no
#    --method prefix --prefix-len 3 --lr 0.03 --epochs 5 --batch 16 --seed 3;
#  exported with --model (the GPT-2 dir, tiny.gguf, the BERT dir), then
#  scripts/peft_prefix_eval.py)
$PT export --peft $T/pg --prompt $F/prefix_gpt2.safetensors --model $G 2> /dev/null
$PT export --peft $T/pl --prompt $F/prefix_llama.safetensors --model $L 2> /dev/null
check "ptune export rewrites prefix_gpt2/ and prefix_llama/ byte for byte" \
    "cmp -s $T/pg/adapter_config.json $F/prefix_gpt2/adapter_config.json &&
     cmp -s $T/pg/adapter_model.safetensors $F/prefix_gpt2/adapter_model.safetensors &&
     cmp -s $T/pl/adapter_config.json $F/prefix_llama/adapter_config.json &&
     cmp -s $T/pl/adapter_model.safetensors $F/prefix_llama/adapter_model.safetensors"
check "LLaMA (GQA 4/2): PREFIX_TUNING, num_attention_heads 2 (KV heads), token_dim 16, no projection" \
    "grep -q '\"peft_type\": \"PREFIX_TUNING\"' $T/pl/adapter_config.json &&
     grep -q '\"num_attention_heads\": 2,' $T/pl/adapter_config.json &&
     grep -q '\"token_dim\": 16' $T/pl/adapter_config.json &&
     grep -q '\"prefix_projection\": false' $T/pl/adapter_config.json"
$PT export --peft $T/pb --prompt $F/prefix_bert.safetensors --model $B 2> /dev/null
check "ptune export rewrites prefix_bert/ byte for byte (FEATURE_EXTRACTION)" \
    "cmp -s $T/pb/adapter_config.json $F/prefix_bert/adapter_config.json &&
     cmp -s $T/pb/adapter_model.safetensors $F/prefix_bert/adapter_model.safetensors"
for c in "gpt2 $G $D/dev.jsonl" "llama $L $F/llama_dev.jsonl" "bert $B $D/bert_dev.jsonl"; do
    set -- $c
    want=$(jnum loss < $F/expected_prefix_$1.json)
    r=$($PT eval --model $2 --prompt $F/prefix_$1 --data $3 --json)
    loss=$(echo "$r" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
    check "$1: eval --prompt prefix_$1/ = PEFT's loss ($loss, PEFT $want)" "near $loss $want 2e-5"
    $PT predict --model $2 --prompt $F/prefix_$1 --data $3 > $T/a.txt
    $PT predict --model $2 --prompt $F/prefix_$1.safetensors --data $3 > $T/b.txt
    check "$1: predict from the directory = from the prompt file ($(wc -l < $T/a.txt) lines)" \
        "[ -s $T/a.txt ] && cmp -s $T/a.txt $T/b.txt"
done
$PT generate --model $L --prompt-file $F/prefix_llama --text "the cat" --temperature 0 --max-tokens 5 --ids > $T/ga.txt 2>/dev/null
$PT generate --model $L --prompt-file $F/prefix_llama.safetensors --text "the cat" --temperature 0 --max-tokens 5 --ids > $T/gb.txt 2>/dev/null
check "generate --prompt-file prefix_llama/: the file's tokens ($(cat $T/ga.txt))" "[ -s $T/ga.txt ] && cmp -s $T/ga.txt $T/gb.txt"
want=$(jnum loss < $F/expected_prefix_foreign.json)
r=$($PT eval --model $L --prompt $F/prefix_foreign --template "{sentence} [MASK]" --labels a:mat,b:cat --data $F/llama_dev.jsonl --json 2>/dev/null)
loss=$(echo "$r" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
check "prefix_foreign/ (as PEFT writes one): PEFT's loss ($loss, PEFT $want)" "near $loss $want 2e-5"
expect_err "a PREFIX_TUNING adapter with [P] in the template" "write the template without \[P\]" \
    $PT eval --model $L --prompt $F/prefix_foreign --template "[P*2]{sentence} [MASK]" --labels a:mat,b:cat --data $F/llama_dev.jsonl
expect_err "a PREFIX_TUNING adapter on another model" "another model" \
    $PT eval --model $G --prompt $F/prefix_foreign --template "{sentence} [MASK]" --labels a:mat,b:cat --data $F/llama_dev.jsonl
exit $fail
