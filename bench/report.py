#!/usr/bin/python3
"""report.py DIR "FAMILIES" CORETYPE - the table of bench/compare.sh from its JSON lines."""
import json
import statistics
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def med(rows, key):
    return statistics.median(r[key] for r in rows)


d, fams, ct = sys.argv[1], sys.argv[2].split(), sys.argv[3]
peak = json.load(open(f"{d}/peak.json"))["peak_gflops"]
names = {"gpt2": "GPT-2 small shape", "bert": "BERT base shape"}
print()
print(f"{'':22}{'ptune':>10}{'torch':>10}{'ratio':>8}")
for fam in fams:
    p, t = load(f"{d}/ptune_{fam}.jsonl"), load(f"{d}/torch_{fam}.jsonl")
    p0 = p[0]
    print(f"{names.get(fam, fam)}: {p0['layers']} layers, width {p0['dim']}, vocab {p0['vocab']}, "
          f"batch {p0['batch']} x {p0['seq']}, {p0['prompts']} virtual tokens, {p0['encoder']}, "
          f"{p0['threads']} threads; median of {len(p)} rounds x {p0['reps']} reps")
    for key, label in [("train_ms", "train step (ms)"), ("eval_ms", "eval batch (ms)")]:
        a, b = med(p, key), med(t, key)
        print(f"  {label:20}{a:10.1f}{b:10.1f}{b / a:7.2f}x")
    a, b = med(p, "peak_rss_mb"), med(t, "peak_rss_mb")
    print(f"  {'peak RSS (MB)':20}{a:10.0f}{b:10.0f}{a / b:7.2f} of torch")
    a, b = med(p, "start_to_first_step_ms"), med(t, "start_to_first_step_ms")
    print(f"  {'start->1st step (ms)':20}{a:10.0f}{b:10.0f}")
    try:
        rc = load(f"{d}/ptunerc_{fam}.jsonl")
    except FileNotFoundError:
        rc = []
    if rc:
        print("  with --recompute:")
        for key, label in [("train_ms", "train step (ms)"), ("eval_ms", "eval batch (ms)")]:
            a, b = med(rc, key), med(t, key)
            print(f"  {label:20}{a:10.1f}{b:10.1f}{b / a:7.2f}x")
        a, b = med(rc, "peak_rss_mb"), med(t, "peak_rss_mb")
        print(f"  {'peak RSS (MB)':20}{a:10.0f}{b:10.0f}{a / b:7.2f} of torch")
    g = med(p, "gflops")
    print(f"  ptune training {g:.1f} GFLOP/s = {100 * g / peak:.0f}% of the measured fp32 peak "
          f"{peak:.0f} GFLOP/s (eval {med(p, 'eval_gflops'):.1f} GFLOP/s)")
print(f"torch: OPENBLAS_CORETYPE={ct}, OpenBLAS core {load(f'{d}/torch_{fams[0]}.jsonl')[0]['openblas_core']}")
