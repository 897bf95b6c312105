#!/bin/bash
# time_load.sh - how long ptune takes to load GPT-2 small from disk (warm page
# cache), for issue #6's "start to first step under one second".
#
#   scripts/time_load.sh [MODEL_DIR] [RUNS]
#
# MODEL_DIR defaults to /tmp/gpt2-small and is written by
# scripts/make_gpt2_small.py when missing (about 500 MB; never in the repo).
# One untimed run warms the page cache; then RUNS (default 5) runs each of
#   ptune train --steps 1   -> its "loaded ... in X s" and "first step starts X s
#                              after launch" lines
#   ptune bench --model     -> build_ms (load) of its JSON line
# and the medians are printed. Run it on an otherwise idle machine.
set -e
cd "$(dirname "$0")/.."
M=${1:-/tmp/gpt2-small}
N=${2:-5}
PT=${PTUNE:-./ptune} # PTUNE=path/to/ptune to time another build
[ -x "$PT" ] || { echo "build first: make" >&2; exit 1; }
[ -f $M/model.safetensors ] || /usr/bin/python3 scripts/make_gpt2_small.py $M
[ -f $M/vocab.json ] || { echo "$M has no vocab.json/merges.txt: ptune train needs them" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf $T' EXIT
for s in "a warm and moving film:pos" "a dull, tedious mess:neg" "I loved it:pos" "far too long:neg"; do
    printf '{"sentence": "%s", "label": "%s"}\n' "${s%:*}" "${s##*:}"
done > $T/train.jsonl
train() {
    $PT train --model $M --train $T/train.jsonl --template "[P*8] {sentence} It was [MASK]" \
        --labels "pos:great,neg:terrible" --steps 1 --batch 4 --out $T/p.safetensors 2>&1
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
train > /dev/null # warm the page cache
for i in $(seq $N); do
    train > $T/out.txt
    sed -n 's/.*loaded .* in \([0-9.]*\) s$/\1/p' $T/out.txt >> $T/load.txt
    sed -n 's/.*first step starts \([0-9.]*\) s after launch$/\1/p' $T/out.txt >> $T/first.txt
done
for i in $(seq $N); do
    $PT bench --model $M --reps 1 --batch 1 --seq 16 --json | sed -n 's/.*"build_ms":\([0-9.]*\).*/\1/p'
done > $T/build.txt
echo "ptune train: load median $(median < $T/load.txt) s over $N runs ($(tr '\n' ' ' < $T/load.txt| sed 's/ $//'))"
echo "ptune train: launch to first step median $(median < $T/first.txt) s over $N runs ($(tr '\n' ' ' < $T/first.txt | sed 's/ $//'))"
echo "ptune bench: build_ms median $(median < $T/build.txt) ms over $N runs ($(tr '\n' ' ' < $T/build.txt | sed 's/ $//'))"
