#!/usr/bin/python3
"""gen_learn_data.py - a synthetic task for the learning tests on the tiny GPT-2.

Each sentence names one thing; the label says whether it is an animal or a
fruit. The frozen random tiny model knows nothing of this, so a manual prompt
scores near chance; the rule must be carried by what is trained (the virtual
tokens, and the linear head). Every word is a single token of the tiny
vocabulary (scripts/tiny_bpe.py). Deterministic.
Writes tests/fixtures/learn/{train,dev}.jsonl.
"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "learn")
ANIMALS = ["cat", "dog"]
FRUITS = ["apple", "banana"]
ADJ = ["big", "small", "red", "blue", "green", "happy", "sad", "good", "bad", "very big",
       "not small", "very red"]
FRAMES = ["the {t} is {a}", "a {a} {t}", "the {a} {t} is good", "this {t} was {a}",
          "that {t} is not {a}", "the {t} and the {t2} are {a}"]


def make(rng, n):
    rows = []
    for _ in range(n):
        label = rng.choice(["animal", "fruit"])
        thing = rng.choice(ANIMALS if label == "animal" else FRUITS)
        other = rng.choice(ANIMALS if label == "animal" else FRUITS)
        s = rng.choice(FRAMES).format(t=thing, t2=other, a=rng.choice(ADJ))
        rows.append({"sentence": s, "label": label})
    return rows


def main():
    rng = random.Random(7)
    os.makedirs(OUT, exist_ok=True)
    for name, n in [("train", 96), ("dev", 48)]:
        with open(os.path.join(OUT, f"{name}.jsonl"), "w") as f:
            for r in make(rng, n):
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
