#!/bin/sh
# deep.sh - P-tuning, prefix tuning and P-tuning v2 side by side with the same
# seed and budget on two tasks: the demo's (stories260K, a real pretrained
# LLaMA-architecture model; needs ../shared or $PTUNE_MODELS) and the tiny
# learnable task of the tests (the tiny random GPT-2 of tests/fixtures).
# Prints one row per (task, method): held-out accuracy, trainable parameters,
# mean time per training step, prompt file size. Usage: sh bench/deep.sh [STEPS]
set -eu
PT=${PTUNE_BIN:-build/ptune}
STEPS=${1:-200}
T=$(mktemp -d /tmp/ptune_deep.XXXXXX)
trap 'rm -rf "$T"' EXIT
printf '%-8s %-11s %-9s %-10s %-12s %-14s %s\n' task method encoder head accuracy trainable "ms/step  file"
run() { # task model train dev labels method encoder template lr
    task=$1 model=$2 tr=$3 dev=$4 labels=$5 meth=$6 enc=$7 tmpl=$8 lr=$9
    out=$T/$task.$meth.safetensors
    $PT train --model "$model" --train "$tr" --template "$tmpl" --labels "$labels" \
        --method "$meth" --encoder "$enc" --lr "$lr" --batch 16 --steps "$STEPS" --seed 1 \
        --out "$out" 2> $T/log.txt || { cat $T/log.txt >&2; exit 1; }
    line=$(grep "trainable parameters" $T/log.txt)
    np=$(echo "$line" | sed 's/.*: \([0-9]*\) trainable.*/\1/')
    ms=$(echo "$line" | sed 's/.*, \([0-9.]*\) ms per.*/\1/')
    head=$(grep -o ' [a-z]* head$' $T/log.txt | head -1 | awk '{print $1}')
    acc=$($PT eval --model "$model" --prompt "$out" --data "$dev" --json |
        sed 's/.*"accuracy":\([0-9.]*\).*/\1/')
    printf '%-8s %-11s %-9s %-10s %-12s %-14s %-8s %s\n' "$task" "$meth" "$enc" "$head" "$acc" "$np" "$ms" "$(wc -c < "$out")"
}
model=""
for d in "${PTUNE_MODELS:-}" ../shared/models; do
    if [ -n "$d" ] && [ -f "$d/stories260K/stories260K.gguf" ]; then model="$d/stories260K/stories260K.gguf"; break; fi
done
E=examples/data/stories
if [ -n "$model" ]; then
    run stories "$model" $E/train.jsonl $E/dev.jsonl Lily:Lily,Tim:Tim ptuning lstm "{sentence} [P*8] [MASK]" 1e-2
    run stories "$model" $E/train.jsonl $E/dev.jsonl Lily:Lily,Tim:Tim prefix mlp "{sentence} [MASK]" 1e-2
    run stories "$model" $E/train.jsonl $E/dev.jsonl Lily:Lily,Tim:Tim ptuning-v2 embedding "{sentence} [MASK]" 1e-2
else
    echo "stories  (skipped: stories260K.gguf not found in \$PTUNE_MODELS or ../shared/models)"
fi
G=tests/fixtures/gpt2/tiny D=tests/fixtures/learn
run learn $G $D/train.jsonl $D/dev.jsonl animal:animal,fruit:fruit ptuning lstm "[P*4] {sentence} [P*2] It is a [MASK]" 3e-2
run learn $G $D/train.jsonl $D/dev.jsonl animal:animal,fruit:fruit prefix mlp "{sentence} It is a [MASK]" 3e-2
run learn $G $D/train.jsonl $D/dev.jsonl animal:animal,fruit:fruit ptuning-v2 embedding "{sentence} It is a [MASK]" 3e-2
