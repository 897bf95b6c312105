#!/usr/bin/python3
"""gen_bpe_json.py - Hugging Face tokenizer.json / RoBERTa fixtures for byte-level
BPE, written from the tokenizers library's JSON layout (our own writer).

  pretok  VOCAB_DIR OUT_DIR   tokenizer.json files over VOCAB_DIR/{vocab.json,merges.txt}:
            llama3.json   Sequence[Split(LLaMA-3 regex, Isolated), ByteLevel(use_regex false)],
                          added <|begin_of_text|>, <|end_of_text|>
            qwen2.json    the same with Qwen2's regex, added <|im_start|>, <|im_end|>
            qwen2_nfc.json  qwen2.json with Qwen2's NFC normalizer
            badregex.json a Split regex no pre-tokenizer of ptune implements
  roberta GPT2_DIR OUT_DIR    a RoBERTa-style vocabulary from a GPT-2 one, as fairseq
                          lays it out: <s> 0, <pad> 1, </s> 2, <unk> 3, the GPT-2 tokens
                          in a seeded random order after them, <mask> last; writes
                          vocab.json, merges.txt (unchanged) and tokenizer.json
                          (ByteLevel, RobertaProcessing, the five specials as added tokens)
"""
import json
import os
import random
import sys

LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
DEEPSEEK = r"""[\r\n]|\s?[A-Za-z\u00b5\u00c0-\u00d6]+|\s?[!-/:-~]+|\p{N}+"""


def load(d):
    with open(os.path.join(d, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(d, "merges.txt"), encoding="utf-8") as f:
        merges = [ln for ln in f.read().split("\n") if ln and not ln.startswith("#version")]
    return vocab, merges


def added(content, i, special=True, lstrip=False):
    return {"id": i, "content": content, "single_word": False, "lstrip": lstrip,
            "rstrip": False, "normalized": False, "special": special}


def tokenizer_json(vocab, merges, pre, added_tokens, post=None):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
            "normalizer": None, "pre_tokenizer": pre, "post_processor": post,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                      "merges": merges}}


def split_pre(regex):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]}


def dump(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)


def pretok(vdir, out):
    vocab, merges = load(vdir)
    n = max(vocab.values()) + 1
    dump(tokenizer_json(vocab, merges, split_pre(LLAMA3),
                        [added("<|begin_of_text|>", n), added("<|end_of_text|>", n + 1)]),
         os.path.join(out, "llama3.json"))
    dump(tokenizer_json(vocab, merges, split_pre(QWEN2),
                        [added("<|endoftext|>", vocab["<|endoftext|>"]), added("<|im_start|>", n),
                         added("<|im_end|>", n + 1)]),
         os.path.join(out, "qwen2.json"))
    q = tokenizer_json(vocab, merges, split_pre(QWEN2),
                       [added("<|endoftext|>", vocab["<|endoftext|>"]), added("<|im_start|>", n),
                        added("<|im_end|>", n + 1)])
    q["normalizer"] = {"type": "NFC"}  # as Qwen2's own tokenizer.json
    dump(q, os.path.join(out, "qwen2_nfc.json"))
    dump(tokenizer_json(vocab, merges, split_pre(DEEPSEEK), []),
         os.path.join(out, "badregex.json"))


def roberta(gdir, out):
    vocab, merges = load(gdir)
    gpt2 = sorted((i, p) for p, i in vocab.items() if p != "<|endoftext|>")
    order = [p for _, p in gpt2]
    random.Random(5).shuffle(order)
    rv = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for p in order:
        rv[p] = len(rv)
    rv["<mask>"] = len(rv)
    os.makedirs(out, exist_ok=True)
    dump(rv, os.path.join(out, "vocab.json"))
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(m + "\n" for m in merges))
    specials = [added("<s>", 0), added("<pad>", 1), added("</s>", 2), added("<unk>", 3),
                added("<mask>", rv["<mask>"], lstrip=True)]
    post = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
            "trim_offsets": True, "add_prefix_space": False}
    pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
           "use_regex": True}
    dump(tokenizer_json(rv, merges, pre, specials, post), os.path.join(out, "tokenizer.json"))


if __name__ == "__main__":
    {"pretok": pretok, "roberta": roberta}[sys.argv[1]](sys.argv[2], sys.argv[3])
