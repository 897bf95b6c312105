#!/bin/sh
# bf16_compare.sh - the bf16 arithmetics side by side at one shape (GPT-2
# small by default: batch 8 x 128 tokens, 8 virtual tokens first, LSTM
# encoder), run alternately ROUNDS times, medians of the rounds' medians:
#   ptune f32            float32 weights (the build's engine)
#   ptune bf16 widen     --precision bf16, PTUNE_BF16_ARITH=f32 (weights widened to f32)
#   ptune bf16           --precision bf16, PTUNE_BF16_ARITH=bf16 (vdpbf16ps, activations rounded)
#   ptune bf16x2         --precision bf16, PTUNE_BF16_ARITH=bf16x2 (activations hi + lo)
#   torch f32 / torch bf16 autocast (bench/torch_bench.py; TORCH=0 skips them)
#   ROUNDS=3 REPS=3 LAYERS=12 THREADS=2 sh bench/bf16_compare.sh
# PyTorch runs with the environment's OPENBLAS_CORETYPE (TORCH_CORETYPE sets one).
set -e
PTUNE=${PTUNE:-build/ptune}
PYTHON=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
LAYERS=${LAYERS:-12}
THREADS=${THREADS:-2}
TORCH=${TORCH:-1}
SHAPE="--layers $LAYERS --batch 8 --seq 128 --prompts 8 --encoder lstm --threads $THREADS"
T=$(mktemp -d /tmp/ptune_bf16.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)  ($(nproc) cores)"
$PTUNE info --build | grep -E '^(gemm engine|bf16 arith|cpu)'
CFGS="f32 widen bf16 bf16x2"
[ "$TORCH" = 1 ] && CFGS="$CFGS torch torch_bf16"
for r in $(seq 1 $ROUNDS); do
    for c in $CFGS; do
        case $c in
        f32) $PTUNE bench $SHAPE --reps $REPS --json --quiet > $T/$c.$r.json ;;
        widen) PTUNE_BF16_ARITH=f32 $PTUNE bench $SHAPE --precision bf16 --reps $REPS --json --quiet > $T/$c.$r.json ;;
        bf16 | bf16x2) PTUNE_BF16_ARITH=$c $PTUNE bench $SHAPE --precision bf16 --reps $REPS --json --quiet > $T/$c.$r.json ;;
        torch) ${TORCH_CORETYPE:+env OPENBLAS_CORETYPE=$TORCH_CORETYPE} $PYTHON bench/torch_bench.py $SHAPE --reps $REPS > $T/$c.$r.json ;;
        torch_bf16) ${TORCH_CORETYPE:+env OPENBLAS_CORETYPE=$TORCH_CORETYPE} $PYTHON bench/torch_bench.py $SHAPE --reps $REPS --autocast > $T/$c.$r.json ;;
        esac
        echo "round $r $c: $($PYTHON -c "import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print('train', d['train_ms'], 'ms, eval', d['eval_ms'], 'ms')" $T/$c.$r.json)"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
$PYTHON - "$T" $ROUNDS $CFGS <<'PY'
import json, statistics, sys
d, rounds, cfgs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med = {}
for c in cfgs:
    runs = [json.loads(open(f"{d}/{c}.{r}.json").read().strip().splitlines()[-1])
            for r in range(1, rounds + 1)]
    med[c] = (statistics.median(x["train_ms"] for x in runs),
              statistics.median(x["eval_ms"] for x in runs),
              statistics.median(x.get("loss", float("nan")) for x in runs))
f = med["f32"]
print("| config | train ms | eval ms | train vs ptune f32 | eval vs ptune f32 | loss |")
print("|---|---|---|---|---|---|")
for c in cfgs:
    t, e, l = med[c]
    print(f"| {c} | {t:.0f} | {e:.0f} | {f[0] / t:.2f}x | {f[1] / e:.2f}x | {l:.6f} |")
if "torch" in med:
    bt = min(med[c][0] for c in cfgs if c.startswith("torch"))
    be = min(med[c][1] for c in cfgs if c.startswith("torch"))
    for c in ("f32", "widen", "bf16", "bf16x2"):
        print(f"ptune {c}: {bt / med[c][0]:.2f}x PyTorch's best train, {be / med[c][1]:.2f}x its best eval")
PY
