#!/usr/bin/python3
"""gen_pretok_fixtures.py - expected pre-token splits and ids for the GPT-2, LLaMA-3
(llama-bpe) and Qwen2 pre-tokenizers, the oracle of tests/test_bpe_pretok.c.

Independent of the C code: each text is split with the third-party `regex` module
running the ORIGINAL patterns (as in the tokenizer.json files of GPT-2,
Meta-Llama-3 and Qwen2, and llama.cpp's llm_tokenizer_bpe), then each pre-token
is BPE-merged with the plain merge loop of ref_gpt2_bpe.py over a vocabulary
this script trains on the test texts themselves WITHOUT any pre-tokenization
(400 most frequent byte-pair merges), so its merges cross the places where the
three patterns cut differently and the ids tell the patterns apart. The
vocabulary is written to tests/fixtures/bpe/pretok_vocab/{vocab.json,merges.txt}.

The texts are hand-picked tricky cases (digit runs, contractions in both cases,
non-Latin scripts, white-space runs with CR/LF, emoji, marks) plus seeded random
strings drawn from a pool of such characters. Every character is assigned in
Unicode 14.0 (the version of src/tokenizers/unicode_tables.c); the regex module
may know a newer Unicode, which only matters for characters assigned later.

Output lines:  KIND <TAB> text as hex <TAB> pre-token end offsets (bytes) <TAB> ids
Usage: /usr/bin/python3 scripts/gen_pretok_fixtures.py > tests/fixtures/bpe/pretok_cases.txt
"""
import json
import os
import random
import sys

import regex

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2_bpe import GPT2BPE, bytes_to_unicode  # noqa: E402

PATTERNS = {
    "gpt-2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "llama-bpe": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "qwen2": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
}

TEXTS = [
    "Hello world",
    "I can't, he's, we're, they've, I'm, you'll, he'd",
    "HE'S IT'S DON'T I'M YOU'LL WE'RE THEY'VE HE'D We'Re",
    "'sup 'S' 's'",
    "x'\u017f y'\u017fz",  # long s folds to s under (?i)
    "1 12 123 1234 12345 123456 1234567",
    "3.14159 and 2,718,281 or 0x1F -42 +7e10",
    "\u0663\u0664\u0665\u0666 \u0967\u0968\u0969\u096a\u096b x\u00b2\u00b3 \u2160\u2161\u2162",
    "a  b   c    d\te \t f\u3000g \u3000h",
    "line1\nline2\r\nline3\n\n\nline4\r\r\n end",
    "  \n  x\n \n\t\ty \n",
    "x   ",
    "\n",
    " \n \n ",
    "trailing spaces   \n   ",
    "!!!\n\n?? ...\r\n--",
    "$hello @world #tag %50 &amp; (paren) [br] {c}",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01 \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u05e9\u05dc\u05d5\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 caf\u00e9 na\u00efve e\u0301x",
    "emoji \U0001F600\U0001F600 \U0001F44D\U0001F3FD ok\U0001F680go \u2764\ufe0f \U0001F468\u200d\U0001F469\u200d\U0001F467",
    "\U0001F600abc \U0001F600 abc",
    "tab\there\t\tthere",
    "mixed123abc456def7890",
    "don't DON'T Don'T d'oh",
    "",
    " ",
    "   leading",
    "a\u00a0b \u00a0c",
    "\u2028x\u2029y\u0085z",
    "\"quoted\" 'single' `back`",
    "https://www.example.com/path?q=1&r=2#frag",
    "def f(x):\n    return x**2  # square\n",
]

POOL = (list("aZ09 '\n\r\t!?.,-_sStTdDlLrReEvVmM") + ["ll", "'s", "'T", "'re", "  ", "\r\n"]
        + ["\u00e9", "\u0301", "\u4f60", "\u0416", "\u0663", "\u00b2", "\u3000", "\u00a0",
           "\U0001F600", "\u200d", "\u2028", "\u017f", "\u0e2a", "\u05e9", "1234"])


def random_texts(n, seed=13):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, 24))))
    return out


def train_vocab(texts, n_merges, out_dir):
    """Byte-level BPE trained on whole texts (no pre-tokenizer): most frequent
    adjacent pair first, ties by first occurrence order of the pair string."""
    bmap = bytes_to_unicode()
    words = [[bmap[b] for b in t.encode("utf-8")] for t in texts]
    vocab = {bmap[b]: b for b in range(256)}
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w in words:
            for k in range(len(w) - 1):
                pair = (w[k], w[k + 1])
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if counts[best] < 2:
            break
        merges.append(best)
        vocab.setdefault(best[0] + best[1], len(vocab))
        new = []
        for w in words:
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and (w[k], w[k + 1]) == best:
                    out.append(w[k] + w[k + 1])
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            new.append(out)
        words = new
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join("%s %s\n" % m for m in merges))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    texts = TEXTS + random_texts(300)
    vdir = os.path.join(here, "..", "tests", "fixtures", "bpe", "pretok_vocab")
    train_vocab(texts, 400, vdir)
    tok = GPT2BPE(os.path.join(vdir, "vocab.json"), os.path.join(vdir, "merges.txt"))
    for kind, pat in PATTERNS.items():
        rx = regex.compile(pat)
        for text in texts:
            pieces = rx.findall(text)
            assert "".join(pieces) == text, (kind, text)
            ends, ids, off = [], [], 0
            for p in pieces:
                raw = p.encode("utf-8")
                off += len(raw)
                ends.append(off)
                ids.extend(tok.vocab[q] for q in tok.bpe("".join(tok.byte_map[b] for b in raw)))
            print("%s\t%s\t%s\t%s" % (kind, text.encode("utf-8").hex(),
                                      ",".join(map(str, ends)), ",".join(map(str, ids))))


if __name__ == "__main__":
    main()
