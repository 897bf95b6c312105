#!/usr/bin/python3
"""ref_quant.py - an independent numpy dequantizer and quantizer for ggml's
block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K),
written from the GGUF block layouts, and the fixture generator for
tests/test_quant.c.

Everything is vectorized over blocks (or sub-blocks): the per-element loops
of the rules become whole-array float32 operations, one IEEE operation at a
time, and every sum runs element by element in float32 so that the order of
additions is the rule's (np.sum would sum pairwise).

    /usr/bin/python3 scripts/ref_quant.py gen tests/fixtures/quant
    /usr/bin/python3 scripts/ref_quant.py check     # round-trip errors

Fixture file <TYPE>.bin (little-endian):
    "PTQ1", u32 ggml type, u32 nd, u32 nq
    nd blocks (raw bytes), then their dequantized values (f32)
    nq blocks' worth of f32 inputs, then their quantized bytes
"""
import struct
import sys

import numpy as np

F32 = np.float32
QK = 256


def f16(raw2):
    """(..., 2) uint8 little-endian halves -> float32, exact."""
    u = raw2[..., 0].astype(np.uint16) | (raw2[..., 1].astype(np.uint16) << 8)
    return u.view(np.float16).astype(F32)


def f16_bytes(v):
    """float32 array -> (..., 2) uint8 of the nearest half (ties to even)."""
    u = np.asarray(v, dtype=F32).astype(np.float16).view(np.uint16)
    return np.stack([(u & 0xFF).astype(np.uint8), (u >> 8).astype(np.uint8)], axis=-1)


def u32(raw4):
    r = raw4.astype(np.uint32)
    return r[..., 0] | (r[..., 1] << 8) | (r[..., 2] << 16) | (r[..., 3] << 24)


def nearest(v):
    """ggml's nearest_int: add 1.5 * 2^23 in float32, read the mantissa."""
    t = (np.asarray(v, dtype=F32) + F32(12582912.0)).view(np.int32)
    return (t & 0x7FFFFF).astype(np.int64) - 0x400000


def trunc_clamp(v, lo, hi):
    """C's float -> int truncation, clamped to [lo, hi] (NaN -> lo)."""
    v = np.asarray(v, dtype=np.float64)
    t = np.trunc(np.where(np.isnan(v), lo, np.clip(v, lo, hi)))
    return t.astype(np.int64)


def first_absmax(x):
    """value (sign kept) of the first element of largest magnitude per row;
    +0.0 when every element is zero."""
    idx = np.argmax(np.abs(x), axis=1)
    v = x[np.arange(x.shape[0]), idx]
    return np.where(np.abs(v) > 0, v, F32(0)).astype(F32)


def first_min(x):
    return x[np.arange(x.shape[0]), np.argmin(x, axis=1)]


def first_max(x):
    return x[np.arange(x.shape[0]), np.argmax(x, axis=1)]


def run_max(v, axis_len):
    """max over a row by 'if (v > m) m = v' from m = +0.0"""
    m = np.zeros(v.shape[0], dtype=F32)
    for j in range(axis_len):
        m = np.where(v[:, j] > m, v[:, j], m)
    return m


# ------------------------------------------------------------ dequantization
# each takes (nb, bytes) uint8 and returns (nb, block) float32

def nibbles32(qs):
    """16 bytes -> 32 values: byte j gives element j (low) and j + 16 (high)"""
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int64)


def deq_q4_0(r):
    return (nibbles32(r[:, 2:18]) - 8).astype(F32) * f16(r[:, 0:2])[:, None]


def deq_q4_1(r):
    q = nibbles32(r[:, 4:20]).astype(F32)
    return q * f16(r[:, 0:2])[:, None] + f16(r[:, 2:4])[:, None]


def high_bits32(r4):
    """u32 -> 32 bits, bit e for element e"""
    return ((u32(r4)[:, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int64)


def deq_q5_0(r):
    q = nibbles32(r[:, 6:22]) | (high_bits32(r[:, 2:6]) << 4)
    return (q - 16).astype(F32) * f16(r[:, 0:2])[:, None]


def deq_q5_1(r):
    q = (nibbles32(r[:, 8:24]) | (high_bits32(r[:, 4:8]) << 4)).astype(F32)
    return q * f16(r[:, 0:2])[:, None] + f16(r[:, 2:4])[:, None]


def deq_q8_0(r):
    return r[:, 2:34].view(np.int8).astype(F32) * f16(r[:, 0:2])[:, None]


E = np.arange(QK)
# 2-bit fields of Q2_K / Q3_K: element e in byte 32 (e // 128) + e % 32 at
# bit 2 ((e % 128) // 32)
Q2_BYTE = 32 * (E // 128) + E % 32
Q2_SHIFT = 2 * ((E % 128) // 32)


def deq_q2_k(r):
    sc = r[:, 0:16].astype(np.int64)
    q = ((r[:, 16:80][:, Q2_BYTE] >> Q2_SHIFT) & 3).astype(F32)
    d, dmin = f16(r[:, 80:82])[:, None], f16(r[:, 82:84])[:, None]
    dl = d * (sc & 15).astype(F32)
    ml = dmin * (sc >> 4).astype(F32)
    return dl[:, E // 16] * q - ml[:, E // 16]


def q3_scales(s12):
    """Q3_K's 12 scale bytes -> 16 signed scales (-32..31), through the
    32-bit word shuffle of the layout"""
    a0, a1, t = u32(s12[:, 0:4]), u32(s12[:, 4:8]), u32(s12[:, 8:12])
    m1, m2 = np.uint32(0x03030303), np.uint32(0x0F0F0F0F)
    w = [(a0 & m2) | (((t >> 0) & m1) << 4),
         (a1 & m2) | (((t >> 2) & m1) << 4),
         ((a0 >> 4) & m2) | (((t >> 4) & m1) << 4),
         ((a1 >> 4) & m2) | (((t >> 6) & m1) << 4)]
    words = np.stack(w, axis=1).astype('<u4')
    return words.view(np.uint8).reshape(-1, 16).astype(np.int64) - 32


def deq_q3_k(r):
    low = (r[:, 32:96][:, Q2_BYTE] >> Q2_SHIFT) & 3
    hbit = (r[:, 0:32][:, E % 32] >> (E // 32)) & 1
    q = (low.astype(np.int64) - 4 * (1 - hbit.astype(np.int64))).astype(F32)
    dl = f16(r[:, 108:110])[:, None] * q3_scales(r[:, 96:108]).astype(F32)
    return dl[:, E // 16] * q


def k4_pairs(s):
    """Q4_K / Q5_K: 12 bytes -> 8 (scale, min) pairs of 6 bits"""
    s = s.astype(np.int64)
    sc = np.zeros((s.shape[0], 8), dtype=np.int64)
    mn = np.zeros_like(sc)
    sc[:, 0:4] = s[:, 0:4] & 63
    mn[:, 0:4] = s[:, 4:8] & 63
    sc[:, 4:8] = (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:8] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, mn


# 4-bit fields of Q4_K / Q5_K: element e in byte 32 (e // 64) + e % 32,
# high nibble for the second half of each 64
K4_BYTE = 32 * (E // 64) + E % 32
K4_HIGH = (E % 64) >= 32


def deq_q45(r, qs_at, five):
    d, dmin = f16(r[:, 0:2])[:, None], f16(r[:, 2:4])[:, None]
    sc, mn = k4_pairs(r[:, 4:16])
    b = r[:, qs_at:qs_at + 128][:, K4_BYTE].astype(np.int64)
    q = np.where(K4_HIGH, b >> 4, b & 15)
    if five:
        q = q | (((r[:, 16:48][:, E % 32] >> (E // 32)) & 1).astype(np.int64) << 4)
    dl, ml = d * sc.astype(F32), dmin * mn.astype(F32)
    return dl[:, E // 32] * q.astype(F32) - ml[:, E // 32]


def deq_q4_k(r):
    return deq_q45(r, 16, False)


def deq_q5_k(r):
    return deq_q45(r, 48, True)


def deq_q6_k(r):
    h, rr = E // 128, E % 128
    k, l = rr // 32, rr % 32
    lb = r[:, 0:128][:, 64 * h + l + 32 * (k & 1)].astype(np.int64)
    lo = np.where(k >= 2, lb >> 4, lb & 15)
    hi = (r[:, 128:192][:, 32 * h + l].astype(np.int64) >> (2 * k)) & 3
    sc = r[:, 192:208].view(np.int8).astype(F32)
    dl = f16(r[:, 208:210])[:, None] * sc
    return dl[:, 8 * h + 2 * k + l // 16] * ((lo | (hi << 4)) - 32).astype(F32)


# ---------------------------------------------------------------- quantizers
# each takes (nb, block) float32 and returns (nb, bytes) uint8

def q_abs(x, ndiv, off, nmax):
    """Q4_0 / Q5_0: d = M / -ndiv, q = min(nmax, trunc(x / d + off))"""
    d = first_absmax(x) / F32(-ndiv)
    with np.errstate(divide='ignore'):
        idv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    return d, trunc_clamp(x * idv[:, None] + F32(off), 0, nmax)


def q_minmax(x, nmax):
    mn, mx = first_min(x), first_max(x)
    d = (mx - mn) / F32(nmax)
    with np.errstate(divide='ignore'):
        idv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    return d, mn, trunc_clamp((x - mn[:, None]) * idv[:, None] + F32(0.5), 0, nmax)


def pack_nib(q):
    return (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)


def pack_hbits(q):
    bits = ((q >> 4) & 1).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    w = np.bitwise_or.reduce(bits, axis=1).astype(np.uint32)
    return np.stack([(w >> (8 * i)) & 0xFF for i in range(4)], axis=1).astype(np.uint8)


def qnt_q4_0(x):
    d, q = q_abs(x, 8, 8.5, 15)
    return np.concatenate([f16_bytes(d), pack_nib(q)], axis=1)


def qnt_q4_1(x):
    d, mn, q = q_minmax(x, 15)
    return np.concatenate([f16_bytes(d), f16_bytes(mn), pack_nib(q)], axis=1)


def qnt_q5_0(x):
    d, q = q_abs(x, 16, 16.5, 31)
    return np.concatenate([f16_bytes(d), pack_hbits(q), pack_nib(q & 15)], axis=1)


def qnt_q5_1(x):
    d, mn, q = q_minmax(x, 31)
    return np.concatenate([f16_bytes(d), f16_bytes(mn), pack_hbits(q), pack_nib(q & 15)], axis=1)


def qnt_q8_0(x):
    amax = np.max(np.abs(x), axis=1)
    d = amax / F32(127)
    with np.errstate(divide='ignore'):
        idv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    v = (x * idv[:, None]).astype(np.float64)
    q = np.trunc(v + np.copysign(0.5, v)).astype(np.int64)  # round half away from zero
    return np.concatenate([f16_bytes(d), (q & 0xFF).astype(np.uint8)], axis=1)


def wsum(terms):
    """sum over axis 1 in element order, float32"""
    s = np.zeros(terms.shape[0], dtype=F32)
    for i in range(terms.shape[1]):
        s = s + terms[:, i]
    return s


def fit_qkx2(X, W, nmax, rmin, rdelta, nstep, mad):
    """asymmetric sub-block fit: x ~ scale * L + min over trial scales;
    returns (scale, -min, L) for each row of X"""
    n = X.shape[1]
    mn, mx = X[:, 0].copy(), X[:, 0].copy()
    sw, sx = W[:, 0].copy(), W[:, 0] * X[:, 0]
    for i in range(1, n):
        mn = np.where(X[:, i] < mn, X[:, i], mn)
        mx = np.where(X[:, i] > mx, X[:, i], mx)
        sw = sw + W[:, i]
        sx = sx + W[:, i] * X[:, i]
    mn = np.where(mn > 0, F32(0), mn).astype(F32)
    flat = mx == mn
    fnmax = F32(nmax)

    def err_of(scale, L, m):
        diff = (scale[:, None] * L.astype(F32) + m[:, None]) - X
        diff = np.abs(diff) if mad else diff * diff
        return wsum(W * diff)

    iscale = fnmax / (mx - mn)
    scale = F32(1) / iscale
    L = np.clip(nearest(iscale[:, None] * (X - mn[:, None])), 0, nmax)
    best = err_of(scale, L, mn)
    for k in range(nstep + 1):
        iscale = (F32(rmin) + F32(rdelta) * F32(k) + fnmax) / (mx - mn)
        La = np.clip(nearest(iscale[:, None] * (X - mn[:, None])), 0, nmax)
        Lf = La.astype(F32)
        sl = np.zeros_like(sw)
        sl2 = np.zeros_like(sw)
        sxl = np.zeros_like(sw)
        for i in range(n):
            wl = W[:, i] * Lf[:, i]
            sl = sl + wl
            sl2 = sl2 + wl * Lf[:, i]
            sxl = sxl + wl * X[:, i]
        D = sw * sl2 - sl * sl
        s = (sw * sxl - sx * sl) / D
        m = (sl2 * sx - sl * sxl) / D
        pos = m > 0
        s = np.where(pos, sxl / sl2, s).astype(F32)
        m = np.where(pos, F32(0), m).astype(F32)
        e = err_of(s, La, m)
        upd = (D > 0) & (e < best) & ~flat
        L = np.where(upd[:, None], La, L)
        best = np.where(upd, e, best)
        scale = np.where(upd, s, scale)
        mn = np.where(upd, m, mn)
    scale = np.where(flat, F32(0), scale).astype(F32)
    L = np.where(flat[:, None], 0, L)
    return scale, (-mn).astype(F32), L


def fit_qx(X, nmax):
    """symmetric fit, weights x^2, trial scales -(nmax + k / 10) / M"""
    n = X.shape[1]
    mx = first_absmax(X)
    zero = np.abs(mx) < F32(1e-15)
    fnmax = F32(nmax)

    def sums(iscale):
        l = np.clip(nearest(iscale[:, None] * X), -nmax, nmax - 1)
        lf = l.astype(F32)
        slx = np.zeros(X.shape[0], dtype=F32)
        sl2 = np.zeros_like(slx)
        for i in range(n):
            w = X[:, i] * X[:, i]
            slx = slx + w * X[:, i] * lf[:, i]
            sl2 = sl2 + w * lf[:, i] * lf[:, i]
        return l, slx, sl2

    l, slx, sl2 = sums(F32(-nmax) / mx)
    L = l + nmax
    scale = np.where(sl2 != 0, slx / sl2, F32(0)).astype(F32)
    best = scale * slx
    for k in range(-9, 10):
        if k == 0:
            continue
        l, sx, s2 = sums(-(fnmax + F32(0.1) * F32(k)) / mx)
        upd = (s2 > 0) & (sx * sx > best * s2)
        L = np.where(upd[:, None], l + nmax, L)
        scale = np.where(upd, sx / s2, scale).astype(F32)
        best = np.where(upd, scale * sx, best).astype(F32)
    return np.where(zero, F32(0), scale).astype(F32), np.where(zero[:, None], 0, L)


def fit_q3(X, nmax):
    """symmetric fit from the absmax scale, then passes moving one element"""
    n = X.shape[1]
    mx = first_absmax(X)
    zero = np.abs(mx) < F32(1e-15)
    L = np.clip(nearest((F32(-nmax) / mx)[:, None] * X), -nmax, nmax - 1)
    slx = np.zeros(X.shape[0], dtype=F32)
    sl2 = np.zeros_like(slx)
    for i in range(n):
        w = X[:, i] * X[:, i]
        li = L[:, i].astype(F32)
        slx = slx + w * X[:, i] * li
        sl2 = sl2 + w * li * li
    for _ in range(5):  # a pass that changes nothing leaves the state as it was
        for i in range(n):
            w = X[:, i] * X[:, i]
            li = L[:, i].astype(F32)
            sx = slx - w * X[:, i] * li
            s2 = sl2 - w * li * li
            nl = np.clip(nearest(X[:, i] * s2 / sx), -nmax, nmax - 1)
            nf = nl.astype(F32)
            sx2 = sx + w * X[:, i] * nf
            s22 = s2 + w * nf * nf
            ok = (sx > 0) & (nl != L[:, i]) & (s22 > 0) & (sx2 * sx2 * sl2 > slx * slx * s22)
            L[:, i] = np.where(ok, nl, L[:, i])
            slx = np.where(ok, sx2, slx).astype(F32)
            sl2 = np.where(ok, s22, sl2).astype(F32)
    scale = np.where(sl2 > 0, slx / sl2, F32(0)).astype(F32)
    return np.where(zero, F32(0), scale).astype(F32), np.where(zero[:, None], 0, L + nmax)


def pack2(L):
    """256 2-bit values -> 64 bytes: byte 32 h + l holds elements
    128 h + l + 32 k at bits 2k"""
    out = np.zeros((L.shape[0], 64), dtype=np.int64)
    for h in range(2):
        for k in range(4):
            out[:, 32 * h:32 * h + 32] |= L[:, 128 * h + 32 * k:128 * h + 32 * k + 32] << (2 * k)
    return out.astype(np.uint8)


def qnt_q2_k(x):
    nb = x.shape[0]
    X = x.reshape(-1, 16)
    sc, mn, L = fit_qkx2(X, np.abs(X), 3, -0.5, 0.1, 15, True)
    sc, mn, L = sc.reshape(nb, 16), mn.reshape(nb, 16), L.reshape(nb, QK)
    maxs, maxm = run_max(sc, 16), run_max(mn, 16)
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        ls = np.where(maxs[:, None] > 0, nearest((F32(15) / maxs)[:, None] * sc) & 0xFF, 0)
        lm = np.where(maxm[:, None] > 0, (nearest((F32(15) / maxm)[:, None] * mn) << 4) & 0xFF, 0)
        d = np.where(maxs > 0, maxs / F32(15), F32(0)).astype(F32)
        dmin = np.where(maxm > 0, maxm / F32(15), F32(0)).astype(F32)
    scales = (ls | lm).astype(np.int64)
    db, mb = f16_bytes(d), f16_bytes(dmin)
    dl = f16(db)[:, None] * (scales & 15).astype(F32)
    ml = f16(mb)[:, None] * (scales >> 4).astype(F32)
    with np.errstate(divide='ignore', invalid='ignore'):
        Lr = np.clip(nearest((x + ml[:, E // 16]) / dl[:, E // 16]), 0, 3)
    L = np.where(dl[:, E // 16] != 0, Lr, L)
    return np.concatenate([scales.astype(np.uint8), pack2(L), db, mb], axis=1)


def qnt_q3_k(x):
    nb = x.shape[0]
    sc, L = fit_q3(x.reshape(-1, 16), 4)
    sc, L = sc.reshape(nb, 16), L.reshape(nb, QK)
    maxs = first_absmax(sc)
    s = np.zeros((nb, 12), dtype=np.int64)
    with np.errstate(divide='ignore', invalid='ignore'):
        iscale = np.where(maxs != 0, F32(-32) / maxs, F32(0)).astype(F32)
        raw = nearest(iscale[:, None] * sc)
    l = np.clip(((raw & 0xFF) ^ 0x80) - 0x80, -32, 31) + 32  # through int8, as stored
    l = np.where(maxs[:, None] != 0, l, 0)
    for j in range(16):
        if j < 8:
            s[:, j] |= l[:, j] & 15
        else:
            s[:, j - 8] |= (l[:, j] & 15) << 4
        s[:, 8 + j % 4] |= (l[:, j] >> 4) << (2 * (j // 4))
    with np.errstate(divide='ignore'):
        d = np.where(maxs != 0, F32(1) / iscale, F32(0)).astype(F32)
    db = f16_bytes(d)
    s = s.astype(np.uint8)
    dl = f16(db)[:, None] * q3_scales(s).astype(F32)
    with np.errstate(divide='ignore', invalid='ignore'):
        Lr = np.clip(nearest(x / dl[:, E // 16]), -4, 3) + 4
    L = np.where(dl[:, E // 16] != 0, Lr, L)
    high = L > 3
    hm = np.zeros((nb, 32), dtype=np.int64)
    for k in range(8):
        hm |= high[:, 32 * k:32 * k + 32].astype(np.int64) << k
    L = np.where(high, L - 4, L)
    return np.concatenate([hm.astype(np.uint8), pack2(L), s, db], axis=1)


def qnt_q45(x, five):
    nb = x.shape[0]
    nmax = 31 if five else 15
    X = x.reshape(-1, 32)
    s2 = wsum(X * X)
    W = np.sqrt(s2 / F32(32))[:, None] + np.abs(X)
    if five:
        sc, mn, L = fit_qkx2(X, W, nmax, -0.5, 0.1, 15, False)
    else:
        sc, mn, L = fit_qkx2(X, W, nmax, -1.0, 0.1, 20, False)
    sc, mn, L = sc.reshape(nb, 8), mn.reshape(nb, 8), L.reshape(nb, QK)
    maxs, maxm = run_max(sc, 8), run_max(mn, 8)
    with np.errstate(divide='ignore'):
        iss = np.where(maxs > 0, F32(63) / maxs, F32(0)).astype(F32)
        ism = np.where(maxm > 0, F32(63) / maxm, F32(0)).astype(F32)
    ls = np.minimum(nearest(iss[:, None] * sc) & 0xFF, 63)
    lm = np.minimum(nearest(ism[:, None] * mn) & 0xFF, 63)
    s = np.zeros((nb, 12), dtype=np.int64)
    s[:, 0:4], s[:, 4:8] = ls[:, 0:4], lm[:, 0:4]
    s[:, 8:12] = (ls[:, 4:8] & 15) | ((lm[:, 4:8] & 15) << 4)
    s[:, 0:4] |= (ls[:, 4:8] >> 4) << 6
    s[:, 4:8] |= (lm[:, 4:8] >> 4) << 6
    db, mb = f16_bytes(maxs / F32(63)), f16_bytes(maxm / F32(63))
    psc, pmn = k4_pairs(s)
    dl = f16(db)[:, None] * psc.astype(F32)
    ml = f16(mb)[:, None] * pmn.astype(F32)
    with np.errstate(divide='ignore', invalid='ignore'):
        Lr = np.clip(nearest((x + ml[:, E // 32]) / dl[:, E // 32]), 0, nmax)
    L = np.where(dl[:, E // 32] != 0, Lr, L)
    qs = np.zeros((nb, 128), dtype=np.int64)
    qh = np.zeros((nb, 32), dtype=np.int64)
    for c in range(4):
        a, b = L[:, 64 * c:64 * c + 32], L[:, 64 * c + 32:64 * c + 64]
        qs[:, 32 * c:32 * c + 32] = (a & 15) | ((b & 15) << 4)
        qh |= ((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1))
    parts = [db, mb, s.astype(np.uint8)] + ([qh.astype(np.uint8)] if five else [])
    return np.concatenate(parts + [qs.astype(np.uint8)], axis=1)


def qnt_q4_k(x):
    return qnt_q45(x, False)


def qnt_q5_k(x):
    return qnt_q45(x, True)


def qnt_q6_k(x):
    nb = x.shape[0]
    sc, L = fit_qx(x.reshape(-1, 16), 32)
    sc, L = sc.reshape(nb, 16), L.reshape(nb, QK)
    maxs = first_absmax(sc)
    zero = np.abs(maxs) < F32(1e-15)
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        iscale = (F32(-128) / maxs).astype(F32)
        db = f16_bytes(F32(1) / iscale)
        scl = np.minimum(nearest(iscale[:, None] * sc), 127)
    scl = ((scl & 0xFF) ^ 0x80) - 0x80
    dl = f16(db)[:, None] * scl.astype(F32)
    with np.errstate(divide='ignore', invalid='ignore'):
        Lr = np.clip(nearest(x / dl[:, E // 16]), -32, 31) + 32
    L = np.where(dl[:, E // 16] != 0, Lr, L)
    ql = np.zeros((nb, 128), dtype=np.int64)
    qh = np.zeros((nb, 64), dtype=np.int64)
    for h in range(2):
        q = [L[:, 128 * h + 32 * k:128 * h + 32 * k + 32] for k in range(4)]
        ql[:, 64 * h:64 * h + 32] = (q[0] & 15) | ((q[2] & 15) << 4)
        ql[:, 64 * h + 32:64 * h + 64] = (q[1] & 15) | ((q[3] & 15) << 4)
        qh[:, 32 * h:32 * h + 32] = sum((q[k] >> 4) << (2 * k) for k in range(4))
    out = np.concatenate([ql.astype(np.uint8), qh.astype(np.uint8),
                          (scl & 0xFF).astype(np.uint8), db], axis=1)
    out[zero] = 0
    return out


# name: (ggml id, block, bytes, dequantize, quantize, f16 field offsets,
#        byte ranges holding sub-block scales)
TYPES = {
    'Q4_0': (2, 32, 18, deq_q4_0, qnt_q4_0, [0], []),
    'Q4_1': (3, 32, 20, deq_q4_1, qnt_q4_1, [0, 2], []),
    'Q5_0': (6, 32, 22, deq_q5_0, qnt_q5_0, [0], []),
    'Q5_1': (7, 32, 24, deq_q5_1, qnt_q5_1, [0, 2], []),
    'Q8_0': (8, 32, 34, deq_q8_0, qnt_q8_0, [0], []),
    'Q2_K': (10, 256, 84, deq_q2_k, qnt_q2_k, [80, 82], [(0, 16)]),
    'Q3_K': (11, 256, 110, deq_q3_k, qnt_q3_k, [108], [(96, 108)]),
    'Q4_K': (12, 256, 144, deq_q4_k, qnt_q4_k, [0, 2], [(4, 16)]),
    'Q5_K': (13, 256, 176, deq_q5_k, qnt_q5_k, [0, 2], [(4, 16)]),
    'Q6_K': (14, 256, 210, deq_q6_k, qnt_q6_k, [208], [(192, 208)]),
}

# f16 scale values for the edge blocks: zero, negative zero, the smallest and
# largest subnormal, the smallest normal, +-65504, +-infinity, a quiet and a
# signalling NaN, one
EDGE_HALVES = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00,
               0x7C01, 0x3C00]


def dequant_blocks(name, rng):
    _, block, nbytes, _, _, halves, scale_ranges = TYPES[name]
    blocks = []
    nrand = 40 if block == 32 else 8
    for i in range(nrand):  # typical blocks: f16 scales of 1e-4 .. 1e-1, either sign
        b = rng.integers(0, 256, nbytes, dtype=np.uint8)
        for o in halves:
            v = F32(rng.choice([-1, 1]) * 10 ** rng.uniform(-4, -1))
            b[o:o + 2] = f16_bytes(np.array([v]))[0]
        blocks.append(b)
    for i in range(4 if block == 32 else 4):  # every byte random: NaN, inf, anything
        blocks.append(rng.integers(0, 256, nbytes, dtype=np.uint8))
    blocks.append(np.zeros(nbytes, dtype=np.uint8))
    blocks.append(np.full(nbytes, 0xFF, dtype=np.uint8))
    for h in EDGE_HALVES:
        b = rng.integers(0, 256, nbytes, dtype=np.uint8)
        if block == 32:  # legacy: also with every quant zero
            z = b.copy()
            z[max(halves) + 2:] = 0
            for o in halves:
                z[o], z[o + 1] = h & 0xFF, h >> 8
            blocks.append(z)
        for j, o in enumerate(halves):
            hv = h if j == 0 else EDGE_HALVES[(EDGE_HALVES.index(h) + 5) % len(EDGE_HALVES)]
            b[o], b[o + 1] = hv & 0xFF, hv >> 8
        for a, e in scale_ranges:  # alternate maximal and zero sub-block scales
            b[a:e] = 0xFF if h & 1 else 0x00
        blocks.append(b)
    return np.stack(blocks)


def quant_inputs(name, rng):
    block = TYPES[name][1]
    rows = []
    nrand = 24 if block == 32 else 6
    for i in range(nrand):
        s = 10 ** rng.uniform(-3, 1)
        off = rng.choice([0.0, 0.0, s * rng.uniform(-2, 2)])
        x = rng.standard_normal(block) * s + off
        if i % 3 == 2:  # heavy tails
            x = x * np.exp(rng.standard_normal(block))
        rows.append(x.astype(F32))
    z = np.zeros(block, dtype=F32)
    rows.append(z)
    rows.append(-z)
    mixed = z.copy()
    mixed[::2] = F32(-0.0)
    rows.append(mixed)
    rows.append(np.full(block, 0.75, dtype=F32))
    rows.append(np.full(block, -3.5, dtype=F32))
    spike = z.copy()
    spike[block // 3] = F32(-2.5)
    rows.append(spike)
    rows.append((rng.standard_normal(block) * 1e-6).astype(F32))  # f16 subnormal scales
    rows.append((rng.standard_normal(block) * 3e4).astype(F32))  # large scales
    rows.append(rng.integers(-8, 8, block).astype(F32))  # integers: rounding ties
    rows.append((rng.integers(-16, 16, block) * 0.5).astype(F32))
    ramp = np.linspace(-1, 1, block, dtype=F32)
    rows.append(ramp)
    rows.append(np.abs(ramp) + F32(1))  # positive only (min > 0)
    return np.stack(rows)


def write_fixture(path, name, rng):
    gid, block, nbytes, deq, qnt = TYPES[name][:5]
    blocks = dequant_blocks(name, rng)
    with np.errstate(all='ignore'):
        values = deq(blocks).astype('<f4')
    inputs = quant_inputs(name, rng)
    with np.errstate(all='ignore'):
        qbytes = qnt(inputs)
    assert qbytes.shape == (inputs.shape[0], nbytes) and qbytes.dtype == np.uint8, name
    assert values.shape == (blocks.shape[0], block), name
    with open(path, 'wb') as f:
        f.write(b'PTQ1' + struct.pack('<III', gid, blocks.shape[0], inputs.shape[0]))
        f.write(blocks.tobytes())
        f.write(values.tobytes())
        f.write(inputs.astype('<f4').tobytes())
        f.write(qbytes.tobytes())
    return blocks.shape[0], inputs.shape[0]


def check():
    """round trip of the quantizers on gaussian data: relative RMS error"""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 256)).astype(F32)
    for name, (_, block, _, deq, qnt) in ((n, t[:5]) for n, t in TYPES.items()):
        xb = x.reshape(-1, block)
        y = deq(qnt(xb))
        err = np.sqrt(np.mean((y - xb) ** 2) / np.mean(xb ** 2))
        print(f'{name}: relative RMS error {err:.4f}')


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == 'check':
        check()
        return
    if len(sys.argv) != 3 or sys.argv[1] != 'gen':
        sys.exit('usage: ref_quant.py gen DIR | check')
    out = sys.argv[2]
    rng = np.random.default_rng(20261207)
    for name in TYPES:
        nd, nq = write_fixture(f'{out}/{name}.bin', name, rng)
        print(f'{name}: {nd} blocks to dequantize, {nq} to quantize')


if __name__ == '__main__':
    main()
