#!/usr/bin/python3
"""torch_bench.py - the PyTorch side of `make bench-compare`.

The same work as `ptune bench`, written the way a PyTorch user would: a frozen
GPT-2- or BERT-shaped model with random weights (requires_grad False), a
PEFT-style prompt encoder (LSTM by default), input embeddings with the prompt
rows spliced in at the first S positions, LM-head logits only at the answer
position (the last token) for the 2 label rows, cross-entropy, backward,
gradient clipping, AdamW. Evaluation is the same forward under no_grad.

Prints one JSON line: train_ms, eval_ms (medians), peak_rss_mb, the BLAS core
type OpenBLAS runs and the thread count.

Usage: torch_bench.py [--family gpt2|bert] [--layers 12 --dim 768 --heads 12
       --ffn 3072 --vocab N --positions N] [--batch 8 --seq 128 --prompts 8]
       [--encoder lstm|mlp|embedding] [--reps 5] [--warmup 1] [--threads 2]
"""
import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

STD = 0.02  # Hugging Face initializer_range


def normal_(t):
    with torch.no_grad():
        t.normal_(0.0, STD)
    return t


class Linear(nn.Linear):
    """nn.Linear with Hugging Face's init: weight N(0, 0.02), bias 0."""

    def __init__(self, i, o):
        super().__init__(i, o)
        normal_(self.weight)
        nn.init.zeros_(self.bias)


class Attention(nn.Module):
    def __init__(self, C, NH, causal):
        super().__init__()
        self.NH, self.causal = NH, causal
        self.qkv = Linear(C, 3 * C)
        self.proj = Linear(C, C)

    def forward(self, x):
        B, T, C = x.shape
        HS = C // self.NH
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.NH, HS).transpose(1, 2)  # (B, NH, T, HS)
        k = k.view(B, T, self.NH, HS).transpose(1, 2)
        v = v.view(B, T, self.NH, HS).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))  # (B, NH, T, T)
        if self.causal:
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)
            att = att.masked_fill(mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class GPT2Block(nn.Module):
    """pre-LN: x + attn(ln1 x); + mlp(ln2 x), GELU tanh."""

    def __init__(self, C, NH, FF):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C, eps=1e-5), nn.LayerNorm(C, eps=1e-5)
        self.attn = Attention(C, NH, True)
        self.fc, self.fcproj = Linear(C, FF), Linear(FF, C)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class BertLayer(nn.Module):
    """post-LN: a = LN(x + attn(x)); LN(a + mlp(a)), GELU erf, bidirectional."""

    def __init__(self, C, NH, FF):
        super().__init__()
        self.attn = Attention(C, NH, False)
        self.ln1, self.ln2 = nn.LayerNorm(C, eps=1e-12), nn.LayerNorm(C, eps=1e-12)
        self.fc, self.fcproj = Linear(C, FF), Linear(FF, C)

    def forward(self, x):
        a = self.ln1(x + self.attn(x))
        return self.ln2(a + self.fcproj(F.gelu(self.fc(a))))


class Model(nn.Module):
    def __init__(self, fam, L, C, NH, FF, V, P):
        super().__init__()
        self.fam = fam
        self.wte = normal_(nn.Parameter(torch.empty(V, C)))
        self.wpe = normal_(nn.Parameter(torch.empty(P, C)))
        if fam == "gpt2":
            self.blocks = nn.ModuleList(GPT2Block(C, NH, FF) for _ in range(L))
            self.lnf = nn.LayerNorm(C, eps=1e-5)
        else:
            self.wtt = normal_(nn.Parameter(torch.empty(2, C)))
            self.lne = nn.LayerNorm(C, eps=1e-12)
            self.blocks = nn.ModuleList(BertLayer(C, NH, FF) for _ in range(L))
            self.head_dense = Linear(C, C)  # MLM head transform
            self.head_ln = nn.LayerNorm(C, eps=1e-12)
            self.head_bias = nn.Parameter(torch.zeros(V))

    def hidden(self, x):
        """x (B, T, C) input embeddings -> final hidden states (B, T, C)."""
        T = x.shape[1]
        x = x + self.wpe[:T]
        if self.fam == "gpt2":
            for b in self.blocks:
                x = b(x)
            return self.lnf(x)
        x = self.lne(x + self.wtt[0])
        for b in self.blocks:
            x = b(x)
        return x

    def label_logits(self, h, rows):
        """h (B, C) at the answer positions -> logits (B, nr) for vocab rows only."""
        if self.fam == "bert":
            h = self.head_ln(F.gelu(self.head_dense(h)))
            return h @ self.wte[rows].t() + self.head_bias[rows]
        return h @ self.wte[rows].t()


class LSTMEncoder(nn.Module):
    """PEFT PromptEncoder, LSTM: mlp_head(lstm_head(embedding))."""

    def __init__(self, S, C):
        super().__init__()
        self.embedding = nn.Embedding(S, C)
        self.lstm_head = nn.LSTM(C, C // 2, num_layers=2, bidirectional=True, batch_first=True)
        self.mlp_head = nn.Sequential(nn.Linear(C, C), nn.ReLU(), nn.Linear(C, C))
        self.register_buffer("idx", torch.arange(S))

    def forward(self):
        return self.mlp_head(self.lstm_head(self.embedding(self.idx)[None])[0])[0]


class MLPEncoder(nn.Module):
    def __init__(self, S, C):
        super().__init__()
        self.embedding = nn.Embedding(S, C)
        self.mlp_head = nn.Sequential(nn.Linear(C, C), nn.ReLU(), nn.Linear(C, C), nn.ReLU(),
                                      nn.Linear(C, C))
        self.register_buffer("idx", torch.arange(S))

    def forward(self):
        return self.mlp_head(self.embedding(self.idx))


class EmbEncoder(nn.Module):
    def __init__(self, S, C):
        super().__init__()
        self.embedding = nn.Embedding(S, C)
        self.register_buffer("idx", torch.arange(S))

    def forward(self):
        return self.embedding(self.idx)


def openblas_core():
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", default="gpt2", choices=["gpt2", "bert"])
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=0)
    ap.add_argument("--positions", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--encoder", default="lstm", choices=["lstm", "mlp", "embedding"])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    bert = a.family == "bert"
    V = a.vocab or (30522 if bert else 50257)
    P = a.positions or (512 if bert else 1024)
    FF = a.ffn or 4 * a.dim
    B, T, S, C = a.batch, a.seq, a.prompts, a.dim

    model = Model(a.family, a.layers, C, a.heads, FF, V, P)
    for p in model.parameters():
        p.requires_grad_(False)  # frozen
    enc = {"lstm": LSTMEncoder, "mlp": MLPEncoder, "embedding": EmbEncoder}[a.encoder](S, C)
    opt = torch.optim.AdamW(enc.parameters(), lr=1e-3, weight_decay=0.01)
    ids = torch.randint(0, V, (B, T - S))
    rows = torch.tensor([7, 8])
    target = torch.randint(0, 2, (B,))
    t_built = time.perf_counter()

    def loss_fn():
        prompt = enc()  # (S, C)
        x = torch.cat([prompt[None].expand(B, S, C), model.wte[ids]], dim=1)  # (B, T, C)
        h = model.hidden(x)[:, -1]  # (B, C) answer position
        return F.cross_entropy(model.label_logits(h, rows), target)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(enc.parameters(), 1.0)
        opt.step()
        return loss.item()

    def eval_batch():
        with torch.no_grad():
            return loss_fn().item()

    t_first = None
    for i in range(a.warmup):
        train_step()
        if i == 0:
            t_first = time.perf_counter()
    for _ in range(a.warmup):
        eval_batch()
    tt, te = [], []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        train_step()
        t1 = time.perf_counter()
        eval_batch()
        tt.append((t1 - t0) * 1e3)
        te.append((time.perf_counter() - t1) * 1e3)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "impl": "torch", "torch": torch.__version__, "family": a.family, "layers": a.layers,
        "dim": C, "batch": B, "seq": T, "prompts": S, "encoder": a.encoder,
        "threads": torch.get_num_threads(), "reps": a.reps,
        "train_ms": round(statistics.median(tt), 2), "eval_ms": round(statistics.median(te), 2),
        "train_min_ms": round(min(tt), 2), "eval_min_ms": round(min(te), 2),
        "peak_rss_mb": round(rss, 1), "start_to_first_step_ms": round((t_first - t_start) * 1e3, 1),
        "build_ms": round((t_built - t_start) * 1e3, 1),
        "openblas_core": openblas_core(),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE", ""),
    }))


if __name__ == "__main__":
    main()
