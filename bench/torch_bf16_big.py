#!/usr/bin/env python3
"""torch_bf16_big.py - what a PyTorch user can do with a 7B/8B LLaMA shape on a
machine where f32 does not fit: the same P-tuning step as `ptune bench --model
FILE --batch 4 --seq 64 --prompts 8 --encoder embedding` with the frozen
weights held in bf16 (random values: only time and memory mean anything).

    /usr/bin/python3 bench/torch_bf16_big.py --shape llama2-7b --reps 1

The step: prompt table (8 x d, f32, trainable) spliced before the text's
embeddings, the model in bf16 (RMSNorm, RoPE, GQA attention with a causal
mask, SwiGLU MLP), the LM head on the last row only, cross-entropy over the
vocabulary, backward to the prompt table, AdamW. Prints the step and the
evaluation batch (forward only, no grad) in ms, and the peak RSS.
"""
import argparse
import resource
import time

import torch

SHAPES = {
    # layers, width, heads, kv heads, ffn, vocab
    "tiny": (2, 256, 4, 2, 512, 1000),  # a dry run
    "llama2-7b": (32, 4096, 32, 32, 11008, 32000),
    "llama3-8b": (32, 4096, 32, 8, 14336, 128256),
}


def rope(x, pos, theta=10000.0):
    # x (B, H, T, D); rotate halves (HF LLaMA convention)
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = pos[:, None].float() * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def rmsnorm(x, w, eps=1e-5):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


class Block:
    def __init__(self, d, h, kvh, ffn, g):
        def mat(n, k):
            return (torch.randn(n, k, generator=g) * 0.02).to(torch.bfloat16)

        hd = d // h
        self.h, self.kvh, self.hd = h, kvh, hd
        self.wq, self.wk, self.wv = mat(d, d), mat(kvh * hd, d), mat(kvh * hd, d)
        self.wo = mat(d, d)
        self.w1, self.w3, self.w2 = mat(ffn, d), mat(ffn, d), mat(d, ffn)
        self.n1 = torch.ones(d, dtype=torch.bfloat16)
        self.n2 = torch.ones(d, dtype=torch.bfloat16)

    def __call__(self, x, pos, mask):
        B, T, d = x.shape
        a = rmsnorm(x, self.n1)
        q = (a @ self.wq.T).view(B, T, self.h, self.hd).transpose(1, 2)
        k = (a @ self.wk.T).view(B, T, self.kvh, self.hd).transpose(1, 2)
        v = (a @ self.wv.T).view(B, T, self.kvh, self.hd).transpose(1, 2)
        q, k = rope(q, pos), rope(k, pos)
        rep = self.h // self.kvh
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) / self.hd**0.5 + mask
        o = (s.float().softmax(-1).to(x.dtype) @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ self.wo.T
        m = rmsnorm(x, self.n2)
        return x + (torch.nn.functional.silu(m @ self.w1.T) * (m @ self.w3.T)) @ self.w2.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama2-7b")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    L, d, h, kvh, ffn, V = SHAPES[a.shape]
    g = torch.Generator().manual_seed(1)
    t0 = time.time()
    emb = (torch.randn(V, d, generator=g) * 0.02).to(torch.bfloat16)
    blocks = [Block(d, h, kvh, ffn, g) for _ in range(L)]
    norm = torch.ones(d, dtype=torch.bfloat16)
    head = (torch.randn(V, d, generator=g) * 0.02).to(torch.bfloat16)
    build = time.time() - t0
    B, T, P = a.batch, a.seq, a.prompts
    ids = torch.randint(0, V, (B, T - P), generator=g)
    labels = torch.randint(0, V, (B,), generator=g)
    table = torch.nn.Parameter(torch.randn(P, d, generator=g) * 0.02)
    opt = torch.optim.AdamW([table], lr=1e-3)
    pos = torch.arange(T)
    mask = torch.full((T, T), float("-inf")).triu(1).to(torch.bfloat16)

    def loss_of():
        x = torch.cat([table.to(torch.bfloat16).expand(B, P, d), emb[ids]], 1)
        for b in blocks:
            x = b(x, pos, mask)
        last = rmsnorm(x[:, -1], norm)
        return torch.nn.functional.cross_entropy((last @ head.T).float(), labels)

    def step():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        return loss.item()

    steps, evals = [], []
    t = time.time()
    step()
    first = time.time() - t
    for _ in range(a.reps):
        t = time.time()
        step()
        steps.append(time.time() - t)
        t = time.time()
        with torch.no_grad():
            loss_of()
        evals.append(time.time() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = lambda v: sorted(v)[len(v) // 2] * 1000  # noqa: E731
    print(
        f"torch {torch.__version__} bf16 weights, {a.shape}, batch {B} x {T}, {P} prompts, "
        f"{torch.get_num_threads()} threads: build {build:.1f} s, first step {first * 1000:.0f} ms, "
        f"train step {med(steps):.0f} ms, eval batch {med(evals):.0f} ms, peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
