"""QR, SVD, symmetric eigendecomposition, pseudo-inverse and least squares (torch.linalg's qr,
svd, svdvals, eigh, eigvalsh, pinv, lstsq, matrix_rank, cond; eig/eigvals refuse: see there).

Each factorization is one multi-output op whose forward is numpy.linalg (cupy.linalg on the
GPU) and whose backward is PyTorch's formula from FunctionsManual.cpp, written with registered
ops. The singular vectors and eigenvectors are unique only up to sign; the formulas give the
gradient of losses that do not depend on that choice (as torch's do), and under
``create_graph`` they read outputs recomputed in the graph (``backward_outputs``), so second
derivatives work too."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.autograd.op import Saved, defop
from fastdl.functional import arithmetic as ar
from fastdl.functional._core import Tensor, _wrap, xp_of
from fastdl.functional.everyday import diag_embed, diagonal, tril, triu
from fastdl.functional.linalg import matmul
from fastdl.functional.reductions import amax, amin
from fastdl.functional.shape import cat, narrow, reshape, squeeze, unsqueeze
from fastdl.linalg._common import backward_outputs, check_float, check_matrix, mT
from fastdl.linalg.solvers import solve_triangular
from fastdl.functional.out_arg import supports_out

qr_result = namedtuple("qr", ["Q", "R"])
svd_result = namedtuple("svd", ["U", "S", "Vh"])
eigh_result = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
lstsq_result = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])


# ---- QR -----------------------------------------------------------------------------------------

def _qr_forward(a, mode, saved):
    xp = xp_of(a)
    if mode == "r":
        r = xp.linalg.qr(a, mode="r")
        q = xp.zeros((0,), dtype=a.dtype)
    else:
        q, r = xp.linalg.qr(a, mode=mode)
    saved.values = (q, r)
    return q, r


def _qr_backward(ctx, grads):
    gQ, gR = grads
    mode = ctx.args[0]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when "
                           "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going "
                           "to differentiate through linalg.qr.")
    Q, R = backward_outputs(ctx, qr_op, ctx.args[1])
    m, n = Q._data.shape[-2], R._data.shape[-1]
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and "
                           "nrows > ncols.")
    if gQ is None:
        gA = matmul(gR, mT(R))
    elif gR is None:
        gA = ar.neg(matmul(mT(Q), gQ))
    else:
        gA = matmul(gR, mT(R)) - matmul(mT(Q), gQ)
    if m >= n:
        # X + X^T of the upper triangle, diagonal counted once
        sym = triu(gA)
        sym = sym + mT(sym)
        sym = sym - diag_embed(diagonal(sym, 0, -2, -1) * 0.5)
        gA = matmul(Q, sym)
        if gQ is not None:
            gA = gA + gQ
        return (solve_triangular(mT(R), gA, upper=False, left=False),)
    skew = tril(mT(gA) - gA)
    gA = solve_triangular(mT(narrow(R, -1, 0, m)), matmul(Q, skew), upper=False, left=False)
    gA = cat([gA, _zeros(R, R._data.shape[:-1] + (n - m,))], -1)
    if gR is not None:
        gA = gA + matmul(Q, gR)
    return (gA,)


def _zeros(like, shape):
    d = like._data
    return _wrap(xp_of(d).zeros(shape, dtype=d.dtype))


qr_op = defop("linalg_qr", forward=_qr_forward, backward=_qr_backward, float_only=True,
              n_outputs=2)


@supports_out("linalg_qr")
def qr(A, mode="reduced", *, out=None):
    """``(Q, R)`` with ``A = Q R``, Q's columns orthonormal and R upper triangular (LAPACK's
    Householder QR, the diagonal signs torch gets). mode: 'reduced' (Q m x k), 'complete'
    (Q m x m) or 'r' (R only; Q is empty and nothing is differentiable).

    >>> Q, R = fastdl.linalg.qr(fastdl.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> round(abs(R[0, 0].item()), 6)
    5.0
    """
    check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    return qr_result(*qr_op.apply((A,), mode, Saved()))


# ---- SVD ----------------------------------------------------------------------------------------

def _svd_forward(a, full_matrices, saved):
    u, s, vh = xp_of(a).linalg.svd(a, full_matrices=full_matrices)
    saved.values = (u, s, vh)
    return u, s, vh


def _svd_backward(ctx, grads):
    gU, gS, gVh = grads
    U, S, Vh = backward_outputs(ctx, svd_op, ctx.args[1])
    if ctx.args[0]:  # the full factorization's extra vectors say nothing about A: drop them
        k = S._data.shape[-1]
        U, Vh = narrow(U, -1, 0, k), narrow(Vh, -2, 0, k)
        gU = None if gU is None else narrow(gU, -1, 0, k)
        gVh = None if gVh is None else narrow(gVh, -2, 0, k)
    return (svd_backward(gU, gS, gVh, U, S, Vh),)


def svd_backward(gU, gS, gVh, U, S, Vh):
    """torch's svd_backward for real matrices: A = U diag(S) Vh, reduced factors."""
    m, n = U._data.shape[-2], Vh._data.shape[-1]
    if gU is None and gVh is None:
        if gS is None:
            return None
        return matmul(U, unsqueeze(gS, -1) * Vh) if m >= n else \
            matmul(U * unsqueeze(gS, -2), Vh)
    UhgU = None if gU is None else _skew(matmul(mT(U), gU))
    VhgV = None if gVh is None else _skew(matmul(Vh, mT(gVh)))
    S2 = S * S
    # E_ij = S_j^2 - S_i^2 with ones on the diagonal (equal singular values divide by zero,
    # as in torch: such a loss's gradient is not defined)
    E = unsqueeze(S2, -2) - unsqueeze(S2, -1) + diag_embed(ar.mul(S, 0.0) + 1.0)
    if gU is not None and gVh is not None:
        gA = (UhgU * unsqueeze(S, -2) + unsqueeze(S, -1) * VhgV) / E
    elif gU is not None:
        gA = (UhgU / E) * unsqueeze(S, -2)
    else:
        gA = unsqueeze(S, -1) * (VhgV / E)
    if gS is not None:
        gA = gA + diag_embed(gS)
    if m > n and gU is not None:
        gA = matmul(U, gA)
        gUSinv = gU / unsqueeze(S, -2)
        gA = gA + gUSinv - matmul(U, matmul(mT(U), gUSinv))
        return matmul(gA, Vh)
    if m < n and gVh is not None:
        gA = matmul(gA, Vh)
        SinvgVh = gVh / unsqueeze(S, -1)
        gA = gA + SinvgVh - matmul(matmul(SinvgVh, mT(Vh)), Vh)
        return matmul(U, gA)
    return matmul(U, matmul(gA, Vh)) if m >= n else matmul(matmul(U, gA), Vh)


def _skew(x):
    return x - mT(x)


svd_op = defop("linalg_svd", forward=_svd_forward, backward=_svd_backward, float_only=True,
               n_outputs=3)


@supports_out("linalg_svd")
def svd(A, full_matrices=True, *, driver=None, out=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, S descending. full_matrices=False gives the
    reduced factors (U m x k, Vh k x n, k = min(m, n)). Singular vectors are unique up to
    sign; gradients are those of losses that do not depend on the signs.

    >>> fastdl.linalg.svd(fastdl.tensor([[3.0, 0.0], [0.0, -4.0]])).S.tolist()
    [4.0, 3.0]
    """
    check_matrix("linalg.svd", A, square=False)
    return svd_result(*svd_op.apply((A,), bool(full_matrices), Saved()))


@supports_out("linalg_svdvals")
def svdvals(A, *, driver=None, out=None):
    """The singular values, descending (differentiable: their gradient is U diag(g) Vh)."""
    check_matrix("linalg.svdvals", A, square=False)
    return svd_op.apply((A,), False, Saved())[1]


def singular_cofactors(a, g):
    """g times the cofactor matrix of a (possibly singular) A, from its SVD: det(U) det(Vh)
    U diag(prod_{j != i} s_j) Vh (torch's singular path of det's backward). A constant: the
    second derivative at a singular matrix is not recorded."""
    xp = xp_of(a._data)
    u, s, vh = xp.linalg.svd(a._data)
    n = s.shape[-1]
    others = xp.stack([xp.prod(xp.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1)
    alpha = xp.linalg.det(u) * xp.linalg.det(vh) * g._data
    return _wrap((u * (alpha[..., None] * others)[..., None, :]) @ vh)


# ---- symmetric eigendecomposition ---------------------------------------------------------------

def _eigh_forward(a, uplo, saved):
    w, v = xp_of(a).linalg.eigh(a, UPLO=uplo)
    saved.values = (w, v)
    return w, v


def _eigh_backward(ctx, grads):
    gL, gV = grads
    L, V = backward_outputs(ctx, eigh_op, ctx.args[1])
    if gV is None:
        return (matmul(V * unsqueeze(gL, -2), mT(V)),)
    VhgV = matmul(mT(V), gV)
    VhgV = (VhgV - mT(VhgV)) * 0.5
    # E_ij = L_j - L_i with ones on the diagonal (repeated eigenvalues divide by zero, as in
    # torch: the eigenvectors of a repeated eigenvalue are not determined)
    E = unsqueeze(L, -2) - unsqueeze(L, -1) + diag_embed(ar.mul(L, 0.0) + 1.0)
    gA = VhgV / E
    if gL is not None:
        gA = gA - diag_embed(diagonal(gA, 0, -2, -1)) + diag_embed(gL)
    return (matmul(V, matmul(gA, mT(V))),)


eigh_op = defop("linalg_eigh", forward=_eigh_forward, backward=_eigh_backward, float_only=True,
                n_outputs=2)


def _check_uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


@supports_out("linalg_eigh")
def eigh(A, UPLO="L", *, out=None):
    """``(eigenvalues, eigenvectors)`` of symmetric matrices, eigenvalues ascending; only the
    triangle named by UPLO is read. Eigenvectors are unique up to sign (and within repeated
    eigenvalues not at all): gradients are those of losses that do not depend on that choice.

    >>> fastdl.linalg.eigh(fastdl.tensor([[2.0, 0.0], [0.0, 1.0]])).eigenvalues.tolist()
    [1.0, 2.0]
    """
    check_matrix("linalg.eigh", A)
    _check_uplo(UPLO)
    return eigh_result(*eigh_op.apply((A,), UPLO, Saved()))


@supports_out("linalg_eigvalsh")
def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues of symmetric matrices, ascending (differentiable)."""
    check_matrix("linalg.eigvalsh", A)
    _check_uplo(UPLO)
    return eigh_op.apply((A,), UPLO, Saved())[0]


def _no_complex(name):
    raise RuntimeError(f"{name}: fastdl tensors cannot be complex, and the eigenvalues and "
                       "eigenvectors of a general real matrix are complex in general (torch "
                       "returns complex64/complex128 even when they happen to be real). Use "
                       "linalg.eigh/eigvalsh for symmetric matrices.")


@supports_out("linalg_eig")
def eig(A, *, out=None):
    """Not supported: its results are complex (see the error)."""
    _no_complex("linalg.eig")


@supports_out("linalg_eigvals")
def eigvals(A, *, out=None):
    """Not supported: its results are complex (see the error)."""
    _no_complex("linalg.eigvals")


# ---- pseudo-inverse and least squares -----------------------------------------------------------

def _cutoff(xp, smax, atol, rtol, shape, dtype):
    """max(atol, rtol * smax) with torch's defaults: rtol = eps * max(m, n) unless atol alone
    is given (then rtol = 0)."""
    if rtol is None:
        rtol = 0.0 if atol is not None and _positive(atol) else \
            np.finfo(dtype).eps * max(shape[-2], shape[-1])
    atol = 0.0 if atol is None else atol
    return xp.maximum(xp.asarray(atol, dtype=dtype), xp.asarray(rtol, dtype=dtype) * smax)


def _positive(v):
    return bool(np.all(np.asarray(v.get() if hasattr(v, "get") else v) > 0))


def _pinv_forward(a, hermitian, atol, rtol):
    xp = xp_of(a)
    if a.shape[-1] == 0 or a.shape[-2] == 0:
        return xp.zeros(a.shape[:-2] + (a.shape[-1], a.shape[-2]), dtype=a.dtype)
    if hermitian:
        w, v = xp.linalg.eigh(a)
        s, u, vh = xp.abs(w), v * xp.sign(w)[..., None, :], xp.swapaxes(v, -1, -2)
        smax = s.max(-1)
    else:
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        smax = s[..., 0]
    cutoff = _cutoff(xp, smax, atol, rtol, a.shape, a.dtype)
    keep = s > cutoff[..., None]
    s_inv = xp.where(keep, 1 / xp.where(keep, s, 1), 0).astype(a.dtype)
    return xp.swapaxes(vh, -1, -2) @ (s_inv[..., None] * xp.swapaxes(u, -1, -2))


def _pinv_backward(ctx, g):
    a, = ctx.inputs
    pinvA = pinv_op.apply((a,), *ctx.args) if _grad_state.enabled else _wrap(ctx.out)
    return (pinv_backward(g, pinvA, a),)


def pinv_backward(g, pinvA, A_):
    """torch's pinv_backward (real matrices)."""
    m, n = A_._data.shape[-2], A_._data.shape[-1]
    pinvAh, gh = mT(pinvA), mT(g)
    if m <= n:
        K = matmul(gh, pinvA)
        KpinvAh = matmul(K, pinvAh)
        return (ar.neg(mT(matmul(pinvA, K))) + KpinvAh - matmul(matmul(A_, pinvA), KpinvAh)
                + matmul(matmul(pinvAh, pinvA), gh - matmul(K, A_)))
    K = matmul(pinvA, gh)
    pinvAhK = matmul(pinvAh, K)
    return (ar.neg(mT(matmul(K, pinvA))) + matmul(matmul(gh - matmul(A_, K), pinvA), pinvAh)
            + pinvAhK - matmul(matmul(pinvAhK, pinvA), A_))


pinv_op = defop("linalg_pinv", forward=_pinv_forward, backward=_pinv_backward, saves=(0,),
                saves_output=True, float_only=True)


def _tolerance_arg(v):
    from fastdl.functional._core import Tensor
    return v._data[..., None] if isinstance(v, Tensor) and v._data.ndim else \
        (v.item() if isinstance(v, Tensor) else v)


@supports_out("linalg_pinv", dtype_rule="safe")
def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The Moore-Penrose pseudo-inverse: singular values at or below max(atol, rtol * s_max)
    count as zero (rtol defaults to eps * max(m, n), or 0 when only atol is given).
    hermitian=True reads A as symmetric (its lower triangle) and uses eigh.

    >>> fastdl.linalg.pinv(fastdl.tensor([[2.0, 0.0], [0.0, 0.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    check_matrix("linalg.pinv", A, square=bool(hermitian))
    return pinv_op.apply((A,), bool(hermitian), _tolerance_arg(atol), _tolerance_arg(rtol))


def lstsq(A, B, rcond=None, *, driver=None):
    """``(solution, residuals, rank, singular_values)`` of min ||A X - B||, as torch's CPU
    drivers report them: the solution is the minimum-norm one (pinv(A) B with rcond, default
    eps * max(m, n), as the cutoff); rank is returned except for driver='gels'; the singular
    values only for 'gelsd'/'gelss'; the squared residuals only when m > n, every A has full
    rank and the driver is not 'gelsy' (the default)."""
    name = "torch.linalg.lstsq"
    check_float(name, A, B)
    if A._data.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"{name}: parameter `driver` should be one of (gels, gelsy, gelsd, "
                           f"gelss)")
    vector = B._data.ndim == A._data.ndim - 1
    B2 = unsqueeze(B, -1) if vector else B
    m, n = A._data.shape[-2:]
    if B2._data.shape[-2] != m:
        raise RuntimeError(f"{name}: input.size(-2) should match other.size(-2)")
    X = matmul(pinv(A, rtol=rcond), B2)
    xp = xp_of(A._data)
    s = xp.linalg.svd(A._data, compute_uv=False)
    cutoff = _cutoff(xp, s[..., :1], None, rcond, A._data.shape, A._data.dtype)
    rank = (s > cutoff).sum(-1).astype(np.int64)
    empty = _wrap(xp.zeros((0,), dtype=A._data.dtype))
    # no residuals: an empty result that, as torch's, is an output of the graph (requires grad)
    residuals = narrow(reshape(X, (-1,)), 0, 0, 0)
    if m > n and driver != "gelsy" and bool((rank == n).all()):
        residuals = ((matmul(A, X) - B2) ** 2).sum(-2)
        residuals = squeeze(residuals, -1) if vector else residuals
    return lstsq_result(squeeze(X, -1) if vector else X, residuals,
                        _wrap(rank) if driver != "gels" else _wrap(xp.zeros((0,), np.int64)),
                        _wrap(s) if driver in ("gelsd", "gelss") else empty)


@supports_out("linalg_matrix_rank", dtype_rule="safe")
def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None, out=None):
    """The number of singular values above max(atol, rtol * s_max) (int64)."""
    check_matrix("linalg.matrix_rank", A, square=bool(hermitian))
    if tol is not None:
        atol, rtol = tol, 0.0
    d = A._data
    xp = xp_of(d)
    s = xp.abs(xp.linalg.eigvalsh(d)) if hermitian else xp.linalg.svd(d, compute_uv=False)
    if s.shape[-1] == 0:
        return _wrap(xp.zeros(d.shape[:-2], dtype=np.int64))
    atol, rtol = (v._data if isinstance(v, Tensor) else v for v in (atol, rtol))
    cutoff = _cutoff(xp, s.max(-1), atol, rtol, d.shape, d.dtype)
    return _wrap((s > cutoff[..., None]).sum(-1).astype(np.int64))


@supports_out("linalg_cond", dtype_rule="safe")
def cond(A, p=None, *, out=None):
    """The condition number in the norm p (None/2: s_max / s_min, -2: its inverse; 'fro',
    'nuc', inf, -inf, 1, -1: ||A|| ||A^-1||, square invertible A)."""
    check_matrix("linalg.cond", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = amax(s, -1), amin(s, -1)
        return big / small if p != -2 else small / big
    from fastdl.linalg.norms import matrix_norm
    from fastdl.linalg.solvers import inv
    return matrix_norm(A, p) * matrix_norm(inv(A), p)

