"""gen_spm_fixtures.py - a tiny SentencePiece BPE model as GGUF metadata and as
a Hugging Face tokenizer.json, with expected ids from SentencePiece itself.

Needs the Debian package python3-sentencepiece; run with /usr/bin/python3
from the repository root:
    /usr/bin/python3 scripts/gen_spm_fixtures.py

Trains a ~420-token BPE model (byte fallback, no normalization, spaces kept,
dummy prefix on, like LLaMA's) on a small made-up corpus, then writes to
tests/fixtures/spm/:
  tiny.gguf            tokenizer.ggml.* metadata (tokens, scores, types, ids)
  tiny_noprefix.gguf   the same with tokenizer.ggml.add_space_prefix = false
  tokenizer.json       HF-style: model BPE + byte_fallback, vocab, merges
                       (every split a+b of each piece, ordered by the piece's
                       score, like the usual SentencePiece -> HF conversion),
                       normalizer Prepend("▁") + Replace(" " -> "▁")
  tiny_cases.txt       "<ids> TAB <text>" from sentencepiece.encode (the
                       oracle); text escaped like cases.txt
"""

import io
import json
import os
import random
import sys

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_write import ARRAY, BOOL, FLOAT32, INT32, STRING, UINT32, write_gguf  # noqa: E402

OUT = "tests/fixtures/spm"
WORDS = ("the a little girl boy cat dog ran jumped happy sad big small tree park ball "
         "friend friends mom dad home played said saw went looked found red blue green "
         "sun day night sky water fish bird happy together because then and was were is "
         "she he they it her his their caf\u00e9 na\u00efve 1 2 3 42 2024").split()
PUNCT = [".", ",", "!", "?", "", "", ""]

TEXTS = [
    "the little cat was happy",
    "She ran to the park with her friends.",
    "  leading spaces and trailing  ",
    "many    spaces",
    "caf\u00e9 and na\u00efve",
    "numbers 42 and 2024 and 7",
    "unknown letters: zqxj \u00fc \u4e2d \U0001F600",
    "thethethe treetree",
    "lll eee ooo lllll ppp",
    "a",
    " ",
    "",
]


def corpus(n=3000, seed=7):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        k = rng.randint(3, 12)
        words = [rng.choice(WORDS) for _ in range(k)]
        if rng.random() < 0.5:
            words[0] = words[0].capitalize()
        lines.append(" ".join(words) + rng.choice(PUNCT))
    return lines


def train():
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=model, model_type="bpe", vocab_size=420,
        byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=True, character_coverage=1.0, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def token_type(sp, i):
    if sp.is_unknown(i):
        return 2
    if sp.is_control(i):
        return 3
    if sp.is_unused(i):
        return 5
    if sp.is_byte(i):
        return 6
    return 1


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def hf_merges(pieces, types):
    ids = {p: i for i, p in enumerate(pieces)}
    merges = []
    # SentencePiece BPE ids follow the scores (higher score, lower id)
    for i, p in enumerate(pieces):
        if types[i] != 1 or len(p) < 2:
            continue
        splits = [(p[:k], p[k:]) for k in range(1, len(p))]
        splits = [(a, b) for a, b in splits if a in ids and b in ids]
        splits.sort(key=lambda ab: (ids[ab[0]], ids[ab[1]]))
        merges += [a + " " + b for a, b in splits]
    return merges


def main():
    sp = train()
    V = sp.get_piece_size()
    pieces = [sp.id_to_piece(i) for i in range(V)]
    scores = [float(sp.get_score(i)) for i in range(V)]
    types = [token_type(sp, i) for i in range(V)]
    os.makedirs(OUT, exist_ok=True)
    kv = [
        ("general.architecture", STRING, "llama"),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, pieces)),
        ("tokenizer.ggml.scores", ARRAY, (FLOAT32, scores)),
        ("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
        ("tokenizer.ggml.unknown_token_id", UINT32, sp.unk_id()),
        ("tokenizer.ggml.bos_token_id", UINT32, sp.bos_id()),
        ("tokenizer.ggml.eos_token_id", UINT32, sp.eos_id()),
        ("tokenizer.ggml.padding_token_id", UINT32, 0xFFFFFFFF),
    ]
    write_gguf(os.path.join(OUT, "tiny.gguf"), kv)
    write_gguf(os.path.join(OUT, "tiny_noprefix.gguf"),
               kv + [("tokenizer.ggml.add_space_prefix", BOOL, False)])
    tj = {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": pieces[i], "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for i in range(V) if types[i] in (2, 3)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True,
                  "vocab": {p: i for i, p in enumerate(pieces)},
                  "merges": hf_merges(pieces, types)},
    }
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=0)
    with open(os.path.join(OUT, "tiny_cases.txt"), "w", encoding="utf-8") as f:
        f.write("# made by scripts/gen_spm_fixtures.py with sentencepiece %s\n" % spm.__version__)
        for t in TEXTS:
            f.write("%s\t%s\n" % (" ".join(map(str, sp.encode(t))), esc(t)))
    print("vocab %d, %d merges, %d cases" % (V, len(tj["model"]["merges"]), len(TEXTS)))


if __name__ == "__main__":
    main()
