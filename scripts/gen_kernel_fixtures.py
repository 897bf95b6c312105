"""gen_kernel_fixtures.py - PyTorch reference outputs and input gradients for the kernels.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/gen_kernel_fixtures.py
Writes tests/fixtures/kernels/kernels.safetensors, read by tests/test_kernels_torch.c.

For each kernel: random inputs, a random upstream gradient "<name>.dout", the
forward output and the input gradients from autograd (out.backward(dout)).
Everything is float32; integer tensors (lengths, targets) are I32.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_write import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "kernels", "kernels.safetensors")


def leaf(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).requires_grad_(True)


def backward(out, t, name):
    dout = torch.randn_like(out)
    out.backward(dout)
    t[name + ".dout"] = dout
    t[name + ".out"] = out.detach()


def layernorm(t):
    N, C = 6, 33
    x = leaf(N, C, scale=2.0, shift=0.5)
    w, b = torch.randn(C), torch.randn(C)
    out = F.layer_norm(x, (C,), w, b, eps=1e-5)
    t["layernorm.x"], t["layernorm.w"], t["layernorm.b"] = x.detach(), w, b
    backward(out, t, "layernorm")
    t["layernorm.dx"] = x.grad


def rmsnorm(t):
    # Hugging Face LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), then * weight
    N, C = 6, 33
    x = leaf(N, C, scale=2.0)
    w = torch.randn(C)
    var = x.pow(2).mean(-1, keepdim=True)
    out = w * (x * torch.rsqrt(var + 1e-6))
    t["rmsnorm.x"], t["rmsnorm.w"] = x.detach(), w
    backward(out, t, "rmsnorm")
    t["rmsnorm.dx"] = x.grad


def activations(t):
    n = 301
    for name, fn in (("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
                     ("gelu_erf", lambda x: F.gelu(x))):
        x = leaf(n, scale=3.0)
        out = fn(x)
        t[name + ".x"] = x.detach()
        backward(out, t, name)
        t[name + ".dx"] = x.grad
    gate, up = leaf(n, scale=3.0), leaf(n)
    out = F.silu(gate) * up
    t["swiglu.gate"], t["swiglu.up"] = gate.detach(), up.detach()
    backward(out, t, "swiglu")
    t["swiglu.dgate"], t["swiglu.dup"] = gate.grad, up.grad


def attention(t, name, B, T, NH, NKV, HS, causal, lens):
    q = leaf(B, T, NH * HS)
    k = leaf(B, T, NKV * HS)
    v = leaf(B, T, NKV * HS)
    group = NH // NKV
    qh = q.view(B, T, NH, HS).transpose(1, 2)  # (B, NH, T, HS)
    kh = k.view(B, T, NKV, HS).transpose(1, 2).repeat_interleave(group, dim=1)
    vh = v.view(B, T, NKV, HS).transpose(1, 2).repeat_interleave(group, dim=1)
    lens_t = torch.tensor(lens, dtype=torch.int64)
    pos = torch.arange(T)
    key_ok = pos[None, :] < lens_t[:, None]  # (B, T) key valid
    mask = key_ok[:, None, None, :].expand(B, 1, T, T)
    if causal:
        mask = mask & (pos[None, :] <= pos[:, None])[None, None]
    query_ok = (pos[None, :] < lens_t[:, None]).float()  # (B, T)
    scores = (qh @ kh.transpose(-1, -2)) / math.sqrt(HS)
    # padded query rows keep their own (unused) scores so softmax has no empty row
    full_mask = mask | (query_ok[:, None, :, None] == 0)
    att = scores.masked_fill(~full_mask, float("-inf")).softmax(-1)
    att = att * query_ok[:, None, :, None]
    out = (att @ vh).transpose(1, 2).reshape(B, T, NH * HS)
    t[name + ".q"], t[name + ".k"], t[name + ".v"] = q.detach(), k.detach(), v.detach()
    t[name + ".len"] = lens_t.to(torch.int32)
    t[name + ".att"] = att.detach()
    backward(out, t, name)
    t[name + ".dq"], t[name + ".dk"], t[name + ".dv"] = q.grad, k.grad, v.grad


def rope(t):
    # Hugging Face LlamaRotaryEmbedding + apply_rotary_pos_emb, positions 0..T-1
    B, T, NH, HS, theta = 2, 40, 2, 16, 10000.0
    x = leaf(B, T, NH * HS)
    inv_freq = 1.0 / (theta ** (torch.arange(0, HS, 2).float() / HS))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)  # (T, HS/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    xh = x.view(B, T, NH, HS)
    rot = torch.cat((-xh[..., HS // 2:], xh[..., :HS // 2]), dim=-1)
    out = (xh * cos + rot * sin).reshape(B, T, NH * HS)
    t["rope.x"] = x.detach()
    backward(out, t, "rope")
    t["rope.dx"] = x.grad


def crossentropy(t):
    N, V = 7, 50
    logits = leaf(N, V, scale=3.0)
    target = torch.randint(0, V, (N,))
    target[2] = -100  # ignored row
    logits.data[4, 7] += 60.0  # a large logit: needs the max subtraction
    per_row = F.cross_entropy(logits, target, reduction="none")
    loss = F.cross_entropy(logits, target)  # mean over the 6 counted rows
    loss.backward()
    t["ce.logits"], t["ce.target"] = logits.detach(), target.to(torch.int32)
    t["ce.loss"], t["ce.mean"] = per_row.detach(), loss.detach().reshape(1)
    t["ce.dlogits"] = logits.grad


def main():
    torch.manual_seed(0)
    t = {}
    layernorm(t)
    rmsnorm(t)
    activations(t)
    attention(t, "att_causal_gqa", 3, 7, 4, 2, 8, True, [7, 5, 2])
    attention(t, "att_bidir_mha", 3, 7, 4, 4, 8, False, [7, 4, 1])
    rope(t)
    crossentropy(t)
    t = {k: v.contiguous() for k, v in t.items()}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, t, {"generator": "scripts/gen_kernel_fixtures.py",
                               "torch": torch.__version__})
    print("wrote %s (%d tensors, %d bytes)" % (OUT, len(t), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
