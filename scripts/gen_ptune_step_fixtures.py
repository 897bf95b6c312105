#!/usr/bin/python3
"""gen_ptune_step_fixtures.py - PyTorch reference for whole P-tuning steps.

On the tiny GPT-2 of tests/fixtures/gpt2/tiny (made by gen_gpt2_fixtures.py),
the tiny BERT of tests/fixtures/bert/tiny and the tiny LLaMA of
tests/fixtures/llama/tiny_hf (their generators' own PyTorch forwards), for a
fixed batch with virtual tokens at several positions:
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
import gen_bert_fixtures as bertref  # noqa: E402
import gen_llama_fixtures as llamaref  # noqa: E402

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
        dt = {"F32": torch.float32, "F16": torch.float16}[v["dtype"]]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=dt).reshape(v["shape"]).float()
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


def batch_inputs(wte, table, ids, lens):
    """x (B,T,C): embeddings of ids, the next table row where ids == -1 (virtual)."""
    B, T = ids.shape
    C = wte.shape[1]
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
                r.append(wte[ids[b, t]])
        rows.append(torch.stack(r))
    return torch.stack(rows)


class Family:
    """A frozen model: its word embeddings, forward to final hidden states, LM head."""

    def __init__(self, name):
        self.name = name
        if name == "gpt2":
            with open(os.path.join(TINY, "config.json")) as f:
                cfg = json.load(f)
            w = read_st(os.path.join(TINY, "model.safetensors"))
            self.wte, self.C, self.V = w["wte.weight"], cfg["n_embd"], cfg["vocab_size"]
            self.fwd = lambda x, lens: gpt2_forward(w, x, lens, cfg["n_head"], cfg["n_layer"],
                                                    cfg["layer_norm_epsilon"])
            self.head = lambda h, rows: h @ (w["wte.weight"] if rows is None
                                             else w["wte.weight"][rows]).t()
            # ids: -1 virtual; answer = the last token (causal)
            self.ids = [[-1, -1, 40, 41, -1, 42, -1, 43], [-1, 50, -1, -1, 51, 52, -1, 0],
                        [10, -1, -1, 11, -1, 12, -1, 0]]
            self.lens, self.answers, self.rows = [8, 7, 7], [7, 6, 6], [300, 301]
        elif name == "bert":
            w = read_st(os.path.join(ROOT, "tests", "fixtures", "bert", "tiny",
                                     "model.safetensors"))
            self.wte = w["bert.embeddings.word_embeddings.weight"]
            self.C, self.V = self.wte.shape[1], self.wte.shape[0]
            self.fwd = lambda x, lens: bertref.encoder(w, x, lens)
            self.head = lambda h, rows: bertref.mlm_head(w, h, rows)
            # [CLS]=2 [SEP]=3 [MASK]=4; virtual tokens around and after the mask
            self.ids = [[2, -1, -1, 11, 15, -1, 4, -1, 65, 3], [2, -1, 5, 60, -1, 4, -1, -1, 3, 0],
                        [2, 5, -1, -1, 61, 9, 4, -1, -1, 3]]
            self.lens, self.answers, self.rows = [10, 9, 10], [6, 5, 6], [51, 52]
        else:
            d = os.path.join(ROOT, "tests", "fixtures", "llama", "tiny_hf")
            p = {k: v.double() for k, v in read_st(os.path.join(d, "model.safetensors")).items()}
            self.wte = p["model.embed_tokens.weight"]
            self.C, self.V = self.wte.shape[1], self.wte.shape[0]
            out_w = p.get("lm_head.weight", self.wte)
            self.fwd = lambda x, lens: llamaref.forward(p, x, torch.tensor(lens))
            self.head = lambda h, rows: h @ (out_w if rows is None else out_w[rows]).t()
            # BOS = 1 first; answer = the last token
            self.ids = [[1, -1, -1, 270, 271, -1, 272, -1], [1, -1, 275, -1, -1, 276, -1, 0],
                        [1, 280, -1, -1, 277, -1, 278, -1]]
            self.lens, self.answers, self.rows = [8, 7, 8], [7, 6, 7], [273, 274]


def make_case(name, fam, kind, head, task, gen, optimizers):
    torch.manual_seed(0)
    S, C, H = 4, fam.C, 16
    dt = fam.wte.dtype
    enc = Encoder(kind, S, C, H).to(dt)
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_((torch.randn(p.shape, generator=gen) * 0.3).to(dt))
    ids = torch.tensor(fam.ids)
    lens, answers, label_rows = fam.lens, fam.answers, fam.rows
    targets = [0, 1, 1] if task == "classify" else [5, 77 % fam.V, 200 % fam.V]
    W = (torch.randn(2, C, generator=gen) * 0.2).to(dt).requires_grad_(True)
    bvec = (torch.randn(2, generator=gen) * 0.1).to(dt).requires_grad_(True)

    table = enc()
    table_leaf = table.detach().clone().requires_grad_(True)
    x = batch_inputs(fam.wte, table_leaf, ids, lens)
    h = fam.fwd(x, lens)
    hsel = torch.stack([h[b, answers[b]] for b in range(3)])
    if head == "linear":
        scores = hsel @ W.t() + bvec
    elif task == "knowledge":
        scores = fam.head(hsel, None)
    else:
        scores = fam.head(hsel, label_rows)
    loss = F.cross_entropy(scores, torch.tensor(targets))
    loss.backward()
    dtable = table_leaf.grad.clone()
    table.backward(dtable)
    f32 = lambda t: t.detach().clone().float()  # noqa: E731
    out = {"ids": ids.to(torch.int32), "lens": torch.tensor(lens, dtype=torch.int32),
           "answers": torch.tensor(answers, dtype=torch.int32),
           "label_rows": torch.tensor(label_rows, dtype=torch.int32),
           "targets": torch.tensor(targets, dtype=torch.int32),
           "table": f32(table), "loss": f32(loss).reshape(1), "dtable": f32(dtable)}
    for n, p in enc.named_parameters():
        out["enc." + n] = f32(p)
        out["grad." + n] = f32(p.grad)
    if head == "linear":
        out["head.W"] = f32(W)
        out["head.b"] = f32(bvec)
        out["grad.head.W"] = f32(W.grad)
        out["grad.head.b"] = f32(bvec.grad)
    # one optimizer step from these gradients, after clipping the encoder's norm at 1.0
    params = list(enc.parameters())
    grads = [p.grad.clone() for p in params]
    norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    out["grad_norm"] = f32(norm).reshape(1)
    for oname in optimizers:
        e2 = Encoder(kind, S, C, H).to(dt)
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
            out[f"{oname}.{n}"] = f32(p)
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, f"step_{name}.safetensors"), out,
                      {"encoder": kind, "head": head, "task": task, "S": S, "H": H})
    print(name, "loss", float(loss))


def main():
    gen = torch.Generator().manual_seed(77)
    gpt2, bert, llama = Family("gpt2"), Family("bert"), Family("llama")
    make_case("lstm_lm", gpt2, "lstm", "lm", "classify", gen, ["adamw", "adam", "sgd"])
    make_case("mlp_lm", gpt2, "mlp", "lm", "classify", gen, ["adamw"])
    make_case("embedding_linear", gpt2, "embedding", "linear", "classify", gen, ["sgd"])
    make_case("embedding_knowledge", gpt2, "embedding", "lm", "knowledge", gen, ["adamw"])
    make_case("bert_lstm_lm", bert, "lstm", "lm", "classify", gen, ["adamw"])
    make_case("bert_mlp_linear", bert, "mlp", "linear", "classify", gen, ["adamw"])
    make_case("bert_embedding_knowledge", bert, "embedding", "lm", "knowledge", gen, ["sgd"])
    make_case("llama_lstm_lm", llama, "lstm", "lm", "classify", gen, ["adamw"])
    make_case("llama_mlp_linear", llama, "mlp", "linear", "classify", gen, ["adam"])
    make_case("llama_embedding_knowledge", llama, "embedding", "lm", "knowledge", gen, ["sgd"])


if __name__ == "__main__":
    main()
