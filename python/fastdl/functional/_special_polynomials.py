"""The classical orthogonal polynomials of fastdl.special at (x, n) for float numpy/cupy
arrays: Chebyshev T, U, V, W (plain and shifted to [0, 1]), Hermite H and He, Laguerre L and
Legendre P.

torch evaluates them by their three-term recurrences, with closed trigonometric forms for
Chebyshev polynomials of high degree inside (-1, 1), and with conventions of its own that
are kept here: n is truncated to an integer and a negative (or NaN, or infinite) degree
gives 0; Hermite polynomials of degree above 128 (float32) or 512 (float64) are NaN; a
recurrence that overflows runs into inf - inf and returns NaN. Unlike the Bessel functions
these are computed in the input's own dtype, because torch's float32 results are its float32
recurrence (which overflows to NaN where a float64 one would not).
"""
from __future__ import annotations

import numpy as np

from fastdl.nn.functional._special import _xp

_HERMITE_LIMIT = {np.dtype(np.float32): 128, np.dtype(np.float64): 512}


def _degrees(n):
    """torch's static_cast<int64_t>(n): truncation toward 0; NaN, inf and out-of-range
    values become negative (x86's integer indefinite), so those degrees give 0."""
    xp = _xp(n)
    if n.dtype.kind != "f":
        return n.astype(np.int64)
    inside = xp.isfinite(n) & (xp.abs(n) < 2.0 ** 63)
    return xp.where(inside, xp.trunc(xp.where(inside, n, -1.0)), -1.0).astype(np.int64)


def _recurrence(x, n, q0, step):
    """q_n from p_0 = 1, q_1 = q0 and r_j+1 = step(x, p_j-1, q_j, j) for j = 1 .. n - 1,
    per element of the 1-d arrays x and n (all n >= 2); an element stops early once q is NaN
    (it stays NaN)."""
    xp = _xp(x)
    p, q = xp.ones_like(x), q0.copy()
    out = q.copy()
    index = xp.arange(x.size)
    xs, ns = x, n
    j = 1
    while index.size:
        r = step(xs, p, q, j)
        p, q = q, r
        j += 1
        finished = (j >= ns) | xp.isnan(q)
        if bool(finished.any()):
            out[index[finished]] = q[finished]
            keep = ~finished
            index, xs, ns, p, q = index[keep], xs[keep], ns[keep], p[keep], q[keep]
    return out


def _evaluate(x, n, base, recurrence_start, step):
    """Broadcast x and n, take base(x, k, dtype) -> (values, decided) for the elements decided
    without the recurrence, and run the recurrence (from q_1 = recurrence_start(x)) on the
    rest."""
    xp = _xp(x)
    dtype = x.dtype
    x, n = xp.broadcast_arrays(x, n)
    shape = x.shape
    x, k = x.ravel(), _degrees(n.ravel())
    with np.errstate(all="ignore"):
        out, decided = base(x, k, dtype)
        out = xp.where(k < 0, 0.0, xp.where(k == 0, 1.0, out)).astype(dtype, copy=False)
        q1 = recurrence_start(x).astype(dtype, copy=False)
        out = xp.where((k == 1) & ~decided, q1, out)
        rest = (k >= 2) & ~decided
        if bool(rest.any()):
            out[rest] = _recurrence(x[rest], k[rest], q1[rest], step)
    return out.reshape(shape)


def _even_sign(k, value):
    return _xp(k).where(k % 2 == 0, value, -value)


def _chebyshev(kind, x, n, shifted):
    """Chebyshev polynomials of the first to fourth kinds (t, u, v, w) in y = x, or in
    y = 2x - 1 for the shifted ones (which test the ends as x == 1 and x == 0, and switch to
    the trigonometric form at lower degrees, as torch does)."""
    xp = _xp(x)
    y = x + x - 1.0 if shifted else x
    starts = {"t": lambda v: v, "u": lambda v: v + v, "v": lambda v: v + v - 1.0,
              "w": lambda v: v + v + 1.0}

    def base(x, k, dtype):
        y = x + x - 1.0 if shifted else x
        kf = k.astype(dtype)
        plus = x == 1.0
        minus = (x == 0.0) if shifted else (x == -1.0)
        ends = {"t": (1.0, _even_sign(k, 1.0)), "u": (kf + 1.0, _even_sign(k, kf + 1.0)),
                "v": (1.0, _even_sign(k, 2.0 * kf + 1.0)),
                "w": (2.0 * kf + 1.0, _even_sign(k, 1.0))}[kind]
        threshold = {"t": 6, "u": 6 if shifted else 8, "v": 6 if shifted else 8,
                     "w": 4 if shifted else 8}[kind]
        inside = (k > threshold) & (xp.abs(y) < 1.0)
        theta = xp.arccos(xp.where(inside, y, 0.0))
        if kind == "t":
            closed = xp.cos(kf * theta)
        elif kind == "u":
            s = xp.sin(theta)
            closed = xp.where(s != 0, xp.sin((kf + 1.0) * theta) / s,
                              (kf + 1.0) * xp.cos((kf + 1.0) * theta) / y)
        elif kind == "v":
            closed = xp.where(xp.sin(theta / 2.0) != 1.0,
                              xp.cos((kf + 0.5) * theta) / xp.cos(theta / 2.0), ends[1])
        else:
            degenerate = _even_sign(k, 1.0) if shifted else xp.where(x > 0, ends[0], ends[1])
            closed = xp.where(xp.cos(theta / 2.0) != 1.0,
                              xp.sin((kf + 0.5) * theta) / xp.sin(theta / 2.0), degenerate)
        at_end = (plus | minus) & (k >= 0)
        out = xp.where(plus, ends[0], xp.where(minus, ends[1], closed))
        return out, at_end | inside

    del y
    return _evaluate(x, n, base, lambda x: starts[kind](x + x - 1.0 if shifted else x),
                     lambda x, p, q, j: ((x + x - 1.0) + (x + x - 1.0) if shifted else x + x)
                     * q - p)


def _nothing_decided(x, k, dtype):
    xp = _xp(x)
    return xp.zeros(x.shape, dtype), xp.zeros(x.shape, dtype=bool)


def _ends_of_legendre(x, k, dtype):
    xp = _xp(x)
    at_end = xp.abs(x) == 1.0
    return xp.where(x > 0, 1.0, _even_sign(k, 1.0)).astype(dtype), at_end & (k >= 0)


def _laguerre_at_zero(x, k, dtype):
    xp = _xp(x)
    return xp.ones(x.shape, dtype), (x == 0) & (k >= 0)


def _hermite_base(x, k, dtype):
    xp = _xp(x)
    beyond = k > _HERMITE_LIMIT[np.dtype(dtype)]
    return xp.full(x.shape, xp.nan, dtype), beyond


def chebyshev_polynomial(kind, x, n, shifted=False):
    return _chebyshev(kind, x, n, shifted)


def hermite_polynomial_h(x, n):
    return _evaluate(x, n, _hermite_base, lambda x: x + x,
                     lambda x, p, q, j: (x + x) * q - (2.0 * j) * p)


def hermite_polynomial_he(x, n):
    return _evaluate(x, n, _hermite_base, lambda x: x,
                     lambda x, p, q, j: x * q - float(j) * p)


def laguerre_polynomial_l(x, n):
    return _evaluate(x, n, _laguerre_at_zero, lambda x: 1.0 - x,
                     lambda x, p, q, j: ((2.0 * j + (1.0 - x)) * q - float(j) * p) / (j + 1.0))


def legendre_polynomial_p(x, n):
    return _evaluate(x, n, _ends_of_legendre, lambda x: x,
                     lambda x, p, q, j: ((2.0 * j + 1.0) * x * q - float(j) * p) / (j + 1.0))
