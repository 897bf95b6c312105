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

With --layout and --lengths (the lengths ptune bench drew, from its JSON) it
runs the same task batches: virtual tokens first, after the text or split,
rows right-padded to the batch's longest with a key mask, the answer at each
row's last real token; the full computation, as a user's PyTorch code runs it.

Usage: torch_bench.py [--family gpt2|bert|llama] [--layers 12 --dim 768 --heads 12
       --kv-heads N --ffn 3072 --vocab N --positions N] [--batch 8 --seq 128 --prompts 8]
       [--layout first|text-first|split --lengths N,N,...] [--autocast]
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

    def forward(self, x, keymask=None):
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
        if keymask is not None:  # (B, T) True at padding: no query attends to it
            att = att.masked_fill(keymask[:, None, None, :], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class RMSNorm(nn.Module):
    def __init__(self, C, eps=1e-6):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(C)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, pos, theta=10000.0):
    """x (B, H, T, HS): rotate half (HF LLaMA convention)."""
    HS = x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, HS, 2, dtype=torch.float32) / HS)
    ang = pos[:, None].float() * inv[None]  # (T, HS/2)
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    x1, x2 = x[..., : HS // 2], x[..., HS // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class LlamaBlock(nn.Module):
    """pre-RMSNorm, RoPE, grouped-query attention, SwiGLU MLP, no biases."""

    def __init__(self, C, NH, NKV, FF):
        super().__init__()
        HS = C // NH
        self.NH, self.NKV, self.HS = NH, NKV, HS
        self.n1, self.n2 = RMSNorm(C), RMSNorm(C)
        self.q = nn.Linear(C, NH * HS, bias=False)
        self.k = nn.Linear(C, NKV * HS, bias=False)
        self.v = nn.Linear(C, NKV * HS, bias=False)
        self.o = nn.Linear(NH * HS, C, bias=False)
        self.gate = nn.Linear(C, FF, bias=False)
        self.up = nn.Linear(C, FF, bias=False)
        self.down = nn.Linear(FF, C, bias=False)
        for m in (self.q, self.k, self.v, self.o, self.gate, self.up, self.down):
            normal_(m.weight)

    def forward(self, x, keymask=None):
        B, T, C = x.shape
        NH, NKV, HS = self.NH, self.NKV, self.HS
        h = self.n1(x)
        pos = torch.arange(T)
        q = rope(self.q(h).view(B, T, NH, HS).transpose(1, 2), pos)
        k = rope(self.k(h).view(B, T, NKV, HS).transpose(1, 2), pos)
        v = self.v(h).view(B, T, NKV, HS).transpose(1, 2)
        k = k.repeat_interleave(NH // NKV, dim=1)
        v = v.repeat_interleave(NH // NKV, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        if keymask is not None:
            att = att.masked_fill(keymask[:, None, None, :], float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B, T, NH * HS)
        x = x + self.o(y)
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class GPT2Block(nn.Module):
    """pre-LN: x + attn(ln1 x); + mlp(ln2 x), GELU tanh."""

    def __init__(self, C, NH, FF):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C, eps=1e-5), nn.LayerNorm(C, eps=1e-5)
        self.attn = Attention(C, NH, True)
        self.fc, self.fcproj = Linear(C, FF), Linear(FF, C)

    def forward(self, x, keymask=None):
        x = x + self.attn(self.ln1(x), keymask)
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class BertLayer(nn.Module):
    """post-LN: a = LN(x + attn(x)); LN(a + mlp(a)), GELU erf, bidirectional."""

    def __init__(self, C, NH, FF):
        super().__init__()
        self.attn = Attention(C, NH, False)
        self.ln1, self.ln2 = nn.LayerNorm(C, eps=1e-12), nn.LayerNorm(C, eps=1e-12)
        self.fc, self.fcproj = Linear(C, FF), Linear(FF, C)

    def forward(self, x, keymask=None):
        a = self.ln1(x + self.attn(x, keymask))
        return self.ln2(a + self.fcproj(F.gelu(self.fc(a))))


class Model(nn.Module):
    def __init__(self, fam, L, C, NH, FF, V, P, NKV=None):
        super().__init__()
        self.fam = fam
        self.wte = normal_(nn.Parameter(torch.empty(V, C)))
        if fam == "gpt2":
            self.wpe = normal_(nn.Parameter(torch.empty(P, C)))
            self.blocks = nn.ModuleList(GPT2Block(C, NH, FF) for _ in range(L))
            self.lnf = nn.LayerNorm(C, eps=1e-5)
        elif fam == "llama":
            self.blocks = nn.ModuleList(LlamaBlock(C, NH, NKV or NH, FF) for _ in range(L))
            self.lnf = RMSNorm(C)
            self.lm_head = normal_(nn.Parameter(torch.empty(V, C)))
        else:
            self.wpe = normal_(nn.Parameter(torch.empty(P, C)))
            self.wtt = normal_(nn.Parameter(torch.empty(2, C)))
            self.lne = nn.LayerNorm(C, eps=1e-12)
            self.blocks = nn.ModuleList(BertLayer(C, NH, FF) for _ in range(L))
            self.head_dense = Linear(C, C)  # MLM head transform
            self.head_ln = nn.LayerNorm(C, eps=1e-12)
            self.head_bias = nn.Parameter(torch.zeros(V))

    def hidden(self, x, keymask=None):
        """x (B, T, C) input embeddings -> final hidden states (B, T, C); keymask
        (B, T) True at right padding (None: no padding)."""
        T = x.shape[1]
        if self.fam == "llama":
            for b in self.blocks:
                x = b(x, keymask)
            return self.lnf(x)
        x = x + self.wpe[:T]
        if self.fam == "gpt2":
            for b in self.blocks:
                x = b(x, keymask)
            return self.lnf(x)
        x = self.lne(x + self.wtt[0])
        for b in self.blocks:
            x = b(x, keymask)
        return x

    def label_logits(self, h, rows):
        """h (B, C) at the answer positions -> logits (B, nr) for vocab rows only."""
        if self.fam == "bert":
            h = self.head_ln(F.gelu(self.head_dense(h)))
            return h @ self.wte[rows].t() + self.head_bias[rows]
        if self.fam == "llama":
            return h @ self.lm_head[rows].t()
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


def layout_batch(lens, S, layout, V, gen):
    """One batch as the user's code builds it: right padding to the longest
    row, the S virtual tokens placed by the layout (as ptune bench places
    them), the answer at each row's last real token. Returns ids (B, T),
    vidx (B, T) prompt row or -1, keymask (B, T) True at padding, answer (B)."""
    B, T = len(lens), max(lens)
    ids = torch.randint(0, V, (B, T), generator=gen)
    vidx = torch.full((B, T), -1, dtype=torch.long)
    S1 = S // 2 if layout == "split" else S
    for i, n in enumerate(lens):
        for k in range(S):
            if layout == "first":
                at = k
            elif layout == "text-first":
                at = n - 1 - S + k
            else:
                at = k if k < S1 else n - 1 - (S - k)
            vidx[i, at] = k
    keymask = torch.arange(T)[None] >= torch.tensor(lens)[:, None]
    return ids, vidx, keymask, torch.tensor(lens) - 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", default="gpt2", choices=["gpt2", "bert", "llama"])
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--ffn", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=0)
    ap.add_argument("--positions", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--layout", default="first", choices=["first", "text-first", "split"])
    ap.add_argument("--lengths", default="",
                    help="comma-separated tokens per example (batches of --batch in turn); "
                    "default: every example --seq tokens, one batch")
    ap.add_argument("--encoder", default="lstm", choices=["lstm", "mlp", "embedding"])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--autocast", action="store_true", help="bf16 autocast (CPU)")
    a = ap.parse_args()
    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    bert, llama = a.family == "bert", a.family == "llama"
    V = a.vocab or (30522 if bert else 32000 if llama else 50257)
    P = a.positions or (512 if bert else 2048 if llama else 1024)
    FF = a.ffn or ((8 * a.dim // 3 + 63) // 64 * 64 if llama else 4 * a.dim)
    B, T, S, C = a.batch, a.seq, a.prompts, a.dim

    model = Model(a.family, a.layers, C, a.heads, FF, V, P, a.kv_heads or a.heads)
    for p in model.parameters():
        p.requires_grad_(False)  # frozen
    enc = {"lstm": LSTMEncoder, "mlp": MLPEncoder, "embedding": EmbEncoder}[a.encoder](S, C)
    opt = torch.optim.AdamW(enc.parameters(), lr=1e-3, weight_decay=0.01)
    lens = [int(x) for x in a.lengths.split(",")] if a.lengths else [T] * B
    if len(lens) % B:
        ap.error("--lengths must hold a multiple of --batch values")
    gen = torch.Generator().manual_seed(a.seed)
    batches = [layout_batch(lens[i:i + B], S, a.layout, V, gen) for i in range(0, len(lens), B)]
    if not a.lengths and a.layout == "first":
        batches = [(ids, vidx, None, ans) for ids, vidx, _, ans in batches]  # no padding
    rows = torch.tensor([7, 8])
    target = torch.randint(0, 2, (B,))
    t_built = time.perf_counter()
    step = [0]

    def loss_fn():
        ids, vidx, keymask, ans = batches[step[0] % len(batches)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            prompt = enc()  # (S, C)
            x = torch.where(vidx[..., None] >= 0, prompt[vidx.clamp(min=0)].to(model.wte.dtype),
                            model.wte[ids])  # (B, T, C)
            h = model.hidden(x, keymask)[torch.arange(B), ans]  # (B, C) answer positions
            logits = model.label_logits(h, rows)
        return F.cross_entropy(logits.float(), target)

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
    for i in range(max(a.warmup, len(batches))):
        step[0] = i
        train_step()
        if i == 0:
            t_first = time.perf_counter()
    for i in range(max(a.warmup, len(batches))):
        step[0] = i
        eval_batch()
    tt, te = [], []
    for i in range(a.reps):
        step[0] = i
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
        "layout": a.layout, "batches": len(batches), "autocast": a.autocast,
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
