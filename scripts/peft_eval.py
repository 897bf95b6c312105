#!/usr/bin/python3
"""peft_eval.py - what Hugging Face PEFT does with a prompt-learning adapter,
in plain PyTorch (PEFT and transformers are not needed), on the tiny GPT-2
fixture: the oracle for ptune's PEFT export and import.

PEFT's forward for P_TUNING / PROMPT_TUNING with a causal LM
(PeftModelForCausalLM.forward, inference mode): the saved prompt_embeddings
(n, d) are the prompt encoder's output; they are concatenated BEFORE the word
embeddings of the whole input (inputs_embeds = cat(prompts, wte[input_ids])),
the attention mask gets n leading ones, position ids are left to the model
(0 .. n+T-1), and the model runs on inputs_embeds. The label word's score is
the next-token logit at the last input position. The input is tokenized as a
PEFT user would: the text after the virtual tokens, then the label word with
its leading space (GPT-2 BPE " animal"). Our own GPT-2 (Hugging Face
semantics, float64) and our own byte-level BPE (scripts/ref_gpt2_bpe.py).

Writes under tests/fixtures/peft/:
  expected_exported.json  for exported/, the directory `ptune export` wrote from
                          prompt.safetensors (a prompt ptune trained with the
                          template "[P*6]{sentence} It is a [MASK]"): PEFT's loss
                          (mean cross-entropy over the label words), accuracy and
                          every example's label probabilities on
                          tests/fixtures/learn/dev.jsonl, input "{sentence} It is a"
  foreign/                an adapter directory written here as PEFT's
                          save_pretrained writes one (P_TUNING, LSTM reparameterization,
                          inference_mode true; adapter_config.json with json.dumps(
                          indent=2, sort_keys=True); adapter_model.safetensors holding
                          only prompt_embeddings, metadata {"format": "pt"}), random
                          prompt rows (seed 7)
  foreign_dev.jsonl       dev.jsonl with the field "text" = sentence + " It is a"
  foreign_bf16/           the same rows stored as BF16 (what PEFT saves for a bfloat16
                          model), expected_foreign_bf16.json its results
  expected_foreign.json   PEFT's results for foreign/ on foreign_dev.jsonl (input "{text}",
                          which is what ptune's implied template "[P*n][START]{text} [MASK]"
                          gives)
  expected_llama.json     for llama_exported/ (`ptune export` of llama_prompt.safetensors,
                          trained on tests/fixtures/llama/tiny.gguf with the template
                          "[P*3][START]{sentence} [MASK]"): PEFT's results on
                          llama_dev.jsonl with the same model as Hugging Face's
                          LlamaForCausalLM (tests/fixtures/llama/tiny_hf, the forward of
                          scripts/gen_llama_fixtures.py). The input is what a LLaMA
                          tokenizer gives PEFT: BOS, then the SentencePiece pieces of the
                          sentence (dummy prefix: every word of this vocabulary is one
                          piece "\u2581word"); the virtual tokens go before the BOS, label
                          words "\u2581mat" / "\u2581cat" at the last position. This is what
                          proves ptune's [START] placement against PEFT's.
  expected_bert.json      for bert_exported/ (`ptune export` of bert_prompt.safetensors,
                          trained on tests/fixtures/bert/tiny with "[P*3][START]{sentence}
                          [MASK] ." and labels animal:yes,thing:no): PEFT's results on
                          tests/fixtures/learn/bert_dev.jsonl, the virtual tokens before
                          [CLS], the label words scored at the [MASK] token (the forward of
                          scripts/gen_bert_fixtures.py, the WordPiece of ref_wordpiece.py)
Run: /usr/bin/python3 scripts/peft_eval.py   (after exported/ exists; see
tests/test_peft.sh for how it was made)
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from ref_gpt2_bpe import GPT2BPE  # noqa: E402
from st_write import write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
GPT2 = os.path.join(ROOT, "tests", "fixtures", "gpt2", "tiny")
OUT = os.path.join(ROOT, "tests", "fixtures", "peft")
BERT = os.path.join(ROOT, "tests", "fixtures", "bert", "tiny")
BDEV = os.path.join(ROOT, "tests", "fixtures", "learn", "bert_dev.jsonl")
LLAMA = os.path.join(ROOT, "tests", "fixtures", "llama", "tiny_hf")
DEV = os.path.join(ROOT, "tests", "fixtures", "learn", "dev.jsonl")
LABELS = [("animal", " animal"), ("fruit", " fruit")]  # value, word as the LM sees it


def read_safetensors(path):
    """name -> float64 tensor, and the __metadata__ dict (our own reader)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        buf = bytearray(raw[base + a:base + b])
        t = torch.frombuffer(buf, dtype=dt[e["dtype"]]).reshape(e["shape"])
        out[name] = t.to(torch.float64)
    return out, meta


def gpt2_hidden(w, cfg, x):
    """x (T, C) input embeddings -> final hidden states (T, C) after ln_f."""
    T, C = x.shape
    NH, L, eps = cfg["n_head"], cfg["n_layer"], cfg["layer_norm_epsilon"]
    HS = C // NH
    h = x + w["wpe.weight"][:T]  # positions 0 .. T-1 over virtual tokens and text alike
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for layer in range(L):
        p = "h.%d." % layer
        a = F.layer_norm(h, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # Conv1D (in, out)
        q, k, v = (t.reshape(T, NH, HS).transpose(0, 1) for t in qkv.split(C, dim=1))
        att = (q @ k.transpose(1, 2)) / math.sqrt(HS)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        h = h + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        a = F.layer_norm(h, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        f = F.gelu(a @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
        h = h + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return F.layer_norm(h, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)


def load_gpt2():
    with open(os.path.join(GPT2, "config.json")) as f:
        cfg = json.load(f)
    w, _ = read_safetensors(os.path.join(GPT2, "model.safetensors"))
    w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in w.items()}
    tok = GPT2BPE(os.path.join(GPT2, "vocab.json"), os.path.join(GPT2, "merges.txt"))
    return cfg, w, tok


def peft_eval(adapter_dir, examples, field, suffix, cfg, w, tok):
    """PEFT's forward over labelled examples; returns the results dict."""
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        acfg = json.load(f)
    t, _ = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    assert set(t) == {"prompt_embeddings"}, t.keys()
    prompts = t["prompt_embeddings"]  # (n, d)
    n = acfg["num_virtual_tokens"] * (acfg.get("num_transformer_submodules") or 1)
    assert prompts.shape == (n, acfg["token_dim"]), prompts.shape
    word_ids = []
    for _, word in LABELS:
        ids = tok.encode(word.encode())
        assert len(ids) == 1, (word, ids)
        word_ids.append(ids[0])
    losses, correct, rows = [], 0, []
    for ex in examples:
        ids = tok.encode((ex[field] + suffix).encode())
        x = torch.cat([prompts, w["wte.weight"][ids]], dim=0)  # prompts before the whole input
        h = gpt2_hidden(w, cfg, x)[-1]
        logits = h @ w["wte.weight"].t()  # tied LM head
        scores = logits[word_ids]
        gold = [v for v, _ in LABELS].index(ex["label"])
        losses.append(float(F.cross_entropy(scores[None], torch.tensor([gold]))))
        probs = scores.softmax(dim=0)
        pred = int(scores.argmax())
        correct += pred == gold
        rows.append({"label": LABELS[pred][0],
                     "probs": {v: float(p) for (v, _), p in zip(LABELS, probs)}})
    return {"loss": sum(losses) / len(losses), "accuracy": correct / len(examples),
            "examples": len(examples), "predictions": rows}


def peft_eval_llama(adapter_dir, examples):
    """PEFT's forward with the tiny LLaMA: cat(prompts, embed([BOS] + ids))."""
    import gen_llama_fixtures as gl  # the HF-semantics LLaMA forward and the vocabulary
    p, _ = read_safetensors(os.path.join(LLAMA, "model.safetensors"))
    t, _ = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    assert set(t) == {"prompt_embeddings"}, t.keys()
    prompts = t["prompt_embeddings"]
    piece = {w: i for i, w in enumerate(gl.TOKENS)}
    bos, labels = piece["<s>"], [("a", "\u2581mat"), ("b", "\u2581cat")]
    word_ids = [piece[w] for _, w in labels]
    losses, correct, rows = [], 0, []
    for ex in examples:
        ids = [bos] + [piece["\u2581" + w] for w in ex["sentence"].split()]
        x = torch.cat([prompts, p["model.embed_tokens.weight"][ids]], dim=0)  # before BOS
        h = gl.forward(p, x[None], torch.tensor([x.shape[0]]))[0, -1]
        scores = (h @ p["lm_head.weight"].t())[word_ids]
        gold = [v for v, _ in labels].index(ex["label"])
        losses.append(float(F.cross_entropy(scores[None], torch.tensor([gold]))))
        pred = int(scores.argmax())
        correct += pred == gold
        rows.append({"label": labels[pred][0],
                     "probs": {v: float(q) for (v, _), q in zip(labels, scores.softmax(dim=0))}})
    return {"loss": sum(losses) / len(losses), "accuracy": correct / len(examples),
            "examples": len(examples), "predictions": rows}


def peft_eval_bert(adapter_dir, examples):
    """PEFT's forward with the tiny BERT masked LM (FEATURE_EXTRACTION):
    cat(prompts, word_embeddings([CLS] ... [SEP])), the model's own position
    (0 .. n+T-1) and token type 0 embeddings added after, the MLM logits at the
    [MASK] token."""
    import gen_bert_fixtures as gb  # the BERT encoder and MLM head (HF semantics)
    import ref_wordpiece as wp
    w, _ = read_safetensors(os.path.join(BERT, "model.safetensors"))
    vocab = wp.load_vocab(os.path.join(BERT, "vocab.txt"))
    t, _ = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    assert set(t) == {"prompt_embeddings"}, t.keys()
    prompts = t["prompt_embeddings"]
    labels = [("animal", "yes"), ("thing", "no")]
    word_ids = [vocab[wd] for _, wd in labels]
    losses, correct, rows = [], 0, []
    for ex in examples:
        toks = ["[CLS]"] + wp.tokenize(ex["sentence"] + " [MASK] .", vocab, True) + ["[SEP]"]
        ids = [vocab[x] for x in toks]
        x = torch.cat([prompts, w["bert.embeddings.word_embeddings.weight"][ids]], dim=0)
        h = gb.encoder(w, x[None], [x.shape[0]])[0]
        at = prompts.shape[0] + toks.index("[MASK]")
        scores = gb.mlm_head(w, h[at:at + 1], word_ids)[0]
        gold = [v for v, _ in labels].index(ex["label"])
        losses.append(float(F.cross_entropy(scores[None], torch.tensor([gold]))))
        pred = int(scores.argmax())
        correct += pred == gold
        rows.append({"label": labels[pred][0],
                     "probs": {v: float(q) for (v, _), q in zip(labels, scores.softmax(dim=0))}})
    return {"loss": sum(losses) / len(losses), "accuracy": correct / len(examples),
            "examples": len(examples), "predictions": rows}


def write_foreign(d, C, n=5, seed=7, dtype=torch.float32):
    """An adapter directory as PEFT's save_pretrained writes it (P_TUNING, LSTM);
    dtype: that of the model PEFT ran (a bfloat16 model saves bfloat16 prompts)."""
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, C, generator=g) * 0.5
    config = {
        "auto_mapping": None, "base_model_name_or_path": "tiny-gpt2",
        "encoder_dropout": 0.0, "encoder_hidden_size": C, "encoder_num_layers": 2,
        "encoder_reparameterization_type": "LSTM", "inference_mode": True,
        "num_attention_heads": 4, "num_layers": 2, "num_transformer_submodules": 1,
        "num_virtual_tokens": n, "peft_type": "P_TUNING", "revision": None,
        "task_type": "CAUSAL_LM", "token_dim": C,
    }
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))
    write_safetensors(os.path.join(d, "adapter_model.safetensors"),
                      {"prompt_embeddings": emb.to(dtype)}, {"format": "pt"})


def main():
    cfg, w, tok = load_gpt2()
    with open(DEV) as f:
        dev = [json.loads(line) for line in f if line.strip()]
    exported = os.path.join(OUT, "exported")
    if not os.path.isdir(exported):
        sys.exit("peft_eval.py: %s missing (ptune export writes it; see tests/test_peft.sh)"
                 % exported)
    res = peft_eval(exported, dev, "sentence", " It is a", cfg, w, tok)
    with open(os.path.join(OUT, "expected_exported.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("exported: loss %.6f accuracy %.4f" % (res["loss"], res["accuracy"]))

    write_foreign(os.path.join(OUT, "foreign"), cfg["n_embd"])
    fdev = [{"text": ex["sentence"] + " It is a", "label": ex["label"]} for ex in dev]
    with open(os.path.join(OUT, "foreign_dev.jsonl"), "w") as f:
        for ex in fdev:
            f.write(json.dumps(ex) + "\n")
    res = peft_eval(os.path.join(OUT, "foreign"), fdev, "text", "", cfg, w, tok)
    with open(os.path.join(OUT, "expected_foreign.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("foreign: loss %.6f accuracy %.4f" % (res["loss"], res["accuracy"]))
    write_foreign(os.path.join(OUT, "foreign_bf16"), cfg["n_embd"], dtype=torch.bfloat16)
    res = peft_eval(os.path.join(OUT, "foreign_bf16"), fdev, "text", "", cfg, w, tok)
    with open(os.path.join(OUT, "expected_foreign_bf16.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("foreign_bf16: loss %.6f accuracy %.4f" % (res["loss"], res["accuracy"]))

    with open(os.path.join(OUT, "llama_dev.jsonl")) as f:
        ldev = [json.loads(line) for line in f if line.strip()]
    res = peft_eval_llama(os.path.join(OUT, "llama_exported"), ldev)
    with open(os.path.join(OUT, "expected_llama.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("llama: loss %.6f accuracy %.4f" % (res["loss"], res["accuracy"]))

    with open(BDEV) as f:
        bdev = [json.loads(line) for line in f if line.strip()]
    res = peft_eval_bert(os.path.join(OUT, "bert_exported"), bdev)
    with open(os.path.join(OUT, "expected_bert.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("bert: loss %.6f accuracy %.4f" % (res["loss"], res["accuracy"]))


if __name__ == "__main__":
    main()
