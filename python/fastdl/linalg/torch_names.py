"""torch's top-level linear-algebra functions (torch.det, inverse, svd, qr, lu, cholesky_solve,
triangular_solve ...): the older signatures over the torch.linalg implementations."""
from __future__ import annotations

from collections import namedtuple

from fastdl.functional.out_arg import supports_out
from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.autograd.op import defop
from fastdl.functional._core import _wrap, grad_for, xp_of
from fastdl.functional.linalg import matmul
from fastdl.functional.shape import clone
from fastdl.linalg import decompositions as D
from fastdl.linalg import lu_factor_ex, lu_solve as linalg_lu_solve
from fastdl.linalg import solvers as S
from fastdl.linalg._common import LinAlgError, check_matrix, eye_like, mT, \
    singular_inverse_message
from fastdl.linalg.geqrf import geqrf

svd_result = namedtuple("svd", ["U", "S", "V"])
triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
qr_result = namedtuple("qr", ["Q", "R"])


@supports_out("inverse")
@autocast_op("inverse")
def inverse(input, *, out=None):
    """The inverse of square matrices (*, n, n) -> (*, n, n) (torch.inverse: linalg.inv);
    a singular matrix raises.

    >>> fastdl.inverse(fastdl.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    return S.inv(input)


@autocast_op("pinverse")
def pinverse(input, rcond=1e-15):
    """The Moore-Penrose pseudo-inverse (*, m, n) -> (*, n, m) (torch.pinverse: linalg.pinv
    with rtol=rcond; singular values below rcond * the largest count as 0).

    >>> fastdl.pinverse(fastdl.tensor([[2.0, 0.0], [0.0, 0.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    return D.pinv(input, rtol=rcond)


@supports_out("cholesky")
@autocast_op("cholesky")
def cholesky(input, upper=False, *, out=None):
    """The Cholesky factor of symmetric positive-definite matrices (*, n, n): L lower
    triangular with A = L L^T (torch.cholesky; upper=True gives U with A = U^T U).

    >>> fastdl.cholesky(fastdl.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    return S.cholesky(input, upper=upper)


def _cholesky_solve_forward(b, factor, upper):
    lower = xp_of(factor).swapaxes(factor, -1, -2) if upper else factor
    y = S._solve_triangular_forward(lower, b, False, False)
    return S._solve_triangular_forward(xp_of(factor).swapaxes(lower, -1, -2), y, True, False)


def _cholesky_solve_backward(ctx, g):
    # torch's cholesky_solve_backward: gB = cholesky_solve(g, L); with C = gB X^T + X gB^T,
    # gL = -C L (-U C for upper), the gradient of L as a full matrix
    b, factor = ctx.inputs
    upper = ctx.args[0]
    gb = cholesky_solve_op.apply((g, factor), upper)
    gl = None
    if ctx.edges[1] is not None:
        X = cholesky_solve_op.apply((b, factor), upper) if _grad_state.enabled \
            else _wrap(ctx.out)
        common = matmul(gb, mT(X))
        common = common + mT(common)
        gl = grad_for(-(matmul(factor, common) if upper else matmul(common, factor)), factor)
    return (grad_for(gb, b) if ctx.edges[0] is not None else None), gl


cholesky_solve_op = defop("cholesky_solve", forward=_cholesky_solve_forward,
                          backward=_cholesky_solve_backward, saves=(1,), saves_output=True,
                          float_only=True)


@supports_out("cholesky_solve", dtype_rule="safe")
@autocast_op("cholesky_solve")
def cholesky_solve(B, L, upper=False, *, out=None):
    """X with (L L^T) X = B from the Cholesky factor L (U^T U with upper=True)
    (torch.cholesky_solve): B (*, n, k), L (*, n, n) -> (*, n, k). Only L's triangle is read,
    but the gradient w.r.t. L is torch's, which treats L as a full matrix.

    >>> L = fastdl.cholesky(fastdl.tensor([[4.0, 2.0], [2.0, 5.0]]))
    >>> fastdl.cholesky_solve(fastdl.tensor([[6.0], [7.0]]), L).tolist()
    [[1.0], [1.0]]
    """
    check_matrix("cholesky_solve", L)
    if B._data.ndim < 2 or B._data.shape[-2] != L._data.shape[-1]:
        raise RuntimeError(f"cholesky_solve: Incompatible matrix sizes for cholesky_solve: "
                           f"each A matrix is {L._data.shape[-1]} by {L._data.shape[-1]} but "
                           f"each b matrix is {tuple(B._data.shape[-2:])}")
    return cholesky_solve_op.apply((B, L), bool(upper))


@supports_out("cholesky_inverse")
@autocast_op("cholesky_inverse")
def cholesky_inverse(L, upper=False, *, out=None):
    """(L L^T)^-1 from the Cholesky factor L (U^T U with upper=True) (torch.cholesky_inverse):
    (*, n, n) -> (*, n, n); a zero on L's diagonal raises.

    >>> fastdl.cholesky_inverse(fastdl.tensor([[2.0, 0.0], [0.0, 1.0]])).tolist()
    [[0.25, 0.0], [0.0, 1.0]]
    """
    check_matrix("cholesky_inverse", L)
    diag = xp_of(L._data).diagonal(L._data, 0, -2, -1)
    zero = (diag == 0)
    if bool(zero.any()):
        first = zero.reshape(-1, zero.shape[-1])
        batch = int(first.any(-1).argmax())
        k = int(first[batch].argmax()) + 1
        prefix = f"(Batch element {batch}): " if L._data.ndim > 2 else ""
        raise LinAlgError(f"cholesky_inverse: {prefix}{singular_inverse_message(k)}")
    return cholesky_solve(eye_like(L), L, upper)


@supports_out("svd")
@autocast_op("svd")
def svd(input, some=True, compute_uv=True, *, out=None):
    """The singular value decomposition A = U diag(S) V^T (torch.svd): ``(U, S, V)`` (V,
    not linalg.svd's Vh). A (*, m, n), k = min(m, n): U (*, m, k), S (*, k) descending,
    V (*, n, k) when some=True; U (*, m, m), V (*, n, n) otherwise. compute_uv=False gives
    zero-filled U and V.

    >>> U, S, V = fastdl.svd(fastdl.ones(4, 3))
    >>> U.shape, S.shape, V.shape
    ((4, 3), (3,), (3, 3))
    >>> fastdl.svd(fastdl.tensor([[3.0, 0.0], [0.0, 2.0]])).S.tolist()
    [3.0, 2.0]
    """
    if not compute_uv:
        s = D.svdvals(input)
        m, n = input._data.shape[-2:]
        xp, dt, batch = xp_of(input._data), input._data.dtype, input._data.shape[:-2]
        return svd_result(_wrap(xp.zeros(batch + (m, m), dt)), s,
                          _wrap(xp.zeros(batch + (n, n), dt)))
    U, S_, Vh = D.svd(input, full_matrices=not some)
    return svd_result(U, S_, mT(Vh))


@supports_out("qr")
@autocast_op("qr")
def qr(input, some=True, *, out=None):
    """The QR decomposition A = Q R (torch.qr: linalg.qr): ``(Q, R)`` with Q orthonormal
    columns and R upper triangular. A (*, m, n), k = min(m, n): Q (*, m, k), R (*, k, n) when
    some=True; Q (*, m, m), R (*, m, n) otherwise.

    >>> Q, R = fastdl.qr(fastdl.ones(4, 3))
    >>> Q.shape, R.shape
    ((4, 3), (3, 3))
    >>> Q, R = fastdl.qr(fastdl.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> [round(abs(v), 4) for v in R.flatten().tolist()]
    [5.0, 2.2, 0.0, 0.4]
    """
    return qr_result(*D.qr(input, "reduced" if some else "complete"))


@supports_out("lu")
def lu(A, pivot=True, get_infos=False, out=None):
    """The LU factorization with partial pivoting P A = L U (torch.lu): ``(LU, pivots)``, L
    (unit diagonal, not stored) and U packed in LU (*, n, n), 1-based int32 row swaps in
    pivots (*, n); ``infos`` too with get_infos=True. Never raises (see lu_solve).

    >>> LU, pivots = fastdl.lu(fastdl.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> [round(v, 4) for v in LU.flatten().tolist()], pivots.tolist()
    ([3.0, 4.0, 0.3333, 0.6667], [2, 2])
    """
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    return (LU, pivots, info) if get_infos else (LU, pivots)


@supports_out("triangular_solve")
@autocast_op("triangular_solve")
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """Solve the triangular system op(A) X = b (torch.triangular_solve): ``(solution,
    cloned_coefficient)``, i.e. (X, A.clone()); op is the transpose with transpose=True. b
    (*, n, k), A (*, n, n) upper (lower with upper=False) -> X (*, n, k).

    >>> X, _ = fastdl.triangular_solve(fastdl.tensor([[4.0], [6.0]]),
    ...                                fastdl.tensor([[2.0, 1.0], [0.0, 3.0]]))
    >>> X.tolist()
    [[1.0], [2.0]]
    """
    coefficient = mT(A) if transpose else A
    X = S.solve_triangular(coefficient, b, upper=upper != transpose, unitriangular=unitriangular)
    return triangular_solve_result(X, clone(A))



@supports_out("lu_solve")
@autocast_op("lu_solve")
def lu_solve(b, LU_data, LU_pivots, *, out=None):
    """X with A X = b from A's LU factorization (torch.lu_solve: linalg.lu_solve with
    torch's older argument order): b (*, n, k), LU_data (*, n, n) and LU_pivots (*, n) from
    fastdl.lu -> (*, n, k).

    >>> LU, pivots = fastdl.lu(fastdl.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> fastdl.lu_solve(fastdl.tensor([[5.0], [11.0]]), LU, pivots).tolist()
    [[1.0], [2.0]]
    """
    return linalg_lu_solve(LU_data, LU_pivots, b)


# torch's top-level names and the Tensor methods torch has for them
from fastdl.linalg.norms import dist  # noqa: E402
from fastdl.linalg.products import (addbmm, addmv, addr, chain_matmul, cross, inner,  # noqa: E402
                                    matrix_exp, matrix_power, mv, tensordot, vdot)

TOP_LEVEL = {"det": S.det, "logdet": S.logdet, "slogdet": S.slogdet, "inverse": inverse,
             "pinverse": pinverse, "cholesky": cholesky, "cholesky_solve": cholesky_solve,
             "cholesky_inverse": cholesky_inverse, "matrix_power": matrix_power,
             "matrix_exp": matrix_exp, "svd": svd, "qr": qr, "lu": lu, "lu_solve": lu_solve,
             "triangular_solve": triangular_solve, "cross": cross, "inner": inner, "mv": mv,
             "addmv": addmv, "addr": addr, "addbmm": addbmm, "chain_matmul": chain_matmul,
             "tensordot": tensordot, "vdot": vdot, "dist": dist, "geqrf": geqrf}
TENSOR_METHODS = {name: TOP_LEVEL[name] for name in (
    "det", "logdet", "slogdet", "inverse", "pinverse", "cholesky", "cholesky_solve",
    "cholesky_inverse", "matrix_power", "matrix_exp", "svd", "qr", "lu", "lu_solve",
    "triangular_solve", "cross", "inner", "mv", "addmv", "addr", "addbmm", "vdot", "dist",
    "geqrf")}
