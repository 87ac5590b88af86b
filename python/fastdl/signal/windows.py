"""``fastdl.signal.windows``: torch.signal.windows' window functions.

They differ from the top-level ``hann_window`` family in their signature (``M`` and a keyword
``sym=True``: symmetric by default, ``sym=False`` is the top-level ``periodic=True``) and in
their checks (ValueError, float32 and float64 only). The windows both families have are built
by the same code (functional/windows.py); cosine, exponential, gaussian and general_cosine are
computed in float64 and rounded once to the requested dtype.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from fastdl.functional import windows as W

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def _setup(name, M, dtype, layout, device):
    """(M as int, dtype, xp) after torch.signal.windows' checks, in its order."""
    from fastdl.creation import _dt, _xp
    from fastdl.tensor import get_default_dtype
    n = W.as_length(name, M, "M")
    dt = _dt(dtype, get_default_dtype())
    if n < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={n}")
    if not W.is_strided(layout):
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dt not in (np.float32, np.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dt}")
    return n, dt, _xp(device)


def _window(setup, sym, requires_grad, build):
    """The window_array of ``build`` for the (M, dtype, xp) of ``_setup``."""
    n, dt, xp = setup
    return W._finish(W.window_array(n, dt, not sym, build), xp, requires_grad)


def _float64_build(fn):
    """A window_array builder computing ``fn(k, m)`` on float64 k = 0 .. m-1, rounded once."""
    def build(k, m, f):
        return fn(k.astype(np.float64), m).astype(k.dtype)
    return build


def _sampled(setup, sym, requires_grad, fn):
    """A window torch samples on a linspace even for M = 1: ``fn(n, span)`` with n = 0 .. M-1
    (float64) and span = M - 1 (symmetric, or M = 1) or M (periodic)."""
    m, dt, xp = setup
    span = m if not sym and m > 1 else m - 1
    w = fn(np.arange(m, dtype=np.float64), span) if m else np.empty(0)
    return W._finish(w.astype(dt), xp, requires_grad)


def hann(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The Hann window ``0.5 - 0.5 cos(2 pi n / (M - 1))``, n = 0 .. M-1; ``sym=False`` gives
    the periodic window (``hann_window(M)``: M + 1 points, the last dropped).

    Shape: (M,), float32 or float64 (the default dtype unless ``dtype``).

    >>> fastdl.signal.windows.hann(5).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    >>> fastdl.signal.windows.hann(4, sym=False).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    return _window(_setup("hann", M, dtype, layout, device), sym, requires_grad,
                   W.hamming_build(0.5, 0.5))


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """``alpha - (1 - alpha) cos(2 pi n / (M - 1))``, n = 0 .. M-1 (periodic: ``sym=False``).

    Shape: (M,).

    >>> [round(v, 2) for v in fastdl.signal.windows.general_hamming(3, alpha=0.6).tolist()]
    [0.2, 1.0, 0.2]
    """
    return _window(_setup("general_hamming", M, dtype, layout, device), sym, requires_grad,
                   W.hamming_build(alpha, 1.0 - alpha))


def hamming(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The Hamming window, general_hamming with alpha = 0.54.

    Shape: (M,).

    >>> [round(v, 2) for v in fastdl.signal.windows.hamming(3).tolist()]
    [0.08, 1.0, 0.08]
    """
    return _window(_setup("hamming", M, dtype, layout, device), sym, requires_grad,
                   W.hamming_build(0.54, 0.46))


def blackman(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / (M - 1)) + 0.08 cos(4 pi n / (M - 1))``.

    Shape: (M,).

    >>> [round(v, 4) for v in fastdl.signal.windows.blackman(5).tolist()]
    [-0.0, 0.34, 1.0, 0.34, -0.0]
    """
    return _window(_setup("blackman", M, dtype, layout, device), sym, requires_grad,
                   W.blackman_build)


def bartlett(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The triangular window ``1 - |2 n / (M - 1) - 1|``.

    Shape: (M,).

    >>> fastdl.signal.windows.bartlett(5).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    return _window(_setup("bartlett", M, dtype, layout, device), sym, requires_grad,
                   W.bartlett_build)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=None, device=None,
           requires_grad=False):
    """The Kaiser window ``I0(beta sqrt(1 - (2 n / (M - 1) - 1)^2)) / I0(beta)``, I0 the
    modified Bessel function of order zero (``beta`` >= 0).

    Shape: (M,).

    >>> [round(v, 4) for v in fastdl.signal.windows.kaiser(5, beta=2.0).tolist()]
    [0.4387, 0.8348, 1.0, 0.8348, 0.4387]
    """
    setup = _setup("kaiser", M, dtype, layout, device)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    return _window(setup, sym, requires_grad, W.kaiser_build(beta))


def general_cosine(M, *, a, sym=True, dtype=None, layout=None, device=None,
                   requires_grad=False):
    """``sum_i (-1)^i a[i] cos(2 pi i n / (M - 1))``, n = 0 .. M-1, for the coefficients ``a``
    (a non-empty list or tuple).

    Shape: (M,).

    >>> [round(v, 2) for v in fastdl.signal.windows.general_cosine(3, a=[0.5, 0.5]).tolist()]
    [0.0, 1.0, 0.0]
    """
    setup = _setup("general_cosine", M, dtype, layout, device)
    if setup[0] > 1:  # torch checks the coefficients only where it uses them
        if not isinstance(a, Iterable) or isinstance(a, str):
            raise TypeError("Coefficients must be a list/tuple")
        a = [float(c) for c in a]
        if not a:
            raise ValueError("Coefficients cannot be empty")

    def terms(k, m):
        x = k * (2.0 * math.pi / (m - 1))
        return sum((-1) ** i * c * np.cos(i * x) for i, c in enumerate(a))

    return _window(setup, sym, requires_grad, _float64_build(terms))


def nuttall(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The minimum 4-term Blackman-Harris window of Nuttall (general_cosine with
    a = [0.3635819, 0.4891775, 0.1365995, 0.0106411]).

    Shape: (M,).

    >>> [round(v, 4) for v in fastdl.signal.windows.nuttall(3).tolist()]
    [0.0004, 1.0, 0.0004]
    """
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym,
                          dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def cosine(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The cosine (sine) window ``sin(pi (n + 0.5) / M)``, n = 0 .. M-1 (periodic: / (M + 1)).

    Shape: (M,).

    >>> [round(v, 4) for v in fastdl.signal.windows.cosine(3).tolist()]
    [0.5, 1.0, 0.5]
    """
    # torch's span here is M (M + 1 when periodic): one more than the other windows'
    return _sampled(_setup("cosine", M, dtype, layout, device), sym, requires_grad,
                    lambda n, span: np.sin((n + 0.5) * (math.pi / (span + 1))))


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=None, device=None,
                requires_grad=False):
    """The exponential (Poisson) window ``exp(-|n - center| / tau)``; ``center`` defaults to the
    middle and may be set only for ``sym=False``; ``tau`` > 0.

    Shape: (M,).

    >>> [round(v, 4) for v in fastdl.signal.windows.exponential(3).tolist()]
    [0.3679, 1.0, 0.3679]
    """
    setup = _setup("exponential", M, dtype, layout, device)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    return _sampled(setup, sym, requires_grad,
                    lambda n, span: np.exp(-np.abs(
                        n - (span / 2.0 if center is None else center)) / tau))


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None,
             requires_grad=False):
    """The Gaussian window ``exp(-(n - (M - 1) / 2)^2 / (2 std^2))`` (``std`` > 0).

    Shape: (M,).

    >>> [round(v, 4) for v in fastdl.signal.windows.gaussian(3).tolist()]
    [0.6065, 1.0, 0.6065]
    """
    setup = _setup("gaussian", M, dtype, layout, device)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    return _sampled(setup, sym, requires_grad,
                    lambda n, span: np.exp(-((n - span / 2.0) / (std * math.sqrt(2.0))) ** 2))
