#!/bin/sh
# scale_test.sh - P-tuning at real sizes from quantized GGUF files (issue 14).
# Writes random LLaMA-2-7B and LLaMA-3-8B shaped GGUF files to $DIR (default
# /tmp/ptune_scale; about 4 GB for Q4_K_M, 7-8 GB for Q8_0, 13.5-16 GB for
# BF16 each), then runs `ptune bench --model FILE --batch 4 --seq 64
# --prompts 8` on each and prints its report (peak RSS, start to first step,
# train step, eval batch). Weights are random (8 distinct rows repeated per
# tensor): the timings and memory are those of the real shapes; the numbers
# mean nothing. Run it on a quiet machine, one model at a time, and name the
# CPU with the results. The files are removed at the end unless KEEP=1.
#
#   sh scripts/scale_test.sh                      # every shape and type below
#   SHAPES="llama2-7b" TYPES="Q4_K_M BF16" sh scripts/scale_test.sh
#   SHAPES="256,2,4,2,512,300" sh scripts/scale_test.sh   # a quick dry run
#
# Warm page cache: each file is read once (cat > /dev/null) before its bench,
# so start-to-first-step is measured warm, as the issue asks.
PT=${PTUNE_BIN:-build/ptune}
DIR=${DIR:-/tmp/ptune_scale}
SHAPES=${SHAPES:-"llama2-7b llama3-8b"}
TYPES=${TYPES:-"Q4_K_M Q8_0 BF16"}
BENCH_ARGS=${BENCH_ARGS:-"--batch 4 --seq 64 --prompts 8"}
mkdir -p "$DIR" || exit 1
grep -m1 'model name' /proc/cpuinfo 2>/dev/null
echo "threads: ${OMP_NUM_THREADS:-all cores}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for s in $SHAPES; do
    for t in $TYPES; do
        f="$DIR/$(echo "$s" | tr ',' 'x')-$t.gguf"
        if [ ! -r "$f" ]; then
            $PT quantize --random "$s" "$f" "$t" || { rc=1; continue; }
        fi
        ls -l "$f"
        cat "$f" > /dev/null
        # bf16 matrices stay bf16 only with --precision bf16 (else widened to f32)
        prec=""
        [ "$t" = BF16 ] && prec="--precision bf16"
        echo "== $s $t: ptune bench --model $f $BENCH_ARGS $prec"
        # shellcheck disable=SC2086
        $PT bench --model "$f" $BENCH_ARGS $prec || rc=1
        [ "${KEEP:-0}" = 1 ] || rm -f "$f"
    done
done
exit $rc
