"""gguf_write.py - a small GGUF (v2/v3) writer for test fixtures.

Usage from another script (run with /usr/bin/python3):

    import sys; sys.path.insert(0, "scripts")
    from gguf_write import *
    write_gguf("x.gguf",
               kv=[("general.architecture", STRING, "llama"),
                   ("llama.block_count", UINT32, 2),
                   ("tokenizer.ggml.tokens", ARRAY, (STRING, ["a", "b"])),
                   ("nested", ARRAY, (ARRAY, [(INT8, [1, 2]), (INT8, [])]))],
               tensors=[("w", torch_or_numpy_array, GGML_F16)])

Values: scalars as Python numbers/bools, STRING as str (UTF-8) or bytes,
ARRAY as (element_type, list) where elements of an ARRAY-of-ARRAY are again
(element_type, list) pairs. Tensors are given in row-major (PyTorch) shape;
GGUF stores the dimensions reversed (ne[0] fastest). Supported tensor types:
F32, F16, BF16 (round to nearest even) and Q8_0 (blocks of 32 along the last
dimension: f16 scale d = max|x| / 127, int8 q = round(x / d)).

`dequantized(array, ggml_type)` returns the float32 values a correct reader
must produce for that tensor (the rounding the writer applied, done here in
numpy), so tests can compare a C reader against it.
"""

import struct

import numpy as np

# metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = (
    range(13))
# ggml tensor types
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16 = 0, 1, 8, 30

_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
QK8_0 = 32


def _str(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def _value(t, v):
    if t in _SCALAR_FMT:
        return struct.pack(_SCALAR_FMT[t], v)
    if t == STRING:
        return _str(v)
    if t == ARRAY:
        et, items = v
        out = [struct.pack("<IQ", et, len(items))]
        out += [_value(et, x) for x in items]
        return b"".join(out)
    raise ValueError("unknown GGUF value type %r" % (t,))


def _to_numpy(a):
    if hasattr(a, "detach"):  # torch tensor
        a = a.detach().cpu().float().numpy()
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def _bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even (NaN kept quiet)."""
    b = x.astype("<f4").view("<u4").astype(np.uint64)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    nan = np.isnan(x)
    rounded[nan] = (b[nan] >> 16) | 0x40
    return rounded.astype("<u2")


def _q8_0(x):
    """float32 (..., K) with K % 32 == 0 -> (bytes, dequantized float32)."""
    if x.shape[-1] % QK8_0:
        raise ValueError("Q8_0 needs the last dimension to be a multiple of 32")
    blocks = x.reshape(-1, QK8_0).astype(np.float32)
    amax = np.abs(blocks).max(axis=1)
    d = (amax / 127.0).astype(np.float16)
    d32 = d.astype(np.float32)
    inv = np.where(d32 > 0, 1.0 / np.where(d32 > 0, d32, 1), 0.0)
    q = np.clip(np.round(blocks * inv[:, None]), -127, 127).astype(np.int8)
    raw = b"".join(d[i:i + 1].astype("<f2").tobytes() + q[i].tobytes()
                   for i in range(blocks.shape[0]))
    deq = (d32[:, None] * q.astype(np.float32)).reshape(x.shape)
    return raw, deq


def tensor_bytes(a, ggml_type):
    x = _to_numpy(a)
    if ggml_type == GGML_F32:
        return x.astype("<f4").tobytes()
    if ggml_type == GGML_F16:
        return x.astype("<f2").tobytes()
    if ggml_type == GGML_BF16:
        return _bf16_bits(x.ravel()).tobytes()
    if ggml_type == GGML_Q8_0:
        return _q8_0(x)[0]
    raise ValueError("unsupported ggml type %r" % (ggml_type,))


def dequantized(a, ggml_type):
    """The float32 values a reader must recover from tensor_bytes(a, ggml_type)."""
    x = _to_numpy(a)
    if ggml_type == GGML_F32:
        return x.copy()
    if ggml_type == GGML_F16:
        return x.astype(np.float16).astype(np.float32)
    if ggml_type == GGML_BF16:
        bits = _bf16_bits(x.ravel()).astype(np.uint32) << 16
        return bits.astype("<u4").view("<f4").reshape(x.shape)
    if ggml_type == GGML_Q8_0:
        return _q8_0(x)[1]
    raise ValueError("unsupported ggml type %r" % (ggml_type,))


def _pad(n, align):
    return (align - n % align) % align


def gguf_bytes(kv, tensors=(), version=3, alignment=None):
    """The bytes of a GGUF file. alignment: if given and kv has no
    general.alignment, one is added (UINT32). Otherwise general.alignment from
    kv (or the default 32) is used for padding and tensor offsets."""
    kv = list(kv)
    keys = [k for k, _, _ in kv]
    if alignment is not None and "general.alignment" not in keys:
        kv.append(("general.alignment", UINT32, alignment))
    align = 32
    for k, t, v in kv:
        if k == "general.alignment":
            align = int(v)
    if version not in (2, 3):
        raise ValueError("this writer writes GGUF v2 and v3 only")
    out = [b"GGUF", struct.pack("<IQQ", version, len(tensors), len(kv))]
    for k, t, v in kv:
        out.append(_str(k) + struct.pack("<I", t) + _value(t, v))
    blobs, offset = [], 0
    for name, a, gt in tensors:
        shape = tuple(_to_numpy(a).shape) or (1,)
        data = tensor_bytes(a, gt)
        ne = list(reversed(shape))
        out.append(_str(name) + struct.pack("<I", len(ne)) +
                   b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", gt, offset))
        blobs.append(data + b"\0" * _pad(len(data), align))
        offset += len(blobs[-1])
    head = b"".join(out)
    return head + b"\0" * _pad(len(head), align) + b"".join(blobs)


def write_gguf(path, kv, tensors=(), version=3, alignment=None):
    data = gguf_bytes(kv, tensors, version=version, alignment=alignment)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)
