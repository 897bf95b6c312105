#!/usr/bin/python3
"""make_bpe_fixtures.py - write tests/fixtures/bpe/ for tests/test_bpe.c.

  tiny/vocab.json, tiny/merges.txt   a small byte-level BPE: all 256 byte symbols
                                     (ids shuffled with a fixed seed), merges learned
                                     here from TRAIN_TEXT, then <|endoftext|>
  tiny_json/tokenizer.json           the same as a HF tokenizer.json ("a b" merges,
                                     <|endoftext|> both in model.vocab and added_tokens)
  tiny_pairs/tokenizer.json          the same with [a, b] merges and <|endoftext|> only
                                     in added_tokens
  tiny_cases.txt                     CASES encoded with the tiny vocabulary
  cases.txt                          CASES encoded with the real GPT-2 vocabulary from
                                     ../shared/tokenizers/gpt2 (only if present)

Expected ids come from scripts/ref_gpt2_bpe.py (the independent Python oracle).
Case file lines: ESCAPED_TEXT => id,id,...  (split at the last " => "; escapes \\\\ \\n
\\t \\r \\xNN for a raw byte, \\u{X} for a code point).

Usage: /usr/bin/python3 scripts/make_bpe_fixtures.py [SHARED_DIR]   (default ../shared)
"""
import collections
import json
import os
import random
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_gpt2_bpe as ref  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "bpe")

TRAIN_TEXT = """The quick brown fox jumps over the lazy dog. The dog didn't care; it's a lazy dog.
She said: "I'll be there at 10:30, we're almost done!" They've seen 1234 cats and 56 dogs.
Hello world, hello tokenizer. Tokenizers split text into tokens; tokens become ids.
Привет мир. 你好世界。 नमस्ते. 12345 67890 3.14159 ... !!! ??? ---
""" * 3

CASES = [
    b"",
    b"Hello world",
    b"Hello World!",
    b"I can't, he's, we're, they've, I'm, you'll, he'd",
    b"HE'S IT'S DON'T I'M YOU'LL WE'RE THEY'VE HE'D",
    b"'s 's'S ''s ''' 'x 'S 'Re 'll'll",
    b"don't'll'd'm've're's't",
    b"1234567890 3.14159 1,000,000 42nd 0x1F 007",
    b"a  b   c    d",
    b"  leading",
    b"trailing   ",
    b"   ",
    b" ",
    b"line1\nline2\n\nline3\n",
    b"\n\n\n",
    b"a\n b",
    b"a \nb",
    b"a\t\tb",
    b"x \t y",
    b"\r\n\r\n",
    b"tab\tseparated\tvalues\t",
    b"Hello!!! ... ??? --- ((()))",
    b"a+b=c; x<y>z && y||z",
    b"$$$ 100% @#&* ~`^",
    "\u201cquoted\u201d \u2018text\u2019 \u2014 dash\u2026".encode(),
    "你好，世界！我们在学习分词。".encode(),
    "مرحبا بالعالم، كيف حالك؟".encode(),
    "Привет, мир! Как дела? ЁЖИК".encode(),
    "नमस्ते दुनिया, हिन्दी".encode(),
    "こんにちは、カタカナ 한국어 안녕하세요".encode(),
    "Ελληνικά שלום สวัสดีครับ".encode(),
    "I \u2764\ufe0f \U0001F355!".encode(),
    "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family".encode(),
    "\U0001F44D\U0001F3FD ok \U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA \U0001F600\U0001F603".encode(),
    "e\u0301te\u0301 caf\u00e9 cafe\u0301".encode(),
    "a\u0308\u0304 Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d".encode(),
    b"\xff\xfe abc \x80\x81 def",
    b"\xc3\x28 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf",
    b"caf\xe9 a\xffb \xff \xff\xff",
    b"\x00\x01\x02\x1b[0m\x7f",
    b"a\x1cb\x1d c\x1e\x1fd",
    b"<|endoftext|> hello <|endoftext|>",
    "a\u00a0b a\u3000\u3000b x\u2028y \u0085z a \u00a0 b".encode(),
    "end\u3000".encode(),
    b"supercalifragilisticexpialidocious",
    b"a" * 90,
    b"1" * 70 + b" " + b"!" * 70,
    b"Let's test: 3 apples, 12 oranges & a caf\xc3\xa9.\n\tDone!",
    "\u00bd \u00b2 \u216b \u0663\u0664\u0665 x\u00b2".encode(),
    "\u02b0\u02b1 \u00aa\u00ba \u01c5".encode(),
    b"The quick brown fox jumps over the lazy dog.",
]


def escape(data):
    out = []
    for c in data.decode("utf-8", "surrogateescape"):
        o = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif c in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[c])
        elif 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif o > 0x7F and (unicodedata.category(c)[0] in "CZ"):
            out.append("\\u{%x}" % o)
        else:
            out.append(c)
    return "".join(out)


def train_merges(text, n_merges):
    bmap = ref.bytes_to_unicode()
    words = collections.Counter(
        tuple(bmap[b] for b in w.encode("utf-8")) for w in ref.pretokenize(text))
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for k in range(len(w) - 1):
                pairs[(w[k], w[k + 1])] += c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])  # ties: smallest pair
        merges.append(best)
        new = collections.Counter()
        for w, c in words.items():
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and (w[k], w[k + 1]) == best:
                    out.append(w[k] + w[k + 1])
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            new[tuple(out)] += c
        words = new
    return merges


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_cases(path, tok):
    lines = ["%s => %s" % (escape(c), ",".join(str(i) for i in tok.encode(c))) for c in CASES]
    write(path, "\n".join(lines) + "\n")


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(OUT, "..", "..", "..", "..", "shared")
    bmap = ref.bytes_to_unicode()
    order = list(range(256))
    random.Random(1234).shuffle(order)
    vocab = {}
    for b in order:
        vocab[bmap[b]] = len(vocab)
    merges = train_merges(TRAIN_TEXT, 200)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    eot = vocab["<|endoftext|>"]
    write(os.path.join(OUT, "tiny", "vocab.json"), json.dumps(vocab, ensure_ascii=False) + "\n")
    write(os.path.join(OUT, "tiny", "merges.txt"),
          "#version: 0.2\n" + "".join("%s %s\n" % m for m in merges))
    added = [{"id": eot, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": True, "special": True}]
    pipeline = {"normalizer": None,
                "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                                  "trim_offsets": True, "use_regex": True},
                "post_processor": None, "decoder": {"type": "ByteLevel"}}
    tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added}
    tj.update(pipeline)
    tj["model"] = {"type": "BPE", "dropout": None, "unk_token": None,
                   "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                   "byte_fallback": False, "vocab": vocab, "merges": ["%s %s" % m for m in merges]}
    write(os.path.join(OUT, "tiny_json", "tokenizer.json"), json.dumps(tj, ensure_ascii=False))
    small = {k: v for k, v in vocab.items() if k != "<|endoftext|>"}
    tj["model"] = dict(tj["model"], vocab=small, merges=[list(m) for m in merges])
    write(os.path.join(OUT, "tiny_pairs", "tokenizer.json"), json.dumps(tj, ensure_ascii=False))
    tiny = ref.GPT2BPE(os.path.join(OUT, "tiny", "vocab.json"), os.path.join(OUT, "tiny", "merges.txt"))
    write_cases(os.path.join(OUT, "tiny_cases.txt"), tiny)
    gdir = os.path.join(shared, "tokenizers", "gpt2")
    if os.path.exists(os.path.join(gdir, "vocab.json")):
        gpt2 = ref.GPT2BPE(os.path.join(gdir, "vocab.json"), os.path.join(gdir, "merges.txt"))
        write_cases(os.path.join(OUT, "cases.txt"), gpt2)
    else:
        print("no %s: cases.txt not rewritten" % gdir)
    print("%d merges, vocab %d, %d cases" % (len(merges), len(vocab), len(CASES)))


if __name__ == "__main__":
    main()
