#!/usr/bin/python3
"""Reference fixtures for the LLaMA model family (tests/test_llama.c).

Run with /usr/bin/python3 (Debian's python3-torch), from the repository root:
    /usr/bin/python3 scripts/gen_llama_fixtures.py

Writes, under tests/fixtures/llama/:
  tiny_hf/        config.json + model.safetensors   untied LM head, V = 282
  tiny.gguf       the same model as llama.cpp's converter writes it (Q/K rows
                  permuted for interleaved RoPE) + a SentencePiece tokenizer
  tiny_tied_hf/   config.json + model.safetensors   tied LM head, V = 64
  tiny_tied.gguf  the same tied model (no output.weight), no tokenizer
  ref.safetensors reference tensors from the torch model below (float64):
      <m>.x          (B, T, C) input embeddings (padded positions hold noise)
      <m>.logits_full (n_full, V) logits at the flat positions out_full
      <m>.logits_sub (B, nr)  logits of vocab rows `rows` at the answer positions
      <m>.loss       (1)      mean cross-entropy of logits_sub against targets
      <m>.dx         (B, T, C) d(loss)/d(x)
    with <m> in {untied, tied}; shared: len (B), out_full, rows, targets (as F32).

The torch model follows Hugging Face's LlamaForCausalLM: pre-norm RMSNorm
blocks, rotate_half RoPE at positions 0..T-1, grouped-query causal attention
with padding mask (keys j < len[b]), SwiGLU MLP, final RMSNorm, LM head.
Weights are rounded to float16 and stored as F16 in both formats, so both
files hold exactly the values the reference used.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

OUT = "tests/fixtures/llama"
DIM, LAYERS, HEADS, KV_HEADS, FFN = 32, 2, 4, 2, 64
EPS, THETA, CTX = 1e-5, 10000.0, 128
HS = DIM // HEADS

# ---------------------------------------------------------------- tokenizer
WORDS = ["\u2581", "t", "h", "e", "a", "c", "s", "o", "n", "m", "\u2581t", "he",
         "\u2581the", "at", "\u2581c", "\u2581cat", "\u2581s", "\u2581sat", "\u2581o",
         "\u2581on", "\u2581m", "\u2581mat", "\u2581a"]
TOKENS = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)] + WORDS
# scores: single characters low, longer merges rank by their order (higher = earlier merge)
SCORES = [0.0] * 259 + [-100.0 - i if len(w) == 1 else -float(i) for i, w in enumerate(WORDS)]
TYPES = [2, 3, 3] + [6] * 256 + [1] * len(WORDS)  # unknown, control, byte, normal
V_UNTIED = len(TOKENS)  # 282
V_TIED = 64


# ---------------------------------------------------------------- the model
def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def rope(x):  # x (B, H, T, HS), Hugging Face rotate_half
    T = x.shape[2]
    inv = 1.0 / (THETA ** (torch.arange(0, HS, 2, dtype=torch.float64) / HS))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]  # (T, HS/2)
    emb = torch.cat([ang, ang], dim=-1)
    rot = torch.cat([-x[..., HS // 2:], x[..., :HS // 2]], dim=-1)
    return x * emb.cos() + rot * emb.sin()


def forward(p, x, lens):
    """x (B, T, C) -> final hidden states (B, T, C)."""
    B, T, C = x.shape
    j = torch.arange(T)
    mask = (j[None, None, :] <= j[None, :, None]) & (j[None, None, :] < lens[:, None, None])
    mask = mask[:, None]  # (B, 1, T, T)
    h = x
    for l in range(LAYERS):
        w = lambda n: p["model.layers.%d.%s" % (l, n)]
        n = rmsnorm(h, w("input_layernorm.weight"))
        q = (n @ w("self_attn.q_proj.weight").T).view(B, T, HEADS, HS).transpose(1, 2)
        k = (n @ w("self_attn.k_proj.weight").T).view(B, T, KV_HEADS, HS).transpose(1, 2)
        v = (n @ w("self_attn.v_proj.weight").T).view(B, T, KV_HEADS, HS).transpose(1, 2)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
        v = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
        att = (q @ k.transpose(-1, -2)) / HS ** 0.5
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        h = h + y @ w("self_attn.o_proj.weight").T
        n = rmsnorm(h, w("post_attention_layernorm.weight"))
        g = torch.nn.functional.silu(n @ w("mlp.gate_proj.weight").T)
        h = h + (g * (n @ w("mlp.up_proj.weight").T)) @ w("mlp.down_proj.weight").T
    return rmsnorm(h, p["model.norm.weight"])


def make_params(gen, V, tied):
    def rnd(*shape, std=1.0):
        t = torch.randn(*shape, generator=gen, dtype=torch.float64) * std
        return t.half().double()  # exactly representable in F16

    p = {"model.embed_tokens.weight": rnd(V, DIM)}
    for l in range(LAYERS):
        pre = "model.layers.%d." % l
        p[pre + "input_layernorm.weight"] = (1 + rnd(DIM, std=0.2)).half().double()
        p[pre + "self_attn.q_proj.weight"] = rnd(DIM, DIM, std=DIM ** -0.5)
        p[pre + "self_attn.k_proj.weight"] = rnd(KV_HEADS * HS, DIM, std=DIM ** -0.5)
        p[pre + "self_attn.v_proj.weight"] = rnd(KV_HEADS * HS, DIM, std=DIM ** -0.5)
        p[pre + "self_attn.o_proj.weight"] = rnd(DIM, DIM, std=DIM ** -0.5)
        p[pre + "post_attention_layernorm.weight"] = (1 + rnd(DIM, std=0.2)).half().double()
        p[pre + "mlp.gate_proj.weight"] = rnd(FFN, DIM, std=DIM ** -0.5)
        p[pre + "mlp.up_proj.weight"] = rnd(FFN, DIM, std=DIM ** -0.5)
        p[pre + "mlp.down_proj.weight"] = rnd(DIM, FFN, std=FFN ** -0.5)
    p["model.norm.weight"] = (1 + rnd(DIM, std=0.2)).half().double()
    if not tied:
        p["lm_head.weight"] = rnd(V, DIM, std=0.5)
    return p


# ---------------------------------------------------------------- writers
def write_safetensors(path, tensors):
    """tensors: name -> (dtype string, numpy array)"""
    header, blobs, off = {}, [], 0
    for name, (dt, a) in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# GGUF value and tensor type codes (the GGUF specification)
UINT32, INT32, FLOAT32, STRING, ARRAY = 4, 5, 6, 8, 9
GGML_F32, GGML_F16 = 0, 1


def gguf_writer():
    """write_gguf from scripts/gguf_write.py (the project's GGUF writer) when it
    exists, else the minimal local writer below with the same interface."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        from gguf_write import write_gguf
        return write_gguf
    except ImportError:
        return write_gguf_local


def write_gguf_local(path, kv, tensors=(), version=3, alignment=32):
    """GGUF v3 subset. kv: (key, type, value) with type UINT32, INT32, FLOAT32,
    STRING or ARRAY (value (element type, list) of those scalars); tensors:
    (name, row-major array, GGML_F32 | GGML_F16); ggml ne = shape reversed."""
    fmt = {UINT32: "<I", INT32: "<i", FLOAT32: "<f"}

    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    def val(t, v):
        if t == STRING: return s(v)
        if t == ARRAY:
            et, items = v
            return struct.pack("<IQ", et, len(items)) + b"".join(val(et, i) for i in items)
        return struct.pack(fmt[t], v)

    out = [b"GGUF", struct.pack("<IQQ", version, len(tensors), len(kv))]
    out += [s(k) + struct.pack("<I", t) + val(t, v) for k, t, v in kv]
    data, off = [], 0
    for name, a, ty in tensors:
        a = np.asarray(a, dtype=np.float32 if ty == GGML_F32 else np.float16)
        ne = list(reversed(a.shape))
        out.append(s(name) + struct.pack("<I%dQIQ" % len(ne), len(ne), *ne, ty, off))
        b = np.ascontiguousarray(a).tobytes()
        b += b"\0" * (-len(b) % alignment)
        data.append(b)
        off += len(b)
    head = b"".join(out)
    head += b"\0" * (-len(head) % alignment)
    with open(path, "wb") as f:
        f.write(head + b"".join(data))


def permute_qk(w, n_head):
    """llama.cpp convert_hf_to_gguf.py: rows regrouped for interleaved RoPE."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def save_hf(dirname, p, V, tied):
    os.makedirs(dirname, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": DIM,
           "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
           "num_key_value_heads": KV_HEADS, "intermediate_size": FFN, "vocab_size": V,
           "max_position_embeddings": CTX, "rms_norm_eps": EPS, "rope_theta": THETA,
           "hidden_act": "silu", "tie_word_embeddings": tied}
    with open(os.path.join(dirname, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    write_safetensors(os.path.join(dirname, "model.safetensors"),
                      {k: ("F16", v.numpy().astype(np.float16)) for k, v in p.items()})


def save_gguf(path, p, V, with_tokenizer):
    kv = [("general.architecture", STRING, "llama"), ("general.name", STRING, "ptune-tiny"),
          ("llama.context_length", UINT32, CTX), ("llama.embedding_length", UINT32, DIM),
          ("llama.block_count", UINT32, LAYERS), ("llama.feed_forward_length", UINT32, FFN),
          ("llama.attention.head_count", UINT32, HEADS),
          ("llama.attention.head_count_kv", UINT32, KV_HEADS),
          ("llama.rope.dimension_count", UINT32, HS),
          ("llama.attention.layer_norm_rms_epsilon", FLOAT32, EPS),
          ("llama.rope.freq_base", FLOAT32, THETA)]
    if with_tokenizer:
        kv += [("tokenizer.ggml.model", STRING, "llama"),
               ("tokenizer.ggml.tokens", ARRAY, (STRING, TOKENS)),
               ("tokenizer.ggml.scores", ARRAY, (FLOAT32, SCORES)),
               ("tokenizer.ggml.token_type", ARRAY, (INT32, TYPES)),
               ("tokenizer.ggml.unknown_token_id", UINT32, 0),
               ("tokenizer.ggml.bos_token_id", UINT32, 1),
               ("tokenizer.ggml.eos_token_id", UINT32, 2)]
    h16 = lambda t: (t.numpy().astype(np.float32), GGML_F16)
    f32 = lambda t: (t.numpy().astype(np.float32), GGML_F32)  # llama.cpp keeps 1-D norms in F32
    ts = [("token_embd.weight",) + h16(p["model.embed_tokens.weight"])]
    for l in range(LAYERS):
        w = lambda n: p["model.layers.%d.%s" % (l, n)]
        b = "blk.%d." % l
        ts += [(b + "attn_norm.weight",) + f32(w("input_layernorm.weight")),
               (b + "attn_q.weight",) + h16(permute_qk(w("self_attn.q_proj.weight"), HEADS)),
               (b + "attn_k.weight",) + h16(permute_qk(w("self_attn.k_proj.weight"), KV_HEADS)),
               (b + "attn_v.weight",) + h16(w("self_attn.v_proj.weight")),
               (b + "attn_output.weight",) + h16(w("self_attn.o_proj.weight")),
               (b + "ffn_norm.weight",) + f32(w("post_attention_layernorm.weight")),
               (b + "ffn_gate.weight",) + h16(w("mlp.gate_proj.weight")),
               (b + "ffn_up.weight",) + h16(w("mlp.up_proj.weight")),
               (b + "ffn_down.weight",) + h16(w("mlp.down_proj.weight"))]
    ts.append(("output_norm.weight",) + f32(p["model.norm.weight"]))
    if "lm_head.weight" in p:
        ts.append(("output.weight",) + h16(p["lm_head.weight"]))
    gguf_writer()(path, kv, ts)


# ---------------------------------------------------------------- references
LENS = [7, 4, 6]
B, T = len(LENS), max(LENS)
OUT_FULL = [0 * T + 6, 1 * T + 3, 2 * T + 5, 0 * T + 2, 2 * T + 0]  # flat b*T + t
ANSWER = [b * T + LENS[b] - 1 for b in range(B)]
ROWS = [3, 40, 17, 60, 5, 33]  # < V_TIED, so the same subset serves both models
TARGETS = [1, 4, 0]


def reference(gen, p, V, tied):
    emb = p["model.embed_tokens.weight"]
    ids = torch.randint(0, V, (B, T), generator=gen)
    x = emb[ids].clone()
    # "virtual tokens": free vectors spliced in; padded positions: noise the model must ignore
    for b, t in [(0, 1), (0, 2), (1, 0), (2, 3)]:
        x[b, t] = torch.randn(DIM, generator=gen, dtype=torch.float64)
    for b in range(B):
        x[b, LENS[b]:] = torch.randn(T - LENS[b], DIM, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    out_w = emb if tied else p["lm_head.weight"]
    h = forward(p, x, torch.tensor(LENS)).reshape(B * T, DIM)
    logits_full = h[OUT_FULL] @ out_w.T
    logits_sub = h[ANSWER] @ out_w[ROWS].T
    loss = torch.nn.functional.cross_entropy(logits_sub, torch.tensor(TARGETS))
    loss.backward()
    return {"x": x.detach(), "logits_full": logits_full.detach(), "logits_sub": logits_sub.detach(),
            "loss": loss.detach().reshape(1), "dx": x.grad}


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    ref = {}
    for tag, V, tied in [("untied", V_UNTIED, False), ("tied", V_TIED, True)]:
        p = make_params(gen, V, tied)
        suffix = "" if tag == "untied" else "_tied"
        save_hf(os.path.join(OUT, "tiny%s_hf" % suffix), p, V, tied)
        save_gguf(os.path.join(OUT, "tiny%s.gguf" % suffix), p, V, with_tokenizer=not tied)
        for k, v in reference(gen, p, V, tied).items():
            ref["%s.%s" % (tag, k)] = v
        print("%s: V=%d loss %.6f" % (tag, V, ref[tag + ".loss"].item()))
    f32 = lambda a: ("F32", np.asarray(a, dtype=np.float32))
    st = {k: f32(v.numpy()) for k, v in ref.items()}
    st.update({"len": f32(LENS), "out_full": f32(OUT_FULL), "rows": f32(ROWS),
               "targets": f32(TARGETS)})
    write_safetensors(os.path.join(OUT, "ref.safetensors"), st)


if __name__ == "__main__":
    main()
