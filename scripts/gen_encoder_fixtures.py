#!/usr/bin/python3
"""gen_encoder_fixtures.py - PyTorch reference for the prompt encoders and optimizers.

Writes tests/fixtures/encoder/:
  {embedding,mlp,lstm}.safetensors
      parameters under PEFT's PromptEncoder names (embedding.weight,
      mlp_head.N.*, lstm_head.*), "R" (S, d), "h" (S, d) = encoder output,
      "grad.<name>" = d(sum(h * R))/d(param) for every parameter.
  optim.safetensors
      "p0", "g1", "g2" (n); for each of adamw, adam, sgd (lr 1e-2, weight decay
      0.01): "<kind>.p1", "<kind>.p2" = parameters after the first and second
      step. Clipping (torch.nn.utils.clip_grad_norm_, max_norm 1.0, over two
      tensors concatenated in C): "clip.g", "clip.g_clipped", "clip.norm";
      and "clip.small", a gradient with norm < 1 that must stay unchanged.

Run with Debian's PyTorch: /usr/bin/python3 scripts/gen_encoder_fixtures.py
"""
import json
import os
import struct

import torch

S, D, H = 5, 16, 12
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "encoder")


def write_safetensors(path, tensors):
    """tensors: dict name -> float32 tensor. Our own minimal writer."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"generator": "scripts/gen_encoder_fixtures.py", "torch": torch.__version__}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


class PromptEncoder(torch.nn.Module):
    """Same modules and names as PEFT's PromptEncoder (no dropout)."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.embedding = torch.nn.Embedding(S, D)
        if kind == "mlp":
            self.mlp_head = torch.nn.Sequential(
                torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Linear(H, H), torch.nn.ReLU(),
                torch.nn.Linear(H, D))
        elif kind == "lstm":
            self.lstm_head = torch.nn.LSTM(input_size=D, hidden_size=D // 2, num_layers=2,
                                           bidirectional=True, batch_first=True)
            self.mlp_head = torch.nn.Sequential(
                torch.nn.Linear(D, D), torch.nn.ReLU(), torch.nn.Linear(D, D))

    def forward(self):
        x = self.embedding.weight.unsqueeze(0)  # (1, S, D): one sequence of length S
        if self.kind == "mlp":
            x = self.mlp_head(x)
        elif self.kind == "lstm":
            x = self.mlp_head(self.lstm_head(x)[0])
        return x[0]


def encoder_fixture(kind, seed):
    torch.manual_seed(seed)
    enc = PromptEncoder(kind)
    R = torch.randn(S, D)
    h = enc()
    (h * R).sum().backward()
    out = {name: p for name, p in enc.named_parameters()}
    out["R"] = R
    out["h"] = h
    for name, p in enc.named_parameters():
        out["grad." + name] = p.grad
    write_safetensors(os.path.join(OUT, kind + ".safetensors"), out)


def optim_fixture():
    torch.manual_seed(7)
    n = 64
    out = {"p0": torch.randn(n), "g1": torch.randn(n), "g2": 0.01 * torch.randn(n)}
    makers = {
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.01),
        "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=0.01),
        "sgd": lambda ps: torch.optim.SGD(ps, lr=1e-2, weight_decay=0.01),
    }
    for kind, make in makers.items():
        p = torch.nn.Parameter(out["p0"].clone())
        opt = make([p])
        p.grad = out["g1"].clone()
        opt.step()
        out[kind + ".p1"] = p.detach().clone()
        p.grad = out["g2"].clone()
        opt.step()
        out[kind + ".p2"] = p.detach().clone()

    # clipping over two parameter tensors (C sees them concatenated)
    a, b = torch.nn.Parameter(torch.zeros(10)), torch.nn.Parameter(torch.zeros(6))
    a.grad, b.grad = torch.randn(10), torch.randn(6)
    out["clip.g"] = torch.cat([a.grad, b.grad])
    norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    out["clip.g_clipped"] = torch.cat([a.grad, b.grad])
    out["clip.norm"] = norm.reshape(1)
    c = torch.nn.Parameter(torch.zeros(16))
    c.grad = 0.1 * torch.randn(16)
    out["clip.small"] = c.grad.clone()
    out["clip.small_norm"] = torch.nn.utils.clip_grad_norm_([c], max_norm=1.0).reshape(1)
    assert torch.equal(out["clip.small"], c.grad)
    write_safetensors(os.path.join(OUT, "optim.safetensors"), out)


def main():
    os.makedirs(OUT, exist_ok=True)
    encoder_fixture("embedding", 11)
    encoder_fixture("mlp", 12)
    encoder_fixture("lstm", 13)
    optim_fixture()
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)), "bytes")


if __name__ == "__main__":
    main()
