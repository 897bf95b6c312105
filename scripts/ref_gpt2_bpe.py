#!/usr/bin/python3
"""ref_gpt2_bpe.py - a plain Python GPT-2 byte-level BPE, the test oracle for src/tokenizers/bpe.c.

Written independently of the C code and kept deliberately simple:
  * the pre-tokenizer emulates the GPT-2 pattern
        's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
    by trying each alternative in order as a small matcher over a str, with the
    backtracking of \\s+(?!\\S) done literally (longest run first, then shorter);
    Python's re has no \\p{L}, so the classes come from unicodedata
    (L* = letter, N* = number, White_Space = str.isspace() minus U+001C..U+001F);
  * bytes that are not valid UTF-8 are decoded with 'surrogateescape', so each
    becomes one U+DC80+byte character, which is none of letter/number/space;
  * BPE is the original GPT-2 loop: find the adjacent pair of lowest rank, merge
    every occurrence left to right, repeat.

Usage:
  ref_gpt2_bpe.py check VOCAB_JSON MERGES_TXT REFERENCE_TXT   # "text => ids" lines
  ref_gpt2_bpe.py encode VOCAB_JSON MERGES_TXT TEXT
"""
import json
import sys
import unicodedata


def bytes_to_unicode():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def is_letter(c):
    return unicodedata.category(c).startswith("L")


def is_number(c):
    return unicodedata.category(c).startswith("N")


def is_space(c):
    return c.isspace() and not ("\x1c" <= c <= "\x1f")


def is_other(c):
    return not (is_letter(c) or is_number(c) or is_space(c))


def m_contraction(s, i):
    for suffix in ("s", "t", "re", "ve", "m", "ll", "d"):
        if s.startswith("'" + suffix, i):
            return 1 + len(suffix)
    return None


def m_space_class(pred):
    def match(s, i):
        j = i + 1 if s.startswith(" ", i) else i
        # ' ?' is greedy but may give the space back: try with the space, then without
        for start in ([j, i] if j != i else [i]):
            k = start
            while k < len(s) and pred(s[k]):
                k += 1
            if k > start:
                return k - i
        return None
    return match


def m_space_not_before_nonspace(s, i):
    k = i
    while k < len(s) and is_space(s[k]):
        k += 1
    for end in range(k, i, -1):  # \s+ backtracks from the longest run
        if end == len(s) or is_space(s[end]):  # (?!\S)
            return end - i
    return None


def m_space(s, i):
    k = i
    while k < len(s) and is_space(s[k]):
        k += 1
    return k - i if k > i else None


ALTERNATIVES = [m_contraction, m_space_class(is_letter), m_space_class(is_number),
                m_space_class(is_other), m_space_not_before_nonspace, m_space]


def pretokenize(s):
    out, i = [], 0
    while i < len(s):
        for alt in ALTERNATIVES:
            n = alt(s, i)
            if n:
                out.append(s[i:i + n])
                i += n
                break
        else:
            raise AssertionError("no alternative matched at %d" % i)
    return out


class GPT2BPE:
    def __init__(self, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = json.load(f)
        self.ranks = {}
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        lines = [ln for ln in lines if ln and not ln.startswith("#version")]
        for r, ln in enumerate(lines):
            a, b = ln.split(" ")
            self.ranks.setdefault((a, b), r)
        self.byte_map = bytes_to_unicode()

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((parts[k], parts[k + 1]), None), k) for k in range(len(parts) - 1)]
            ranked = [p for p in pairs if p[0] is not None]
            if not ranked:
                break
            best = min(ranked)[0]
            a, b = parts[min(ranked)[1]], parts[min(ranked)[1] + 1]
            merged, k = [], 0
            while k < len(parts):
                if k + 1 < len(parts) and parts[k] == a and parts[k + 1] == b:
                    merged.append(a + b)
                    k += 2
                else:
                    merged.append(parts[k])
                    k += 1
            parts = merged
            assert self.ranks[(a, b)] == best
        return parts

    def encode(self, data: bytes):
        text = data.decode("utf-8", "surrogateescape")
        ids = []
        for piece in pretokenize(text):
            raw = piece.encode("utf-8", "surrogateescape")
            word = "".join(self.byte_map[b] for b in raw)
            ids.extend(self.vocab[p] for p in self.bpe(word))
        return ids


def main():
    cmd = sys.argv[1]
    tok = GPT2BPE(sys.argv[2], sys.argv[3])
    if cmd == "check":
        good = total = 0
        with open(sys.argv[4], encoding="utf-8") as f:
            for line in f.read().split("\n"):
                if not line:
                    continue
                text, ids = line.rsplit(" => ", 1)
                want = [int(x) for x in ids.split(",")]
                got = tok.encode(text.encode("utf-8"))
                total += 1
                good += got == want
                if got != want:
                    print("MISMATCH %r\n  got  %s\n  want %s" % (text, got, want))
        print("%d of %d reference lines reproduced" % (good, total))
        sys.exit(0 if good == total else 1)
    elif cmd == "encode":
        print(tok.encode(sys.argv[4].encode("utf-8", "surrogateescape")))


if __name__ == "__main__":
    main()
