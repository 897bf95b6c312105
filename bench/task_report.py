#!/usr/bin/python3
"""task_report.py DIR "CONFIGS" CORETYPE - the table of bench/task.sh from its JSON lines."""
import json
import os
import statistics
import sys


def load(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def med(rows, key):
    return statistics.median(r[key] for r in rows)


d, cfgs, ct = sys.argv[1], sys.argv[2].split(), sys.argv[3]
peak = json.load(open(f"{d}/peak.json"))["peak_gflops"]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
            if line.startswith("model name")), "unknown CPU")
names = {"gpt2": "GPT-2 small", "bert": "BERT base", "llama": "LLaMA 1B shape"}
print()
print(f"CPU: {cpu}; fp32 peak {peak:.0f} GFLOP/s (bench/peak.c); torch OPENBLAS_CORETYPE={ct}")
hdr = (f"{'':8}{'ptune ms':>10}{'torch ms':>10}{'ratio':>8}"
       f"{'useful GFLOP/s':>16}{'of peak':>9}")
print(hdr)
for cfg in cfgs:
    model, layout = cfg.split(":")
    p = load(f"{d}/ptune_{model}.{layout}.jsonl")
    t32 = load(f"{d}/torch_{model}.{layout}.jsonl")
    tbf = load(f"{d}/torchbf_{model}.{layout}.jsonl")
    if not p or not t32:
        continue
    p0 = p[0]
    tmpl = "{text} [P*4] [MASK]" if layout == "text-first" else "[P*3] {text} [P*3] [MASK]"
    print(f"{names.get(model, model)} shape, {p0['layers']} layers, {tmpl}")
    for key, what, fl in (("train_ms", "train", "gflops"), ("eval_ms", "eval", "eval_gflops")):
        a = med(p, key)
        b, which = med(t32, key), "f32"
        if tbf and med(tbf, key) < b:
            b, which = med(tbf, key), "bf16"
        g = med(p, fl)
        print(f"  {what:6}{a:10.1f}{b:10.1f}{b / a:7.2f}x{g:16.1f}{100 * g / peak:8.0f}%"
              f"  (torch {which})")
    print(f"  ptune's first pass (filling the cache) {med(p, 'first_pass_train_ms'):.1f} ms per "
          f"step; peak RSS ptune {med(p, 'peak_rss_mb'):.0f} MB, torch "
          f"{med(t32, 'peak_rss_mb'):.0f} MB")
print(f"threads {p0['threads']}, batch {p0['batch']}, {p0['batches']} batches, lengths "
      f"{min(p0['lengths'])}-{max(p0['lengths'])}; median of {len(p)} interleaved rounds x "
      f"{p0['reps']} reps; ratio = torch / ptune (above 1: ptune faster)")
