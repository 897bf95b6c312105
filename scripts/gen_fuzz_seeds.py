#!/usr/bin/env python3
"""Write the seed corpora for the libFuzzer targets (tests/fuzz/corpus/<target>/seed_*).

Every seed is built here from scratch (struct/json only), small, and valid or
nearly valid, so the fuzzer starts from inputs that reach deep into each parser.
Regression inputs found by fuzzing live beside the seeds as crash_* / limit_*
files and are not touched by this script. Run: python3 scripts/gen_fuzz_seeds.py
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")
SEP = b"\n=====\n"


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ safetensors
def safetensors(tensors, meta=None):
    """tensors: list of (name, dtype, shape, raw bytes)"""
    header, off, blob = {}, 0, b""
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blob += raw
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)


# ------------------------------------------------------------------ gguf
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gkv(key, typ, val):
    out = gstr(key) + struct.pack("<I", typ)
    if typ == 8:
        out += gstr(val)
    elif typ == 9:
        at, items = val
        out += struct.pack("<IQ", at, len(items))
        for it in items:
            if at == 8:
                out += gstr(it)
            else:
                out += struct.pack({4: "<I", 5: "<i", 6: "<f", 7: "<B", 0: "<B"}[at], it)
    else:
        out += struct.pack({0: "<B", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q",
                            12: "<d"}[typ], val)
    return out


def gguf(kvs, tensors, version=3, align=32):
    """tensors: list of (name, ne list, ggml type, raw bytes)"""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for kv in kvs:
        out += kv
    off, datas = 0, b""
    for name, ne, typ, raw in tensors:
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", typ, off)
        pad = -len(raw) % align
        datas += raw + b"\0" * pad
        off += len(raw) + pad
    out += b"\0" * (-len(out) % align)
    return out + datas


def spm_vocab():
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    toks += ["\u2581", "t", "h", "e", "\u2581t", "he", "\u2581the", "c", "a", "at"]
    scores = [0.0] * 259 + [-1.0, -2.0, -2.0, -2.0, -3.0, -3.0, -4.0, -2.0, -2.0, -3.0]
    types = [2, 3, 3] + [6] * 256 + [1] * 10
    return toks, scores, types


def main():
    # ---------------- json
    put("json", "object", '{"a": [1, -2.5e3, true, false, null], "b": {"c": "d\\u00e9\\ud83d\\ude00"}}')
    put("json", "array", '[[], {}, "", 0, 1e-7, "\\n\\t\\"\\\\\\/"]')
    put("json", "deep", "[" * 20 + "]" * 20)
    put("json", "utf8", '"caf\xc3\xa9 \xe4\xb8\xad"'.encode("latin-1"))
    put("json", "bom", b"\xef\xbb\xbf {\"k\": 12}")

    # ---------------- safetensors
    st1 = safetensors([("w", "F32", [2, 3], f32(range(6))), ("b", "F16", [3], b"\x00\x3c" * 3),
                       ("z", "BF16", [0], b"")], {"format": "pt", "k": "v"})
    put("safetensors", "basic", st1)
    put("safetensors", "f64_i8", safetensors([("d", "F64", [2], struct.pack("<2d", 1.5, -2)),
                                              ("q", "I8", [4], b"\x01\x02\x03\x04")]))
    put("safetensors", "empty", safetensors([]))

    # ---------------- gguf
    toks, scores, types = spm_vocab()
    tok_kvs = [gkv("tokenizer.ggml.model", 8, "llama"), gkv("tokenizer.ggml.tokens", 9, (8, toks)),
               gkv("tokenizer.ggml.scores", 9, (6, scores)),
               gkv("tokenizer.ggml.token_type", 9, (5, types)),
               gkv("tokenizer.ggml.bos_token_id", 4, 1), gkv("tokenizer.ggml.eos_token_id", 4, 2),
               gkv("tokenizer.ggml.add_space_prefix", 7, 1)]
    put("gguf", "vocab", gguf(tok_kvs, []))
    q8 = struct.pack("<H", 0x3C00) + bytes(range(32))
    put("gguf", "tensors", gguf([gkv("general.architecture", 8, "llama"),
                                 gkv("general.alignment", 4, 32), gkv("x.f", 12, 2.5),
                                 gkv("x.i", 11, -7), gkv("x.arr", 9, (4, [1, 2, 3]))],
                                [("a", [3, 2], 0, f32(range(6))), ("h", [4], 1, b"\x00\x3c" * 4),
                                 ("q", [32], 8, q8), ("bf", [2], 30, b"\x80\x3f" * 2)]))
    put("gguf", "v2", gguf([gkv("k", 7, 1), gkv("s", 8, "x")], [("t", [1], 0, f32([1]))], version=2))

    # ---------------- modelgguf: a tiny llama (dim 4, 1 layer, 2 heads, ffn 8)
    C, F, V = 4, 8, len(toks)
    ones = lambda n: f32([0.01 * (i % 7) for i in range(n)])
    tens = [("token_embd.weight", [C, V], 0, ones(C * V)), ("output_norm.weight", [C], 0, ones(C)),
            ("output.weight", [C, V], 0, ones(C * V))]
    for nm, ne in [("attn_norm", [C]), ("attn_q", [C, C]), ("attn_k", [C, C]), ("attn_v", [C, C]),
                   ("attn_output", [C, C]), ("ffn_norm", [C]), ("ffn_gate", [C, F]),
                   ("ffn_up", [C, F]), ("ffn_down", [F, C])]:
        n = 1
        for x in ne:
            n *= x
        tens.append(("blk.0.%s.weight" % nm, ne, 0, ones(n)))
    cfg = [gkv("general.architecture", 8, "llama"), gkv("llama.embedding_length", 4, C),
           gkv("llama.block_count", 4, 1), gkv("llama.attention.head_count", 4, 2),
           gkv("llama.attention.head_count_kv", 4, 2), gkv("llama.feed_forward_length", 4, F),
           gkv("llama.context_length", 4, 32),
           gkv("llama.attention.layer_norm_rms_epsilon", 6, 1e-5),
           gkv("llama.rope.dimension_count", 4, 2)]
    put("modelgguf", "tiny_llama", gguf(cfg + tok_kvs, tens))
    put("modelgguf", "config_only", gguf(cfg, [("token_embd.weight", [C, 3], 0, ones(C * 3))]))

    # ---------------- tokenizer.json
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_syms = [chr(c) for c in cs]
    bpe_vocab = {s: i for i, s in enumerate(byte_syms)}
    for s in ["\u0120t", "he", "\u0120the", "at", "\u0120c", "\u0120cat", "<|endoftext|>"]:
        bpe_vocab[s] = len(bpe_vocab)
    bpe_merges = ["\u0120 t", "h e", "\u0120t he", "a t", "\u0120 c", "\u0120c at"]
    put("tokjson", "bpe", json.dumps({
        "model": {"type": "BPE", "vocab": bpe_vocab, "merges": bpe_merges},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "added_tokens": [{"id": bpe_vocab["<|endoftext|>"], "content": "<|endoftext|>",
                          "special": True}]}, ensure_ascii=False))
    wp_vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",
                                            "cat", "##s", "great", "un", "##aff", "##able"])}
    put("tokjson", "wordpiece", json.dumps({
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": wp_vocab,
                  "continuing_subword_prefix": "##", "max_input_chars_per_word": 100},
        "normalizer": {"type": "BertNormalizer", "lowercase": True, "strip_accents": None,
                       "clean_text": True, "handle_chinese_chars": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"}}))
    spm_v = {t: i for i, t in enumerate(toks)}
    put("tokjson", "spm", json.dumps({
        "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": spm_v,
                  "merges": [["\u2581", "t"], "h e", "\u2581t he", "a t"]},
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "added_tokens": [{"id": 1, "content": "<s>", "special": True}]}, ensure_ascii=False))

    # ---------------- vocab.json + merges.txt
    put("bpefiles", "gpt2", json.dumps(bpe_vocab, ensure_ascii=False).encode() + SEP +
        ("#version: 0.2\n" + "\n".join(bpe_merges) + "\n").encode())

    # ---------------- vocab.txt
    put("vocabtxt", "bert", "\n".join(wp_vocab) + "\n")
    put("vocabtxt", "crlf", "[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n\xe4\xb8\xad\r\n")

    # ---------------- encode (text)
    put("encode", "text", "The cat's great! Unaffable caf\u00e9 \u4e2d\u6587 \U0001F600 12,345.")
    put("encode", "spaces", "  \t\n the  the\u00a0the \r\n")
    put("encode", "special", "<|endoftext|>[CLS] [MASK]<s></s><0x41>\u2581the")
    put("encode", "ids", struct.pack("<8i", 0, 1, 5, 100, 258, 259, -1, 1 << 30))

    # ---------------- template: control byte, template, field values
    put("template", "gpt2", b"\x00" + b"[P*3] {sentence} [P*2] It was [MASK]" + SEP + b"the cat")
    put("template", "bert", b"\x05" + b"[P] {a} {{x}} [P] {b} [MASK] ." + SEP + b"great" + SEP
        + b"the cat s")
    put("template", "llama", b"\x0a" + b"{q}[P*4] answer: [MASK]" + SEP + b"the cat " * 20)

    # ---------------- dataset: format byte (0 sniff, 1 jsonl, 2 tsv, 3 csv), text
    put("dataset", "jsonl", b"\x01" + b'{"sentence": "a \\"b\\"", "label": 1}\n'
        b'{"sentence": "c", "label": 0, "x": null, "y": true}\n\n')
    put("dataset", "tsv", b"\x02" + b"sentence\tlabel\r\nhello world\tpos\nbye\tneg\n")
    put("dataset", "csv", b"\x03" + b'sentence,label\n"a, ""quoted""\nline",1\nplain,0\n')
    put("dataset", "sniff", b"\x00" + b"\xef\xbb\xbfa,b\n1,2\n")

    # ---------------- prompt file
    tmpl = "[P*2] {sentence} It was [MASK]."
    meta = {"ptune.template": tmpl, "ptune.task": "classify", "ptune.head": "lm",
            "ptune.labels": json.dumps({"0": "bad", "1": "good"}), "ptune.label_field": "label",
            "ptune.model.family": "gpt2", "ptune.model.width": "4",
            "ptune.model.vocab_size": "263", "ptune.model.fingerprint": "0123456789abcdef",
            "ptune.encoder": "lstm"}
    put("promptfile", "lm", safetensors([("prompt.embeddings", "F32", [2, 4], f32(range(8)))], meta))
    m2 = dict(meta, **{"ptune.head": "linear", "ptune.labels": json.dumps({"a": "", "b": ""})})
    put("promptfile", "linear", safetensors([
        ("prompt.embeddings", "F32", [2, 4], f32(range(8))),
        ("head.weight", "F32", [2, 4], f32(range(8))), ("head.bias", "F32", [2], f32([0, 1]))], m2))
    m3 = {"ptune.template": "{sub} was born in [MASK]", "ptune.task": "knowledge"}
    put("promptfile", "knowledge", safetensors([("prompt.embeddings", "F16", [1, 2],
                                                 b"\x00\x3c" * 2)], m3))

    # ---------------- config.json
    put("config", "gpt2", json.dumps({"model_type": "gpt2", "n_embd": 8, "n_layer": 2, "n_head": 2,
                                      "vocab_size": 263, "n_positions": 32,
                                      "layer_norm_epsilon": 1e-5,
                                      "activation_function": "gelu_new"}))
    put("config", "bert", json.dumps({"model_type": "bert", "hidden_size": 8,
                                      "num_hidden_layers": 1, "num_attention_heads": 2,
                                      "intermediate_size": 16, "max_position_embeddings": 32,
                                      "vocab_size": 12, "type_vocab_size": 2,
                                      "layer_norm_eps": 1e-12, "hidden_act": "gelu"}))
    put("config", "llama", json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 8,
                                       "num_hidden_layers": 1, "num_attention_heads": 2,
                                       "num_key_value_heads": 1, "intermediate_size": 16,
                                       "vocab_size": 269, "max_position_embeddings": 32,
                                       "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                                       "tie_word_embeddings": False}))


if __name__ == "__main__":
    main()
