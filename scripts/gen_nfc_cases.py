#!/usr/bin/python3
"""gen_nfc_cases.py - texts and whether each is NFC, per Python's
unicodedata.is_normalized("NFC", text): the oracle of tests/test_nfc.c.
Seeded random strings over a pool of characters that exercise the check:
precomposed and decomposed accents, marks out of canonical order, blocked and
unblocked marks, Hangul jamo and syllables (LV, LVT), Indic two-part vowels,
nukta (composing and composition-excluded), Quick_Check = No characters,
CJK, Arabic with harakat, emoji.
Usage: /usr/bin/python3 scripts/gen_nfc_cases.py > tests/fixtures/bpe/nfc_cases.txt
"""
import random
import unicodedata

POOL = ["a", "e", "A", " ", "\u00e9", "\u00ea", "\u1ebf", "\u0301", "\u0302", "\u0323",
        "\u0316", "\u0308", "\u030a", "\u0327", "\u1100", "\u1161", "\u11a8", "\uac00", "\uac01",
        "\u0995", "\u09be", "\u09c7", "\u09d7", "\u0b95", "\u0bc6", "\u0bbe", "\u0928", "\u0915",
        "\u093c", "\u212b", "\u0344", "\u2126", "\u4f60", "\u597d", "\u0628", "\u064e", "\u0651",
        "\U0001F600", "\u05d1", "\u05bc", "\u05b7", "\u0c46", "\u0c56", "\u3099", "\u304b",
        "\u0e01", "\u0e48", "\u0e34", "Z", "\n"]


def main():
    rng = random.Random(21)
    seen = set()
    fixed = ["Hello", "caf\u00e9", "cafe\u0301", "\u1ec7", "\u00ea\u0323", "\u1eb9\u0302",
             "a\u0323\u0301", "a\u0301\u0323", "\uac00\u11a8", "\uac01\u11a8", "\u1100\u1161",
             "\u09c7\u09be", "\u0995\u09be", "\u0928\u093c", "\u0915\u093c", "\u212b", "\u0301x",
             "\u4f60\u597d", "\u0628\u064e\u0651", "\u0628\u0651\u064e"]
    out = list(fixed)
    while len(out) < 2000:
        s = "".join(rng.choice(POOL) for _ in range(rng.randint(1, 8)))
        if s not in seen:
            seen.add(s)
            out.append(s)
    for s in out:
        print("%s\t%d" % (s.encode("utf-8").hex(), int(unicodedata.is_normalized("NFC", s))))


if __name__ == "__main__":
    main()
