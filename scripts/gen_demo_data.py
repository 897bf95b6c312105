"""gen_demo_data.py - the demo task for `make demo`: "who did it?" in the
stories260K model's own domain (our own sentence templates).

Each example is two short story sentences: Lily and Tim do something
together, then "She" or "He" does something. The label is the one who did
the second thing: "Lily" for She, "Tim" for He. The order of the two names
is random, so the first or last name mentioned tells nothing.

    {"sentence": "Tim and Lily went to the park. She found a shiny rock.", "label": "Lily"}

Label words " Lily" and " Tim" are single tokens of the stories260K
vocabulary in their leading-space form (tok512.bin has only 512 tokens: " sad",
" cat", " dog", " ball", " red", " park" are NOT single tokens; " happy",
" big", " mom", " Lily", " Tim", " Timmy", " friend", " little" are).

Data: `python3 scripts/gen_demo_data.py` (stdlib only, deterministic) writes
examples/data/stories/{train,dev}.jsonl. Dev uses second-sentence events that
never occur in train, so no sentence is shared.

Measurement: `/usr/bin/python3 scripts/gen_demo_data.py --measure` (PyTorch)
scores manual templates and P-tunes the frozen model with templates in
ptune's syntax, rendered exactly as src/prompt/template.c does:
  - BOS first; literal text and field values between markers are joined into
    one run and tokenized together; the first run that is tokenized gets the
    SentencePiece dummy space prefix, every later run none;
  - whitespace at the end of a run just before a marker is dropped; before
    [MASK] it means the label word is scored in its leading-space form;
  - virtual tokens [P] / [P*n] take real positions;
  - causal model: the answer is predicted at the last position before [MASK];
    score = the LM head's logit of each label word there; loss = cross-entropy
    over the label words; prediction = argmax over the label words.
Training follows `ptune train` defaults unless set: AdamW (weight decay 0.01,
betas 0.9/0.999, eps 1e-8), linear decay of the rate to 0 at the last step
(no warm-up), gradient norm clipped at 1, embedding encoder = trainable
(S, d) table initialised N(0,1), lstm encoder as DESIGN.md section 2.
"""

import argparse
import json
import os
import random
import re
import sys

NAMES = ("Lily", "Tim")
PRONOUN = {"Lily": "She", "Tim": "He"}

TOGETHER = [
    "went to the park", "played in the garden", "walked to the shop",
    "sat by the pond", "went to the beach", "ran in the yard",
    "looked at the sky", "played in the snow", "went to the zoo",
    "baked a cake", "read a book", "built a sand castle",
    "went for a walk", "played a game", "visited grandma",
    "had a picnic",
]

EVENTS_TRAIN = [
    "found a shiny rock", "fell down and cried", "saw a big dog",
    "ate a red apple", "lost a toy", "hugged the cat", "found a little bird",
    "laughed and smiled", "jumped very high", "picked a pretty flower",
    "drew a big sun", "sang a happy song", "climbed a tree",
    "dropped the ball", "was very tired", "got a new hat",
    "shared a cookie", "made a new friend", "kicked the ball",
    "fed the ducks", "heard a loud noise", "ran very fast",
]

EVENTS_DEV = [
    "saw a rainbow", "took a nap", "splashed in the water",
    "found a big box", "helped mom", "wanted to go home",
    "painted a picture", "ate some cake",
]


def make(events, n, rng):
    combos = [(a, e, first, who) for a in TOGETHER for e in events
              for first in NAMES for who in NAMES]
    rng.shuffle(combos)
    # balanced labels
    out = {n_: [] for n_ in NAMES}
    for a, e, first, who in combos:
        if len(out[who]) < n // 2:
            other = NAMES[1] if first == NAMES[0] else NAMES[0]
            s = "%s and %s %s. %s %s." % (first, other, a, PRONOUN[who], e)
            out[who].append({"sentence": s, "label": who})
    ex = out[NAMES[0]] + out[NAMES[1]]
    rng.shuffle(ex)
    return ex


def gen(outdir):
    rng = random.Random(20240607)
    train = make(EVENTS_TRAIN, 320, rng)
    dev = make(EVENTS_DEV, 100, rng)
    assert not {e["sentence"] for e in train} & {e["sentence"] for e in dev}
    os.makedirs(outdir, exist_ok=True)
    for name, rows in (("train", train), ("dev", dev)):
        with open(os.path.join(outdir, name + ".jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print("wrote %d train, %d dev examples to %s" % (len(train), len(dev), outdir))
    return train, dev


# ----------------------------------------------------------------------------
# measurement (PyTorch)

_MARK = re.compile(r"\[P\]|\[P\*(\d+)\]|\[MASK\]|\{(\w+)\}|\{\{|\}\}")


def parse_template(src):
    """-> list of ("text", s) | ("field", name) | ("virt", n) | ("mask",)."""
    segs, pos = [], 0
    for m in _MARK.finditer(src):
        if m.start() > pos:
            segs.append(("text", src[pos:m.start()]))
        tok = m.group(0)
        if tok == "[P]":
            segs.append(("virt", 1))
        elif m.group(1):
            segs.append(("virt", int(m.group(1))))
        elif tok == "[MASK]":
            segs.append(("mask",))
        elif m.group(2):
            segs.append(("field", m.group(2)))
        else:
            segs.append(("text", tok[0]))
        pos = m.end()
    if pos < len(src):
        segs.append(("text", src[pos:]))
    return segs


_CACHE = {}


def render(segs, values, tok):
    """-> ids (-1 at virtual tokens), virtual positions, answer position, mask_space."""
    key = (repr(segs), tuple(sorted(values.items())))
    if key not in _CACHE:
        _CACHE[key] = render_uncached(segs, values, tok)
    return _CACHE[key]


def render_uncached(segs, values, tok):
    encode, pieces, scores = tok
    ids, virt, run = [1], [], ""
    first_text, answer, mask_space = True, -1, False
    for g in segs + [None]:
        if g and g[0] == "text":
            run += g[1]
            continue
        if g and g[0] == "field":
            run += values[g[1]]
            continue
        text, ws = run, False
        if g:
            stripped = text.rstrip(" \t\n\r\v\f")
            ws, text = stripped != text, stripped
        if text:
            ids += encode(text, pieces, scores, prefix=first_text)
            first_text = False
        run = ""
        if g is None:
            break
        if g[0] == "virt":
            for _ in range(g[1]):
                virt.append(len(ids))
                ids.append(-1)
        else:
            mask_space, answer = ws, len(ids) - 1
    assert answer >= 0
    return ids, virt, answer, mask_space


def label_id(word, mask_space, tok):
    encode, pieces, scores = tok
    ids = encode((" " if mask_space else "") + word, pieces, scores, prefix=False)
    assert len(ids) == 1, "label %r is %d tokens" % (word, len(ids))
    return ids[0]


class Batch:
    def __init__(self, rows, tmpl, tok, labels):
        import torch
        segs = parse_template(tmpl)
        rend = [render(segs, r, tok) for r in rows]
        self.T = max(len(r[0]) for r in rend)
        B = len(rows)
        self.ids = torch.zeros(B, self.T, dtype=torch.long)
        self.virt = torch.zeros(B, self.T, dtype=torch.bool)
        self.vidx = torch.zeros(B, self.T, dtype=torch.long)
        self.answer = torch.tensor([r[2] for r in rend])
        self.y = torch.tensor([labels.index(r["label"]) for r in rows])
        self.S = len(rend[0][1])
        for b, (ids, virt, _, _) in enumerate(rend):
            for t, i in enumerate(ids):
                if i >= 0:
                    self.ids[b, t] = i
            for k, t in enumerate(virt):
                self.virt[b, t] = True
                self.vidx[b, t] = k
        self.label_ids = [label_id(l, rend[0][3], tok) for l in labels]
        self.max_len = max(len(r[0]) for r in rend)


def scores(cfg, w, batch, h):
    """label-word logits (B, n_labels); h (S, d) virtual-token embeddings or None."""
    import torch
    from ref_stories import forward_hidden
    x = w["tok_emb"][batch.ids]                       # (B, T, d)
    if batch.S:
        x = torch.where(batch.virt[..., None], h[batch.vidx], x)
    hid = forward_hidden(cfg, w, x)                   # (B, T, d)
    at = hid[torch.arange(len(batch.y)), batch.answer]  # (B, d)
    return at @ w["wcls"][batch.label_ids].T          # (B, n_labels)


class LSTMEncoder:
    def __init__(self, S, d, gen):
        import torch
        self.emb = torch.nn.Embedding(S, d)
        self.lstm = torch.nn.LSTM(d, d // 2, num_layers=2, bidirectional=True, batch_first=True)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.ReLU(), torch.nn.Linear(d, d))
        self.params = list(self.emb.parameters()) + list(self.lstm.parameters()) + \
            list(self.mlp.parameters())

    def __call__(self):
        return self.mlp(self.lstm(self.emb.weight[None])[0])[0]


class EmbEncoder:
    def __init__(self, S, d, gen):
        import torch
        self.emb = torch.nn.Embedding(S, d)
        self.params = list(self.emb.parameters())

    def __call__(self):
        return self.emb.weight


def evaluate(cfg, w, rows, tmpl, tok, labels, h=None):
    import torch
    with torch.no_grad():
        b = Batch(rows, tmpl, tok, labels)
        s = scores(cfg, w, b, h)
        pred = s.argmax(-1)
        return float((pred == b.y).float().mean()), pred.bincount(minlength=len(labels)).tolist()


def ptune(cfg, w, train, dev, tmpl, tok, labels, encoder="embedding", lr=1e-2, steps=300,
          batch=16, wd=0.01, seed=0, log=False):
    import torch
    torch.manual_seed(seed)
    S = sum(g[1] for g in parse_template(tmpl) if g[0] == "virt")
    enc = (LSTMEncoder if encoder == "lstm" else EmbEncoder)(S, cfg["dim"], None)
    opt = torch.optim.AdamW(enc.params, lr=lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / steps)
    rng = random.Random(seed)
    order, k = [], 0
    for step in range(steps):
        rows = []
        while len(rows) < batch:
            if k >= len(order):
                order = list(range(len(train)))
                rng.shuffle(order)
                k = 0
            rows.append(train[order[k]])
            k += 1
        b = Batch(rows, tmpl, tok, labels)
        loss = torch.nn.functional.cross_entropy(scores(cfg, w, b, enc()), b.y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(enc.params, 1.0)
        opt.step()
        sched.step()
        if log and (step + 1) % 50 == 0:
            acc, _ = evaluate(cfg, w, dev, tmpl, tok, labels, enc().detach())
            print("  step %d loss %.3f dev %.3f" % (step + 1, float(loss), acc))
    with torch.no_grad():
        h = enc()
    return evaluate(cfg, w, dev, tmpl, tok, labels, h)[0], evaluate(cfg, w, train, tmpl, tok, labels, h)[0]


def measure(train, dev, model_dir, args):
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from ref_spm import encode, load_tok
    from ref_stories import load_bin
    torch.set_num_threads(2)
    cfg, w = load_bin(os.path.join(model_dir, "stories260K.bin"))
    pieces, sc = load_tok(os.path.join(model_dir, "tok512.bin"))
    tok = (encode, pieces, sc)
    labels = list(NAMES)
    for t in args.manual:
        print("manual %-55r dev %.3f (pred counts %s) train %.3f" % (
            t, *evaluate(cfg, w, dev, t, tok, labels), evaluate(cfg, w, train, t, tok, labels)[0]))
    for t in args.ptune:
        for enc in args.encoders:
            for seed in range(args.seeds):
                d, tr = ptune(cfg, w, train, dev, t, tok, labels, enc, args.lr, args.steps,
                              args.batch, args.wd, seed, args.log)
                print("ptune %-40r %-9s lr %g steps %d seed %d: dev %.3f train %.3f" % (
                    t, enc, args.lr, args.steps, seed, d, tr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="examples/data/stories")
    ap.add_argument("--measure", action="store_true")
    ap.add_argument("--model-dir", default="../shared/models/stories260K")
    ap.add_argument("--manual", nargs="*", default=[
        "{sentence} It was [MASK]",
        "{sentence} The one who did it was [MASK]",
        "{sentence} Who was it? It was [MASK]"])
    ap.add_argument("--ptune", nargs="*", default=["{sentence} [P*8] [MASK]"])
    ap.add_argument("--encoders", nargs="*", default=["embedding", "lstm"])
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--log", action="store_true")
    args = ap.parse_args()
    train, dev = gen(args.out)
    if args.measure:
        measure(train, dev, args.model_dir, args)


if __name__ == "__main__":
    main()
