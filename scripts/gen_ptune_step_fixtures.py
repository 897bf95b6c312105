#!/usr/bin/python3
"""gen_ptune_step_fixtures.py - PyTorch reference for whole P-tuning steps.

On the tiny GPT-2 of tests/fixtures/gpt2/tiny (made by gen_gpt2_fixtures.py),
for a fixed batch with virtual tokens at several positions:
  prompt encoder (PEFT's PromptEncoder layout: lstm / mlp / embedding)
  -> table spliced into the input embeddings -> frozen GPT-2 -> head -> loss
and back: d(loss)/d(table), the encoder's parameter gradients, and one
optimizer step of AdamW / Adam (L2) / SGD after clipping the gradient norm.
Writes tests/fixtures/ptune/step_<case>.safetensors.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from st_write import write_safetensors  # noqa: E402
from gen_gpt2_fixtures import gpt2_forward  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
TINY = os.path.join(ROOT, "tests", "fixtures", "gpt2", "tiny")
OUT = os.path.join(ROOT, "tests", "fixtures", "ptune")


def read_st(path):
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(v["shape"])
    return out


class Encoder(nn.Module):
    """PEFT PromptEncoder layout: embedding, then lstm_head + mlp_head or mlp_head."""

    def __init__(self, kind, S, d, H):
        super().__init__()
        self.kind = kind
        self.embedding = nn.Embedding(S, d)
        if kind == "lstm":
            self.lstm_head = nn.LSTM(d, d // 2, num_layers=2, bidirectional=True,
                                     batch_first=True)
            self.mlp_head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        elif kind == "mlp":
            self.mlp_head = nn.Sequential(nn.Linear(d, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(),
                                          nn.Linear(H, d))

    def forward(self):
        e = self.embedding.weight.unsqueeze(0)
        if self.kind == "lstm":
            return self.mlp_head(self.lstm_head(e)[0])[0]
        if self.kind == "mlp":
            return self.mlp_head(e)[0]
        return e[0]


def batch_inputs(w, table, ids, lens):
    """x (B,T,C): embeddings of ids, table row k where ids == -(k+1)... (virtual)."""
    B, T = ids.shape
    C = w["wte.weight"].shape[1]
    rows = []
    for b in range(B):
        r = []
        k = 0
        for t in range(T):
            if t >= lens[b]:
                r.append(torch.zeros(C))
            elif ids[b, t] < 0:
                r.append(table[k])
                k += 1
            else:
                r.append(w["wte.weight"][ids[b, t]])
        rows.append(torch.stack(r))
    return torch.stack(rows)


def make_case(name, kind, head, task, w, cfg, gen, optimizers):
    torch.manual_seed(0)
    S, C, H = 4, cfg["n_embd"], 16
    enc = Encoder(kind, S, C, H)
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    # three examples, virtual tokens (-1) at start, middle and end positions
    ids = torch.tensor([[-1, -1, 40, 41, -1, 42, -1, 43],
                        [-1, 50, -1, -1, 51, 52, -1, 0],
                        [10, -1, -1, 11, -1, 12, -1, 0]])
    lens = [8, 7, 7]
    answers = [7, 6, 6]
    V = cfg["vocab_size"]
    label_rows = [300, 301]
    targets = [0, 1, 1] if task == "classify" else [5, 77, 200]
    W = (torch.randn(2, C, generator=gen) * 0.2).requires_grad_(True)
    bvec = (torch.randn(2, generator=gen) * 0.1).requires_grad_(True)

    table = enc()
    table_leaf = table.detach().clone().requires_grad_(True)
    x = batch_inputs(w, table_leaf, ids, lens)
    h = gpt2_forward(w, x, lens, cfg["n_head"], cfg["n_layer"], cfg["layer_norm_epsilon"])
    hsel = torch.stack([h[b, answers[b]] for b in range(3)])
    if head == "linear":
        scores = hsel @ W.t() + bvec
    elif task == "knowledge":
        scores = hsel @ w["wte.weight"].t()
    else:
        scores = hsel @ w["wte.weight"][label_rows].t()
    loss = F.cross_entropy(scores, torch.tensor(targets))
    loss.backward()
    dtable = table_leaf.grad.clone()
    table.backward(dtable)
    out = {"ids": ids.to(torch.int32), "lens": torch.tensor(lens, dtype=torch.int32),
           "answers": torch.tensor(answers, dtype=torch.int32),
           "label_rows": torch.tensor(label_rows, dtype=torch.int32),
           "targets": torch.tensor(targets, dtype=torch.int32),
           "table": table.detach(), "loss": loss.detach().reshape(1), "dtable": dtable}
    for n, p in enc.named_parameters():
        out["enc." + n] = p.detach().clone()
        out["grad." + n] = p.grad.detach().clone()
    if head == "linear":
        out["head.W"] = W.detach().clone()
        out["head.b"] = bvec.detach().clone()
        out["grad.head.W"] = W.grad.clone()
        out["grad.head.b"] = bvec.grad.clone()
    # one optimizer step from these gradients, after clipping the encoder's norm at 1.0
    params = list(enc.parameters())
    grads = [p.grad.clone() for p in params]
    norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    out["grad_norm"] = norm.detach().reshape(1)
    for oname in optimizers:
        e2 = Encoder(kind, S, C, H)
        e2.load_state_dict(enc.state_dict())
        for p, g in zip(e2.parameters(), grads):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(list(e2.parameters()), 1.0)
        if oname == "adamw":
            opt = torch.optim.AdamW(e2.parameters(), lr=1e-2, weight_decay=0.01)
        elif oname == "adam":
            opt = torch.optim.Adam(e2.parameters(), lr=1e-2, weight_decay=0.01)
        else:
            opt = torch.optim.SGD(e2.parameters(), lr=1e-2, weight_decay=0.01)
        opt.step()
        for n, p in e2.named_parameters():
            out[f"{oname}.{n}"] = p.detach().clone()
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, f"step_{name}.safetensors"), out,
                      {"encoder": kind, "head": head, "task": task, "S": S, "H": H})
    print(name, "loss", float(loss))


def main():
    with open(os.path.join(TINY, "config.json")) as f:
        cfg = json.load(f)
    w = read_st(os.path.join(TINY, "model.safetensors"))
    gen = torch.Generator().manual_seed(77)
    make_case("lstm_lm", "lstm", "lm", "classify", w, cfg, gen, ["adamw", "adam", "sgd"])
    make_case("mlp_lm", "mlp", "lm", "classify", w, cfg, gen, ["adamw"])
    make_case("embedding_linear", "embedding", "linear", "classify", w, cfg, gen, ["sgd"])
    make_case("embedding_knowledge", "embedding", "lm", "knowledge", w, cfg, gen, ["adamw"])


if __name__ == "__main__":
    main()
