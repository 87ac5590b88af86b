"""svd_lowrank / pca_lowrank: random projections, so properties rather than torch's values:
exact recovery of low-rank matrices (tall, wide, batched; with a mean M), orthonormal factors,
numpy's top singular values, PCA's variances and directions, fastdl-seeded repeatability;
with torch's test matrix substituted, the same values and gradients as torch; float64
gradcheck; errors."""
from unittest import mock

import numpy as np
import pytest

import fastdl
from fastdl.linalg import lowrank
from fastdl.testing import gradcheck


def _low_rank(rng, batch, m, n, rank):
    return rng.standard_normal(batch + (m, rank)) @ rng.standard_normal(batch + (rank, n))


def _orthonormal(X, tol):
    k = X.shape[-1]
    identity = np.broadcast_to(np.eye(k), X.shape[:-2] + (k, k))
    np.testing.assert_allclose(np.swapaxes(X, -1, -2) @ X, identity, atol=tol)


@pytest.mark.parametrize("batch, m, n, rank, q", [
    ((), 9, 5, 2, 2), ((), 5, 9, 2, 4), ((), 1, 1, 1, 1), ((3,), 7, 7, 3, 3),
    ((2, 2), 11, 4, 1, 2), ((), 30, 20, 4, 6), ((2,), 3, 13, 2, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_svd_lowrank_recovers_low_rank_matrices(batch, m, n, rank, q, dtype):
    rng = np.random.default_rng(m * n + rank)
    A = _low_rank(rng, batch, m, n, rank).astype(dtype)
    fastdl.manual_seed(0)
    U, S, V = fastdl.svd_lowrank(fastdl.tensor(A), q=q)
    U, S, V = U.numpy(), S.numpy(), V.numpy()
    k = min(q, m, n)
    assert U.shape == batch + (m, k) and S.shape == batch + (k,) and V.shape == batch + (n, k)
    assert U.dtype == S.dtype == V.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-10
    scale = np.abs(A).max()
    np.testing.assert_allclose((U * S[..., None, :]) @ np.swapaxes(V, -1, -2), A,
                               atol=tol * scale * 10)
    _orthonormal(U[..., :rank], tol * 10)  # the columns beyond the rank span noise
    _orthonormal(V[..., :rank], tol * 10)
    top = np.linalg.svd(A.astype(np.float64), compute_uv=False)[..., :k]
    np.testing.assert_allclose(S, top, rtol=tol * 10, atol=tol * scale * 10)


@pytest.mark.parametrize("m_shape", [(6, 8), (8,), (1, 8)])
def test_svd_lowrank_of_a_minus_its_mean(m_shape):
    rng = np.random.default_rng(1)
    M = rng.standard_normal(m_shape)
    D = _low_rank(rng, (), 6, 8, 2)
    A = D + np.broadcast_to(M, (6, 8))
    U, S, V = fastdl.svd_lowrank(fastdl.tensor(A), q=2, M=fastdl.tensor(M))
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, D, atol=1e-10)
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(D, compute_uv=False)[:2], rtol=1e-10)


def test_pca_lowrank_variances_and_directions():
    rng = np.random.default_rng(2)
    directions = np.linalg.qr(rng.standard_normal((5, 3)))[0]  # 5 features, 3 directions
    X = (rng.standard_normal((40, 3)) * [5.0, 2.0, 0.5]) @ directions.T + [1.0, -2, 3, 0, 7]
    U, S, V = fastdl.pca_lowrank(fastdl.tensor(X), q=3)
    Xc = X - X.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(Xc.T @ Xc / (len(X) - 1))
    np.testing.assert_allclose(S.numpy() ** 2 / (len(X) - 1), eigenvalues[::-1][:3],
                               rtol=1e-10)
    np.testing.assert_allclose(np.abs(V.numpy().T @ eigenvectors[:, ::-1][:, :3]),
                               np.eye(3), atol=1e-10)
    assert U.shape == (40, 3) and V.shape == (5, 3)
    # center=False factors X itself (rank 4: the mean adds one)
    _, S_raw, _ = fastdl.pca_lowrank(fastdl.tensor(X), q=4, center=False)
    np.testing.assert_allclose(S_raw.numpy(), np.linalg.svd(X, compute_uv=False)[:4], rtol=1e-8)


def test_pca_lowrank_defaults_and_batches():
    rng = np.random.default_rng(3)
    X = _low_rank(rng, (2,), 10, 8, 3)
    U, S, V = fastdl.pca_lowrank(fastdl.tensor(X))  # q = min(6, m, n)
    assert U.shape == (2, 10, 6) and S.shape == (2, 6) and V.shape == (2, 8, 6)
    Xc = X - X.mean(-2, keepdims=True)
    np.testing.assert_allclose(S.numpy()[:, :3], np.linalg.svd(Xc, compute_uv=False)[:, :3],
                               rtol=1e-9)


def test_draws_come_from_fastdls_generator():
    rng = np.random.default_rng(4)
    A = fastdl.tensor(rng.standard_normal((12, 9)))  # full rank: the result depends on R
    fastdl.manual_seed(5)
    first = fastdl.svd_lowrank(A, q=3, niter=0)
    fastdl.manual_seed(5)
    again = fastdl.svd_lowrank(A, q=3, niter=0)
    other = fastdl.svd_lowrank(A, q=3, niter=0)  # the generator moved on
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(first[1].numpy(), other[1].numpy())


def _torch_draw(torch):
    """torch's Gaussian test matrix after manual_seed(42), as torch.svd_lowrank draws it."""
    def draw(shape, dtype, device):
        with torch.random.fork_rng():
            torch.manual_seed(42)
            return fastdl.tensor(torch.randn(shape, dtype=torch.float64).numpy())
    return draw


@pytest.mark.parametrize("fn, kwargs, shape", [
    ("svd_lowrank", dict(q=3), (7, 5)), ("svd_lowrank", dict(q=2, niter=1), (2, 4, 9)),
    ("svd_lowrank", dict(q=3, M="mean"), (6, 6)), ("pca_lowrank", dict(q=3), (8, 5)),
    ("pca_lowrank", dict(q=2, center=False), (3, 5, 4))])
def test_same_values_and_gradients_as_torch_with_its_test_matrix(fn, kwargs, shape):
    """Full-rank inputs, so the values depend on the sketch: with torch's, fastdl's composition
    must give torch's gauge-invariant outputs (U V^T and S) and their gradients."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape) + kwargs["q"])
    A = rng.standard_normal(shape)
    extra = dict(kwargs)
    if extra.get("M") == "mean":
        extra["M"] = rng.standard_normal(shape[-1:])
    w1 = rng.standard_normal(shape)
    results = []
    for lib in ("fastdl", "torch"):
        wrap = (lambda a: fastdl.tensor(a, requires_grad=True)) if lib == "fastdl" else \
            (lambda a: torch.tensor(a, requires_grad=True))
        a = wrap(A)
        args = {k: (wrap(v) if isinstance(v, np.ndarray) else v) for k, v in extra.items()}
        if lib == "fastdl":
            with mock.patch.object(lowrank, "_gaussian", _torch_draw(torch)):
                U, S, V = getattr(fastdl, fn)(a, **args)
        else:
            torch.manual_seed(42)
            U, S, V = getattr(torch, fn)(a, **args)
        P = U @ V.mT
        loss = (P * wrap(w1[..., :P.shape[-2], :P.shape[-1]]).detach()).sum() + (S * S).sum()
        loss.backward()
        grads = [t.grad.numpy() for t in [a] + [v for v in args.values() if hasattr(v, "grad")]]
        results.append((P.detach().numpy(), S.detach().numpy(), grads))
    (fP, fS, fg), (tP, tS, tg) = results
    np.testing.assert_allclose(fP, tP, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fS, tS, rtol=1e-10, atol=1e-10)
    for f, t in zip(fg, tg):
        np.testing.assert_allclose(f, t, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("fn", ["svd_lowrank", "pca_lowrank"])
def test_gradcheck_float64(fn):
    rng = np.random.default_rng(6)
    A = fastdl.tensor(_low_rank(rng, (), 5, 4, 2) + 0.1 * rng.standard_normal((5, 4)),
                      requires_grad=True)

    def f(a):
        fastdl.manual_seed(0)  # the same sketch at every evaluation
        U, S, V = getattr(fastdl, fn)(a, q=2, niter=1)
        return U @ V.mT, S
    assert gradcheck(f, (A,))


def test_errors():
    with pytest.raises(ValueError, match="matrix or a batch"):
        fastdl.svd_lowrank(fastdl.randn(5))
    with pytest.raises(ValueError, match="matrix or a batch"):
        fastdl.pca_lowrank(fastdl.randn(5))
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        fastdl.svd_lowrank(fastdl.tensor(np.ones((4, 3), np.int64)))
    with pytest.raises(ValueError, match=r"q\(=5\) must be non-negative integer and not "
                                         r"greater than min\(m, n\)=4"):
        fastdl.pca_lowrank(fastdl.randn(5, 4), q=5)
    with pytest.raises(ValueError, match=r"niter\(=-1\)"):
        fastdl.pca_lowrank(fastdl.randn(5, 4), niter=-1)
    with pytest.raises((ValueError, RuntimeError)):
        fastdl.svd_lowrank(fastdl.randn(3, 5, 4), q=2, M=fastdl.randn(2, 5, 4))
