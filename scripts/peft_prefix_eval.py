#!/usr/bin/python3
"""peft_prefix_eval.py - what Hugging Face PEFT does with a PREFIX_TUNING
adapter, in plain PyTorch (PEFT and transformers are not needed): the oracle
for ptune's PREFIX_TUNING export and import (tests/test_peft_prefix.sh).

PEFT's forward for PREFIX_TUNING with a causal LM (PeftModelForCausalLM.forward
-> get_prompt, inference mode), written here from PEFT's source:
  - prompt_embeddings (P, num_layers * 2 * token_dim) is the prompt encoder's
    weight; get_prompt repeats it over the batch: (B, P, L*2*token_dim);
  - .view(B, P, num_layers * 2, num_attention_heads, token_dim // num_attention_heads)
  - .permute([2, 0, 3, 1, 4])  -> (L*2, B, heads, P, head_dim)
  - .split(2)                  -> per layer a (2, B, heads, P, head_dim): [0] the
    past key, [1] the past value (the legacy past_key_values tuple);
  - for a model config with num_key_value_heads (LLaMA: GQA),
    _prepare_prompt_learning_config sets token_dim = hidden / heads * kv_heads and
    num_attention_heads = kv_heads, so the past keys have the KV-head count;
  - the attention mask gets P leading ones; the model runs on input_ids with
    these past_key_values: every position attends to all P past keys, the
    sequence's position ids start at P (past length), and past keys are used as
    stored (LLaMA: no rotation applied to them; the cache holds rotated keys).
This file reshapes only as PEFT does (above); the models below take per-layer
(key, value) pairs, written from Hugging Face's GPT2Attention / LlamaAttention
/ BertSelfAttention with a past key/value, float64.

Writes under tests/fixtures/peft/:
  expected_prefix_gpt2.json   for prefix_gpt2/ (`ptune export` of prefix_gpt2.safetensors,
                              --method prefix on the tiny GPT-2): PEFT's loss, accuracy and
                              label probabilities on tests/fixtures/learn/dev.jsonl, input
                              "{sentence} It is a", labels " animal" / " fruit"
  expected_prefix_llama.json  for prefix_llama/ (`ptune export` of prefix_llama.safetensors,
                              --method ptuning-v2 --head lm on the tiny LLaMA, GQA 4/2
                              heads): PEFT's results on llama_dev.jsonl, input BOS + the
                              SentencePiece pieces of the sentence, labels "\u2581mat" /
                              "\u2581cat" at the last position
  expected_prefix_bert.json   for prefix_bert/ (`ptune export` of prefix_bert.safetensors,
                              --method prefix on the tiny BERT, "{sentence} [MASK] ."): PEFT's
                              results on tests/fixtures/learn/bert_dev.jsonl (FEATURE_EXTRACTION:
                              [CLS] first, positions from P, labels "yes" / "no" at [MASK])
  prefix_foreign/             an adapter directory written here as PEFT's save_pretrained
                              writes one for the tiny LLaMA (PREFIX_TUNING, GQA: token_dim 16,
                              num_attention_heads 2; random rows, seed 11), with
                              expected_prefix_foreign.json on llama_dev.jsonl
Run: /usr/bin/python3 scripts/peft_prefix_eval.py   (after prefix_gpt2/ and prefix_llama/
exist; see tests/test_peft_prefix.sh for how they were made)
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from peft_eval import load_gpt2, read_safetensors  # noqa: E402  (our readers, no model code)
from st_write import write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "peft")
LLAMA = os.path.join(ROOT, "tests", "fixtures", "llama", "tiny_hf")
DEV = os.path.join(ROOT, "tests", "fixtures", "learn", "dev.jsonl")


def peft_past_key_values(adapter_dir, batch_size=1):
    """get_prompt of PEFT for PREFIX_TUNING: a list of (key, value) per layer,
    each (B, heads, P, head_dim)."""
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        c = json.load(f)
    assert c["peft_type"] == "PREFIX_TUNING", c["peft_type"]
    t, _ = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    assert set(t) == {"prompt_embeddings"}, t.keys()
    emb = t["prompt_embeddings"]
    P, L, H, TD = c["num_virtual_tokens"], c["num_layers"], c["num_attention_heads"], c["token_dim"]
    assert emb.shape == (P, L * 2 * TD), emb.shape
    pkv = emb.repeat(batch_size, 1, 1)
    pkv = pkv.view(batch_size, P, L * 2, H, TD // H)
    pkv = pkv.permute([2, 0, 3, 1, 4]).split(2)
    return [(kv[0], kv[1]) for kv in pkv], c


def attention(q, k, v, pk, pv, causal=True):
    """q (B, NH, T, HS); k, v (B, NKV, T, HS) this sequence's; pk, pv (B, NKV, P, HS)
    the past. HF: keys = cat(past, new) along the sequence, repeat_kv for GQA,
    causal mask over the new positions, all past keys visible (mask of ones)."""
    NH, NKV = q.shape[1], k.shape[1]
    kk, vv = torch.cat([pk, k], 2), torch.cat([pv, v], 2)
    kk = kk.repeat_interleave(NH // NKV, 1)  # repeat_kv: KV head h serves heads h*rep ...
    vv = vv.repeat_interleave(NH // NKV, 1)
    P, T = pk.shape[2], q.shape[2]
    att = q @ kk.transpose(-1, -2) / math.sqrt(q.shape[-1])
    vis = torch.ones(T, P + T, dtype=torch.bool)
    if causal:
        vis[:, P:] = torch.ones(T, T, dtype=torch.bool).tril()
    return att.masked_fill(~vis, float("-inf")).softmax(-1) @ vv


def gpt2_last_hidden(w, cfg, ids, past):
    """HF GPT2Model with past_key_values: position ids past_length .. past_length+T-1."""
    C, NH, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    HS, T, P = C // NH, len(ids), past[0][0].shape[2]
    h = w["wte.weight"][ids] + w["wpe.weight"][P + torch.arange(T)]
    for layer in range(cfg["n_layer"]):
        p = "h.%d." % layer
        a = F.layer_norm(h, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(1, T, NH, HS).transpose(1, 2) for t in qkv.split(C, dim=1))
        y = attention(q, k, v, past[layer][0], past[layer][1])[0].transpose(0, 1).reshape(T, C)
        h = h + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        a = F.layer_norm(h, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        f = F.gelu(a @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
        h = h + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return F.layer_norm(h, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)[-1]


def llama_last_hidden(w, cfg, ids, past):
    """HF LlamaModel with a past: RoPE at positions P .. P+T-1 on the new queries and
    keys only (cached keys are stored rotated; PEFT's are used as given)."""
    C, NH, NKV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HS, T, P, eps = C // NH, len(ids), past[0][0].shape[2], cfg["rms_norm_eps"]
    inv = 1.0 / cfg["rope_theta"] ** (torch.arange(0, HS, 2, dtype=torch.float64) / HS)
    ang = (P + torch.arange(T, dtype=torch.float64))[:, None] * inv[None]
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

    def rope(x):
        return x * cos + torch.cat([-x[..., HS // 2:], x[..., :HS // 2]], -1) * sin

    def rms(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g

    h = w["model.embed_tokens.weight"][ids]
    for layer in range(cfg["num_hidden_layers"]):
        def p(n):
            return w["model.layers.%d.%s" % (layer, n)]
        n = rms(h, p("input_layernorm.weight"))
        q = rope((n @ p("self_attn.q_proj.weight").T).view(1, T, NH, HS).transpose(1, 2))
        k = rope((n @ p("self_attn.k_proj.weight").T).view(1, T, NKV, HS).transpose(1, 2))
        v = (n @ p("self_attn.v_proj.weight").T).view(1, T, NKV, HS).transpose(1, 2)
        y = attention(q, k, v, past[layer][0], past[layer][1])[0].transpose(0, 1).reshape(T, C)
        h = h + y @ p("self_attn.o_proj.weight").T
        n = rms(h, p("post_attention_layernorm.weight"))
        h = h + (F.silu(n @ p("mlp.gate_proj.weight").T) * (n @ p("mlp.up_proj.weight").T)) \
            @ p("mlp.down_proj.weight").T
    return rms(h, w["model.norm.weight"])[-1]


def bert_mask_hidden(w, cfg, ids, past, mask_id):
    """HF BertModel with past_key_values: position ids past_length .. past_length+T-1,
    token type 0, the prefix keys visible to every position (no causal mask); the final
    hidden state at the [MASK] token."""
    C, NH, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    HS, T, P = C // NH, len(ids), past[0][0].shape[2]
    e = "bert.embeddings."
    h = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][
        P + torch.arange(T)] + w[e + "token_type_embeddings.weight"][0]
    h = F.layer_norm(h, (C,), w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], eps)
    for layer in range(cfg["num_hidden_layers"]):
        def p(n):
            return w["bert.encoder.layer.%d.%s" % (layer, n)]

        def lin(t, n):
            return t @ p(n + ".weight").T + p(n + ".bias")
        q, k, v = (lin(h, "attention.self." + n).view(1, T, NH, HS).transpose(1, 2)
                   for n in ("query", "key", "value"))
        y = attention(q, k, v, past[layer][0], past[layer][1], causal=False)
        y = y[0].transpose(0, 1).reshape(T, C)
        a = F.layer_norm(h + lin(y, "attention.output.dense"), (C,),
                         p("attention.output.LayerNorm.weight"),
                         p("attention.output.LayerNorm.bias"), eps)
        f = F.gelu(lin(a, "intermediate.dense"))
        h = F.layer_norm(a + lin(f, "output.dense"), (C,), p("output.LayerNorm.weight"),
                         p("output.LayerNorm.bias"), eps)
    return h[ids.index(mask_id)]


def score(examples, labels, encode, last_hidden, head):
    losses, correct, rows = [], 0, []
    for ex in examples:
        s = head(last_hidden(encode(ex)))
        gold = [v for v, _ in labels].index(ex["label"])
        losses.append(float(F.cross_entropy(s[None], torch.tensor([gold]))))
        pred = int(s.argmax())
        correct += pred == gold
        rows.append({"label": labels[pred][0],
                     "probs": {v: float(q) for (v, _), q in zip(labels, s.softmax(0))}})
    return {"loss": sum(losses) / len(losses), "accuracy": correct / len(examples),
            "examples": len(examples), "predictions": rows}


def eval_gpt2(adapter_dir, examples):
    cfg, w, tok = load_gpt2()
    past, c = peft_past_key_values(adapter_dir)
    assert c["token_dim"] == cfg["n_embd"] and c["num_attention_heads"] == cfg["n_head"]
    labels = [("animal", " animal"), ("fruit", " fruit")]
    rows = [tok.encode(wd.encode())[0] for _, wd in labels]
    return score(examples, labels,
                 lambda ex: tok.encode((ex["sentence"] + " It is a").encode()),
                 lambda ids: gpt2_last_hidden(w, cfg, ids, past),
                 lambda h: (h @ w["wte.weight"].t())[rows])


def eval_llama(adapter_dir, examples):
    import gen_llama_fixtures as gl  # only its vocabulary (TOKENS)
    with open(os.path.join(LLAMA, "config.json")) as f:
        cfg = json.load(f)
    w, _ = read_safetensors(os.path.join(LLAMA, "model.safetensors"))
    past, c = peft_past_key_values(adapter_dir)
    HS = cfg["hidden_size"] // cfg["num_attention_heads"]
    assert c["num_attention_heads"] == cfg["num_key_value_heads"]  # PEFT's GQA rule
    assert c["token_dim"] == HS * cfg["num_key_value_heads"]
    piece = {t: i for i, t in enumerate(gl.TOKENS)}
    labels = [("a", "\u2581mat"), ("b", "\u2581cat")]
    rows = [piece[wd] for _, wd in labels]
    return score(examples, labels,
                 lambda ex: [piece["<s>"]] + [piece["\u2581" + x] for x in ex["sentence"].split()],
                 lambda ids: llama_last_hidden(w, cfg, ids, past),
                 lambda h: (h @ w["lm_head.weight"].t())[rows])


def eval_bert(adapter_dir, examples):
    import ref_wordpiece as wp
    bdir = os.path.join(ROOT, "tests", "fixtures", "bert", "tiny")
    with open(os.path.join(bdir, "config.json")) as f:
        cfg = json.load(f)
    w, _ = read_safetensors(os.path.join(bdir, "model.safetensors"))
    vocab = wp.load_vocab(os.path.join(bdir, "vocab.txt"))
    past, c = peft_past_key_values(adapter_dir)
    assert c["token_dim"] == cfg["hidden_size"] and c["num_attention_heads"] == cfg[
        "num_attention_heads"]
    labels = [("animal", "yes"), ("thing", "no")]
    rows = [vocab[wd] for _, wd in labels]
    c_ = "cls.predictions."

    def head(h):  # the MLM head at the label rows (decoder tied to the word embeddings)
        t = F.gelu(h @ w[c_ + "transform.dense.weight"].T + w[c_ + "transform.dense.bias"])
        t = F.layer_norm(t, (cfg["hidden_size"],), w[c_ + "transform.LayerNorm.weight"],
                         w[c_ + "transform.LayerNorm.bias"], cfg["layer_norm_eps"])
        return t @ w["bert.embeddings.word_embeddings.weight"][rows].T + w[c_ + "bias"][rows]

    def encode(ex):
        toks = ["[CLS]"] + wp.tokenize(ex["sentence"] + " [MASK] .", vocab, True) + ["[SEP]"]
        return [vocab[x] for x in toks]
    return score(examples, labels, encode,
                 lambda ids: bert_mask_hidden(w, cfg, ids, past, vocab["[MASK]"]), head)


def write_foreign(d, seed=11, P=4):
    """A PREFIX_TUNING adapter as PEFT's save_pretrained writes one for the tiny
    LLaMA (inference mode; config after _prepare_prompt_learning_config)."""
    with open(os.path.join(LLAMA, "config.json")) as f:
        cfg = json.load(f)
    L, NKV = cfg["num_hidden_layers"], cfg["num_key_value_heads"]
    TD = cfg["hidden_size"] // cfg["num_attention_heads"] * NKV
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(P, L * 2 * TD, generator=g)
    config = {
        "auto_mapping": None, "base_model_name_or_path": "tiny-llama",
        "encoder_hidden_size": TD, "inference_mode": True, "num_attention_heads": NKV,
        "num_layers": L, "num_transformer_submodules": 1, "num_virtual_tokens": P,
        "peft_type": "PREFIX_TUNING", "prefix_projection": False, "revision": None,
        "task_type": "CAUSAL_LM", "token_dim": TD,
    }
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))
    write_safetensors(os.path.join(d, "adapter_model.safetensors"),
                      {"prompt_embeddings": emb}, {"format": "pt"})


def main():
    with open(DEV) as f:
        dev = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(OUT, "llama_dev.jsonl")) as f:
        ldev = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(ROOT, "tests", "fixtures", "learn", "bert_dev.jsonl")) as f:
        bdev = [json.loads(line) for line in f if line.strip()]
    for name, fn, data in (("prefix_gpt2", eval_gpt2, dev), ("prefix_llama", eval_llama, ldev),
                           ("prefix_bert", eval_bert, bdev)):
        d = os.path.join(OUT, name)
        if not os.path.isdir(d):
            sys.exit("peft_prefix_eval.py: %s missing (ptune export writes it; see "
                     "tests/test_peft_prefix.sh)" % d)
        res = fn(d, data)
        with open(os.path.join(OUT, "expected_%s.json" % name), "w") as f:
            json.dump(res, f, indent=1)
        print("%s: loss %.6f accuracy %.4f" % (name, res["loss"], res["accuracy"]))
    d = os.path.join(OUT, "prefix_foreign")
    write_foreign(d)
    res = eval_llama(d, ldev)
    with open(os.path.join(OUT, "expected_prefix_foreign.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("prefix_foreign: loss %.6f accuracy %.4f" % (res["loss"], res["accuracy"]))


if __name__ == "__main__":
    main()
