#!/usr/bin/python3
"""ref_wordpiece.py - reference BERT basic tokenizer + WordPiece in plain Python.

An independent oracle for tests/test_wordpiece.c: written directly from the
algorithm description (Hugging Face BertNormalizer / BertPreTokenizer /
WordPiece), using only Python's unicodedata, not the C tables. It writes
tests/fixtures/wordpiece/cases.txt with the ids for bert-base-uncased:

  /usr/bin/python3 scripts/ref_wordpiece.py ../shared/tokenizers/bert-base-uncased/vocab.txt \
      > tests/fixtures/wordpiece/cases.txt

cases.txt: '#' lines are comments; other lines are
  MODE <TAB> TEXT <TAB> IDS <TAB> # TOKENS
MODE 'u' = uncased (lowercase + strip accents), 'c' = cased (neither).
TEXT is the UTF-8 input with escapes \\\\ \\t \\n \\r and \\xHH (single raw bytes,
also invalid UTF-8); IDS are space separated (may be empty).

Choices (the C code makes the same ones):
  - control = category C* (Cc Cf Cn Co Cs) except \\t \\n \\r; these, U+0000 and
    U+FFFD are dropped; whitespace becomes ' '.
  - CJK ranges are those of the Rust BertNormalizer (its Extension E range
    starts at U+2B920, not U+2B820 as in the Python BertTokenizer).
  - accents are stripped (NFD, drop Mn) before lowercasing, and lowercasing is
    per code point (str.lower of one character: no final-sigma rule).
  - special tokens written literally ([CLS] [SEP] [MASK] [PAD] [UNK]) are
    matched case-sensitively in the raw text before any normalisation.
  - invalid UTF-8 bytes decode as U+FFFD (Python's errors="replace").
"""
import sys
import unicodedata

SPECIALS = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"]
CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
       (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def is_space(ch):
    return ch in " \t\n\r" or ch.isspace()


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch):
    return any(lo <= ord(ch) <= hi for lo, hi in CJK)


def normalize(text, lowercase, strip_accents):
    out = []
    for ch in text:
        if ch == "\0" or ch == "\ufffd" or is_control(ch):
            continue
        if is_space(ch):
            out.append(" ")
        elif is_cjk(ch):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    s = "".join(out)
    if strip_accents:
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
    if lowercase:
        s = "".join(c.lower() for c in s)
    return s


def pre_tokenize(s):
    words, cur = [], ""
    for ch in s:
        if is_space(ch):
            if cur:
                words.append(cur)
            cur = ""
        elif is_punct(ch):
            if cur:
                words.append(cur)
            words.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    return words


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        found = None
        while end > start:
            cand = word[start:end] if start == 0 else "##" + word[start:end]
            if cand in vocab:
                found = cand
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab, lowercase):
    """text: str. Returns token strings."""
    tokens = []
    rest = text
    while rest:
        # leftmost special token occurrence
        best = None
        for sp in SPECIALS:
            if sp not in vocab:
                continue
            i = rest.find(sp)
            if i >= 0 and (best is None or i < best[0] or (i == best[0] and len(sp) > len(best[1]))):
                best = (i, sp)
        chunk = rest if best is None else rest[:best[0]]
        for w in pre_tokenize(normalize(chunk, lowercase, lowercase)):
            tokens.extend(wordpiece(w, vocab))
        if best is None:
            break
        tokens.append(best[1])
        rest = rest[best[0] + len(best[1]):]
    return tokens


def escape(b):
    out = []
    for x in b:
        if x == 0x5C:
            out.append("\\\\")
        elif x == 9:
            out.append("\\t")
        elif x == 10:
            out.append("\\n")
        elif x == 13:
            out.append("\\r")
        elif x < 0x20 or x == 0x7F:
            out.append("\\x%02X" % x)
        else:
            out.append(bytes([x]))
    # keep valid UTF-8 runs raw, escape stray bytes
    res, buf = [], b""
    for part in out:
        if isinstance(part, bytes):
            buf += part
        else:
            res.append(buf)
            buf = b""
            res.append(part.encode())
    res.append(buf)
    raw = b"".join(res)
    # escape bytes that are not valid UTF-8
    text = raw.decode("utf-8", errors="surrogateescape")
    return "".join("\\x%02X" % (ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)


CASES = [
    ("u", "Hello, world!"),
    ("u", "Café naïve résumé"),
    ("u", "CAFÉ NAÏVE RÉSUMÉ"),
    ("u", "Wait...what?!? (yes) [no] {maybe} \"quoted\" -- em—dash…"),
    ("u", "我爱北京天安门"),
    ("u", "東京タワーに行きました"),  # kanji split, kana words; が-like kana lose dakuten via NFD
    ("u", "ひらがな カタカナ がぎぐ"),
    ("u", "한국어 텍스트"),  # Hangul syllables decompose to jamo under NFD
    ("u", "3.14 1,000 2023-01-15 $5.99 50%"),
    ("u", "a" * 100),
    ("u", "a" * 101),
    ("u", "b" + "é" * 99),          # 100 code points: segmented
    ("u", "b" + "e\u0301" * 99),    # 199 raw code points, 100 after stripping Mn: segmented
    ("u", "bb" + "e\u0301" * 99),   # 101 after stripping: [UNK]
    ("u", "ThE QuIcK BrOwN FoX JuMpS"),
    ("u", "ctrl\x01\x02chars\x7f here\x0b\x0cand\x1fthere"),
    ("u", "zero\u200bwidth\u200djoiner\ufeffbom\u00adsoft"),
    ("u", "emoji 😀 🎉 test 👍🏽 ok"),
    ("u", "tab\there\nnewline\r\nwindows  \t  spaces"),
    ("u", "the [MASK] sat on the [mask] . [CLS] x [SEP] [PAD][UNK] [Mask]"),
    ("u", "a[MASK]b[MASK][MASK]c"),
    ("u", "don't it's rock'n'roll O'Neil’s"),
    ("u", "Übermäßig Ærøskøbing Straße İstanbul ΟΔΟΣ Σίσυφος"),
    ("u", "Tiếng Việt có dấu ở đây"),
    ("u", "ﬁne ＦＵＬＬＷＩＤＴＨ ２０２４ Kelvin\u212a Ω"),
    ("u", "nbsp\u00a0ideo\u3000space\u2028line\u2029para\u0085nel"),
    ("u", "private\ue000use unassigned\u0378x null\x00byte repl\ufffdchar"),
    ("u", "invalid\xff\xfeutf8 \xe2\x82 trunc"),  # bytes, see below
    ("u", "unaffable unbelievably antidisestablishmentarianism"),
    ("u", "¿Qué? ¡Sí! «guillemets» „Anführung“ 『かぎ』 【括弧】 。、"),
    ("u", "\U0002B820\U0002B821 \U0002B920\U0002B921 \U00020000"),
    ("u", "math: x² + y³ = z½, ∑∫√∞ ≠ ≤"),
    ("u", ""),
    ("u", "   \t\n  "),
    ("u", "email@example.com http://x.org/a_b?c=d#e"),
    ("c", "Hello World CAFÉ Café naïve"),
    ("c", "the [MASK] and [mask] İ"),
    ("c", "北京 Tiếng Việt"),
]

# which cases are given as raw bytes (latin-1 escapes meaning single bytes)
BYTE_CASES = {"invalid\xff\xfeutf8 \xe2\x82 trunc"}


def load_vocab(path):
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            tok = line.rstrip("\n")
            if tok not in vocab:
                vocab[tok] = i
    return vocab


def main():
    vocab = load_vocab(sys.argv[1])
    w = sys.stdout.write
    w("# Expected bert-base-uncased WordPiece ids, written by scripts/ref_wordpiece.py\n")
    w("# (an independent Python implementation; Unicode %s). Format: see the script.\n"
      % unicodedata.unidata_version)
    for mode, text in CASES:
        if text in BYTE_CASES:
            raw = text.encode("latin-1")
        else:
            raw = text.encode("utf-8")
        toks = tokenize(raw.decode("utf-8", errors="replace"), vocab, mode == "u")
        ids = [vocab[t] for t in toks]
        w("%s\t%s\t%s\t# %s\n" % (mode, escape(raw), " ".join(map(str, ids)), " ".join(toks)))


if __name__ == "__main__":
    main()
