#!/usr/bin/python3
"""gen_hf_quantize_fixtures.py - Hugging Face directories with tokenizers for
`ptune quantize HF_DIR OUT TYPE` (tests/test_quantize.sh).

Writes under tests/fixtures/quant/:
  hf_llama_tokenizer.json  a SentencePiece-style tokenizer.json (BPE, byte_fallback,
                           normalizer Prepend("\u2581") + Replace(" " -> "\u2581")) for the
                           282-token vocabulary of tests/fixtures/llama/tiny_hf
                           (scripts/gen_llama_fixtures.py's TOKENS): merges are every split
                           a + b of each piece into two pieces, ordered by the piece's score
                           (the usual SentencePiece -> HF conversion); the test puts it
                           beside tiny_hf's config.json and model.safetensors
  hf_llama3/               LlamaForCausalLM, LLaMA-3 style: GQA 4/2, rope_scaling llama3,
                           untied head, the byte-level BPE of tests/fixtures/bpe/pretok_vocab/
                           llama3.json (LLaMA-3 pre-tokenizer, 659 tokens); random F16 weights
  hf_qwen2/                Qwen2ForCausalLM: q/k/v biases, explicit head_dim 12 (!= 32/4),
                           tied, the byte-level BPE of pretok_vocab/qwen2.json; random F16
The weights are random (seed 20261208): the tests compare ptune on the HF
directory with ptune on the GGUF written from it, so no reference forward is
needed here. Run with /usr/bin/python3 from the repository root.
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_llama_fixtures as gl  # noqa: E402  (the tiny LLaMA's vocabulary)
from st_write import write_safetensors  # noqa: E402

OUT = "tests/fixtures/quant"
BPE = "tests/fixtures/bpe/pretok_vocab"
gen = torch.Generator().manual_seed(20261208)


def spm_tokenizer_json():
    vocab = {t: i for i, t in enumerate(gl.TOKENS)}
    order = sorted(range(len(gl.TOKENS)), key=lambda i: (-gl.SCORES[i], i))
    merges = []
    for i in order:
        p = gl.TOKENS[i]
        if gl.TYPES[i] != 1 or len(p) < 2:
            continue
        for cut in range(1, len(p)):
            a, b = p[:cut], p[cut:]
            if a in vocab and b in vocab:
                merges.append(a + " " + b)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i, t in enumerate(gl.TOKENS[:3])]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None, "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "vocab": vocab, "merges": merges},
    }


def rnd(*shape, std=0.2, base=0.0):
    return (base + std * torch.randn(*shape, generator=gen)).to(torch.float16)


def write_model(d, cfg, bias, tied, tokenizer):
    os.makedirs(d, exist_ok=True)
    C, L, NH, NKV = (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                     cfg["num_key_value_heads"])
    HS = cfg.get("head_dim", C // NH)
    F, V = cfg["intermediate_size"], cfg["vocab_size"]
    w = {"model.embed_tokens.weight": rnd(V, C)}
    for l in range(L):
        p = "model.layers.%d." % l
        w[p + "input_layernorm.weight"] = rnd(C, std=0.1, base=1.0)
        for n, rows in (("q", NH * HS), ("k", NKV * HS), ("v", NKV * HS)):
            w[p + "self_attn.%s_proj.weight" % n] = rnd(rows, C)
            if bias:
                w[p + "self_attn.%s_proj.bias" % n] = rnd(rows)
        w[p + "self_attn.o_proj.weight"] = rnd(C, NH * HS)
        w[p + "post_attention_layernorm.weight"] = rnd(C, std=0.1, base=1.0)
        w[p + "mlp.gate_proj.weight"] = rnd(F, C)
        w[p + "mlp.up_proj.weight"] = rnd(F, C)
        w[p + "mlp.down_proj.weight"] = rnd(C, F)
    w["model.norm.weight"] = rnd(C, std=0.1, base=1.0)
    if not tied:
        w["lm_head.weight"] = rnd(V, C)
    write_safetensors(os.path.join(d, "model.safetensors"), w, {"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    shutil.copy(tokenizer, os.path.join(d, "tokenizer.json"))


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "hf_llama_tokenizer.json"), "w") as f:
        json.dump(spm_tokenizer_json(), f, indent=1, ensure_ascii=False)
    llama3 = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 64, "vocab_size": 659, "max_position_embeddings": 1024,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "hidden_act": "silu",
        "tie_word_embeddings": False, "bos_token_id": 657, "eos_token_id": 658,
        "torch_dtype": "float16",
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 512},
    }
    write_model(os.path.join(OUT, "hf_llama3"), llama3, False, False,
                os.path.join(BPE, "llama3.json"))
    qwen2 = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 12, "intermediate_size": 48, "vocab_size": 659,
        "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "hidden_act": "silu", "tie_word_embeddings": True, "bos_token_id": None,
        "eos_token_id": 656, "torch_dtype": "float16", "use_sliding_window": False,
        "sliding_window": 4,
    }
    write_model(os.path.join(OUT, "hf_qwen2"), qwen2, True, True, os.path.join(BPE, "qwen2.json"))
    print("wrote", OUT + "/hf_llama_tokenizer.json, hf_llama3/, hf_qwen2/")


if __name__ == "__main__":
    main()
