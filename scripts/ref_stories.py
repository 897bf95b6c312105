"""ref_stories.py - an independent PyTorch reference for the stories260K LLaMA
model: forward pass and greedy generation, read from llama2.c's files.

Files (../shared/models/stories260K/):
  stories260K.bin  llama2.c checkpoint: 7 x int32 header
                   (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
                    vocab_size (< 0: separate classifier), seq_len),
                   then float32 arrays in this order:
                   tok_emb (V, C); rms_att (L, C); wq (L, C, C);
                   wk (L, KV, C); wv (L, KV, C); wo (L, C, C); rms_ffn (L, C);
                   w1 (L, H, C); w2 (L, C, H); w3 (L, H, C); rms_final (C);
                   two unused RoPE tables (seq_len, hs/2) each;
                   wcls (V, C) only when vocab_size < 0 (else tied to tok_emb).
                   Matrices are (out, in): y = W x.
                   stories260K: C=64 H=172 L=5 heads=8 kv_heads=4 V=512 T=512,
                   tied classifier, head size hs=8, KV = 4*8 = 32.
  tok512.bin       tokenizer (read by scripts/ref_spm.py).

Model (per layer, x the residual stream):
  x += Wo attn(RoPE(Wq n), RoPE(Wk n), Wv n),  n = rmsnorm(x) * rms_att
  x += W2 (silu(W1 n) * (W3 n)),               n = rmsnorm(x) * rms_ffn
  logits = wcls (rmsnorm(x) * rms_final);  rmsnorm eps 1e-5 inside the sqrt.
  RoPE as llama2.c uses it with the .bin weights: within each head, the
  adjacent pair (2i, 2i+1) is rotated by angle pos * 10000^(-2i/hs)
  (interleaved pairs, not the "rotate half" layout).
  Grouped-query attention: query head h uses key/value head h // (heads/kv).
  Scores scaled by 1/sqrt(hs), causal softmax.

Generation (greedy): the sequence starts with BOS (id 1); with --text T the
prompt is BOS followed by encode(T) with llama2.c's encode, which adds the
dummy space prefix: "Once upon a time" -> " Once upon a time" ->
pieces " Once" " upon" " a" " time" -> ids [1, 403, 407, 261, 378]
(the .ids fixture holds only the generated ids). Then N tokens are chosen
one by one as the argmax of the logits at the last position (lowest id on
exact ties, as llama2.c's argmax does). Generation never stops early: exactly N tokens are produced
(BOS/EOS would be kept in the ids and decode to nothing; none occur in the
committed fixtures - the script prints a warning if one did).

Decoding the N generated tokens to text (what `ptune generate` must print):
  - each token's piece from tok512.bin (pieces hold real spaces, i.e. the
    GGUF's "▁" is " "), concatenated;
  - <0xXX> byte tokens become the raw byte XX;
  - special tokens <unk>, <s>, </s> (ids 0, 1, 2) decode to nothing;
  - llama2.c's rule: the piece of a token that directly follows BOS loses
    one leading space. Without a prompt this applies to the first generated
    token; with a prompt the first generated token follows the last prompt
    token, so its leading space is kept (the prompt itself is not printed).
  The .txt fixture is exactly the expected standard output: that text
  followed by one "\\n" (as llama2.c prints a final newline).

Outputs (tests/fixtures/stories/):
  greedy200.txt / greedy200.ids          no prompt, 200 tokens
  greedy_prompt50.txt / greedy_prompt50.ids   --text "Once upon a time", 50 tokens
  logits_bos.txt   the 512 logits at position 0 after the input [BOS], one per
                   line, "%.9g", computed in float64 (float32 differs by
                   at most 4.1e-6)
The .ids files hold one line: the generated ids separated by single spaces.

Checks printed: the float32 run is repeated in float64 and must pick the same
tokens (the smallest top1-top2 logit gap along the way is reported, so a
near tie that float rounding in C could flip is visible: 0.0042 at step 186
of greedy200, logits of size ~20, so float32 rounding is ~1000x smaller);
when stories260K.gguf is present every GGUF tensor is compared with the .bin
one (gguf_crosscheck). Finding: this GGUF stores all tensors bit-identical to
the .bin, Q/K rows NOT permuted, so the GGUF needs the same interleaved-pair
RoPE (llama.cpp's "normal" rope mode) as the .bin.

Run: /usr/bin/python3 scripts/ref_stories.py [--model-dir DIR]
"""

import argparse
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_spm import encode, load_tok  # noqa: E402

BOS, EOS = 1, 2


# ----------------------------------------------------------------------------
# loading


def load_bin(path, dtype=torch.float32):
    data = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // n_heads
    kv_dim = n_kv * hs
    L = n_layers
    shapes = [
        ("tok_emb", (vocab, dim)),
        ("rms_att", (L, dim)),
        ("wq", (L, dim, dim)),
        ("wk", (L, kv_dim, dim)),
        ("wv", (L, kv_dim, dim)),
        ("wo", (L, dim, dim)),
        ("rms_ffn", (L, dim)),
        ("w1", (L, hidden, dim)),
        ("w2", (L, dim, hidden)),
        ("w3", (L, hidden, dim)),
        ("rms_final", (dim,)),
        ("freq_real", (seq_len, hs // 2)),
        ("freq_imag", (seq_len, hs // 2)),
    ]
    if not shared:
        shapes.append(("wcls", (vocab, dim)))
    n_floats = sum(torch.Size(s).numel() for _, s in shapes)
    assert 28 + 4 * n_floats == len(data), "size mismatch: %d vs %d" % (28 + 4 * n_floats, len(data))
    flat = torch.frombuffer(bytearray(data[28:]), dtype=torch.float32)
    w, off = {}, 0
    for name, s in shapes:
        n = torch.Size(s).numel()
        w[name] = flat[off:off + n].view(s).to(dtype).clone()
        off += n
    if shared:
        w["wcls"] = w["tok_emb"]
    cfg = dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv,
               vocab=vocab, seq_len=seq_len, head_size=hs, shared=shared)
    return cfg, w


# ----------------------------------------------------------------------------
# model


def rmsnorm(x, g):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * g


def rope(x, pos0=0):
    """x (B, T, nh, hs): rotate pairs (2i, 2i+1) by angle pos * 10000^(-2i/hs)."""
    B, T, nh, hs = x.shape
    i2 = torch.arange(0, hs, 2, dtype=torch.float64)
    freq = 1.0 / (10000.0 ** (i2 / hs))                               # (hs/2)
    ang = torch.arange(pos0, pos0 + T, dtype=torch.float64)[:, None] * freq  # (T, hs/2)
    c = torch.cos(ang).to(x.dtype)[None, :, None, :]
    s = torch.sin(ang).to(x.dtype)[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def forward_emb(cfg, w, x):
    """x (B, T, C) input embeddings -> logits (B, T, V). Causal, positions 0..T-1."""
    return forward_hidden(cfg, w, x) @ w["wcls"].T


def forward_hidden(cfg, w, x):
    """x (B, T, C) input embeddings -> final normed hidden states (B, T, C)."""
    B, T, C = x.shape
    nh, nkv, hs = cfg["n_heads"], cfg["n_kv"], cfg["head_size"]
    rep = nh // nkv
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(cfg["n_layers"]):
        n = rmsnorm(x, w["rms_att"][l])
        q = (n @ w["wq"][l].T).view(B, T, nh, hs)
        k = (n @ w["wk"][l].T).view(B, T, nkv, hs)
        v = (n @ w["wv"][l].T).view(B, T, nkv, hs)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(rep, dim=2)  # (B, T, nh, hs): head h -> kv head h // rep
        v = v.repeat_interleave(rep, dim=2)
        att = torch.einsum("bthd,bshd->bhts", q, k) / (hs ** 0.5)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = torch.einsum("bhts,bshd->bthd", att, v).reshape(B, T, C)
        x = x + y @ w["wo"][l].T
        n = rmsnorm(x, w["rms_ffn"][l])
        h = torch.nn.functional.silu(n @ w["w1"][l].T) * (n @ w["w3"][l].T)
        x = x + h @ w["w2"][l].T
    return rmsnorm(x, w["rms_final"])


def forward_ids(cfg, w, ids):
    x = w["tok_emb"][torch.tensor(ids)][None]
    return forward_emb(cfg, w, x)[0]


def greedy(cfg, w, prompt, n):
    ids = list(prompt)
    gaps = []
    for _ in range(n):
        logits = forward_ids(cfg, w, ids)[-1]
        top = torch.topk(logits, 2).values
        gaps.append(float(top[0] - top[1]))
        ids.append(int(torch.argmax(logits)))
    return ids[len(prompt):], min(gaps)


# ----------------------------------------------------------------------------
# decoding


def decode(pieces, ids, prev):
    """Bytes of ids as printed; prev = the token before ids[0]."""
    out = b""
    for t in ids:
        if t in (0, 1, 2):
            p = b""
        else:
            p = pieces[t]
            if prev == BOS and p.startswith(b" "):
                p = p[1:]
            if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
                p = bytes([int(p[3:5], 16)])
        out += p
        prev = t
    return out


# ----------------------------------------------------------------------------
# GGUF cross-check (optional): the GGUF holds the same weights, Q/K rows
# permuted for llama.cpp; we check every tensor against the .bin one.


def read_gguf_f32(path):
    data = open(path, "rb").read()
    assert data[:4] == b"GGUF"
    ver, n_t, n_kv = struct.unpack_from("<IQQ", data, 4)
    off = 24

    def rstr(o):
        (n,) = struct.unpack_from("<Q", data, o)
        return data[o + 8:o + 8 + n].decode("utf-8", "replace"), o + 8 + n

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    align = 32

    def rval(t, o):
        if t == 8:
            return rstr(o)
        if t == 9:
            et, cnt = struct.unpack_from("<IQ", data, o)
            o += 12
            vals = []
            for _ in range(cnt):
                v, o = rval(et, o)
                vals.append(v)
            return vals, o
        fmt = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
               12: "d"}[t]
        return struct.unpack_from("<" + fmt, data, o)[0], o + sizes[t]

    for _ in range(n_kv):
        key, off = rstr(off)
        (t,) = struct.unpack_from("<I", data, off)
        off += 4
        val, off = rval(t, off)
        if key == "general.alignment":
            align = val
    infos = []
    for _ in range(n_t):
        name, off = rstr(off)
        (nd,) = struct.unpack_from("<I", data, off)
        off += 4
        dims = struct.unpack_from("<%dQ" % nd, data, off)
        off += 8 * nd
        typ, toff = struct.unpack_from("<IQ", data, off)
        off += 12
        infos.append((name, dims, typ, toff))
    base = (off + align - 1) // align * align
    out = {}
    for name, dims, typ, toff in infos:
        assert typ == 0, "%s: only F32 tensors handled (type %d)" % (name, typ)
        n = 1
        for d in dims:
            n *= d
        t = torch.frombuffer(bytearray(data[base + toff:base + toff + 4 * n]), dtype=torch.float32)
        out[name] = t.view(*reversed(dims)).clone()  # GGUF dims are innermost first
    return out


def unpermute_rows(wt, n_head, hs):
    """Undo llama.cpp's permute: per head, rows [0..hs/2) hold the even
    (first-of-pair) rows, rows [hs/2..hs) the odd ones."""
    r = wt.view(n_head, 2, hs // 2, -1).transpose(1, 2).reshape(wt.shape)
    return r


def gguf_crosscheck(cfg, w, path):
    g = read_gguf_f32(path)
    nh, nkv, hs = cfg["n_heads"], cfg["n_kv"], cfg["head_size"]
    worst = 0.0
    pairs = [("token_embd.weight", w["tok_emb"]), ("output_norm.weight", w["rms_final"])]
    if "output.weight" in g:
        pairs.append(("output.weight", w["wcls"]))
    for l in range(cfg["n_layers"]):
        pairs += [("blk.%d.attn_norm.weight" % l, w["rms_att"][l]),
                  ("blk.%d.attn_v.weight" % l, w["wv"][l]),
                  ("blk.%d.attn_output.weight" % l, w["wo"][l]),
                  ("blk.%d.ffn_norm.weight" % l, w["rms_ffn"][l]),
                  ("blk.%d.ffn_gate.weight" % l, w["w1"][l]),
                  ("blk.%d.ffn_down.weight" % l, w["w2"][l]),
                  ("blk.%d.ffn_up.weight" % l, w["w3"][l])]
    for name, ref in pairs:
        d = float((g[name] - ref.float()).abs().max())
        worst = max(worst, d)
    layout = set()
    for l in range(cfg["n_layers"]):
        for key, ref, n in (("attn_q", w["wq"][l], nh), ("attn_k", w["wk"][l], nkv)):
            gt = g["blk.%d.%s.weight" % (l, key)]
            if torch.equal(gt, ref.float()):
                layout.add("as .bin")
            else:
                d = float((unpermute_rows(gt, n, hs) - ref.float()).abs().max())
                worst = max(worst, d)
                layout.add("permuted")
    print("gguf vs bin: max |diff| %.3g over all tensors; Q/K rows: %s" % (worst, ", ".join(layout)))
    return worst


# ----------------------------------------------------------------------------


def write_case(outdir, name, pieces, prompt, ids, prev):
    text = decode(pieces, ids, prev)
    with open(os.path.join(outdir, name + ".txt"), "wb") as f:
        f.write(text + b"\n")
    with open(os.path.join(outdir, name + ".ids"), "w") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default="../shared/models/stories260K")
    ap.add_argument("--out", default="tests/fixtures/stories")
    ap.add_argument("--text", default="Once upon a time")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg, w = load_bin(os.path.join(args.model_dir, "stories260K.bin"))
    _, w64 = load_bin(os.path.join(args.model_dir, "stories260K.bin"), torch.float64)
    pieces, scores = load_tok(os.path.join(args.model_dir, "tok512.bin"))
    assert len(pieces) == cfg["vocab"]
    print("config:", cfg)
    os.makedirs(args.out, exist_ok=True)

    # logits after BOS
    lg = forward_ids(cfg, w, [BOS])[0]
    lg64 = forward_ids(cfg, w64, [BOS])[0]
    print("logits after BOS: float32 vs float64 max |diff| %.3g" % float((lg.double() - lg64).abs().max()))
    with open(os.path.join(args.out, "logits_bos.txt"), "w") as f:
        for v in lg64.tolist():
            f.write("%.9g\n" % v)

    cases = [("greedy200", [BOS], 200),
             ("greedy_prompt50", [BOS] + encode(args.text, pieces, scores), 50)]
    for name, prompt, n in cases:
        ids, gap = greedy(cfg, w, prompt, n)
        ids64, gap64 = greedy(cfg, w64, prompt, n)
        assert ids == ids64, "%s: float32 and float64 greedy runs differ" % name
        if any(t in (0, 1, 2) for t in ids):
            print("WARNING: %s generated a special token" % name)
        text = write_case(args.out, name, pieces, prompt, ids, prompt[-1])
        print("%s: prompt ids %s; smallest top1-top2 gap %.4f (float64 %.4f)" % (name, prompt, gap, gap64))
        print(repr(text.decode("utf-8", "replace")))

    gg = os.path.join(args.model_dir, "stories260K.gguf")
    if os.path.exists(gg):
        gguf_crosscheck(cfg, w, gg)


if __name__ == "__main__":
    main()
