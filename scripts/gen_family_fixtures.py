#!/usr/bin/python3
"""gen_family_fixtures.py - tiny random LLaMA-3, Mistral, Qwen2 and RoBERTa models
with the real structure, and PyTorch reference outputs (tests/test_families.c).

Writes (committed; the C test needs no PyTorch) under tests/fixtures/families/:
  llama3_hf/        LlamaForCausalLM: GQA (4 heads, 2 kv heads), rope_theta 500000,
                    rope_scaling {rope_type: llama3} with original_max_position_embeddings
                    chosen so the tiny head size meets all three branches (kept, blended,
                    slowed), untied lm_head; BF16
  llama3_sharded/   the same weights in two shards + model.safetensors.index.json
  llama3.gguf       arch llama, Q/K rows permuted as llama.cpp's converter does,
                    rope_freqs.weight = the llama3 frequency factors; F16
  mistral_hf/       MistralForCausalLM (model_type mistral): GQA 4/1, sliding_window 16
                    (longer than the test sequences), untied; F16
  mistral.gguf      arch llama (as llama.cpp writes Mistral), permuted Q/K,
                    llama.attention.sliding_window 16; BF16
  qwen2_hf/         Qwen2ForCausalLM: q/k/v biases, explicit head_dim 12 (!= 32/4),
                    tied embeddings, use_sliding_window false with a (smaller, unused)
                    sliding_window 4; BF16
  qwen2.gguf        arch qwen2, Q/K NOT permuted (NEOX RoPE), biases, no output.weight; F32
  llama_bias_hf/    LlamaForCausalLM with attention_bias (q/k/v/o biases), tied; F32
  llama_bias.gguf   arch llama, Q/K rows and q/k biases permuted, blk.N.attn_*.bias; F16
  roberta_hf/       RobertaForMaskedLM: "roberta." prefix, padding_idx 1 (positions start
                    at 2), one token type, lm_head dense -> GELU -> LayerNorm -> decoder
                    tied to the word embeddings (+ lm_head.bias; the decoder weight stored
                    as a copy, a position_ids buffer and a pooler, as real files have); F32
  ref.safetensors   inputs and reference outputs per family (see reference())

The forwards are written here from the Hugging Face modeling code (modeling_llama,
modeling_mistral, modeling_qwen2, modeling_roberta), in float64. Every weight is
rounded to values exact in bf16 AND f16, so the BF16, F16 and F32 copies hold the
same numbers. Run with /usr/bin/python3 from the repository root.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_write import (ARRAY, FLOAT32, GGML_BF16, GGML_F16, GGML_F32, STRING,  # noqa: E402
                        UINT32, write_gguf)
from st_write import write_safetensors  # noqa: E402

OUT = "tests/fixtures/families"
DT = torch.float64
gen = torch.Generator().manual_seed(20261207)

# the batch every family runs: right-padded, positions 0..len-1
LENS = [10, 6, 8]
B, T = len(LENS), max(LENS)
ROWS = [3, 40, 17, 60, 5, 33]  # label rows of the loss (< every V)
TARGETS = [1, 4, 0]

FAMILIES = {
    "llama3": dict(kind="llama", C=32, L=2, NH=4, NKV=2, HS=8, F=64, V=96, ctx=1024, eps=1e-5,
                   theta=500000.0, tied=False, bias=False, permute=True,
                   scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                high_freq_factor=4.0, original_max_position_embeddings=512)),
    "mistral": dict(kind="llama", C=32, L=2, NH=4, NKV=1, HS=8, F=64, V=80, ctx=256, eps=1e-5,
                    theta=1000000.0, tied=False, bias=False, permute=True, window=16),
    "qwen2": dict(kind="llama", C=32, L=2, NH=4, NKV=2, HS=12, F=48, V=72, ctx=256, eps=1e-6,
                  theta=1000000.0, tied=True, bias=True, permute=False, unused_window=4),
    "roberta": dict(kind="roberta", C=32, L=2, NH=4, F=64, V=90, P=66, pad=1, eps=1e-5),
    # LLaMA with attention_bias (q, k, v and o biases); llama.cpp permutes the q/k biases
    # with their weights
    "llama_bias": dict(kind="llama", C=32, L=2, NH=4, NKV=2, HS=8, F=64, V=64, ctx=128,
                       eps=1e-5, theta=10000.0, tied=True, bias=True, obias=True, permute=True),
}


def rnd(*shape, std=1.0):
    """N(0, std) rounded to a value exact in bfloat16 and float16."""
    t = (torch.randn(*shape, generator=gen, dtype=DT) * std).to(torch.bfloat16).to(DT)
    t[t.abs() < 2.0 ** -13] = 0.0  # f16 subnormals would lose bf16 bits
    assert torch.equal(t.half().to(DT), t)
    return t


def near_one(n):
    return (1 + rnd(n, std=0.2)).to(torch.bfloat16).to(DT)


# ---------------------------------------------------------------- LLaMA / Mistral / Qwen2
def llama_params(f):
    C, NH, NKV, HS, F, V = f["C"], f["NH"], f["NKV"], f["HS"], f["F"], f["V"]
    p = {"model.embed_tokens.weight": rnd(V, C, std=0.5 if f["tied"] else 1.0)}
    for l in range(f["L"]):
        a = "model.layers.%d." % l
        p[a + "input_layernorm.weight"] = near_one(C)
        p[a + "self_attn.q_proj.weight"] = rnd(NH * HS, C, std=C ** -0.5)
        p[a + "self_attn.k_proj.weight"] = rnd(NKV * HS, C, std=C ** -0.5)
        p[a + "self_attn.v_proj.weight"] = rnd(NKV * HS, C, std=C ** -0.5)
        if f["bias"]:
            p[a + "self_attn.q_proj.bias"] = rnd(NH * HS, std=0.3)
            p[a + "self_attn.k_proj.bias"] = rnd(NKV * HS, std=0.3)
            p[a + "self_attn.v_proj.bias"] = rnd(NKV * HS, std=0.3)
        if f.get("obias"):
            p[a + "self_attn.o_proj.bias"] = rnd(C, std=0.3)
        p[a + "self_attn.o_proj.weight"] = rnd(C, NH * HS, std=(NH * HS) ** -0.5)
        p[a + "post_attention_layernorm.weight"] = near_one(C)
        p[a + "mlp.gate_proj.weight"] = rnd(F, C, std=C ** -0.5)
        p[a + "mlp.up_proj.weight"] = rnd(F, C, std=C ** -0.5)
        p[a + "mlp.down_proj.weight"] = rnd(C, F, std=F ** -0.5)
    p["model.norm.weight"] = near_one(C)
    if not f["tied"]:
        p["lm_head.weight"] = rnd(V, C, std=0.5)
    return p


def inv_freq(f, scaled=True):
    """modeling_rope_utils: _compute_default_rope_parameters / _compute_llama3_parameters."""
    HS = f["HS"]
    inv = 1.0 / (f["theta"] ** (torch.arange(0, HS, 2, dtype=DT) / HS))
    s = f.get("scaling")
    if not s or not scaled:
        return inv
    factor, lo, hi = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
    old = s["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wl = 2 * math.pi / inv
    out = torch.where(wl > lo_wl, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wl < hi_wl) & ~(wl > lo_wl)
    out = torch.where(medium, smoothed, out)
    # the tiny head size must exercise all three branches
    assert (wl < hi_wl).any() and medium.any() and (wl > lo_wl).any(), wl
    return out


def rope(x, inv):  # x (B, H, T, HS): apply_rotary_pos_emb with rotate_half
    HS = x.shape[-1]
    ang = torch.arange(x.shape[2], dtype=DT)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], dim=-1)
    rot = torch.cat([-x[..., HS // 2:], x[..., :HS // 2]], dim=-1)
    return x * emb.cos() + rot * emb.sin()


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def llama_forward(f, p, x, scaled=True):
    """x (B, T, C) input embeddings -> final hidden states (B, T, C) (after model.norm)."""
    Bn, Tn, C = x.shape
    NH, NKV, HS, eps = f["NH"], f["NKV"], f["HS"], f["eps"]
    inv = inv_freq(f, scaled)
    j = torch.arange(Tn)
    lens = torch.tensor(LENS)
    mask = (j[None, None, :] <= j[None, :, None]) & (j[None, None, :] < lens[:, None, None])
    if f.get("window"):  # Mistral: keys within the window (all of them, here)
        mask = mask & (j[None, :, None] - j[None, None, :] < f["window"])
    mask = mask[:, None]
    h = x
    for l in range(f["L"]):
        def lin(n, t, l=l):
            w = p["model.layers.%d.%s.weight" % (l, n)]
            b = p.get("model.layers.%d.%s.bias" % (l, n))
            return t @ w.T + (b if b is not None else 0)

        n = rmsnorm(h, p["model.layers.%d.input_layernorm.weight" % l], eps)
        q = lin("self_attn.q_proj", n).view(Bn, Tn, NH, HS).transpose(1, 2)
        k = lin("self_attn.k_proj", n).view(Bn, Tn, NKV, HS).transpose(1, 2)
        v = lin("self_attn.v_proj", n).view(Bn, Tn, NKV, HS).transpose(1, 2)
        q, k = rope(q, inv), rope(k, inv)
        k = k.repeat_interleave(NH // NKV, dim=1)  # repeat_kv
        v = v.repeat_interleave(NH // NKV, dim=1)
        att = (q @ k.transpose(-1, -2)) * HS ** -0.5
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, NH * HS)
        h = h + lin("self_attn.o_proj", y)
        n = rmsnorm(h, p["model.layers.%d.post_attention_layernorm.weight" % l], eps)
        g = torch.nn.functional.silu(lin("mlp.gate_proj", n))
        h = h + lin("mlp.down_proj", g * lin("mlp.up_proj", n))
    return rmsnorm(h, p["model.norm.weight"], eps)


def llama_out_matrix(f, p):
    return p["model.embed_tokens.weight"] if f["tied"] else p["lm_head.weight"]


def llama_config(name, f):
    arch = {"llama3": ("LlamaForCausalLM", "llama"), "mistral": ("MistralForCausalLM", "mistral"),
            "qwen2": ("Qwen2ForCausalLM", "qwen2"),
            "llama_bias": ("LlamaForCausalLM", "llama")}[name]
    cfg = {"architectures": [arch[0]], "model_type": arch[1], "hidden_size": f["C"],
           "num_hidden_layers": f["L"], "num_attention_heads": f["NH"],
           "num_key_value_heads": f["NKV"], "intermediate_size": f["F"], "vocab_size": f["V"],
           "max_position_embeddings": f["ctx"], "rms_norm_eps": f["eps"],
           "rope_theta": f["theta"], "hidden_act": "silu", "tie_word_embeddings": f["tied"],
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}
    if name == "llama3":
        cfg["rope_scaling"] = f["scaling"]
        cfg["attention_bias"], cfg["mlp_bias"] = False, False
    if name == "mistral":
        cfg["sliding_window"] = f["window"]
    if name == "llama_bias":
        cfg["attention_bias"] = True
    if name == "qwen2":
        cfg["head_dim"] = f["HS"]
        cfg["use_sliding_window"] = False
        cfg["sliding_window"] = f["unused_window"]
        cfg["max_window_layers"] = f["L"]
    return cfg


def permute_qk(w, n_head):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute: rows regrouped for
    adjacent-pair (GPT-J style) RoPE."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def llama3_rope_factors(f):
    """llama.cpp convert_hf_to_gguf.py (LLaMA-3.1): rope_freqs.weight, the numbers the
    default frequencies are divided by."""
    return inv_freq(f, scaled=False) / inv_freq(f, scaled=True)


def llama_gguf(path, name, f, p, ggml_type):
    arch = "qwen2" if name == "qwen2" else "llama"
    kv = [("general.architecture", STRING, arch), ("general.name", STRING, "ptune-" + name),
          (arch + ".context_length", UINT32, f["ctx"]),
          (arch + ".embedding_length", UINT32, f["C"]),
          (arch + ".block_count", UINT32, f["L"]),
          (arch + ".feed_forward_length", UINT32, f["F"]),
          (arch + ".attention.head_count", UINT32, f["NH"]),
          (arch + ".attention.head_count_kv", UINT32, f["NKV"]),
          (arch + ".rope.dimension_count", UINT32, f["HS"]),
          (arch + ".attention.layer_norm_rms_epsilon", FLOAT32, f["eps"]),
          (arch + ".rope.freq_base", FLOAT32, f["theta"])]
    if name == "qwen2":
        kv += [(arch + ".attention.key_length", UINT32, f["HS"]),
               (arch + ".attention.value_length", UINT32, f["HS"])]
    if name == "mistral":
        kv += [(arch + ".attention.sliding_window", UINT32, f["window"])]
    ts = [("token_embd.weight", p["model.embed_tokens.weight"], ggml_type)]
    if name == "llama3":
        ts.append(("rope_freqs.weight", llama3_rope_factors(f), GGML_F32))
    for l in range(f["L"]):
        w = lambda n: p["model.layers.%d.%s" % (l, n)]  # noqa: E731
        b = "blk.%d." % l
        q, k = w("self_attn.q_proj.weight"), w("self_attn.k_proj.weight")
        if f["permute"]:
            q, k = permute_qk(q, f["NH"]), permute_qk(k, f["NKV"])
        ts += [(b + "attn_norm.weight", w("input_layernorm.weight"), GGML_F32),
               (b + "attn_q.weight", q, ggml_type), (b + "attn_k.weight", k, ggml_type),
               (b + "attn_v.weight", w("self_attn.v_proj.weight"), ggml_type)]
        if f["bias"]:
            bq, bk = w("self_attn.q_proj.bias"), w("self_attn.k_proj.bias")
            if f["permute"]:
                bq, bk = permute_qk(bq, f["NH"]), permute_qk(bk, f["NKV"])
            ts += [(b + "attn_q.bias", bq, GGML_F32), (b + "attn_k.bias", bk, GGML_F32),
                   (b + "attn_v.bias", w("self_attn.v_proj.bias"), GGML_F32)]
        if f.get("obias"):
            ts.append((b + "attn_output.bias", w("self_attn.o_proj.bias"), GGML_F32))
        ts += [(b + "attn_output.weight", w("self_attn.o_proj.weight"), ggml_type),
               (b + "ffn_norm.weight", w("post_attention_layernorm.weight"), GGML_F32),
               (b + "ffn_gate.weight", w("mlp.gate_proj.weight"), ggml_type),
               (b + "ffn_up.weight", w("mlp.up_proj.weight"), ggml_type),
               (b + "ffn_down.weight", w("mlp.down_proj.weight"), ggml_type)]
    ts.append(("output_norm.weight", p["model.norm.weight"], GGML_F32))
    if not f["tied"]:
        ts.append(("output.weight", p["lm_head.weight"], ggml_type))
    write_gguf(path, kv, [(n, a.numpy().astype(np.float32), t) for n, a, t in ts])


# ---------------------------------------------------------------- RoBERTa
def roberta_params(f):
    C, F, V, P = f["C"], f["F"], f["V"], f["P"]
    e = "roberta.embeddings."
    p = {e + "word_embeddings.weight": rnd(V, C, std=0.5),
         e + "position_embeddings.weight": rnd(P, C, std=0.3),
         e + "token_type_embeddings.weight": rnd(1, C, std=0.3),
         e + "LayerNorm.weight": near_one(C), e + "LayerNorm.bias": rnd(C, std=0.1)}
    for l in range(f["L"]):
        a = "roberta.encoder.layer.%d." % l
        for n in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            p[a + n + ".weight"] = rnd(C, C, std=0.3)
            p[a + n + ".bias"] = rnd(C, std=0.1)
        p[a + "attention.output.LayerNorm.weight"] = near_one(C)
        p[a + "attention.output.LayerNorm.bias"] = rnd(C, std=0.1)
        p[a + "intermediate.dense.weight"] = rnd(F, C, std=0.2)
        p[a + "intermediate.dense.bias"] = rnd(F, std=0.1)
        p[a + "output.dense.weight"] = rnd(C, F, std=0.2)
        p[a + "output.dense.bias"] = rnd(C, std=0.1)
        p[a + "output.LayerNorm.weight"] = near_one(C)
        p[a + "output.LayerNorm.bias"] = rnd(C, std=0.1)
    p["lm_head.dense.weight"] = rnd(C, C, std=0.2)
    p["lm_head.dense.bias"] = rnd(C, std=0.1)
    p["lm_head.layer_norm.weight"] = near_one(C)
    p["lm_head.layer_norm.bias"] = rnd(C, std=0.1)
    p["lm_head.bias"] = rnd(V, std=0.1)
    return p


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def roberta_forward(f, p, x):
    """RobertaModel from inputs_embeds: position ids padding_idx+1 .. (modeling_roberta
    create_position_ids_from_inputs_embeds), token type 0, key mask on padding."""
    Bn, Tn, C = x.shape
    NH, eps, pad = f["NH"], f["eps"], f["pad"]
    HS = C // NH
    ln = lambda t, n: torch.nn.functional.layer_norm(  # noqa: E731
        t, (C,), p[n + ".weight"], p[n + ".bias"], eps)
    e = "roberta.embeddings."
    pos = torch.arange(pad + 1, Tn + pad + 1)
    h = ln(x + p[e + "position_embeddings.weight"][pos] + p[e + "token_type_embeddings.weight"][0],
           e + "LayerNorm")
    keypad = torch.arange(Tn)[None, :] >= torch.tensor(LENS)[:, None]
    for l in range(f["L"]):
        a = "roberta.encoder.layer.%d." % l
        lin = lambda n, t: t @ p[a + n + ".weight"].T + p[a + n + ".bias"]  # noqa: E731
        heads = lambda t: t.view(Bn, Tn, NH, HS).transpose(1, 2)  # noqa: E731
        q = heads(lin("attention.self.query", h))
        k = heads(lin("attention.self.key", h))
        v = heads(lin("attention.self.value", h))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(HS)
        s = s.masked_fill(keypad[:, None, None, :], float("-inf"))
        y = (s.softmax(-1) @ v).transpose(1, 2).reshape(Bn, Tn, C)
        h1 = ln(h + lin("attention.output.dense", y), a + "attention.output.LayerNorm")
        h = ln(h1 + lin("output.dense", gelu(lin("intermediate.dense", h1))),
               a + "output.LayerNorm")
    return h


def roberta_head(f, p, h, rows=None):
    """RobertaLMHead: dense -> gelu -> layer_norm -> decoder (tied) + bias."""
    t = gelu(h @ p["lm_head.dense.weight"].T + p["lm_head.dense.bias"])
    t = torch.nn.functional.layer_norm(t, (f["C"],), p["lm_head.layer_norm.weight"],
                                       p["lm_head.layer_norm.bias"], f["eps"])
    dec, bias = p["roberta.embeddings.word_embeddings.weight"], p["lm_head.bias"]
    if rows is not None:
        dec, bias = dec[rows], bias[rows]
    return t @ dec.T + bias


def roberta_config(f):
    return {"architectures": ["RobertaForMaskedLM"], "model_type": "roberta",
            "hidden_size": f["C"], "num_hidden_layers": f["L"], "num_attention_heads": f["NH"],
            "intermediate_size": f["F"], "max_position_embeddings": f["P"],
            "type_vocab_size": 1, "layer_norm_eps": f["eps"], "hidden_act": "gelu",
            "vocab_size": f["V"], "pad_token_id": f["pad"], "bos_token_id": 0,
            "eos_token_id": 2, "position_embedding_type": "absolute"}


# ---------------------------------------------------------------- references
def reference(name, f, p):
    """x: input embeddings (some rows replaced by free "virtual token" vectors, padding
    rows noise); h: final hidden states at every valid row (b-major); logits_full at the
    answer rows (causal: each sequence's last row; RoBERTa: a mask row); loss: mean
    cross-entropy over the ROWS subset; dx = d(loss)/d(x)."""
    emb = p["model.embed_tokens.weight" if f["kind"] == "llama" else
            "roberta.embeddings.word_embeddings.weight"]
    ids = torch.randint(0, f["V"], (B, T), generator=gen)
    x = emb[ids].clone()
    for b, t in [(0, 1), (0, 2), (1, 0), (2, 3), (2, 4)]:
        x[b, t] = torch.randn(f["C"], generator=gen, dtype=DT) * 0.7
    for b in range(B):
        x[b, LENS[b]:] = torch.randn(T - LENS[b], f["C"], generator=gen, dtype=DT)
    x = x.float().to(DT)  # what C reads
    x.requires_grad_(True)
    if f["kind"] == "llama":
        hid = llama_forward(f, p, x)
        answer = [b * T + LENS[b] - 1 for b in range(B)]
        out = llama_out_matrix(f, p)
        head = lambda h, rows=None: h @ (out if rows is None else out[rows]).T  # noqa: E731
    else:
        hid = roberta_forward(f, p, x)
        answer = [0 * T + 7, 1 * T + 2, 2 * T + 5]
        head = lambda h, rows=None: roberta_head(f, p, h, rows)  # noqa: E731
    flat = hid.reshape(B * T, -1)
    valid = [b * T + t for b in range(B) for t in range(LENS[b])]
    ha = flat[answer]
    logits_sub = head(ha, ROWS)
    loss = torch.nn.functional.cross_entropy(logits_sub, torch.tensor(TARGETS))
    loss.backward()
    r = {"x": x.detach(), "h": flat[valid].detach(), "logits_full": head(ha).detach(),
         "logits_sub": logits_sub.detach(), "loss": loss.detach().reshape(1), "dx": x.grad,
         "answer": torch.tensor(answer, dtype=DT)}
    if f.get("scaling"):  # the same without rope_scaling: the test must be able to tell
        with torch.no_grad():
            r["h_noscale"] = llama_forward(f, p, x.detach(), scaled=False).reshape(B * T, -1)[valid]
    print("%-8s V=%d loss %.6f |dx|max %.3g" % (name, f["V"], loss.item(),
                                                x.grad.abs().max().item()))
    return r


def save_dir(d, cfg, tensors):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=1)
        fh.write("\n")
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, {"format": "pt"})


def save_sharded(d, cfg, tensors):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=1)
        fh.write("\n")
    names = list(tensors)
    half = len(names) // 2
    shards = [names[:half], names[half:]]
    wmap, total = {}, 0
    for i, part in enumerate(shards):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        write_safetensors(os.path.join(d, fn), {n: tensors[n] for n in part}, {"format": "pt"})
        for n in part:
            wmap[n] = fn
            total += tensors[n].numel() * tensors[n].element_size()
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as fh:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, fh, indent=1)
        fh.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = {}
    for name, f in FAMILIES.items():
        if f["kind"] == "llama":
            p = llama_params(f)
            dt = {"llama3": torch.bfloat16, "mistral": torch.float16, "qwen2": torch.bfloat16,
                  "llama_bias": torch.float32}[name]
            st = {k: v.to(dt) for k, v in p.items()}
            cfg = llama_config(name, f)
            save_dir(os.path.join(OUT, name + "_hf"), cfg, st)
            if name == "llama3":
                save_sharded(os.path.join(OUT, "llama3_sharded"), cfg, st)
            gt = {"llama3": GGML_F16, "mistral": GGML_BF16, "qwen2": GGML_F32,
                  "llama_bias": GGML_F16}[name]
            llama_gguf(os.path.join(OUT, name + ".gguf"), name, f, p, gt)
        else:
            p = roberta_params(f)
            # as real checkpoints have them: the position_ids buffer (older files), the
            # pooler (unused by the MLM) and the tied decoder weight stored as a copy
            st = {"roberta.embeddings.position_ids": torch.arange(f["P"]).reshape(1, -1)}
            st.update({k: v.float() for k, v in p.items()})
            st["roberta.pooler.dense.weight"] = rnd(f["C"], f["C"]).float()
            st["roberta.pooler.dense.bias"] = rnd(f["C"]).float()
            st["lm_head.decoder.weight"] = p["roberta.embeddings.word_embeddings.weight"].float()
            save_dir(os.path.join(OUT, "roberta_hf"), roberta_config(f), st)
        for k, v in reference(name, f, p).items():
            ref["%s.%s" % (name, k)] = v.float()
    ref["len"] = torch.tensor(LENS, dtype=torch.float32)
    ref["rows"] = torch.tensor(ROWS, dtype=torch.float32)
    ref["targets"] = torch.tensor(TARGETS, dtype=torch.float32)
    write_safetensors(os.path.join(OUT, "ref.safetensors"), ref)


if __name__ == "__main__":
    main()
