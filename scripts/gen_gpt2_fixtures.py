#!/usr/bin/python3
"""gen_gpt2_fixtures.py - tiny random GPT-2 models and PyTorch reference tensors.

Our own PyTorch GPT-2 (Hugging Face semantics: Conv1D weights stored (in, out),
pre-norm blocks, tanh GELU, causal attention, LM head tied to wte) is the
oracle. Writes:
  tests/fixtures/gpt2/tiny/      config.json, model.safetensors, vocab.json, merges.txt
  tests/fixtures/gpt2/ref.safetensors   inputs and reference outputs/gradients
  tests/fixtures/gpt2/realvocab.safetensors   a GPT-2 with the real 50,257-token
      vocabulary (width 16): every weight but wte, whose values follow
      realvocab_wte() so the C test can rebuild it exactly; ids of REAL_TEXT from
      our own BPE implementation (scripts/ref_gpt2_bpe.py) with ../shared's
      vocabulary; full-vocabulary loss, d(loss)/d(input embeddings), logits at a
      few rows. Needs ../shared/tokenizers/gpt2 (skipped without it).
Run: /usr/bin/python3 scripts/gen_gpt2_fixtures.py
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from st_write import write_safetensors  # noqa: E402
import tiny_bpe  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "gpt2")


def make_weights(V, C, L, P, gen):
    def rnd(*shape, std=0.2):
        return torch.randn(*shape, generator=gen) * std

    w = {"wte.weight": rnd(V, C, std=0.5), "wpe.weight": rnd(P, C, std=0.1)}
    for l in range(L):
        p = f"h.{l}."
        w[p + "ln_1.weight"] = 1 + rnd(C, std=0.1)
        w[p + "ln_1.bias"] = rnd(C, std=0.1)
        w[p + "attn.c_attn.weight"] = rnd(C, 3 * C)
        w[p + "attn.c_attn.bias"] = rnd(3 * C, std=0.05)
        w[p + "attn.c_proj.weight"] = rnd(C, C)
        w[p + "attn.c_proj.bias"] = rnd(C, std=0.05)
        w[p + "ln_2.weight"] = 1 + rnd(C, std=0.1)
        w[p + "ln_2.bias"] = rnd(C, std=0.1)
        w[p + "mlp.c_fc.weight"] = rnd(C, 4 * C)
        w[p + "mlp.c_fc.bias"] = rnd(4 * C, std=0.05)
        w[p + "mlp.c_proj.weight"] = rnd(4 * C, C, std=0.1)
        w[p + "mlp.c_proj.bias"] = rnd(C, std=0.05)
    w["ln_f.weight"] = 1 + rnd(C, std=0.1)
    w["ln_f.bias"] = rnd(C, std=0.1)
    return w


def gpt2_forward(w, x, lens, NH, L, eps):
    """x (B,T,C) input embeddings; returns final hidden (B,T,C) after ln_f."""
    B, T, C = x.shape
    HS = C // NH
    h = x + w["wpe.weight"][:T]
    # key j visible to query i iff j <= i and j < len[b]
    mask = torch.zeros(B, 1, T, T, dtype=torch.bool)
    for b in range(B):
        for i in range(T):
            for j in range(T):
                mask[b, 0, i, j] = j <= i and j < lens[b]
    for l in range(L):
        p = f"h.{l}."
        a = F.layer_norm(h, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=2)
        q = q.view(B, T, NH, HS).transpose(1, 2)
        k = k.view(B, T, NH, HS).transpose(1, 2)
        v = v.view(B, T, NH, HS).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        # padded query rows produce 0 (they see no keys past len... row i>=len sees keys < len;
        # ptune zeroes them; they never reach a valid output, so zero them here too)
        valid = torch.tensor([[t < lens[b] for t in range(T)] for b in range(B)]).unsqueeze(-1)
        y = y * valid
        h = h + (y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"])
        a = F.layer_norm(h, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        f = F.gelu(a @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
        h = h + (f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"])
    return F.layer_norm(h, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    d = os.path.join(OUT, "tiny")
    os.makedirs(d, exist_ok=True)
    vocab = tiny_bpe.write(d)
    V, C, L, NH, P, eps = len(vocab), 32, 2, 4, 64, 1e-5
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": C,
           "n_layer": L, "n_head": NH, "n_positions": P, "n_ctx": P, "vocab_size": V,
           "layer_norm_epsilon": eps, "activation_function": "gelu_new",
           "bos_token_id": V - 1, "eos_token_id": V - 1}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    w = make_weights(V, C, L, P, gen)
    write_safetensors(os.path.join(d, "model.safetensors"), w, {"format": "pt"})

    # A padded batch: rows of length 7, 5, 3 (T = 7); some rows replaced by
    # random "virtual token" vectors as P-tuning splices them in.
    lens = [7, 5, 3]
    B, T = 3, 7
    ids = torch.randint(0, V, (B, T), generator=gen)
    x = w["wte.weight"][ids].clone()
    x[0, 1] = torch.randn(C, generator=gen)
    x[1, 0] = torch.randn(C, generator=gen)
    x[2, 1] = torch.randn(C, generator=gen)
    for b in range(B):
        x[b, lens[b]:] = 0.0
    x.requires_grad_(True)
    out_idx = [0 * T + 6, 1 * T + 4, 2 * T + 2, 0 * T + 2]  # last token of each row + one more
    rows = [5, 17, 100, V - 1]
    targets_sub = [0, 2, 1, 3]
    targets_full = [11, 200, 3, 42]

    hfin = gpt2_forward(w, x, lens, NH, L, eps)
    hsel = hfin.reshape(B * T, C)[out_idx]
    logits_full = hsel @ w["wte.weight"].t()
    logits_sub = logits_full[:, rows]
    loss_sub = F.cross_entropy(logits_sub, torch.tensor(targets_sub))
    (dx_sub,) = torch.autograd.grad(loss_sub, x, retain_graph=True)
    loss_full = F.cross_entropy(logits_full, torch.tensor(targets_full))
    (dx_full,) = torch.autograd.grad(loss_full, x)

    ref = {
        "x": x.detach(),
        "lens": torch.tensor(lens, dtype=torch.int32),
        "out_idx": torch.tensor(out_idx, dtype=torch.int32),
        "rows": torch.tensor(rows, dtype=torch.int32),
        "targets_sub": torch.tensor(targets_sub, dtype=torch.int32),
        "targets_full": torch.tensor(targets_full, dtype=torch.int32),
        "h": hsel.detach(),
        "logits_full": logits_full.detach(),
        "logits_sub": logits_sub.detach(),
        "loss_sub": loss_sub.detach().reshape(1),
        "loss_full": loss_full.detach().reshape(1),
        "dx_sub": dx_sub,
        "dx_full": dx_full,
    }
    write_safetensors(os.path.join(OUT, "ref.safetensors"), ref)
    print("wrote", OUT, "V =", V, "loss_sub", float(loss_sub), "loss_full", float(loss_full))


REAL_TEXT = "The quick brown fox didn't jump over 42 lazy dogs."
REAL_V, REAL_C = 50257, 16


def realvocab_wte():
    """wte[i][j] = float32((((i * 7919 + j * 104729) % 2001) - 1000) / 4000): exact in
    float32 arithmetic on both sides (integer math, one correctly rounded division)."""
    i = torch.arange(REAL_V, dtype=torch.int64)[:, None]
    j = torch.arange(REAL_C, dtype=torch.int64)[None, :]
    k = ((i * 7919 + j * 104729) % 2001) - 1000
    return (k.double() / 4000.0).float()


def gen_realvocab():
    shared = os.path.join(ROOT, "..", "shared", "tokenizers", "gpt2")
    if not os.path.exists(os.path.join(shared, "vocab.json")):
        print("skipping realvocab: ../shared/tokenizers/gpt2 not found")
        return
    import ref_gpt2_bpe
    tok = ref_gpt2_bpe.GPT2BPE(os.path.join(shared, "vocab.json"),
                               os.path.join(shared, "merges.txt"))
    ids = tok.encode(REAL_TEXT.encode("utf-8"))
    gen = torch.Generator().manual_seed(4321)
    C, L, NH, P = REAL_C, 2, 2, 64
    w = make_weights(REAL_V, C, L, P, gen)
    w["wte.weight"] = realvocab_wte()
    T = len(ids)
    x = w["wte.weight"][torch.tensor(ids)].clone().unsqueeze(0).requires_grad_(True)
    h = gpt2_forward(w, x, [T], NH, L, 1e-5)[0]  # (T, C)
    out_idx = [T - 1, T // 2]
    logits = h[out_idx] @ w["wte.weight"].t()  # (2, V)
    targets = [ids[-1] if ids[-1] < REAL_V else 0, 50000]
    loss = F.cross_entropy(logits, torch.tensor(targets))
    (dx,) = torch.autograd.grad(loss, x)
    rows = [0, 1, 464, 50256, 31000, 12345]
    ref = {k: v for k, v in w.items() if k != "wte.weight"}
    ref.update({"ids": torch.tensor(ids, dtype=torch.int32),
                "out_idx": torch.tensor(out_idx, dtype=torch.int32),
                "targets": torch.tensor(targets, dtype=torch.int32),
                "loss": loss.detach().reshape(1), "dx": dx[0],
                "rows": torch.tensor(rows, dtype=torch.int32),
                "logits_rows": logits[:, rows].detach(),
                "argmax": logits.argmax(dim=1).to(torch.int32)})
    write_safetensors(os.path.join(OUT, "realvocab.safetensors"), ref,
                      {"text": REAL_TEXT, "n_embd": C, "n_layer": L, "n_head": NH,
                       "n_positions": P})
    print("realvocab: ids", ids, "loss", float(loss))


if __name__ == "__main__":
    main()
    gen_realvocab()
