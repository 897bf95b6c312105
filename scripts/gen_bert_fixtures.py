#!/usr/bin/python3
"""gen_bert_fixtures.py - tiny random BERT masked LM and PyTorch reference outputs.

Writes (committed; tests/test_bert.c compares against them without PyTorch):
  tests/fixtures/bert/tiny/          config.json, model.safetensors (F32, "bert." prefix,
                                     MLM head with decoder tied to the word embeddings),
                                     vocab.txt
  tests/fixtures/bert/tiny_nohead/   same encoder weights, stored as F16, no "bert." prefix,
                                     no MLM head, no tokenizer files
  tests/fixtures/bert/ref.safetensors  inputs and reference outputs (see bottom)

The model is written here from the published BERT architecture (post-LayerNorm
encoder, exact-erf GELU, MLM transform dense -> gelu -> LayerNorm, tied decoder);
computed in float64 so the reference is far more precise than the C float32 path.
Run with /usr/bin/python3 (Debian python3-torch) from the repository root.
"""
import json
import math
import os
import struct

import torch

torch.manual_seed(1234)
DT = torch.float64
OUT = "tests/fixtures/bert"

# ---- a tiny WordPiece vocabulary ----
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("the a an is was it this that movie film book story great good bad terrible "
         "awful fine nice boring fun and or but not very so too of to in on for with "
         "i you he she we they what who where when why how yes no maybe paris london "
         "berlin rome capital city country france england germany italy . , ! ? ' - "
         "cat dog bird fish red blue green big small old new day night").split()
PIECES = ["##s", "##ed", "##ing", "##ly", "##er", "##est", "##ful", "##less"]
VOCAB = SPECIAL + WORDS + PIECES
V = len(VOCAB)
assert len(set(VOCAB)) == V

C, L, NH, F, P, TV = 32, 2, 4, 64, 64, 2
EPS = 1e-12


def rnd(*shape, std=0.2):
    return torch.randn(*shape, dtype=DT) * std


def make_weights():
    w = {}
    e = "bert.embeddings."
    w[e + "word_embeddings.weight"] = rnd(V, C, std=0.5)
    w[e + "position_embeddings.weight"] = rnd(P, C, std=0.3)
    w[e + "token_type_embeddings.weight"] = rnd(TV, C, std=0.3)
    w[e + "LayerNorm.weight"] = 1 + rnd(C, std=0.1)
    w[e + "LayerNorm.bias"] = rnd(C, std=0.1)
    for l in range(L):
        p = "bert.encoder.layer.%d." % l
        for n in ("query", "key", "value"):
            w[p + "attention.self.%s.weight" % n] = rnd(C, C, std=0.3)
            w[p + "attention.self.%s.bias" % n] = rnd(C, std=0.1)
        w[p + "attention.output.dense.weight"] = rnd(C, C)
        w[p + "attention.output.dense.bias"] = rnd(C, std=0.1)
        w[p + "attention.output.LayerNorm.weight"] = 1 + rnd(C, std=0.1)
        w[p + "attention.output.LayerNorm.bias"] = rnd(C, std=0.1)
        w[p + "intermediate.dense.weight"] = rnd(F, C)
        w[p + "intermediate.dense.bias"] = rnd(F, std=0.1)
        w[p + "output.dense.weight"] = rnd(C, F)
        w[p + "output.dense.bias"] = rnd(C, std=0.1)
        w[p + "output.LayerNorm.weight"] = 1 + rnd(C, std=0.1)
        w[p + "output.LayerNorm.bias"] = rnd(C, std=0.1)
    h = "cls.predictions."
    w[h + "transform.dense.weight"] = rnd(C, C)
    w[h + "transform.dense.bias"] = rnd(C, std=0.1)
    w[h + "transform.LayerNorm.weight"] = 1 + rnd(C, std=0.1)
    w[h + "transform.LayerNorm.bias"] = rnd(C, std=0.1)
    w[h + "bias"] = rnd(V, std=0.1)
    return w


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def ln(x, w, b):
    return torch.nn.functional.layer_norm(x, (C,), w, b, EPS)


def encoder(w, x, lens, pre="bert."):
    """x (B,T,C) input (word) embeddings -> final hidden states (B,T,C)."""
    B, T, _ = x.shape
    e = pre + "embeddings."
    h = ln(x + w[e + "position_embeddings.weight"][:T] + w[e + "token_type_embeddings.weight"][0],
           w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
    keymask = torch.arange(T)[None, :] >= torch.tensor(lens)[:, None]  # (B,T) True = padding
    HS = C // NH
    for l in range(L):
        p = pre + "encoder.layer.%d." % l

        def lin(n, t):
            return t @ w[p + n + ".weight"].T + w[p + n + ".bias"]

        def heads(t):
            return t.view(B, T, NH, HS).transpose(1, 2)  # (B,NH,T,HS)

        q = heads(lin("attention.self.query", h))
        k = heads(lin("attention.self.key", h))
        v = heads(lin("attention.self.value", h))
        s = q @ k.transpose(-1, -2) / math.sqrt(HS)
        s = s.masked_fill(keymask[:, None, None, :], float("-inf"))
        y = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, C)
        a = ln(h + lin("attention.output.dense", y), w[p + "attention.output.LayerNorm.weight"],
               w[p + "attention.output.LayerNorm.bias"])
        f = gelu(lin("intermediate.dense", a))
        h = ln(a + lin("output.dense", f), w[p + "output.LayerNorm.weight"],
               w[p + "output.LayerNorm.bias"])
    return h


def mlm_head(w, h, rows=None):
    """h (n,C) -> logits (n, nr): decoder tied to the word embeddings."""
    c = "cls.predictions."
    t = gelu(h @ w[c + "transform.dense.weight"].T + w[c + "transform.dense.bias"])
    t = ln(t, w[c + "transform.LayerNorm.weight"], w[c + "transform.LayerNorm.bias"])
    dec = w["bert.embeddings.word_embeddings.weight"]
    bias = w[c + "bias"]
    if rows is not None:
        dec, bias = dec[rows], bias[rows]
    return t @ dec.T + bias


# ---- safetensors writer (8-byte LE header size, JSON header, raw data) ----
def save_st(path, tensors, dtype="F32"):
    tdt = {"F32": torch.float32, "F16": torch.float16, "I32": torch.int32}
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        dt = dtype if t.is_floating_point() else "I32"
        b = t.detach().to(tdt[dt]).contiguous().numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def config():
    return {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": C,
            "num_hidden_layers": L, "num_attention_heads": NH, "intermediate_size": F,
            "max_position_embeddings": P, "type_vocab_size": TV, "layer_norm_eps": EPS,
            "hidden_act": "gelu", "vocab_size": V, "pad_token_id": 0}


def write_dir(d, tensors, dtype, with_vocab):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(), f, indent=2)
        f.write("\n")
    save_st(os.path.join(d, "model.safetensors"), tensors, dtype)
    if with_vocab:
        with open(os.path.join(d, "vocab.txt"), "w") as f:
            f.write("\n".join(VOCAB) + "\n")


def main():
    w = make_weights()
    write_dir(OUT + "/tiny", w, "F32", True)
    # no-head copy: encoder only, without the "bert." prefix, stored as F16
    nh = {k[len("bert."):]: v for k, v in w.items() if k.startswith("bert.")}
    write_dir(OUT + "/tiny_nohead", nh, "F16", False)
    w16 = {k: v.to(torch.float16).to(DT) for k, v in nh.items()}  # what C reads

    # ---- a padded batch: 3 sequences, lengths 12, 8, 5; T = 12 ----
    B, T = 3, 12
    lens = [12, 8, 5]
    ids = torch.zeros(B, T, dtype=torch.long)  # [PAD] = 0 at padding
    virt = torch.zeros(B, T, dtype=torch.bool)  # virtual-token positions
    mask_pos = [7, 6, 3]
    for b in range(B):
        ids[b, :lens[b]] = torch.randint(5, V, (lens[b],))
        ids[b, 0] = 2  # [CLS]
        ids[b, lens[b] - 1] = 3  # [SEP]
        ids[b, mask_pos[b]] = 4  # [MASK]
    for b, t in [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (2, 1)]:
        virt[b, t] = True
    wte = w["bert.embeddings.word_embeddings.weight"]
    x = wte[ids].clone()
    x[virt] = rnd(int(virt.sum()), C, std=0.5)
    x = x.float().to(DT)  # C reads x as float32: use exactly those values
    out_idx = torch.tensor([b * T + mask_pos[b] for b in range(B)], dtype=torch.int32)
    rows = torch.tensor([10, 25, 31, 60, 77], dtype=torch.long)  # "label words"
    targets = torch.tensor([0, 3, 2], dtype=torch.long)  # index into rows

    x1 = x.clone().requires_grad_(True)
    hid = encoder(w, x1, lens)
    h = hid.reshape(B * T, C)[out_idx.long()]
    h.retain_grad()
    logits_full = mlm_head(w, h)
    logits_rows = mlm_head(w, h, rows)
    loss = torch.nn.functional.cross_entropy(logits_rows, targets)  # mean over batch
    loss.backward()

    # no-head model: "linear head" style loss = sum(h * R)
    x2 = x.clone().requires_grad_(True)
    hid2 = encoder(w16, x2, lens, pre="")
    h2 = hid2.reshape(B * T, C)[out_idx.long()]
    R = rnd(B, C, std=1.0)
    (h2 * R).sum().backward()

    ref = {
        "x": x, "len": torch.tensor(lens, dtype=torch.int32), "out_idx": out_idx,
        "rows": rows.to(torch.int32), "targets": targets.to(torch.int32),
        "h": h, "logits_full": logits_full, "logits_rows": logits_rows,
        "loss": loss.reshape(1), "dh": h.grad, "dx": x1.grad,
        "nohead_h": h2, "nohead_dh": R, "nohead_dx": x2.grad,
    }
    save_st(OUT + "/ref.safetensors", ref, "F32")
    print("V=%d loss=%.6f |dx|max=%.4g" % (V, loss.item(), x1.grad.abs().max().item()))


if __name__ == "__main__":
    main()
