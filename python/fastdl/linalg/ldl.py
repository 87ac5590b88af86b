"""LDL^T of symmetric (possibly indefinite) matrices: torch.linalg.ldl_factor_ex, ldl_factor and
ldl_solve, in LAPACK's sytrf / sytrs conventions (lower triangle, Bunch-Kaufman pivoting) so
that factors and pivots interoperate with torch's.

``LD`` holds L's columns below the diagonal (unit diagonal implied) and the block-diagonal D
(1x1 blocks on the diagonal, a 2x2 block also on the subdiagonal); the strictly upper triangle
is zero. ``pivots`` (1-based int32): ``pivots[k] = p > 0`` means rows/columns k and p - 1 were
interchanged and D[k, k] is a 1x1 block; ``pivots[k] = pivots[k + 1] = -p`` means rows/columns
k + 1 and p - 1 were interchanged and D[k:k+2, k:k+2] is a 2x2 block. As in LAPACK, column k of
L is stored as computed at step k (later interchanges are not applied to it).

numpy has no sytrf, so the factorization is written here: one Python step per column, each
vectorized over the batch (a matrix whose 2x2 block started at the previous column sits the
step out) and over the trailing submatrix. Not differentiable (torch has no derivative for
these): the results carry no gradient history, like ``geqrf``'s.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from fastdl._argcheck import check_bool_arg
from fastdl.functional._core import Tensor, _wrap, torch_dtype_name, xp_of
from fastdl.linalg._common import check_matrix, raise_for_info
from fastdl.functional.out_arg import supports_out

ldl_factor_result = namedtuple("ldl_factor", ["LD", "pivots"])
ldl_factor_ex_result = namedtuple("ldl_factor_ex", ["LD", "pivots", "info"])

_ALPHA = (1.0 + math.sqrt(17.0)) / 8.0  # Bunch-Kaufman's growth bound, as LAPACK's dsytf2


def _choose_pivots(a, k, active):
    """LAPACK dsytf2's pivot choice at column k for the ``active`` matrices of the symmetric
    batch ``a``: (kp, two, zero) with kp the row to bring to k (or to k + 1 for a 2x2 block),
    ``two`` where a 2x2 block is taken and ``zero`` where column k is zero (or NaN: LAPACK's
    info, no elimination)."""
    xp = xp_of(a)
    count, n = a.shape[0], a.shape[-1]
    rows = xp.arange(count)
    absakk = xp.abs(a[:, k, k])
    if k + 1 < n:
        below = xp.abs(a[:, k + 1:, k])
        imax = xp.argmax(below, axis=1) + k + 1
        colmax = below[rows, imax - k - 1]
    else:
        imax = xp.full(count, k)
        colmax = xp.zeros(count, a.dtype)
    zero = (xp.maximum(absakk, colmax) == 0) | xp.isnan(absakk)
    # the largest off-diagonal entry of row/column imax within the trailing block
    line = xp.abs(a[rows, k:, imax])
    line[rows, imax - k] = -1.0
    rowmax = line.max(axis=1)
    keep = absakk >= _ALPHA * colmax
    keep |= absakk >= _ALPHA * colmax * (colmax / rowmax)
    swap1 = ~keep & (xp.abs(a[rows, imax, imax]) >= _ALPHA * rowmax)
    two = ~keep & ~swap1 & active & ~zero
    kp = xp.where(keep | zero | ~active, k, imax)
    return kp, two, zero & active


def _interchange(a, k, kk, kp):
    """Swap rows and columns kk and kp (per matrix) of the trailing blocks a[:, k:, k:]."""
    idx = xp_of(a).flatnonzero(kk != kp)
    i, j = kk[idx], kp[idx]
    for rows_then_cols in (True, False):
        at_i = (idx, i, slice(k, None)) if rows_then_cols else (idx, slice(k, None), i)
        at_j = (idx, j, slice(k, None)) if rows_then_cols else (idx, slice(k, None), j)
        vi, vj = a[at_i].copy(), a[at_j].copy()
        a[at_i], a[at_j] = vj, vi


def _symmetric(low):
    """The symmetric matrices with the lower triangles of ``low`` (LAPACK updates only those;
    the mirror keeps the working copy exactly symmetric, so rows read the same)."""
    xp = xp_of(low)
    return xp.tril(low) + xp.swapaxes(xp.tril(low, -1), -1, -2)


def _eliminate_1x1(a, k, m):
    """A rank-1 step for the matrices in ``m``: L's column k and the trailing Schur
    complement (LAPACK's lower formula a_ij - x_i (x_j / d))."""
    xp = xp_of(a)
    idx = xp.flatnonzero(m)
    if idx.size == 0:
        return
    d11 = 1.0 / a[idx, k, k]
    x = a[idx, k + 1:, k]
    upd = x[:, :, None] * (d11[:, None] * x)[:, None, :]
    a[idx, k + 1:, k + 1:] -= _symmetric(upd)
    a[idx, k + 1:, k] = a[idx, k, k + 1:] = x * d11[:, None]


def _eliminate_2x2(a, k, m):
    """A rank-2 step (2x2 pivot block at k, k + 1) for the matrices in ``m`` (LAPACK's
    dsytf2 formulas)."""
    xp = xp_of(a)
    idx = xp.flatnonzero(m)
    if idx.size == 0:
        return
    d21 = a[idx, k + 1, k]
    d11 = a[idx, k + 1, k + 1] / d21
    d22 = a[idx, k, k] / d21
    d21 = 1.0 / (d11 * d22 - 1.0) / d21
    c0, c1 = a[idx, k + 2:, k], a[idx, k + 2:, k + 1]
    wk = d21[:, None] * (d11[:, None] * c0 - c1)
    wkp1 = d21[:, None] * (d22[:, None] * c1 - c0)
    upd = c0[:, :, None] * wk[:, None, :] + c1[:, :, None] * wkp1[:, None, :]
    a[idx, k + 2:, k + 2:] -= _symmetric(upd)
    a[idx, k + 2:, k] = a[idx, k, k + 2:] = wk
    a[idx, k + 2:, k + 1] = a[idx, k + 1, k + 2:] = wkp1


def _factor_step(a, k, starts, pivots, info):
    """Column k of every matrix in the batch (those that ``starts`` a block there); returns
    where a 2x2 block was taken (its second column sits the next step out)."""
    xp = xp_of(a)
    n = a.shape[-1]
    kp, two, zero = _choose_pivots(a, k, starts)
    info[...] = xp.where(zero & (info == 0), k + 1, info)
    _interchange(a, k, xp.where(two, k + 1, k), kp)
    _eliminate_1x1(a, k, starts & ~two & ~zero)
    if k + 1 < n:
        _eliminate_2x2(a, k, two)
        pivots[:, k + 1] = xp.where(two, -(kp + 1), 0)
    pivots[:, k] = xp.where(starts, xp.where(two, -(kp + 1), kp + 1), pivots[:, k])
    return two


def ldl_factor_array(A):
    """Batched Bunch-Kaufman LDL^T of the lower triangles of ``A`` (..., n, n): (LD, pivots,
    info) as LAPACK's dsytrf; info is the 1-based index of the first exactly-zero D[k, k]."""
    xp = xp_of(A)
    *batch, n, _ = A.shape
    count = math.prod(batch)
    low = xp.tril(A.reshape((count, n, n)))
    a = low + xp.swapaxes(xp.tril(low, -1), -1, -2)  # symmetric working copy
    pivots = xp.zeros((count, n), dtype=np.int32)
    info = xp.zeros(count, dtype=np.int32)
    starts = xp.ones(count, dtype=bool)  # whether column k starts a block (not a 2x2's second)
    with np.errstate(divide="ignore", invalid="ignore"):  # masked-out matrices' zero pivots
        for k in range(n):
            starts = ~_factor_step(a, k, starts, pivots, info)
    LD = xp.tril(a).reshape(A.shape)
    return LD, pivots.reshape(tuple(batch) + (n,)), info.reshape(tuple(batch))


def _singular_d_message(k):
    return (f"D[{k - 1},{k - 1}] is exactly zero: the factorization was completed, but D is "
            "singular and ldl_solve would divide by zero. Use ldl_factor_ex to get the factors "
            "anyway")


@supports_out("linalg_ldl_factor_ex")
def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """``(LD, pivots, info)``: the compact LDL^T factorization of symmetric matrices (..., n, n)
    (only the lower triangle is read) in LAPACK sytrf's Bunch-Kaufman form (see the module
    docstring); ``info`` is the 1-based index of the first exactly-zero diagonal of D (0 if
    none), or raises with ``check_errors``. ``hermitian`` is the same as symmetric for real
    matrices. Not differentiable.

    >>> A = fastdl.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> LD, pivots, info = fastdl.linalg.ldl_factor_ex(A)
    >>> LD.tolist(), pivots.tolist(), info.item()
    ([[0.0, 0.0], [1.0, 0.0]], [-2, -2], 0)
    """
    check_bool_arg(hermitian, "linalg_ldl_factor_ex", "hermitian")
    check_matrix("torch.linalg.ldl_factor_ex", A)
    LD, pivots, info = ldl_factor_array(A._data)
    if check_errors:
        raise_for_info("torch.linalg.ldl_factor_ex", info, _singular_d_message)
    return ldl_factor_ex_result(_wrap(LD), _wrap(pivots), _wrap(info))


@supports_out("linalg_ldl_factor")
def ldl_factor(A, *, hermitian=False, out=None):
    """``(LD, pivots)`` of ``ldl_factor_ex``; an exactly singular D raises ``LinAlgError``.

    >>> A = fastdl.tensor([[4.0, 2.0], [2.0, 3.0]])
    >>> LD, pivots = fastdl.linalg.ldl_factor(A)
    >>> LD.tolist(), pivots.tolist()
    ([[4.0, 0.0], [0.5, 2.0]], [1, 2])
    """
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    raise_for_info("torch.linalg.ldl_factor", info._data, _singular_d_message)
    return ldl_factor_result(LD, pivots)


def _check_solve_args(LD, pivots, B):
    name = "torch.linalg.ldl_solve"
    check_matrix(name, LD)
    if not isinstance(pivots, Tensor) or pivots._data.dtype.kind not in "iu":
        got = type(pivots).__name__ if not isinstance(pivots, Tensor) else pivots._data.dtype
        raise RuntimeError(f"{name}: Expected pivots to be integers, got {got}")
    if tuple(pivots._data.shape) != tuple(LD._data.shape[:-1]):
        raise RuntimeError(f"{name}: Expected LD.shape[:-1] and pivots.shape to be the same, "
                           f"but got pivots with shape {list(pivots._data.shape)} instead")
    if not isinstance(B, Tensor):
        raise TypeError(f"{name}: expected B to be a Tensor, got {type(B).__name__}")
    if B._data.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[-{max(B._data.ndim, 1)}, {max(B._data.ndim, 1) - 1}], but got -2)")
    if B._data.dtype != LD._data.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{torch_dtype_name(B._data.dtype)} and A of type "
                           f"{torch_dtype_name(LD._data.dtype)} instead.")
    n = LD._data.shape[-1]
    if B._data.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for torch.linalg.ldl_solve: each A "
                           f"matrix is {n} by {n} but each b matrix is "
                           f"{B._data.shape[-2]} by {B._data.shape[-1]}")
    p = pivots._data
    if p.size and bool(((p == 0) | (abs(p) > n)).any()):
        raise RuntimeError(f"{name}: pivots must be in [-{n}, -1] or [1, {n}] (LAPACK's "
                           "sytrf form), got a value outside")


def _swap_rows(x, i, j):
    """Swap rows i[b] and j[b] of each x[b] (per-matrix row indices)."""
    rows = xp_of(x).arange(x.shape[0])
    xi, xj = x[rows, i].copy(), x[rows, j].copy()
    x[rows, i], x[rows, j] = xj, xi


def _block_kinds(piv):
    """Per column: 1 for a 1x1 block, 2 for the first column of a 2x2 block, 3 for its
    second (LAPACK marks both columns of a 2x2 block with the same negative pivot)."""
    xp = xp_of(piv)
    kinds = xp.ones(piv.shape, dtype=np.int8)
    second = xp.zeros(piv.shape[0], dtype=bool)
    for k in range(piv.shape[1]):
        kinds[:, k] = xp.where(second, 3, xp.where(piv[:, k] < 0, 2, 1))
        second = kinds[:, k] == 2
    return kinds


def ldl_solve_array(LD, pivots, B):
    """X with A X = B from A's sytrf factors, as LAPACK's dsytrs (lower): (count, n, n),
    (count, n) and (count, n, k) arrays; one Python step per row, vectorized over the batch
    (each matrix's blocks decide which of the masked updates apply to it)."""
    xp = xp_of(B)
    n = LD.shape[-1]
    x = B.copy()
    kinds = _block_kinds(pivots)
    target = xp.abs(pivots.astype(np.int64)) - 1  # the row interchanged at each column
    col = xp.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(n):  # solve L D y = P^T b, block by block
            one, two = kinds[:, k] == 1, kinds[:, k] == 2
            # a 2x2 block at k interchanged row k + 1 (min: an index for the other matrices)
            _swap_rows(x, xp.where(two, min(k + 1, n - 1), k), xp.where(one | two, target[:, k], k))
            x[:, k + 1:] -= xp.where(one[:, None, None], LD[:, k + 1:, k, None] * x[:, None, k],
                                     0)
            x[:, k] = xp.where(one[:, None], x[:, k] / LD[:, k, k, None], x[:, k])
            if k + 1 < n and bool(two.any()):
                x[:, k + 2:] -= xp.where(two[:, None, None],
                                         LD[:, k + 2:, k, None] * x[:, None, k]
                                         + LD[:, k + 2:, k + 1, None] * x[:, None, k + 1], 0)
                e = LD[:, k + 1, k, None]
                akm1, ak = LD[:, k, k, None] / e, LD[:, k + 1, k + 1, None] / e
                denom = akm1 * ak - 1.0
                bkm1, bk = x[:, k] / e, x[:, k + 1] / e
                x[:, k] = xp.where(two[:, None], (ak * bkm1 - bk) / denom, x[:, k])
                x[:, k + 1] = xp.where(two[:, None], (akm1 * bk - bkm1) / denom, x[:, k + 1])
    for k in range(n - 1, -1, -1):  # solve L^T P^T x = y
        one, last = kinds[:, k] == 1, kinds[:, k] == 3
        rest = x[:, k + 1:]
        x[:, k] -= xp.where((one | last)[:, None],
                            xp.einsum("bi,bij->bj", LD[:, k + 1:, k], rest), 0)
        if k > 0:
            x[:, k - 1] -= xp.where(last[:, None],
                                    xp.einsum("bi,bij->bj", LD[:, k + 1:, k - 1], rest), 0)
        _swap_rows(x, col[k], xp.where(one | last, target[:, k], k))
    return x


@supports_out("linalg_ldl_solve")
def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """X with A X = B from ``ldl_factor``'s (LD, pivots) of A (LAPACK sytrs); B (..., n, k),
    batch dimensions of LD and B broadcast. ``hermitian`` is the same as symmetric for real
    matrices. Not differentiable.

    >>> A = fastdl.tensor([[0.0, 1.0], [1.0, 2.0]])
    >>> LD, pivots = fastdl.linalg.ldl_factor(A)
    >>> fastdl.linalg.ldl_solve(LD, pivots, fastdl.tensor([[1.0], [4.0]])).tolist()
    [[2.0], [1.0]]
    """
    check_bool_arg(hermitian, "linalg_ldl_solve", "hermitian")
    _check_solve_args(LD, pivots, B)
    xp = xp_of(B._data)
    n = LD._data.shape[-1]
    batch = tuple(np.broadcast_shapes(LD._data.shape[:-2], B._data.shape[:-2]))
    count = math.prod(batch)
    ld = xp.broadcast_to(LD._data, batch + (n, n)).reshape((count, n, n))
    piv = xp.broadcast_to(pivots._data, batch + (n,)).reshape((count, n))
    b = xp.broadcast_to(B._data, batch + B._data.shape[-2:]).reshape((count,) + B._data.shape[-2:])
    return _wrap(ldl_solve_array(ld, piv, b).reshape(batch + B._data.shape[-2:]))
