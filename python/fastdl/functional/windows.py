"""Signal windows (``torch.hann_window``, ``hamming_window``, ``blackman_window``,
``bartlett_window``, ``kaiser_window``).

Each is computed the way ATen's CPU code does it, step by step in the requested dtype (an
arange, scaled, then cos/affine), so float32 windows round like torch's rather than like a
float64 window cast down. ``periodic=True`` computes a window one longer and drops its last
sample (the form spectral analysis wants: the window tiles without a repeated end point).
"""
from __future__ import annotations

import math
import operator

import numpy as np

from fastdl.functional._special_arrays import i0 as _i0
from fastdl.tensor import get_default_dtype


def as_length(name, length, arg="window_length"):
    """``length`` as an int; bools and non-integers raise TypeError (torch's message)."""
    if isinstance(length, bool):
        raise TypeError(f"{name}(): argument '{arg}' must be int, not bool")
    try:
        return operator.index(length)
    except TypeError:
        raise TypeError(f"{name}(): argument '{arg}' (position 1) must be int, not "
                        f"{type(length).__name__}") from None


def is_strided(layout):
    # fastdl has no layout objects: torch.strided, "strided" and None all mean strided
    return layout is None or str(layout).split(".")[-1] == "strided"


def _window_setup(name, window_length, dtype, layout, device):
    """(length as int, dtype, xp) after torch's checks, in torch's order."""
    from fastdl.creation import _dt, _xp
    n = as_length(name, window_length)
    if not is_strided(layout):
        raise RuntimeError(f"{name} is not implemented for sparse types, got layout {layout}")
    if n < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={n}")
    dt = _dt(dtype, get_default_dtype())
    if dt.kind != "f":
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    return n, dt, _xp(device)


def _cos(x):
    # torch's float32 cos (SLEEF, 1 ulp) agrees with the correctly rounded float64 cos far
    # more often than numpy's float32 cos does
    return np.cos(x.astype(np.float64)).astype(x.dtype)


def _finish(arr, xp, requires_grad):
    from fastdl.creation import _finish as finish
    return finish(xp.asarray(arr), requires_grad)


def window_array(n, dt, periodic, build):
    """The window of length ``n`` as a numpy array of dtype ``dt``: ``build(k, m, f)`` gets
    k = arange(m) in dt, the length m (n + 1 when ``periodic``, its last sample dropped) and
    dt's scalar type."""
    if n <= 1:  # torch: empty for 0, a single 1 for 1 (periodic or not)
        return np.ones(n, dtype=dt)
    m = n + 1 if periodic else n
    w = build(np.arange(m, dtype=dt), m, dt.type)
    return w[:n] if periodic else w


def _cosine_window(name, window_length, periodic, dtype, layout, device, requires_grad, build):
    n, dt, xp = _window_setup(name, window_length, dtype, layout, device)
    return _finish(window_array(n, dt, periodic, build), xp, requires_grad)


def hamming_build(alpha, beta):
    def build(k, m, f):
        return (_cos(k * f(2.0 * math.pi / (m - 1))) * f(-beta)) + f(alpha)
    return build


def blackman_build(k, m, f):
    x = k * f(math.pi / (m - 1))
    return _cos(x * f(4)) * f(0.08) - _cos(x * f(2)) * f(0.5) + f(0.42)


def bartlett_build(k, m, f):
    w = k * f(2.0 / (m - 1))
    half = ((m - 1) >> 1) + 1
    w[half:] = w[half:] * f(-1) + f(2)
    return w


def _i0_as(x, dtype):
    """fastdl's float64 I0 of ``x`` rounded to ``dtype``, inf where torch's kernel in that
    dtype overflows: it multiplies by exp(x), inf beyond log(max) (~88.7 in float32) although
    I0 itself would still fit up to ~91."""
    with np.errstate(over="ignore"):
        return np.where(x > math.log(np.finfo(dtype).max), np.inf, _i0(x)).astype(dtype)


def kaiser_build(beta):
    def build(k, m, f):
        # I0 in float64 rounded once: torch's float32 kernel keeps float32 but is accurate to
        # a few ulp. Both I0 values are rounded before dividing so that an overflow gives
        # torch's 0 (only I0(beta) inf) or NaN (both inf)
        alpha = (m - 1) / 2.0
        x = (k.astype(np.float64) - alpha) / alpha
        numerator = _i0_as(beta * np.sqrt(np.abs(1.0 - x * x)), k.dtype)
        with np.errstate(invalid="ignore"):
            return numerator / _i0_as(np.asarray(float(beta)), k.dtype)
    return build


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, pin_memory=False, requires_grad=False):
    """``alpha - beta * cos(2 pi n / (N - 1))`` for n = 0 .. N-1 (N = window_length, or
    window_length + 1 with the last sample dropped when ``periodic``).

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> fastdl.hamming_window(5, periodic=False).tolist()  # doctest: +ELLIPSIS
    [0.08..., 0.54..., 1.0, 0.54..., 0.08...]
    """
    return _cosine_window("hamming_window", window_length, periodic, dtype, layout, device,
                          requires_grad, hamming_build(alpha, beta))


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                pin_memory=False, requires_grad=False):
    """``0.5 - 0.5 * cos(2 pi n / (N - 1))`` (hamming_window with alpha = beta = 0.5).

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> fastdl.hann_window(4).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    return _cosine_window("hann_window", window_length, periodic, dtype, layout, device,
                          requires_grad, hamming_build(0.5, 0.5))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``.

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> [round(v, 4) for v in fastdl.blackman_window(5, periodic=False).tolist()]
    [-0.0, 0.34, 1.0, 0.34, -0.0]
    """
    return _cosine_window("blackman_window", window_length, periodic, dtype, layout, device,
                          requires_grad, blackman_build)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """The triangular window ``1 - |2 n / (N - 1) - 1|``.

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> fastdl.bartlett_window(5, periodic=False).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    return _cosine_window("bartlett_window", window_length, periodic, dtype, layout, device,
                          requires_grad, bartlett_build)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, pin_memory=False, requires_grad=False):
    """``I0(beta * sqrt(1 - ((n - a) / a)^2)) / I0(beta)`` with a = (N - 1) / 2 and I0 the
    modified Bessel function of order zero.

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> [round(v, 4) for v in fastdl.kaiser_window(5, periodic=False, beta=2.0).tolist()]
    [0.4387, 0.8348, 1.0, 0.8348, 0.4387]
    """
    return _cosine_window("kaiser_window", window_length, periodic, dtype, layout, device,
                          requires_grad, kaiser_build(beta))


__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window",
           "kaiser_window"]
