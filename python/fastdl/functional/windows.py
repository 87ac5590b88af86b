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

from fastdl.tensor import get_default_dtype


def _window_setup(name, window_length, dtype, layout, device):
    """(length as int, dtype, xp) after torch's checks, in torch's order."""
    from fastdl.creation import _dt, _xp
    if isinstance(window_length, bool):
        raise TypeError(f"{name}(): argument 'window_length' must be int, not bool")
    try:
        n = operator.index(window_length)
    except TypeError:
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}") from None
    if layout is not None and str(layout).split(".")[-1] != "strided":
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


def _cosine_window(name, window_length, periodic, dtype, layout, device, requires_grad, build):
    n, dt, xp = _window_setup(name, window_length, dtype, layout, device)
    if n <= 1:  # torch: empty for 0, a single 1 for 1 (periodic or not)
        return _finish(np.ones(n, dtype=dt), xp, requires_grad)
    m = n + 1 if periodic else n
    w = build(np.arange(m, dtype=dt), m, dt.type)
    return _finish(w[:n] if periodic else w, xp, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, pin_memory=False, requires_grad=False):
    """``alpha - beta * cos(2 pi n / (N - 1))`` for n = 0 .. N-1 (N = window_length, or
    window_length + 1 with the last sample dropped when ``periodic``).

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> fastdl.hamming_window(5, periodic=False).tolist()  # doctest: +ELLIPSIS
    [0.08..., 0.54..., 1.0, 0.54..., 0.08...]
    """
    def build(k, m, f):
        return (_cos(k * f(2.0 * math.pi / (m - 1))) * f(-beta)) + f(alpha)

    return _cosine_window("hamming_window", window_length, periodic, dtype, layout, device,
                          requires_grad, build)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                pin_memory=False, requires_grad=False):
    """``0.5 - 0.5 * cos(2 pi n / (N - 1))`` (hamming_window with alpha = beta = 0.5).

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> fastdl.hann_window(4).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    def build(k, m, f):
        return (_cos(k * f(2.0 * math.pi / (m - 1))) * f(-0.5)) + f(0.5)

    return _cosine_window("hann_window", window_length, periodic, dtype, layout, device,
                          requires_grad, build)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``.

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> [round(v, 4) for v in fastdl.blackman_window(5, periodic=False).tolist()]
    [-0.0, 0.34, 1.0, 0.34, -0.0]
    """
    def build(k, m, f):
        x = k * f(math.pi / (m - 1))
        return _cos(x * f(4)) * f(0.08) - _cos(x * f(2)) * f(0.5) + f(0.42)

    return _cosine_window("blackman_window", window_length, periodic, dtype, layout, device,
                          requires_grad, build)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """The triangular window ``1 - |2 n / (N - 1) - 1|``.

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> fastdl.bartlett_window(5, periodic=False).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    def build(k, m, f):
        w = k * f(2.0 / (m - 1))
        half = ((m - 1) >> 1) + 1
        w[half:] = w[half:] * f(-1) + f(2)
        return w

    return _cosine_window("bartlett_window", window_length, periodic, dtype, layout, device,
                          requires_grad, build)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, pin_memory=False, requires_grad=False):
    """``I0(beta * sqrt(1 - ((n - a) / a)^2)) / I0(beta)`` with a = (N - 1) / 2 and I0 the
    modified Bessel function of order zero.

    Shape: (window_length,), in the default float dtype unless ``dtype``.

    >>> [round(v, 4) for v in fastdl.kaiser_window(5, periodic=False, beta=2.0).tolist()]
    [0.4387, 0.8348, 1.0, 0.8348, 0.4387]
    """
    def build(k, m, f):
        # numpy's i0 works in float64; torch's float32 kernel keeps float32 but its I0 is
        # accurate to a few ulp, so the float64 value rounded to the dtype agrees to that
        alpha = (m - 1) / 2.0
        x = (k.astype(np.float64) - alpha) / alpha
        return (np.i0(beta * np.sqrt(np.abs(1.0 - x * x))) / np.i0(beta)).astype(k.dtype)

    return _cosine_window("kaiser_window", window_length, periodic, dtype, layout, device,
                          requires_grad, build)


__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window",
           "kaiser_window"]
