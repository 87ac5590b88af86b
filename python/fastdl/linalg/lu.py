"""LU with partial pivoting: torch.linalg.lu_factor, lu_factor_ex, lu, lu_solve (pivots are
1-based int32, as LAPACK's and torch's). The factorization is ``lu_factor_array`` (numpy has
none); its backward is torch's lu_factor_ex_backward (square, wide and tall matrices)."""
from __future__ import annotations

import math
from collections import namedtuple

from fastdl.autograd.op import Saved, defop
from fastdl.functional._core import _wrap, xp_of
from fastdl.functional.everyday import tril, triu
from fastdl.functional.linalg import matmul
from fastdl.functional.shape import cat, narrow
from fastdl.linalg._common import (LinAlgError, backward_outputs, check_matrix, eye_like, lu_factor_array, mT,
                                   raise_for_info)
from fastdl.linalg.solvers import solve_triangular
from fastdl.functional.out_arg import supports_out

lu_factor_result = namedtuple("lu_factor", ["LU", "pivots"])
lu_factor_ex_result = namedtuple("lu_factor_ex", ["LU", "pivots", "info"])
lu_result = namedtuple("lu", ["P", "L", "U"])


def _lu_factor_forward(a, saved):
    lu, pivots, info = lu_factor_array(a)
    saved.values = (lu, pivots, info)
    return lu, pivots, info


def _lu_factor_backward(ctx, grads):
    g = grads[0]
    if g is None:
        return (None,)
    LU, pivots, _ = backward_outputs(ctx, lu_factor_op, ctx.args[0])
    m, n = LU._data.shape[-2:]
    k = min(m, n)
    P, L, U = unpack(LU, pivots)
    # A = P L U with L = [L1; L2] (m x k) and U = [U1 U2] (k x n), L1 and U1 square. The
    # square part L1 U1 takes the square formula, gA1 = L1^-T (tril(L1^T gL1, -1) +
    # triu(gU1 U1^T)) U1^-T; the rest, A2 = L2 U1 (tall) or L1 U2 (wide), adds its own
    # gradient and feeds back through U1 (gU1 -= L2^T gL2 U1^-T) or L1 (gL1 -= L1^-T gU2 U2^T).
    gL, gU = tril(narrow(g, -1, 0, k), -1), triu(narrow(g, -2, 0, k))
    L1, gL1, U1, gU1 = narrow(L, -2, 0, k), narrow(gL, -2, 0, k), narrow(U, -1, 0, k), \
        narrow(gU, -1, 0, k)
    lower, upper = matmul(mT(L1), gL1), matmul(gU1, mT(U1))
    if m > k:
        L2, gL2 = narrow(L, -2, k, m - k), narrow(gL, -2, k, m - k)
        upper = upper - matmul(mT(L2), gL2)
    if n > k:
        U2, gU2 = narrow(U, -1, k, n - k), narrow(gU, -1, k, n - k)
        lower = lower - matmul(gU2, mT(U2))
    gA = tril(lower, -1) + triu(upper)
    gA = solve_triangular(mT(U1), gA, upper=False, left=False)
    if n > k:
        gA = cat([gA, gU2], -1)
    gA = solve_triangular(mT(L1), gA, upper=True, unitriangular=True)
    if m > k:
        gA = cat([gA, solve_triangular(mT(U1), gL2, upper=False, left=False)], -2)
    return (matmul(P, gA),)


lu_factor_op = defop("linalg_lu_factor", forward=_lu_factor_forward,
                     backward=_lu_factor_backward, float_only=True, n_outputs=3)


def permutation_matrix(pivots, m, dtype):
    """P with A = P L U from LAPACK's 1-based row interchanges (row i swapped with
    pivots[i] - 1, in order)."""
    xp = xp_of(pivots)
    piv = pivots.reshape((math.prod(pivots.shape[:-1]), pivots.shape[-1])) - 1
    perm = xp.broadcast_to(xp.arange(m), (piv.shape[0], m)).copy()
    rows = xp.arange(piv.shape[0])
    for i in range(piv.shape[-1]):
        p = piv[:, i]
        perm_i = perm[:, i].copy()
        perm[:, i] = perm[rows, p]
        perm[rows, p] = perm_i
    P = xp.zeros((piv.shape[0], m, m), dtype=dtype)
    P[rows[:, None], perm, xp.arange(m)[None, :]] = 1
    return P.reshape(pivots.shape[:-1] + (m, m))


def unpack(LU, pivots):
    """``(P, L, U)`` from the packed factors (differentiable in LU)."""
    m, n = LU._data.shape[-2:]
    k = min(m, n)
    L = tril(narrow(LU, -1, 0, k), -1) + eye_like(LU, m)[..., :k]
    U = triu(narrow(LU, -2, 0, k))
    P = _wrap(permutation_matrix(pivots._data, m, LU._data.dtype))
    return P, L, U


@supports_out("linalg_lu_factor_ex")
def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """``(LU, pivots, info)``: info = 1-based index of the first zero pivot (0 if none)."""
    check_matrix("torch.linalg.lu_factor_ex", A, square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, pivots, info = lu_factor_op.apply((A,), Saved())
    if check_errors:
        raise_for_info("torch.linalg.lu_factor_ex", info._data, _zero_pivot_message)
    return lu_factor_ex_result(LU, pivots, info)


def _zero_pivot_message(k):
    return (f"U[{k},{k}] is zero and using it on lu_solve would result in a division by zero. "
            "If you still want to perform the factorization, consider calling linalg.lu(A, "
            "pivot) or linalg.lu_factor_ex(A, pivot)")


@supports_out("linalg_lu_factor")
def lu_factor(A, *, pivot=True, out=None):
    """``(LU, pivots)``: L below the diagonal (unit diagonal implied), U on and above it; a
    zero pivot raises.

    >>> LU, pivots = fastdl.linalg.lu_factor(fastdl.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> pivots.tolist()
    [2, 2]
    """
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    try:
        raise_for_info("torch.linalg.lu_factor", info._data, _zero_pivot_message)
    except LinAlgError as e:  # torch reports this one as a plain RuntimeError
        raise RuntimeError(str(e)) from None
    return lu_factor_result(LU, pivots)


@supports_out("linalg_lu")
def lu(A, *, pivot=True, out=None):
    """``(P, L, U)`` with A = P L U (L unit lower triangular, m x k; U k x n)."""
    LU, pivots, _ = lu_factor_ex(A, pivot=pivot)
    return lu_result(*unpack(LU, pivots))


@supports_out("linalg_lu_solve")
def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B from A's packed LU factors (X A = B for left=False; A^T for adjoint)."""
    check_matrix("linalg.lu_solve", LU)
    if B._data.ndim < 2 or B._data.shape[-2 if left else -1] != LU._data.shape[-1]:
        raise RuntimeError("linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({tuple(LU._data.shape[-2:])} and "
                           f"{tuple(B._data.shape[-2:])})")
    P, L, U = unpack(LU, pivots)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return mT(lu_solve(LU, pivots, mT(B), adjoint=not adjoint))
    if adjoint:  # A^T = U^T L^T P^T
        y = solve_triangular(mT(U), B, upper=False)
        y = solve_triangular(mT(L), y, upper=True, unitriangular=True)
        return matmul(P, y)
    y = solve_triangular(L, matmul(mT(P), B), upper=False, unitriangular=True)
    return solve_triangular(U, y, upper=True)

