"""The global random state behind ``randn``/``rand``/``uniform_``... (``fastdl.manual_seed``).

numpy arrays draw from one ``numpy.random.Generator``; cupy arrays from cupy's global state,
seeded together by ``manual_seed``.
"""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed: int):
    """Seed every generator fastdl uses (numpy's Generator here and cupy's when present)."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    from fastdl import backend
    cp = backend._cupy_module()
    if cp is not None:
        try:
            cp.random.seed(int(seed))
        except Exception:  # no usable GPU: nothing to seed
            pass
    return _rng


seed = manual_seed


def generator() -> np.random.Generator:
    """The current numpy Generator (layers drawing their own numbers should use it)."""
    return _rng


def _cupy_random():
    from fastdl import backend
    return backend._cupy_module().random


def normal_array(shape, mean, std, dtype, device="cpu"):
    dtype = np.dtype(dtype)
    if device == "cuda":
        return _cupy_random().normal(mean, std, shape).astype(dtype)
    if dtype in (np.float32, np.float64) and mean == 0.0 and std == 1.0:
        return _rng.standard_normal(shape, dtype=dtype)
    return _rng.normal(mean, std, shape).astype(dtype)


def uniform_array(shape, low, high, dtype, device="cpu"):
    dtype = np.dtype(dtype)
    if device == "cuda":
        return _cupy_random().uniform(low, high, shape).astype(dtype)
    if dtype in (np.float32, np.float64):
        out = _rng.random(shape, dtype=dtype)
        if low != 0.0 or high != 1.0:
            out *= (high - low)
            out += low
        return out
    return _rng.uniform(low, high, shape).astype(dtype)


def integers_array(low, high, shape, dtype, device="cpu"):
    if device == "cuda":
        return _cupy_random().randint(low, high, shape).astype(dtype)
    return _rng.integers(low, high, shape, dtype=np.int64).astype(dtype, copy=False)


def permutation_array(n, device="cpu"):
    if device == "cuda":
        return _cupy_random().permutation(n).astype(np.int64)
    return _rng.permutation(n).astype(np.int64)
