#!/usr/bin/python3
"""gen_deep_fixtures.py - PyTorch reference for deep prompts (prefix tuning,
P-tuning v2) on the tiny GPT-2, BERT and LLaMA fixtures.

A deep prompt is D rows of trainable keys and values in front of every
layer's attention, in PEFT's layout: deep (D, L * 2 * KVC), row j = layer 0's
key, layer 0's value, layer 1's key, ... (each NKV heads x HS). This is the
Hugging Face past_key_values convention PEFT's prefix tuning uses:
  - every query attends to all D prefix keys (causal or not), then to its own
    sequence's keys as usual (right padding masked for BERT);
  - prefix keys are used as given: no RoPE rotation (LLaMA);
  - the sequence's positions start at D (position ids past_length + t).
Written here from the HF modeling code's semantics (GPT2Attention,
BertSelfAttention, LlamaAttention with a past key/value), in float64.

For each family: a batch of token ids (answer at a given row), an LM head
over two label rows, mean cross-entropy; writes tests/fixtures/deep/<fam>.safetensors
with the inputs (ids, lens, answers, rows, targets, deep) and the outputs
(loss, h at the answers, d loss / d deep).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from st_write import write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIX = os.path.join(ROOT, "tests", "fixtures")


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
        dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[v["dtype"]]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dt).reshape(v["shape"])
        out[k] = t.double()
    return out


def ln(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def attend(q, k, v, pk, pv, causal, keymask):
    """q (B,H,T,HS), k/v (B,H,T,HS), pk/pv (H,D,HS) prefix; keymask (B,T) True = visible."""
    B, H, T, HS = q.shape
    D = pk.shape[1]
    kk = torch.cat([pk[None].expand(B, -1, -1, -1), k], 2)
    vv = torch.cat([pv[None].expand(B, -1, -1, -1), v], 2)
    att = q @ kk.transpose(-1, -2) / math.sqrt(HS)  # (B, H, T, D + T)
    vis = torch.ones(B, T, D + T, dtype=torch.bool)
    if causal:
        vis[:, :, D:] &= torch.ones(T, T, dtype=torch.bool).tril()[None]
    vis[:, :, D:] &= keymask[:, None, :]
    att = att.masked_fill(~vis[:, None], float("-inf")).softmax(-1)
    return att @ vv


def prefix_kv(deep, l, NKV, HS):
    """layer l's prefix keys and values (NKV, D, HS) from deep (D, L*2*KVC)."""
    D = deep.shape[0]
    KVC = NKV * HS
    k = deep[:, (2 * l) * KVC:(2 * l + 1) * KVC].reshape(D, NKV, HS).transpose(0, 1)
    v = deep[:, (2 * l + 1) * KVC:(2 * l + 2) * KVC].reshape(D, NKV, HS).transpose(0, 1)
    return k, v


def gpt2(w, cfg, ids, lens, deep):
    C, NH, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    HS, D = C // NH, deep.shape[0]
    B, T = ids.shape
    eps = cfg["layer_norm_epsilon"]
    keymask = torch.arange(T)[None] < lens[:, None]
    x = w["wte.weight"][ids] + w["wpe.weight"][D + torch.arange(T)]
    for l in range(L):
        p = lambda n: w["h.%d.%s" % (l, n)]
        a = ln(x, p("ln_1.weight"), p("ln_1.bias"), eps)
        q, k, v = (a @ p("attn.c_attn.weight") + p("attn.c_attn.bias")).split(C, -1)
        sh = lambda t: t.view(B, T, NH, HS).transpose(1, 2)
        pk, pv = prefix_kv(deep, l, NH, HS)
        y = attend(sh(q), sh(k), sh(v), pk, pv, True, keymask).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        a = ln(x, p("ln_2.weight"), p("ln_2.bias"), eps)
        x = x + F.gelu(a @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), approximate="tanh") \
            @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    h = ln(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return h, lambda hh, rows: hh @ w["wte.weight"][rows].T


def bert(w, cfg, ids, lens, deep):
    C, NH, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    HS, D = C // NH, deep.shape[0]
    B, T = ids.shape
    eps = cfg["layer_norm_eps"]
    keymask = torch.arange(T)[None] < lens[:, None]
    e = "bert.embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][
        D + torch.arange(T)] + w[e + "token_type_embeddings.weight"][0]
    x = ln(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], eps)
    for l in range(L):
        p = lambda n: w["bert.encoder.layer.%d.%s" % (l, n)]
        lin = lambda t, n: t @ p(n + ".weight").T + p(n + ".bias")
        sh = lambda t: t.view(B, T, NH, HS).transpose(1, 2)
        q, k, v = (sh(lin(x, "attention.self." + n)) for n in ("query", "key", "value"))
        pk, pv = prefix_kv(deep, l, NH, HS)
        y = attend(q, k, v, pk, pv, False, keymask).transpose(1, 2).reshape(B, T, C)
        a = ln(x + lin(y, "attention.output.dense"), p("attention.output.LayerNorm.weight"),
               p("attention.output.LayerNorm.bias"), eps)
        f = F.gelu(lin(a, "intermediate.dense"))
        x = ln(a + lin(f, "output.dense"), p("output.LayerNorm.weight"), p("output.LayerNorm.bias"),
               eps)

    def head(hh, rows):
        c = "cls.predictions."
        t = F.gelu(hh @ w[c + "transform.dense.weight"].T + w[c + "transform.dense.bias"])
        t = ln(t, w[c + "transform.LayerNorm.weight"], w[c + "transform.LayerNorm.bias"], eps)
        return t @ w[e + "word_embeddings.weight"][rows].T + w[c + "bias"][rows]
    return x, head


def llama(w, cfg, ids, lens, deep):
    C, NH, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    NKV, HS, D = cfg["num_key_value_heads"], C // NH, deep.shape[0]
    B, T = ids.shape
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    keymask = torch.arange(T)[None] < lens[:, None]
    rms = lambda t, g: t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + eps) * g
    inv = 1.0 / theta ** (torch.arange(0, HS, 2, dtype=torch.float64) / HS)
    ang = (D + torch.arange(T, dtype=torch.float64))[:, None] * inv[None]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    rope = lambda t: t * cos + torch.cat([-t[..., HS // 2:], t[..., :HS // 2]], -1) * sin
    x = w["model.embed_tokens.weight"][ids]
    for l in range(L):
        p = lambda n: w["model.layers.%d.%s" % (l, n)]
        n = rms(x, p("input_layernorm.weight"))
        q = rope((n @ p("self_attn.q_proj.weight").T).view(B, T, NH, HS).transpose(1, 2))
        k = rope((n @ p("self_attn.k_proj.weight").T).view(B, T, NKV, HS).transpose(1, 2))
        v = (n @ p("self_attn.v_proj.weight").T).view(B, T, NKV, HS).transpose(1, 2)
        pk, pv = prefix_kv(deep, l, NKV, HS)
        rep = NH // NKV
        y = attend(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1),
                   pk.repeat_interleave(rep, 0), pv.repeat_interleave(rep, 0), True, keymask)
        x = x + y.transpose(1, 2).reshape(B, T, C) @ p("self_attn.o_proj.weight").T
        n = rms(x, p("post_attention_layernorm.weight"))
        x = x + (F.silu(n @ p("mlp.gate_proj.weight").T) * (n @ p("mlp.up_proj.weight").T)) \
            @ p("mlp.down_proj.weight").T
    return rms(x, w["model.norm.weight"]), lambda hh, rows: hh @ w["lm_head.weight"][rows].T


CASES = {
    # family: fixture dir, forward, batch (ids right-padded with 0), lengths, answer rows,
    # label rows
    "gpt2": ("gpt2/tiny", gpt2, [[40, 41, 42, 43, 44, 45], [50, 51, 52, 53, 0, 0],
                                  [10, 11, 12, 13, 14, 0]], [6, 4, 5], [5, 3, 4], [300, 301]),
    "bert": ("bert/tiny", bert, [[2, 11, 15, 4, 65, 3], [2, 5, 60, 4, 3, 0],
                                  [2, 5, 61, 9, 4, 3]], [6, 5, 6], [3, 3, 4], [51, 52]),
    "llama": ("llama/tiny_hf", llama, [[1, 270, 271, 272, 275, 276], [1, 275, 276, 0, 0, 0],
                                        [1, 280, 277, 278, 279, 0]], [6, 3, 5], [5, 2, 4],
              [273, 274]),
}


def main():
    os.makedirs(os.path.join(FIX, "deep"), exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    for fam, (d, fwd, ids, lens, answers, rows) in CASES.items():
        cfg = json.load(open(os.path.join(FIX, d, "config.json")))
        w = read_st(os.path.join(FIX, d, "model.safetensors"))
        ids = torch.tensor(ids)
        lens = torch.tensor(lens)
        L = cfg.get("n_layer", cfg.get("num_hidden_layers"))
        C = cfg.get("n_embd", cfg.get("hidden_size"))
        NH = cfg.get("n_head", cfg.get("num_attention_heads"))
        NKV = cfg.get("num_key_value_heads", NH)
        KVC = NKV * (C // NH)
        D = 3
        deep = (0.5 * torch.randn(D, L * 2 * KVC, generator=gen, dtype=torch.float64))
        deep = deep.float().double().requires_grad_(True)  # exactly representable in f32
        targets = torch.tensor([0, 1, 1])
        h, head = fwd(w, cfg, ids, lens, deep)
        ha = h[torch.arange(3), torch.tensor(answers)]
        logits = head(ha, torch.tensor(rows))
        loss = F.cross_entropy(logits, targets)
        loss.backward()
        out = {
            "ids": ids.int(), "lens": lens.int(), "answers": torch.tensor(answers).int(),
            "rows": torch.tensor(rows).int(), "targets": targets.int(),
            "deep": deep.detach().float(), "loss": loss.detach().float().reshape(1),
            "h": ha.detach().float(), "ddeep": deep.grad.float(),
        }
        if fam == "gpt2":  # PEFT's PrefixEncoder with projection, in front of the same model
            H = 24
            torch.manual_seed(5)
            enc = torch.nn.ModuleDict({
                "embedding": torch.nn.Embedding(D, C),
                "transform": torch.nn.Sequential(torch.nn.Linear(C, H), torch.nn.Tanh(),
                                                 torch.nn.Linear(H, L * 2 * KVC))}).double()
            with torch.no_grad():
                for prm in enc.parameters():
                    prm.copy_(prm.float().double())
            dp = enc["transform"](enc["embedding"].weight)
            h2, head2 = fwd(w, cfg, ids, lens, dp)
            l2 = F.cross_entropy(head2(h2[torch.arange(3), torch.tensor(answers)],
                                       torch.tensor(rows)), targets)
            l2.backward()
            for name, prm in enc.named_parameters():
                out["enc." + name] = prm.detach().float()
                out["grad.enc." + name] = prm.grad.float()
            out["enc_loss"] = l2.detach().float().reshape(1)
            out["enc_deep"] = dp.detach().float()
        write_safetensors(os.path.join(FIX, "deep", fam + ".safetensors"), out)
        print(f"{fam}: D {D}, width {L * 2 * KVC}, loss {loss.item():.6f}, "
              f"|ddeep| max {deep.grad.abs().max().item():.3g}")


if __name__ == "__main__":
    main()
