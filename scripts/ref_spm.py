"""ref_spm.py - an independent reference for the SentencePiece tokenizer of
stories260K: the greedy-score BPE of llama2.c's `encode`, re-implemented in
plain Python on the llama2.c tokenizer file (tok512.bin).

tok512.bin: int32 max_token_length, then for each token: float32 score,
int32 byte length, the bytes (spaces are stored as " ", not "▁").

Algorithm (as llama2.c does it):
  1. if the text is not empty, start with the id of " " (the dummy prefix);
  2. for each UTF-8 character: its id if the character is a token, else one
     token per byte, id = byte + 3 (<0x00> is id 3);
  3. repeat: over all adjacent pairs, find the one whose concatenated string
     is a token with the highest score (first such pair on ties) and replace
     the pair by that token; stop when no pair is a token.
`prefix=False` skips step 1 (not in llama2.c: used for PT_TOK_NO_PREFIX).

Writes tests/fixtures/spm/cases.txt, one case per line:
    <prefix 0|1> TAB <ids separated by spaces> TAB <text>
where the text escapes backslash, tab and newline as \\\\, \\t, \\n.

Run: python3 scripts/ref_spm.py [../shared/models/stories260K/tok512.bin]
"""

import os
import struct
import sys


def load_tok(path):
    data = open(path, "rb").read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off, pieces, scores = 4, [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n])
        scores.append(score)
        off += n
    return pieces, scores


def utf8_chars(b):
    """Split bytes like llama2.c: a character is a non-continuation byte plus
    up to 3 following continuation bytes (10xxxxxx)."""
    out, cur = [], b""
    for i, c in enumerate(b):
        if (c & 0xC0) != 0x80:
            cur = b""
        cur += bytes([c])
        nxt = b[i + 1] if i + 1 < len(b) else 0
        if (nxt & 0xC0) == 0x80 and len(cur) < 4:
            continue
        out.append(cur)
        cur = b""
    return out


def encode(text, pieces, scores, prefix=True):
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)  # first id wins for duplicates
    b = text.encode("utf-8")
    toks = []
    if prefix and b:
        toks.append(lookup[b" "])
    for ch in utf8_chars(b):
        if ch in lookup:
            toks.append(lookup[ch])
        else:
            toks.extend(c + 3 for c in ch)
    while True:
        best, best_i = None, -1
        for i in range(len(toks) - 1):
            tid = lookup.get(pieces[toks[i]] + pieces[toks[i + 1]])
            if tid is not None and (best is None or scores[tid] > scores[best]):
                best, best_i = tid, i
        if best is None:
            break
        toks[best_i:best_i + 2] = [best]
    return toks


CASES = [
    (1, "Once upon a time, there was a little girl named Lily."),
    (1, "She loved to play outside in the park with her friends."),
    (1, "One day, Tom found a big red ball under the tree. He was very happy!"),
    (1, "\"Can I play too?\" asked the cat."),
    (1, "The dog said, 'Let's go home.' They walked home together."),
    (1, "  two leading spaces"),
    (1, "trailing spaces   "),
    (1, "many     spaces    inside"),
    (1, " "),
    (1, "a"),
    (1, "!?.,;:()[]{}<>@#$%^&*-_=+/\\|~`"),
    (1, "In 2023 there were 365 days and 12 months, 3.14159."),
    (1, "line one\nline two\ttabbed"),
    (1, "caf\u00e9 na\u00efve r\u00e9sum\u00e9"),
    (1, "\u4e2d\u6587 and \u65e5\u672c\u8a9e"),
    (1, "emoji \U0001F600 and \U0001F436 dog"),
    (1, "<s> not special </s>"),
    # equal-score pairs: "lll" merges the leftmost "ll" first
    (1, "lll ppp ooo llll ooooo"),
    (0, "lll"),
    (1, ""),
    (0, "happy"),
    (0, " the cat"),
    (0, "\u00e9t\u00e9"),
]


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/models/stories260K/tok512.bin"
    pieces, scores = load_tok(path)
    # the byte-fallback rule (id = byte + 3) relies on this layout
    for b in range(256):
        assert pieces[b + 3] == b"<0x%02X>" % b, b
    os.makedirs("tests/fixtures/spm", exist_ok=True)
    with open("tests/fixtures/spm/cases.txt", "w", encoding="utf-8") as f:
        f.write("# made by scripts/ref_spm.py from stories260K tok512.bin (llama2.c encode)\n")
        for prefix, text in CASES:
            ids = encode(text, pieces, scores, prefix=bool(prefix))
            f.write("%d\t%s\t%s\n" % (prefix, " ".join(map(str, ids)), esc(text)))
    print("wrote %d cases" % len(CASES))


if __name__ == "__main__":
    main()
