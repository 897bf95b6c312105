#!/bin/sh
# compare.sh - ptune against PyTorch on the same shapes, run alternately.
#
#   make bench-compare                 (builds ptune and bench/peak.c first)
#   ROUNDS=3 REPS=3 LAYERS=12 THREADS=2 FAMILIES="gpt2 bert" sh bench/compare.sh
#
# For each family (GPT-2 small and BERT base shapes, batch 8 x 128 tokens, 8
# virtual tokens, LSTM encoder) it runs `ptune bench --json` and
# bench/torch_bench.py alternately ROUNDS times, each timing REPS training
# steps and evaluation batches after a warm-up, and prints the medians, the
# ratios (torch time / ptune time: above 1 means ptune is faster), peak RSS,
# start-to-first-step, and ptune's GFLOP/s against the measured fp32 FMA peak
# (bench/peak.c). PyTorch runs with the OpenBLAS core type that measures
# fastest on a 1-layer probe (CORETYPES, "default" = OpenBLAS's own choice).
# Each round also runs ptune with --recompute (activation recomputation: less
# memory, more work) unless RECOMPUTE=0.
# Knobs: ROUNDS, REPS, LAYERS (fewer layers = a quicker, rougher run), THREADS,
# FAMILIES, BATCH, SEQ, PROMPTS, ENCODER, CORETYPES, RECOMPUTE, PTUNE, PEAK, PYTHON.
set -e
PTUNE=${PTUNE:-build/ptune}
PEAK=${PEAK:-build/peak}
PYTHON=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
LAYERS=${LAYERS:-12}
THREADS=${THREADS:-2}
FAMILIES=${FAMILIES:-gpt2 bert}
BATCH=${BATCH:-8}
SEQ=${SEQ:-128}
PROMPTS=${PROMPTS:-8}
ENCODER=${ENCODER:-lstm}
RECOMPUTE=${RECOMPUTE:-1}
if [ -z "$CORETYPES" ]; then
    if grep -q avx512f /proc/cpuinfo; then CORETYPES="default SkylakeX Haswell"
    elif grep -q avx2 /proc/cpuinfo; then CORETYPES="default Haswell Zen"
    else CORETYPES="default"; fi
fi
T=$(mktemp -d /tmp/ptune_bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
SHAPE="--batch $BATCH --seq $SEQ --prompts $PROMPTS --encoder $ENCODER --threads $THREADS"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)  ($(nproc) cores)"
OMP_NUM_THREADS=$THREADS $PEAK > $T/peak.json
echo "fp32 FMA peak, $THREADS threads: $(cat $T/peak.json)"

# OpenBLAS core type for PyTorch: the fastest training step on a 1-layer probe
best_ct=default best_ms=
for ct in $CORETYPES; do
    if [ $ct = default ]; then env -u OPENBLAS_CORETYPE $PYTHON bench/torch_bench.py --layers 1 \
        --reps 2 $SHAPE > $T/probe.json || continue
    else OPENBLAS_CORETYPE=$ct $PYTHON bench/torch_bench.py --layers 1 --reps 2 $SHAPE \
        > $T/probe.json || continue; fi
    ms=$($PYTHON -c "import json,sys; d=json.load(open('$T/probe.json')); print(d['train_ms'])")
    core=$($PYTHON -c "import json,sys; print(json.load(open('$T/probe.json'))['openblas_core'])")
    echo "torch probe: OPENBLAS_CORETYPE=$ct (runs $core): 1-layer train step $ms ms"
    if [ -z "$best_ms" ] || $PYTHON -c "import sys; sys.exit(not ($ms < $best_ms))"; then
        best_ct=$ct best_ms=$ms
    fi
done
echo "torch uses OPENBLAS_CORETYPE=$best_ct"
torch_run() {
    if [ $best_ct = default ]; then env -u OPENBLAS_CORETYPE $PYTHON bench/torch_bench.py "$@"
    else OPENBLAS_CORETYPE=$best_ct $PYTHON bench/torch_bench.py "$@"; fi
}

for fam in $FAMILIES; do
    for r in $(seq 1 $ROUNDS); do
        $PTUNE bench --family $fam --layers $LAYERS $SHAPE --reps $REPS --json >> $T/ptune_$fam.jsonl
        torch_run --family $fam --layers $LAYERS $SHAPE --reps $REPS >> $T/torch_$fam.jsonl
        if [ "$RECOMPUTE" != 0 ]; then
            $PTUNE bench --family $fam --layers $LAYERS $SHAPE --reps $REPS --recompute --json \
                >> $T/ptunerc_$fam.jsonl
        fi
        echo "  $fam round $r/$ROUNDS done (load $(cut -d' ' -f1 /proc/loadavg))"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# the peak again: a busy moment only lowers it, so keep the higher measurement
OMP_NUM_THREADS=$THREADS $PEAK > $T/peak2.json
$PYTHON -c "import json; a, b = (json.load(open('$T/' + f)) for f in ('peak.json', 'peak2.json')); json.dump(max(a, b, key=lambda d: d['peak_gflops']), open('$T/peak.json', 'w'))"
echo "fp32 FMA peak, best of before and after: $(cat $T/peak.json)"
$PYTHON bench/report.py $T "$FAMILIES" $best_ct
