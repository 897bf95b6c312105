#!/usr/bin/python3
"""gen_spm_model.py - write SentencePiece tokenizer.model files (the ModelProto
protobuf) by hand, for tests/test_spm_model.c.

The pieces, scores and types are read from tests/fixtures/spm/tiny.gguf (the
SentencePiece BPE model gen_spm_fixtures.py trained; a minimal GGUF reader is
below), and written in the wire format of sentencepiece_model.proto:
  ModelProto       1: repeated SentencePiece pieces   2: TrainerSpec
                   3: NormalizerSpec                  4: SelfTestData (skipped by readers)
  SentencePiece    1: piece (string)  2: score (float, fixed32)  3: type (enum varint)
  TrainerSpec      1: input (string, repeated)  3: model_type (1 UNIGRAM, 2 BPE)
                   4: vocab_size  35: byte_fallback  40: unk_id  41: bos_id
                   42: eos_id  43: pad_id (int32: -1 as a 10-byte varint)
  NormalizerSpec   1: name  3: add_dummy_prefix  4: remove_extra_whitespaces
                   5: escape_whitespaces
Outputs in tests/fixtures/spm/model/:
  tokenizer.model           BPE, identity normalizer, add_dummy_prefix true (LLaMA's settings)
  noprefix.model            the same with add_dummy_prefix false
  unigram.model             model_type UNIGRAM (must be refused)
  nfkc.model                normalizer nmt_nfkc with a charsmap (must be refused)
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures", "spm")


def read_gguf_kv(path):
    """key -> value for the metadata of a GGUF v2/v3 file (no tensors needed)."""
    data = open(path, "rb").read()
    assert data[:4] == b"GGUF"
    pos = 8
    _, n_kv = struct.unpack_from("<QQ", data, pos)
    pos += 16
    scal = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}

    def value(t, pos):
        if t == 8:
            n, = struct.unpack_from("<Q", data, pos)
            return data[pos + 8:pos + 8 + n].decode("utf-8"), pos + 8 + n
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            out = []
            for _ in range(n):
                v, pos = value(et, pos)
                out.append(v)
            return out, pos
        fmt = scal[t]
        return struct.unpack_from(fmt, data, pos)[0], pos + struct.calcsize(fmt)

    kv = {}
    for _ in range(n_kv):
        n, = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8:pos + 8 + n].decode("utf-8")
        pos += 8 + n
        t, = struct.unpack_from("<I", data, pos)
        kv[key], pos = value(t, pos + 4)
    return kv


def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return key(field, 2) + varint(len(b)) + b


def f_float(field, x):
    return key(field, 5) + struct.pack("<f", x)


def model_proto(pieces, scores, types, model_type=2, add_dummy_prefix=True, name="identity",
                charsmap=b"", unk=0, bos=1, eos=2, pad=-1):
    out = bytearray()
    for p, s, t in zip(pieces, scores, types):
        msg = f_bytes(1, p) + f_float(2, s)
        if t != 1:  # NORMAL is the default: leave it out as protobuf writers do
            msg += f_varint(3, t)
        out += f_bytes(1, msg)
    trainer = (f_bytes(1, "corpus.txt") + f_varint(3, model_type) + f_varint(4, len(pieces))
               + f_varint(35, 1) + f_varint(40, unk) + f_varint(41, bos) + f_varint(42, eos)
               + f_varint(43, pad))
    out += f_bytes(2, trainer)
    norm = f_bytes(1, name)
    if charsmap:
        norm += f_bytes(2, charsmap)
    norm += f_varint(3, int(add_dummy_prefix)) + f_varint(4, 0) + f_varint(5, 1)
    out += f_bytes(3, norm)
    out += f_bytes(4, f_bytes(1, f_bytes(1, "hello") + f_bytes(2, "\u2581he llo")))
    return bytes(out)


def main():
    kv = read_gguf_kv(os.path.join(FIX, "tiny.gguf"))
    pieces = kv["tokenizer.ggml.tokens"]
    scores = kv["tokenizer.ggml.scores"]
    types = kv["tokenizer.ggml.token_type"]
    ids = dict(unk=kv["tokenizer.ggml.unknown_token_id"], bos=kv["tokenizer.ggml.bos_token_id"],
               eos=kv["tokenizer.ggml.eos_token_id"])
    out = os.path.join(FIX, "model")
    os.makedirs(out, exist_ok=True)
    files = {
        "tokenizer.model": model_proto(pieces, scores, types, **ids),
        "noprefix.model": model_proto(pieces, scores, types, add_dummy_prefix=False, **ids),
        "unigram.model": model_proto(pieces, scores, types, model_type=1, **ids),
        "nfkc.model": model_proto(pieces, scores, types, name="nmt_nfkc", charsmap=b"\x01\x02",
                                  **ids),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
