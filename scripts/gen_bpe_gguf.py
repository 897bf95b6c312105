#!/usr/bin/python3
"""gen_bpe_gguf.py - write a GPT-2-style byte-level BPE vocabulary (vocab.json +
merges.txt) into a GGUF file the way llama.cpp's converter lays it out
(tokenizer.ggml.model = "gpt2", tokens in id order, merges "a b" in rank order,
token types 1 normal / 3 control for <...> specials, tokenizer.ggml.pre), with
no tensors. Written from the GGUF spec, using scripts/gguf_write.py.

Usage: gen_bpe_gguf.py VOCAB_JSON MERGES_TXT OUT.gguf [--arch NAME] [--pre NAME] [--bos ID]
                       [--eos ID] [--add-bos 0|1] [--add-eos 0|1]
Fixtures:
  tests/fixtures/bpe/pretok_llama3.gguf  pretok_vocab, arch llama, pre llama-bpe, bos/eos <|endoftext|>, add_bos 1
  tests/fixtures/bpe/pretok_qwen2.gguf   pretok_vocab, arch qwen2, pre qwen2, eos <|endoftext|>, add_bos 0
  tests/fixtures/bpe/pretok_badpre.gguf  pretok_vocab, arch llama, pre deepseek-llm (refused)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_write import ARRAY, BOOL, INT32, STRING, UINT32, write_gguf  # noqa: E402


def main():
    args = sys.argv[1:]
    vocab_path, merges_path, out = args[:3]
    opts = dict(zip(args[3::2], args[4::2]))
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)
    tokens = [None] * (max(vocab.values()) + 1)
    for piece, i in vocab.items():
        tokens[i] = piece
    assert all(t is not None for t in tokens)
    with open(merges_path, encoding="utf-8") as f:
        merges = [ln for ln in f.read().split("\n") if ln and not ln.startswith("#version")]
    types = [3 if (t.startswith("<") and t.endswith(">") and len(t) > 2) else 1 for t in tokens]
    kv = [("general.architecture", STRING, opts.get("--arch", "gpt2")),
          ("tokenizer.ggml.model", STRING, "gpt2"),
          ("tokenizer.ggml.pre", STRING, opts.get("--pre", "gpt-2")),
          ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
          ("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
          ("tokenizer.ggml.merges", ARRAY, (STRING, merges))]
    for name, key in (("--bos", "bos"), ("--eos", "eos")):
        if name in opts:
            kv.append(("tokenizer.ggml.%s_token_id" % key, UINT32, int(opts[name])))
    for name, key in (("--add-bos", "add_bos_token"), ("--add-eos", "add_eos_token")):
        if name in opts:
            kv.append(("tokenizer.ggml." + key, BOOL, opts[name] == "1"))
    write_gguf(out, kv)


if __name__ == "__main__":
    main()
