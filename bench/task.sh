#!/bin/sh
# task.sh - the task benchmark: ptune against PyTorch on generated P-tuning
# jobs with realistic variable lengths, run alternately on the same batches.
#
#   make bench-task                    (or: PTUNE=build/ptune sh bench/task.sh)
#   ROUNDS=2 REPS=3 CONFIGS="gpt2:text-first llama:split" sh bench/task.sh
#
# Each config is MODEL:LAYOUT, MODEL one of gpt2 (GPT-2 small shape), bert
# (BERT base) and llama (a LLaMA-3.2-1B-like shape: 16 layers, width 2048, 32
# heads, 8 key/value heads, FFN 8192, vocabulary 128256; LLAMA_LAYERS=N for a
# quicker, rougher run), LAYOUT text-first ({text} [P*4] [MASK]) or split
# ([P*3] {text} [P*3] [MASK]). Example lengths are drawn uniformly from LENGTHS
# (default 15-120 tokens), BATCHES batches of BATCH examples. ptune runs the
# real training path with its defaults (key/value cache of the rows before
# the first virtual token for causal models, last-block shortcut, no products
# on padding); its first pass over the batches fills the cache and is reported
# apart. PyTorch runs the same lengths the way users run them: the full
# computation, each batch right-padded to its longest row with a key mask,
# f32, with the OpenBLAS core type that measures fastest on a probe (ptune
# runs under the same one), and bf16
# autocast where that is faster (AUTOCAST=1 tries it). Medians of ROUNDS
# interleaved rounds. "useful GFLOP/s" = the FLOPs of the full computation at
# the real tokens / ptune's time (so it can exceed the machine's peak: the
# shortcuts skip work).
set -e
PTUNE=${PTUNE:-build/ptune}
PEAK=${PEAK:-build/peak}
PYTHON=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
THREADS=${THREADS:-2}
BATCH=${BATCH:-8}
BATCHES=${BATCHES:-4}
LENGTHS=${LENGTHS:-15-120}
LLAMA_LAYERS=${LLAMA_LAYERS:-16}
AUTOCAST=${AUTOCAST:-1}
CONFIGS=${CONFIGS:-gpt2:text-first gpt2:split bert:text-first bert:split llama:text-first llama:split}
T=$(mktemp -d /tmp/ptune_task.XXXXXX)
trap 'rm -rf "$T"' EXIT

shape() { # model -> shape flags shared by both sides
    case $1 in
    gpt2) echo "--family gpt2 --layers 12 --dim 768 --heads 12" ;;
    bert) echo "--family bert --layers 12 --dim 768 --heads 12" ;;
    llama) echo "--family llama --layers $LLAMA_LAYERS --dim 2048 --heads 32 --kv-heads 8 --ffn 8192 --vocab 128256" ;;
    esac
}
prompts() { [ "$1" = split ] && echo 6 || echo 4; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)  ($(nproc) cores)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
OMP_NUM_THREADS=$THREADS $PEAK > $T/peak.json
best_ct=default
if grep -q avx512f /proc/cpuinfo; then
    # the core type PyTorch's OpenBLAS runs fastest on this CPU (1-layer probe)
    best_ms=
    for ct in default SkylakeX Haswell; do
        if [ $ct = default ]; then env -u OPENBLAS_CORETYPE $PYTHON bench/torch_bench.py --layers 1 --reps 2 --threads $THREADS > $T/probe.json
        else OPENBLAS_CORETYPE=$ct $PYTHON bench/torch_bench.py --layers 1 --reps 2 --threads $THREADS > $T/probe.json; fi
        ms=$($PYTHON -c "import json; print(json.load(open('$T/probe.json'))['train_ms'])")
        if [ -z "$best_ms" ] || $PYTHON -c "import sys; sys.exit(not ($ms < $best_ms))"; then best_ct=$ct best_ms=$ms; fi
    done
fi
echo "torch uses OPENBLAS_CORETYPE=$best_ct"
torch_run() {
    if [ $best_ct = default ]; then env -u OPENBLAS_CORETYPE $PYTHON bench/torch_bench.py "$@"
    else OPENBLAS_CORETYPE=$best_ct $PYTHON bench/torch_bench.py "$@"; fi
}
# ptune runs under the same OpenBLAS core type (both at their best)
ptune_run() {
    if [ $best_ct = default ]; then env -u OPENBLAS_CORETYPE $PTUNE bench "$@"
    else OPENBLAS_CORETYPE=$best_ct $PTUNE bench "$@"; fi
}
for cfg in $CONFIGS; do
    model=${cfg%%:*} layout=${cfg#*:}
    S=$(prompts $layout)
    common="$(shape $model) --batch $BATCH --prompts $S --threads $THREADS --reps $REPS"
    for r in $(seq 1 $ROUNDS); do
        ptune_run $common --layout $layout --lengths $LENGTHS --batches $BATCHES --json \
            >> $T/ptune_$model.$layout.jsonl
        L=$($PYTHON -c "import json; print(','.join(map(str, json.loads(open('$T/ptune_$model.$layout.jsonl').readlines()[-1])['lengths'])))")
        torch_run $common --layout $layout --lengths $L >> $T/torch_$model.$layout.jsonl
        if [ "$AUTOCAST" = 1 ]; then
            torch_run $common --layout $layout --lengths $L --autocast >> $T/torchbf_$model.$layout.jsonl
        fi
        echo "  $cfg round $r/$ROUNDS done (load $(cut -d' ' -f1 /proc/loadavg))"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
$PYTHON bench/task_report.py $T "$CONFIGS" $best_ct
