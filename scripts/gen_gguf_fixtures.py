"""gen_gguf_fixtures.py - synthetic GGUF files for tests/test_gguf.c.

Run from the repository root with /usr/bin/python3 (needs torch + numpy):
    /usr/bin/python3 scripts/gen_gguf_fixtures.py

Writes tests/fixtures/gguf/:
  types_v3.gguf   every metadata value type, arrays of each, string arrays,
                  nested arrays; F32/F16/BF16/Q8_0 tensors of 1-4 dims
  align_v2.gguf   GGUF v2 with general.alignment = 128 and the same tensors
  ref.safetensors the float32 values a correct reader must produce for each
                  tensor (torch source values rounded the way the writer
                  stored them), keyed by tensor name
The scalar metadata values are spelled out below and repeated in
tests/test_gguf.c.
"""

import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_write import (ARRAY, BOOL, FLOAT32, FLOAT64, GGML_BF16, GGML_F16, GGML_F32,  # noqa: E402
                        GGML_Q8_0, INT8, INT16, INT32, INT64, STRING, UINT8, UINT16, UINT32,
                        UINT64, dequantized, write_gguf)

OUT = "tests/fixtures/gguf"


def tensors():
    g = torch.Generator().manual_seed(1234)
    f16 = torch.randn(4, 5, generator=g) * 3
    # half specials: subnormal, zero, -0, max, inf, tiny overflow to inf
    f16[0, :5] = torch.tensor([6e-8, 0.0, -0.0, 65504.0, float("inf")])
    bf16 = torch.randn(3, 7, generator=g) * 100
    bf16[0, :3] = torch.tensor([1e-40, -3.0e38, float("-inf")])
    q8 = torch.randn(2, 64, generator=g)
    q8[1, :32] = 0.0  # a block whose scale is 0
    return [
        ("t.f32", torch.randn(2, 3, generator=g), GGML_F32),
        ("t.f16", f16, GGML_F16),
        ("t.bf16", bf16, GGML_BF16),
        ("t.q8_0", q8, GGML_Q8_0),
        ("t.3d", torch.randn(2, 3, 4, generator=g), GGML_F32),
        ("t.4d", torch.randn(2, 1, 3, 32, generator=g), GGML_Q8_0),
        ("t.vec", torch.randn(5, generator=g), GGML_F16),
    ]


def metadata():
    return [
        ("general.architecture", STRING, "test"),
        ("v.u8", UINT8, 200),
        ("v.i8", INT8, -5),
        ("v.u16", UINT16, 60000),
        ("v.i16", INT16, -30000),
        ("v.u32", UINT32, 4294967295),
        ("v.i32", INT32, -2000000000),
        ("v.f32", FLOAT32, 3.5),
        ("v.bool", BOOL, True),
        ("v.str", STRING, "héllo ▁world"),
        ("v.u64", UINT64, 2**63 + 5),
        ("v.i64", INT64, -(2**40)),
        ("v.f64", FLOAT64, -0.125),
        ("a.u8", ARRAY, (UINT8, [1, 2, 255])),
        ("a.i32", ARRAY, (INT32, [-1, 0, 7])),
        ("a.f32", ARRAY, (FLOAT32, [0.5, -2.0])),
        ("a.bool", ARRAY, (BOOL, [True, False, True])),
        ("a.str", ARRAY, (STRING, ["a", "", "▁the"])),
        ("a.empty", ARRAY, (INT64, [])),
        ("a.nested", ARRAY, (ARRAY, [(INT16, [1, 2]), (STRING, ["x"]), (ARRAY, [(UINT8, [9])])])),
        ("a.f64", ARRAY, (FLOAT64, [1.25])),
    ]


def write_safetensors(path, named):
    header, blobs, off = {}, [], 0
    for name, arr in named:
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    os.makedirs(OUT, exist_ok=True)
    ts = tensors()
    n3 = write_gguf(os.path.join(OUT, "types_v3.gguf"), metadata(), ts, version=3)
    n2 = write_gguf(os.path.join(OUT, "align_v2.gguf"),
                    [("general.architecture", STRING, "test"), ("v.i32", INT32, -2000000000)], ts,
                    version=2, alignment=128)
    # the writer's own roundings must agree with torch's
    for name, a, t in ts:
        if t in (GGML_F16, GGML_BF16):
            dt = torch.float16 if t == GGML_F16 else torch.bfloat16
            want = a.to(dt).float().numpy()
            got = dequantized(a, t)
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), name
    write_safetensors(os.path.join(OUT, "ref.safetensors"),
                      [(name, dequantized(a, t)) for name, a, t in ts])
    print("wrote types_v3.gguf (%d bytes), align_v2.gguf (%d bytes), ref.safetensors" % (n3, n2))


if __name__ == "__main__":
    main()
