"""What the linear-algebra modules share: torch's argument checks and error messages, the
LinAlgError type, a batched LU with partial pivoting (numpy has none), and small tensor helpers
the backward formulas are written with."""
from __future__ import annotations

import math

import numpy as np

from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.functional._core import Tensor, _wrap, torch_dtype_name, xp_of
from fastdl.functional.shape import transpose

_SUPPORTED = (np.dtype(np.float32), np.dtype(np.float64))
class LinAlgError(RuntimeError):
    """A singular or not positive-definite input (``torch.linalg.LinAlgError``)."""


def mT(x: Tensor) -> Tensor:
    """The matrix transpose of the last two dims (``Tensor.mT``; real inputs: also ``mH``)."""
    return transpose(x, -2, -1)


def check_float(name, *tensors):
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
        dt = t._data.dtype
        if dt not in _SUPPORTED:
            got = torch_dtype_name(dt)
            # a half-precision input is floating point: say what fastdl's linalg supports
            why = " (fastdl's linear algebra supports float32 and float64)" if dt.kind == "f" \
                else ""
            raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                               f"Got {got}{why}")


def check_matrix(name, A, square=True):
    """torch's checks of a (batch of) matrices argument, in torch's order and words."""
    check_float(name, A)
    shape = A._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if square and shape[-1] != shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{shape[-2]} by {shape[-1]} matrices")


def check_same_dtype(name, a, b):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{name}: Expected A and B to have the same dtype, but found A of "
                           f"type {a._data.dtype} and B of type {b._data.dtype} instead")


def raise_for_info(name, info, describe):
    """Raise LinAlgError for the first batch element whose LAPACK-style ``info`` is positive;
    ``describe(k)`` words the failure at 1-based position k (torch's message per routine)."""
    info = np.asarray(info.get() if hasattr(info, "get") else info)
    bad = np.flatnonzero(info.reshape(-1) > 0)
    if bad.size == 0:
        return
    first = int(bad[0])
    prefix = f"(Batch element {first}): " if info.ndim > 0 else ""
    raise LinAlgError(f"{name}: {prefix}{describe(int(info.reshape(-1)[first]))}")


def singular_inverse_message(k):
    return (f"The diagonal element {k} is zero, the inversion could not be completed because "
            "the input matrix is singular.")


def singular_solver_message(k):
    return "The solver failed because the input matrix is singular."


def not_positive_definite_message(k):
    return ("The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {k} is not positive-definite).")


def lu_factor_array(a):
    """Batched LU with partial pivoting, LAPACK getrf's conventions: ``(LU, pivots, info)``
    with L's unit diagonal implied, 1-based int32 pivots (row i was swapped with pivots[i]) and
    info = 1-based index of the first exactly-zero pivot, 0 when none. One Python step per
    column, each vectorized over the batch and the trailing submatrix."""
    xp = xp_of(a)
    *batch, m, n = a.shape
    k = min(m, n)
    lu = a.reshape((math.prod(batch), m, n)).copy()  # -1 cannot size an empty batch
    count = lu.shape[0]
    rows = xp.arange(count)
    pivots = xp.zeros((count, k), dtype=np.int32)
    info = xp.zeros(count, dtype=np.int32)
    for j in range(k):
        p = xp.argmax(xp.abs(lu[:, j:, j]), axis=1) + j
        pivots[:, j] = p + 1
        row_j = lu[rows, j].copy()
        lu[rows, j] = lu[rows, p]
        lu[rows, p] = row_j
        pivot = lu[:, j, j]
        zero = pivot == 0
        info = xp.where(zero & (info == 0), j + 1, info).astype(np.int32)
        # a zero pivot means the column below it is zero too (it was the largest magnitude)
        lu[:, j + 1:, j] /= xp.where(zero, 1, pivot)[:, None]
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
    return (lu.reshape(a.shape), pivots.reshape(tuple(batch) + (k,)),
            info.reshape(tuple(batch)))


def cholesky_failure_order(a):
    """Per batch element, the order of the first leading minor that is not positive-definite
    (0 where the whole matrix is): torch's ``info`` for cholesky. Only called after a failure."""
    xp = xp_of(a)
    flat = a.reshape((math.prod(a.shape[:-2]),) + a.shape[-2:])
    orders = np.zeros(flat.shape[0], dtype=np.int32)
    for b in range(flat.shape[0]):
        for k in range(1, flat.shape[-1] + 1):
            try:
                factor = xp.linalg.cholesky(flat[b, :k, :k])
            except np.linalg.LinAlgError:
                orders[b] = k
                break
            if not bool(xp.isfinite(factor).all()):  # cupy reports a failure as NaNs
                orders[b] = k
                break
    return orders.reshape(a.shape[:-2])


def eye_like(A: Tensor, n=None) -> Tensor:
    """An identity matrix of A's dtype and device (no batch dims: broadcasting supplies them)."""
    d = A._data
    n = d.shape[-1] if n is None else n
    return _wrap(xp_of(d).eye(n, dtype=d.dtype))


def backward_outputs(ctx, op, saved):
    """The outputs a factorization's backward formula reads. Under ``create_graph`` they must
    be functions of the input in the new graph, so the op runs again on ctx's inputs (recorded);
    otherwise the arrays its forward left in ``saved`` serve as constants."""
    if _grad_state.enabled:
        return op.apply(tuple(ctx.inputs), *ctx.args)
    values = saved.values
    return tuple(_wrap(v) for v in values) if isinstance(values, tuple) else _wrap(values)
