"""Linear systems, inverses, determinants and the Cholesky factorization (torch.linalg's solve,
solve_ex, inv, inv_ex, solve_triangular, det, slogdet, cholesky, cholesky_ex).

Forwards run numpy.linalg (cupy.linalg for cupy arrays: the same calls through ``xp``);
backwards are PyTorch's formulas (FunctionsManual.cpp) written with registered ops, so they are
differentiable again. Singular and not positive-definite inputs raise ``LinAlgError`` with
torch's message; numpy reports only *that* a batch failed, so the failing element and pivot
are found again with a batched LU (``lu_factor_array``) to word it."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from fastdl.autograd.op import Saved, defop
from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.functional import arithmetic as ar
from fastdl.functional._core import _wrap, expand, grad_for, xp_of
from fastdl.functional.everyday import diag_embed, tril, triu
from fastdl.functional.linalg import matmul
from fastdl.functional.shape import squeeze, unsqueeze
from fastdl.functional.out_arg import supports_out
from fastdl.linalg._common import (LinAlgError, check_float, check_matrix,
                                   check_same_dtype, cholesky_failure_order, eye_like, lu_factor_array, mT,
                                   not_positive_definite_message, raise_for_info,
                                   singular_inverse_message, singular_solver_message)

inv_ex_result = namedtuple("inv_ex", ["inverse", "info"])
solve_ex_result = namedtuple("solve_ex", ["result", "info"])
cholesky_ex_result = namedtuple("cholesky_ex", ["L", "info"])
slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])

_SINGULAR_MESSAGES = {"inverse": singular_inverse_message, "solve": singular_solver_message}


# ---- general solve: X = A^-1 B ----------------------------------------------------------------

def _solve_forward(a, b, name, message):
    xp = xp_of(a)
    try:
        return xp.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        raise_for_info(name, lu_factor_array(a)[2], _SINGULAR_MESSAGES[message])
        raise LinAlgError(f"{name}: {_SINGULAR_MESSAGES[message](0)}") from None


def _solve_backward(ctx, g):
    # X = A^-1 B:  gB = A^-T g,  gA = -gB X^T (both broadcast back by grad_for's sum_to)
    a, b = ctx.inputs
    name, message = ctx.args
    gb = solve_op.apply((mT(a), g), name, message)
    ga = None
    if ctx.edges[0] is not None:
        x = solve_op.apply((a, b), name, message) if _grad_state.enabled else _wrap(ctx.out)
        ga = ar.neg(matmul(gb, mT(x)))
        ga = grad_for(ga, a)
    return ga, (grad_for(gb, b) if ctx.edges[1] is not None else None)


solve_op = defop("linalg_solve", forward=_solve_forward, backward=_solve_backward,
                 saves=(0,), saves_output=True, float_only=True)


def _is_vector_rhs(A_, B):
    """torch's rule: B is a (batch of) vector(s) when 1-D or shaped like A without its last dim."""
    sb = B._data.shape
    return len(sb) == 1 or (len(sb) == A_._data.ndim - 1 and sb == A_._data.shape[:-1])


def _solve(name, A_, B, left, message="solve"):
    check_matrix(name, A_)
    check_float(name, B)
    check_same_dtype(name, A_, B)
    vector = _is_vector_rhs(A_, B)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        if vector:
            raise RuntimeError(f"{name}: Vector broadcasting of the left hand side is not "
                               "supported for left=False. In this case linalg.solve is "
                               "equivalent to B / A.squeeze(-1)")
        return mT(_solve(name, mT(A_), mT(B), True, message))
    B2 = unsqueeze(B, -1) if vector else B
    if B2._data.shape[-2] != A_._data.shape[-1]:
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation AX = B "
                           f"({A_._data.shape[-2]}x{A_._data.shape[-1]} and "
                           f"{B2._data.shape[-2]}x{B2._data.shape[-1]})")
    try:
        np.broadcast_shapes(A_._data.shape[:-2], B2._data.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{name}: the batch dimensions of A {tuple(A_._data.shape[:-2])} and "
                           f"B {tuple(B2._data.shape[:-2])} do not broadcast") from None
    X = solve_op.apply((A_, B2), name, message)
    return squeeze(X, -1) if vector else X


@supports_out("linalg_solve")
def solve(A, B, *, left=True, out=None):
    """The solution X of ``A X = B`` (``X A = B`` with left=False) for square, invertible A;
    batched, B may be a (batch of) vector(s). Raises LinAlgError for a singular A.

    >>> fastdl.linalg.solve(fastdl.tensor([[2.0, 0.0], [0.0, 4.0]]),
    ...                     fastdl.tensor([2.0, 2.0])).tolist()
    [1.0, 0.5]
    """
    return _solve("torch.linalg.solve", A, B, left)


def _info_of_singular(A_):
    return _wrap(lu_factor_array(A_._data)[2])


def _with_nan_where_failed(X, info):
    """What the ``*_ex`` variants return for a failed batch element (torch leaves LAPACK's
    partial result there: it is meaningless either way, NaN says so)."""
    xp = xp_of(X._data)
    failed = xp.asarray(info._data > 0)
    if not bool(failed.any()):
        return X
    mask = failed.reshape(failed.shape + (1,) * (X._data.ndim - failed.ndim))
    return ar.where(_wrap(mask), float("nan"), X)


def _without_raising(name, A_, info, check_errors, message, compute):
    """What the ``*_ex`` variants share: raise only with check_errors; otherwise run
    ``compute`` on A with the failed matrices replaced by I, and NaN there in the result."""
    if check_errors:
        raise_for_info(name, info._data, message)
    failed = xp_of(A_._data).asarray(info._data > 0)
    safe = ar.where(_wrap(failed[..., None, None]), eye_like(A_), A_) if bool(failed.any()) \
        else A_
    return _with_nan_where_failed(compute(safe), info), info


@supports_out("linalg_solve_ex")
def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """``(result, info)``: solve without raising for a singular A (info > 0 marks it)."""
    check_matrix("torch.linalg.solve_ex", A)
    return solve_ex_result(*_without_raising(
        "torch.linalg.solve_ex", A, _info_of_singular(A), check_errors,
        singular_solver_message, lambda safe: solve(safe, B, left=left)))


@supports_out("linalg_inv")
def inv(A, *, out=None):
    """The inverse of a (batch of) square matrices; LinAlgError for a singular one.

    >>> fastdl.linalg.inv(fastdl.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    check_matrix("linalg.inv", A)
    eye = eye_like(A)
    return solve_op.apply((A, eye), "linalg.inv", "inverse")


@supports_out("linalg_inv_ex")
def inv_ex(A, *, check_errors=False, out=None):
    """``(inverse, info)``: inv without raising for a singular A (info > 0 marks it)."""
    check_matrix("linalg.inv_ex", A)
    return inv_ex_result(*_without_raising("linalg.inv_ex", A, _info_of_singular(A),
                                           check_errors, singular_inverse_message, inv))


# ---- triangular solve -------------------------------------------------------------------------

def _triangle(a, upper, unitriangular):
    xp = xp_of(a)
    t = xp.triu(a) if upper else xp.tril(a)
    if unitriangular:
        n = a.shape[-1]
        t = t.copy()
        t[..., xp.arange(n), xp.arange(n)] = 1
    return t


def _solve_triangular_forward(a, b, upper, unitriangular):
    """A^-1 B reading only A's triangle. A zero on the diagonal gives inf/NaN, not an error
    (LAPACK trtrs via torch does the same), hence the substitution fallback."""
    xp = xp_of(a)
    t = _triangle(a, upper, unitriangular)
    try:
        return xp.linalg.solve(t, xp.broadcast_to(b, b.shape))
    except np.linalg.LinAlgError:
        return _substitute(t, b, upper)


def _substitute(t, b, upper):
    xp = xp_of(t)
    batch = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    n = t.shape[-1]
    x = xp.zeros(batch + b.shape[-2:], dtype=np.result_type(t, b))
    order = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in order:
            acc = b[..., i, :] - (t[..., i, :, None] * x).sum(-2)
            x[..., i, :] = acc / t[..., i, i, None]
    return x


def _solve_triangular_backward(ctx, g):
    a, b = ctx.inputs
    upper, unitriangular = ctx.args
    gb = solve_triangular_op.apply((mT(a), g), not upper, unitriangular)
    ga = None
    if ctx.edges[0] is not None:
        x = solve_triangular_op.apply((a, b), upper, unitriangular) if _grad_state.enabled \
            else _wrap(ctx.out)
        ga = ar.neg(matmul(gb, mT(x)))
        ga = triu(ga, 1 if unitriangular else 0) if upper else tril(ga, -1 if unitriangular
                                                                     else 0)
        ga = grad_for(ga, a)
    return ga, (grad_for(gb, b) if ctx.edges[1] is not None else None)


solve_triangular_op = defop("linalg_solve_triangular", forward=_solve_triangular_forward,
                            backward=_solve_triangular_backward, saves=(0,), saves_output=True,
                            float_only=True)


@supports_out("linalg_solve_triangular")
def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with ``A X = B`` (``X A = B`` for left=False) for triangular A: only the triangle
    named by ``upper`` is read (and not its diagonal with unitriangular=True). B is a matrix.

    >>> fastdl.linalg.solve_triangular(fastdl.tensor([[2.0, 5.0], [0.0, 4.0]]),
    ...                                fastdl.tensor([[2.0], [4.0]]), upper=True).tolist()
    [[-1.5], [1.0]]
    """
    name = "linalg.solve_triangular"
    check_float(name, A, B)
    check_same_dtype(name, A, B)
    if A._data.ndim < 2 or B._data.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {'A' if A._data.ndim < 2 else 'B'} must "
                           "have at least 2 dimensions.")
    check_matrix(name, A)
    if not left:  # X A = B  <=>  A^T X^T = B^T, and A^T's triangle is the other one
        return mT(solve_triangular(mT(A), mT(B), upper=not upper, unitriangular=unitriangular))
    if B._data.shape[-2] != A._data.shape[-1]:
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation AX = B "
                           f"({A._data.shape[-2]}x{A._data.shape[-1]} and "
                           f"{B._data.shape[-2]}x{B._data.shape[-1]})")
    return solve_triangular_op.apply((A, B), bool(upper), bool(unitriangular))


# ---- Cholesky ---------------------------------------------------------------------------------

def _cholesky_forward(a, name):
    xp = xp_of(a)
    try:
        factor = xp.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        factor = None
    if factor is None or not bool(xp.isfinite(factor).all()):
        raise_for_info(name, cholesky_failure_order(a), not_positive_definite_message)
    return factor


def _cholesky_backward(ctx, g):
    # Murray's formula (torch's cholesky_backward): with Phi(X) = tril(X) with its diagonal
    # halved, symmetrized, gA = L^-T Phi(L^T gL) L^-1
    a, = ctx.inputs
    L = cholesky_op.apply((a,), *ctx.args) if _grad_state.enabled else _wrap(ctx.out)
    gA = tril(matmul(mT(L), g))
    gA = (gA + mT(tril(gA, -1))) * 0.5
    gA = solve_triangular(mT(L), gA, upper=True)
    return (solve_triangular(L, gA, upper=False, left=False),)


cholesky_op = defop("linalg_cholesky", forward=_cholesky_forward, backward=_cholesky_backward,
                    saves_output=True, float_only=True)


@supports_out("linalg_cholesky")
def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor L (lower, ``A = L L^T``; U = L^T with upper=True) of symmetric
    positive-definite matrices; only the lower triangle of A is read. LinAlgError when A is
    not positive-definite.

    >>> fastdl.linalg.cholesky(fastdl.tensor([[4.0, 2.0], [2.0, 2.0]])).tolist()
    [[2.0, 0.0], [1.0, 1.0]]
    """
    check_matrix("linalg.cholesky", A)
    L = cholesky_op.apply((A,), "linalg.cholesky")
    return mT(L) if upper else L


@supports_out("linalg_cholesky_ex")
def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """``(L, info)``: cholesky without raising; info is the order of the first leading minor
    that is not positive-definite (0 when A is positive-definite)."""
    name = "linalg.cholesky_ex"
    check_matrix(name, A)
    try:
        return cholesky_ex_result(cholesky(A, upper=upper),
                                  _wrap(np.zeros(A._data.shape[:-2], dtype=np.int32)))
    except LinAlgError:
        if check_errors:
            raise
    info = _wrap(cholesky_failure_order(A._data))
    return cholesky_ex_result(*_without_raising(name, A, info, False, None,
                                                lambda safe: cholesky(safe, upper=upper)))


# ---- determinants -----------------------------------------------------------------------------

def _slogdet_forward(a, saved):
    sign, logabsdet = xp_of(a).linalg.slogdet(a)
    return sign.astype(a.dtype), logabsdet.astype(a.dtype)


def _slogdet_backward(ctx, grads):
    # d log|det A| = tr(A^-1 dA): gA = g A^-T (the sign is piecewise constant)
    a = ctx.inputs[0]
    g = grads[1]
    if g is None:
        return (None,)
    return (solve_op.apply((mT(a), diag_embed(_expand_last(g, a))), "linalg.slogdet",
                           "solve"),)


def _expand_last(g, a):
    """g (batch,) as (batch, n), each value repeated along the new last dim."""
    n = a._data.shape[-1]
    return expand(unsqueeze(g, -1), g._data.shape + (n,))


slogdet_op = defop("linalg_slogdet", forward=_slogdet_forward, backward=_slogdet_backward,
                   saves=(0,), float_only=True, n_outputs=2)


@supports_out("linalg_slogdet")
def slogdet(A, *, out=None):
    """``(sign, logabsdet)`` of det(A), without the overflow of det itself.

    >>> fastdl.linalg.slogdet(fastdl.tensor([[-2.0, 0.0], [0.0, 4.0]])).sign.item()
    -1.0
    """
    check_matrix("linalg.slogdet", A)
    return slogdet_result(*slogdet_op.apply((A,), Saved()))


def logdet(A):
    """log det(A) of square matrices (*, n, n) -> (*): NaN where det(A) < 0, -inf where it
    is 0 (torch.logdet; slogdet gives the sign and log|det| separately).

    >>> round(fastdl.logdet(fastdl.tensor([[2.0, 0.0], [0.0, 3.0]])).item(), 4)  # log 6
    1.7918
    """
    check_matrix("logdet", A)
    sign, logabsdet = slogdet(A)
    return ar.where(sign < 0, float("nan"), logabsdet)


def _det_forward(a):
    return xp_of(a).linalg.det(a)


def _det_backward(ctx, g):
    # gA = g det(A) A^-T where A is invertible; torch's singular path (|det| < 100 eps) takes
    # the cofactors from the SVD, det(U Vh) U diag(prod_{j != i} s_j) Vh, which needs no inverse
    a, = ctx.inputs
    d = det_op.apply((a,)) if _grad_state.enabled else _wrap(ctx.out)
    data = a._data
    n = data.shape[-1]
    if n == 0 or data.size == 0:
        return (ar.mul(a, 0.0),)
    eps = np.finfo(data.dtype).eps
    singular = xp_of(data).abs(d._data) < 100 * eps
    scale = _expand_last(g * d, a)
    if not bool(singular.any()):
        return (solve_op.apply((mT(a), diag_embed(scale)), "linalg.det", "solve"),)
    from fastdl.linalg.decompositions import singular_cofactors
    mask = _wrap(xp_of(data).asarray(singular)[..., None, None])
    invertible = ar.where(mask, eye_like(a), a)
    regular = solve_op.apply((mT(invertible), diag_embed(scale)), "linalg.det", "solve")
    return (ar.where(mask, singular_cofactors(a, g), regular),)


det_op = defop("linalg_det", forward=_det_forward, backward=_det_backward, saves=(0,),
               saves_output=True, float_only=True)


@supports_out("linalg_det")
def det(A, *, out=None):
    """The determinant of a (batch of) square matrices.

    >>> fastdl.linalg.det(fastdl.tensor([[2.0, 1.0], [1.0, 3.0]])).item()
    5.0
    """
    check_matrix("linalg.det", A)
    return det_op.apply((A,))


__all__ = ["LinAlgError", "solve", "solve_ex", "inv", "inv_ex", "solve_triangular", "cholesky",
           "cholesky_ex", "slogdet", "logdet", "det"]
