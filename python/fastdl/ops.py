"""Array-level kernels: numpy arrays run on fastdl._C, cupy arrays on fastdl._C_cuda.

These take and return raw arrays (no autograd); `fastdl.Tensor` builds on them.
"""
from __future__ import annotations

import numpy as np

from fastdl import _C, backend


_GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_dtypes(fn: str, **arrays):
    """The dtype the GEMM kernels run in: float32 or float64, the same for every array given."""
    for name, x in arrays.items():
        if x.dtype not in _GEMM_DTYPES:
            raise TypeError(f"{fn}: {name} must be float32 or float64, got {x.dtype} with shape "
                            f"{tuple(x.shape)}")
    dtypes = {x.dtype for x in arrays.values()}
    if len(dtypes) > 1:
        got = ", ".join(f"{name} {x.dtype} {tuple(x.shape)}" for name, x in arrays.items())
        raise TypeError(f"{fn}: {', '.join(arrays)} must have the same dtype (float32 or float64; "
                        f"no implicit casts), got {got}")
    return dtypes.pop()


def _through_binding(a, b, out, alpha, beta):
    """``out`` computed by the CPU binding straight away, or None if the binding objects.

    For 2-D numpy operands: the binding checks dtypes, shapes and overlap before it computes
    anything, and the Python-side checks would double a small product's time. On None the
    caller's general path finds what is wrong and says it in its own words.
    """
    try:
        _C.gemm(a, b, out, alpha, beta)
    except (TypeError, ValueError):
        return None
    return out


def _check_scalar(fn, name, value):
    """``alpha``/``beta``: a real number (a Python or numpy int/float), never a string or a
    complex; the message names the argument."""
    t = type(value)
    if t is float or t is int:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{fn}: {name} must be a real number (int or float), got "
                        f"{t.__name__} {value!r}")


def gemm(a, b, c=None, alpha: float = 1.0, beta: float = 0.0, trans_a: bool = False,
         trans_b: bool = False):
    """``c = alpha * op(a) @ op(b) + beta * c`` for 2-D or equally batched arrays, all float32 or
    all float64.

    ``op(x)`` is ``x`` or, with ``trans_x``, its transpose (a strided view: no copy is made).
    With ``c=None`` a new array is returned (``beta`` must then be 0); otherwise ``c`` is
    updated in place and returned. With ``beta == 0`` the old contents of ``c`` are not read.

    Shapes: ``a`` (..., m, k), ``b`` (..., k, n), ``c`` (..., m, n) (transposes applied).

    >>> a = np.ones((2, 3), np.float32); b = np.ones((3, 4), np.float32)
    >>> fastdl.ops.gemm(a, b, alpha=2.0)[0, 0]
    6.0
    """
    _check_scalar("gemm", "alpha", alpha)
    _check_scalar("gemm", "beta", beta)
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
            and (c is None and beta == 0 or type(c) is np.ndarray)):
        out = np.empty((a.shape[1] if trans_a else a.shape[0],
                        b.shape[0] if trans_b else b.shape[1]), a.dtype) if c is None else c
        if _through_binding(a.T if trans_a else a, b.T if trans_b else b, out, alpha,
                            beta) is not None:
            return out
    xp = backend.array_module(a, b) if c is None else backend.array_module(a, b, c)
    dtype = _check_dtypes("gemm", a=a, b=b) if c is None else _check_dtypes("gemm", a=a, b=b, c=c)
    for x, name in ((a, "a"), (b, "b")):
        if x.ndim < 2:
            raise ValueError(f"gemm: {name} must be at least 2-D, got shape {tuple(x.shape)}")
    if trans_a:
        a = xp.swapaxes(a, -1, -2)
    if trans_b:
        b = xp.swapaxes(b, -1, -2)
    if a.shape[-1] != b.shape[-2] or a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"gemm: shapes {tuple(a.shape)} and {tuple(b.shape)} do not agree "
                         f"(trans_a={trans_a}, trans_b={trans_b})")
    if c is None:
        if beta != 0:
            raise ValueError(f"gemm: beta != 0 needs an input c to scale (got beta={beta!r})")
        c = xp.empty(a.shape[:-1] + b.shape[-1:], dtype=dtype)
    else:
        flags = getattr(c, "flags", None)
        if flags is not None and not getattr(flags, "writeable", True):
            raise ValueError("gemm: c is read-only (it is updated in place)")
        if c.shape != a.shape[:-1] + b.shape[-1:]:
            raise ValueError(f"gemm: c has shape {tuple(c.shape)}, expected "
                             f"{tuple(a.shape[:-1] + b.shape[-1:])}")
    backend.kernels_for(a).gemm(a, b, c, float(alpha), float(beta))
    return c


def matmul(a, b, out=None):
    """``a @ b`` with numpy's semantics (1-D operands, broadcast batch dimensions), float32 or
    float64 (both operands the same). ``out``, when given, must have exactly the result's shape
    and dtype (it is not broadcast into, nor cast to).

    >>> fastdl.ops.matmul(np.ones((2, 3)), np.ones(3))
    array([3., 3.])
    """
    if out is None and type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 == b.ndim:
        res = _through_binding(a, b, np.empty((a.shape[0], b.shape[1]), a.dtype), 1.0, 0.0)
        if res is not None:
            return res
    xp = backend.array_module(a, b)
    dtype = _check_dtypes("matmul", a=a, b=b)
    for x, name in ((a, "a"), (b, "b")):
        if x.ndim == 0:
            raise ValueError(f"matmul: {name} must have at least one dimension (got a scalar)")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not agree "
                         f"({a2.shape[-1]} != {b2.shape[-2]})")
    m, n = a2.shape[-2], b2.shape[-1]
    batch_a, batch_b = a2.shape[:-2], b2.shape[:-2]
    if batch_a != batch_b:  # broadcast batch dimensions as stride-0 views, never copies
        try:
            batch = np.broadcast_shapes(batch_a, batch_b)
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of {tuple(a.shape)} and "
                             f"{tuple(b.shape)} do not broadcast") from None
        a2 = xp.broadcast_to(a2, batch + a2.shape[-2:])
        b2 = xp.broadcast_to(b2, batch + b2.shape[-2:])
    else:
        batch = batch_a
    res = xp.empty(batch + (m, n), dtype=dtype)
    backend.kernels_for(a).gemm(a2, b2, res, 1.0, 0.0)
    if a.ndim == 1:
        res = res[..., 0, :]
    if b.ndim == 1:
        res = res[..., 0]
    if out is not None:
        if tuple(out.shape) != tuple(res.shape) or out.dtype != res.dtype:
            raise ValueError(f"matmul: out has shape {tuple(out.shape)} and dtype {out.dtype}; "
                             f"the result of {tuple(a.shape)} @ {tuple(b.shape)} has shape "
                             f"{tuple(res.shape)} and dtype {res.dtype} (out must match exactly)")
        out[...] = res
        return out
    return res
