"""tiny_bpe.py - builds a small GPT-2-style byte-level BPE vocabulary (our own).

The 256 byte tokens (GPT-2's byte-to-unicode map, re-derived here), then merges
that spell out a fixed word list left to right, then <|endoftext|>. Every word
in WORDS becomes a single token, so templates and label words work in tests.
"""
import json

WORDS = [" great", " terrible", " good", " bad", " yes", " no", " It", " was", " the",
         " movie", " film", " is", " a", " red", " blue", " green", " cat", " dog", " and",
         " of", " to", " in", " Answer", " answer", " The", " This", " that", " A", " B",
         " happy", " sad", " color", " animal", " sky", " grass", " fire", "The", "This",
         " apple", " banana", " fruit", " car", " bus", " big", " small", " not", " very"]


def bytes_to_unicode():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + \
        list(range(0xAE, 0xFF + 1))
    table = {}
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build():
    b2u = bytes_to_unicode()
    vocab = {}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    merges = []
    for w in WORDS:
        chars = [b2u[b] for b in w.encode()]
        cur = chars[0]
        for ch in chars[1:]:
            pair = (cur, ch)
            cur = cur + ch
            if pair not in merges:
                merges.append(pair)
            if cur not in vocab:
                vocab[cur] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


def write(dirpath):
    vocab, merges = build()
    with open(f"{dirpath}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(f"{dirpath}/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    return vocab
