#!/usr/bin/python3
"""gen_fingerprint.py - the model fingerprint as the README defines it, computed
independently of the C code: 64-bit FNV-1a (offset basis 14695981039346656037,
prime 1099511628211) over the little-endian float32 bytes of the (V, d) word
embedding matrix, row by row. Reads the safetensors files with numpy alone and
writes tests/fixtures/fingerprint/expected.txt: one "MODEL_DIR TENSOR HEX" line
per fixture model, and the same with ptune 0.1's wrong basis (last digit
missing, 1469598103934665603) as "MODEL_DIR old HEX".
"""
import json
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = [("tests/fixtures/gpt2/tiny", ["wte.weight", "transformer.wte.weight"]),
          ("tests/fixtures/bert/tiny", ["bert.embeddings.word_embeddings.weight",
                                        "embeddings.word_embeddings.weight"])]
DT = {"F32": np.float32, "F16": np.float16, "BF16": None}


def read_tensor(path, names):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        base = 8 + n
        for name in names:
            if name in hdr:
                t = hdr[name]
                a, b = t["data_offsets"]
                f.seek(base + a)
                raw = f.read(b - a)
                if t["dtype"] == "F32":
                    return name, np.frombuffer(raw, "<f4").reshape(t["shape"])
                if t["dtype"] == "F16":
                    return name, np.frombuffer(raw, "<f2").astype(np.float32).reshape(t["shape"])
                if t["dtype"] == "BF16":
                    u = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
                    return name, u.view(np.float32).reshape(t["shape"])
    raise SystemExit(f"{path}: none of {names}")


def fnv1a(data, basis):
    h = basis
    for byte in data:
        h ^= byte
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    out_dir = os.path.join(ROOT, "tests", "fixtures", "fingerprint")
    os.makedirs(out_dir, exist_ok=True)
    lines = []
    for d, names in MODELS:
        name, w = read_tensor(os.path.join(ROOT, d, "model.safetensors"), names)
        data = np.ascontiguousarray(w, dtype="<f4").tobytes()
        lines.append(f"{d} new {fnv1a(data, 14695981039346656037)}")
        lines.append(f"{d} old {fnv1a(data, 1469598103934665603)}")
    with open(os.path.join(out_dir, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
