"""torch.svd_lowrank and torch.pca_lowrank: Halko, Martinsson and Tropp's randomized SVD
(arXiv:0909.4061, Algorithms 4.4 and 5.1), as torch writes it.

A Gaussian test matrix R (n x q, shared by a batch) drawn from fastdl's generator sketches A's
range, ``niter`` subspace iterations refine the basis Q (QR each time), and the SVD of the
small Q^T A gives the factors. Everything is composed from differentiable ops (matmul,
linalg.qr, linalg.svd), so gradients flow as in torch. Wide matrices are handled through their
transpose, as torch does; M (A's mean) is subtracted without forming A - M.
"""
from __future__ import annotations

from fastdl.creation import randn
from fastdl.functional.linalg import matmul
from fastdl.functional.shape import broadcast_to
from fastdl.linalg._common import check_float, mT
from fastdl.linalg.decompositions import qr, svd


def _gaussian(shape, dtype, device):
    """The random test matrix (a module-level function: tests substitute torch's draw)."""
    return randn(*shape, dtype=dtype, device=device)


def _minus_mean(product, M, other):
    """``product`` (A @ other) minus M @ other, without forming A - M."""
    return product if M is None else product - matmul(M, other)


def _approximate_basis(A, q, niter, M):
    """Q with q orthonormal columns such that Q Q^T (A - M) approximates A - M."""
    R = _gaussian((A.shape[-1], q), A.dtype, A.device)
    Q = qr(_minus_mean(matmul(A, R), M, R)).Q
    MT = None if M is None else mT(M)
    for _ in range(niter):
        Q = qr(_minus_mean(matmul(mT(A), Q), MT, Q)).Q
        Q = qr(_minus_mean(matmul(A, Q), M, Q)).Q
    return Q


def _check_matrix(name, A):
    check_float(name, A)
    if A.ndim < 2:
        raise ValueError(f"{name}: A must be a matrix or a batch of matrices (..., m, n), got "
                         f"shape {tuple(A.shape)}")


def _svd_lowrank(A, q, niter, M):
    m, n = A.shape[-2:]
    if M is not None:
        check_float("svd_lowrank", M)
        M = broadcast_to(M, tuple(A.shape))
    if m < n:  # sketch the smaller side: the transpose's range
        A = mT(A)
        M = None if M is None else mT(M)
    Q = _approximate_basis(A, q, niter, M)
    B = matmul(mT(Q), A)
    if M is not None:
        B = B - matmul(mT(Q), M)
    U, S, Vh = svd(B, full_matrices=False)
    U, V = matmul(Q, U), mT(Vh)
    return (V, S, U) if m < n else (U, S, V)


def svd_lowrank(A, q=6, niter=2, M=None):
    """``(U, S, V)`` with A ~ U diag(S) V^T (of A - M when M, A's mean broadcastable to A, is
    given): a randomized SVD for matrices of low rank, or a batch of them (..., m, n). ``q`` is
    a slightly overestimated rank (U m x q, S q, V n x q; q is capped at min(m, n)); ``niter``
    subspace iterations sharpen it. Random: seed with ``fastdl.manual_seed`` to repeat a
    result. Differentiable (composed of matmul, linalg.qr and linalg.svd).

    >>> _ = fastdl.manual_seed(0)
    >>> A = fastdl.randn(8, 2) @ fastdl.randn(2, 5)  # rank 2
    >>> U, S, V = fastdl.svd_lowrank(A, q=2)
    >>> U.shape, S.shape, V.shape
    ((8, 2), (2,), (5, 2))
    >>> bool(((U * S) @ V.mT - A).abs().max() < 1e-4)
    True
    """
    _check_matrix("svd_lowrank", A)
    return _svd_lowrank(A, 6 if q is None else q, 2 if niter is None else niter, M)


def pca_lowrank(A, q=None, center=True, niter=2):
    """``(U, S, V)``: principal component analysis of the data matrix A (m samples x n
    features, or a batch (..., m, n)) by ``svd_lowrank`` of A with its column means removed
    (``center``, else A as it is). V's columns are the principal directions, S**2 / (m - 1) the
    variances along them, ``A @ V[:, :k]`` projects onto the first k. ``q`` defaults to
    min(6, m, n) and must lie in [0, min(m, n)].

    >>> _ = fastdl.manual_seed(0)
    >>> X = fastdl.randn(50, 3) @ fastdl.tensor([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0],
    ...                                          [0.0, 0.0, 0.1]])
    >>> U, S, V = fastdl.pca_lowrank(X, q=3)
    >>> round(abs(V[0, 0].item()), 1)  # the first direction is the first axis
    1.0
    """
    _check_matrix("pca_lowrank", A)
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if center:
        A = A - A.mean(-2, keepdim=True)
    return _svd_lowrank(A, q, niter, None)
