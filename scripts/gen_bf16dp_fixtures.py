"""gen_bf16dp_fixtures.py - numpy oracle for the bf16-arithmetic products (gemm_bf16.c).

Run:  /usr/bin/python3 scripts/gen_bf16dp_fixtures.py
Writes tests/fixtures/bf16dp/bf16dp.safetensors, read by tests/test_bf16dp.c.

Written from the definition of the arithmetic, not from the C code:
  bf16(x)   round a float32 to its upper 16 bits, to nearest, ties to even
  hi, lo    hi = bf16(x), lo = bf16(x - hi)   (x - hi is exact in float32)
  product   W is bf16 (the test stores it widened: exact float32 values);
            every product of two bf16 is exact in float32; the sums here are
            float64, so the kernels may differ only by their float32
            accumulation.
Per case "<name>" (M, N, K odd, straddling the kernel's 8 x 32 tiles, 128
columns per task and 256 depth per block):
  forward   <name>.x (M, K), <name>.w (N, K) bf16 values, <name>.b (N) bias
            <name>.y1 = bf16(x) . w^T + b,  <name>.y2 = (hi + lo) . w^T + b,
            <name>.y = x . w^T + b (exact, for the accuracy report)
  backward  <name>.dy (M, N), <name>.dx0 (M, K) starting values,
            <name>.dx1 = dx0 + bf16(dy) . w, <name>.dx2 = dx0 + (hi + lo) . w,
            <name>.dx = dx0 + dy . w
Inputs are normal(0, 1) times 10^uniform(-2, 2) per row: no denormals (the
instruction treats those as zero), a spread of magnitudes.
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "bf16dp", "bf16dp.safetensors")

CASES = [("tiny", 1, 5, 3), ("odd", 13, 37, 29), ("edge", 9, 130, 257),
         ("mid", 67, 161, 515), ("wide", 40, 300, 96)]


def bf16(x):
    """float32 array -> float32 array holding the bf16 rounding (nearest, ties to even)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return r.astype(np.uint32).view(np.float32)


def split(x):
    hi = bf16(x)
    lo = bf16((x - hi).astype(np.float32))
    return hi, lo


def rows(rng, m, n):
    scale = 10.0 ** rng.uniform(-2, 2, size=(m, 1))
    return (rng.standard_normal((m, n)) * scale).astype(np.float32)


def write_f32_safetensors(path, tensors, metadata):
    """safetensors file of float32 tensors (numpy only: no torch needed here)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    rng = np.random.default_rng(15)
    t = {}
    for name, M, N, K in CASES:
        x = rows(rng, M, K)
        w = bf16((rng.standard_normal((N, K)) * 0.1).astype(np.float32))
        b = rng.standard_normal(N).astype(np.float32)
        dy = rows(rng, M, N)
        dx0 = rng.standard_normal((M, K)).astype(np.float32)
        w64 = w.astype(np.float64)
        hi, lo = split(x)
        t[name + ".x"], t[name + ".w"], t[name + ".b"] = x, w, b
        t[name + ".y1"] = hi.astype(np.float64) @ w64.T + b
        t[name + ".y2"] = (hi.astype(np.float64) + lo) @ w64.T + b
        t[name + ".y"] = x.astype(np.float64) @ w64.T + b
        dhi, dlo = split(dy)
        t[name + ".dy"], t[name + ".dx0"] = dy, dx0
        t[name + ".dx1"] = dx0 + dhi.astype(np.float64) @ w64
        t[name + ".dx2"] = dx0 + (dhi.astype(np.float64) + dlo) @ w64
        t[name + ".dx"] = dx0 + dy.astype(np.float64) @ w64
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_f32_safetensors(OUT, t, {"cases": ";".join(f"{n},{m},{nn},{k}" for n, m, nn, k in CASES)})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
