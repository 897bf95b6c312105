"""make_gpt2_small.py - write a GPT-2 small checkpoint with random weights to a
directory, for timing the load and the first training step on a real-sized
on-disk model (ptune bench --model DIR, ptune train --model DIR).

    /usr/bin/python3 scripts/make_gpt2_small.py /tmp/gpt2-small [--seed N]

Writes config.json and model.safetensors (about 500 MB, float32) in Hugging
Face's GPT-2 layout: wte, wpe, ln_f and h.<l>.* with the Conv1D weights stored
(in, out). Weights are N(0, 0.02), layer norms 1/0, biases 0. vocab.json and
merges.txt are copied from ../shared/tokenizers/gpt2 when that directory
exists. The output is large: never put it in the repository.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_write import write_safetensors  # noqa: E402

C, L, H, V, P = 768, 12, 12, 50257, 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(a.seed)

    def normal(*shape):
        return torch.empty(*shape).normal_(0.0, 0.02, generator=g)

    t = {"wte.weight": normal(V, C), "wpe.weight": normal(P, C)}
    for l in range(L):
        p = "h.%d." % l
        t[p + "ln_1.weight"] = torch.ones(C)
        t[p + "ln_1.bias"] = torch.zeros(C)
        t[p + "attn.c_attn.weight"] = normal(C, 3 * C)  # Conv1D: (in, out)
        t[p + "attn.c_attn.bias"] = torch.zeros(3 * C)
        t[p + "attn.c_proj.weight"] = normal(C, C)
        t[p + "attn.c_proj.bias"] = torch.zeros(C)
        t[p + "ln_2.weight"] = torch.ones(C)
        t[p + "ln_2.bias"] = torch.zeros(C)
        t[p + "mlp.c_fc.weight"] = normal(C, 4 * C)
        t[p + "mlp.c_fc.bias"] = torch.zeros(4 * C)
        t[p + "mlp.c_proj.weight"] = normal(4 * C, C)
        t[p + "mlp.c_proj.bias"] = torch.zeros(C)
    t["ln_f.weight"] = torch.ones(C)
    t["ln_f.bias"] = torch.zeros(C)
    write_safetensors(os.path.join(a.out, "model.safetensors"), t, {"format": "pt"})
    cfg = {"model_type": "gpt2", "n_embd": C, "n_layer": L, "n_head": H, "vocab_size": V,
           "n_positions": P, "n_ctx": P, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tok = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                       "tokenizers", "gpt2")
    copied = []
    for name in ("vocab.json", "merges.txt"):
        src = os.path.join(tok, name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(a.out, name))
            copied.append(name)
    print("wrote %s (%s)" % (a.out, ", ".join(["config.json", "model.safetensors"] + copied)))
    if not copied:
        print("note: ../shared/tokenizers/gpt2 not found; no tokenizer files (ptune train "
              "needs them)")


if __name__ == "__main__":
    main()
