"""linalg.ldl_factor_ex / ldl_factor / ldl_solve against torch (LAPACK sytrf / sytrs): the same
LD, pivots and info (so factors interoperate both ways), 1x1 and 2x2 pivot blocks, batches,
odd and empty shapes, singular D, broadcasting solves, no gradient history, and errors."""
import numpy as np
import pytest

import fastdl
from fastdl.linalg import LinAlgError

torch = pytest.importorskip("torch")
LA = fastdl.linalg


def _symmetric(rng, shape, kind="indefinite"):
    A = rng.standard_normal(shape)
    if kind == "small_diagonal":  # forces 2x2 pivot blocks
        n = shape[-1]
        A[..., np.arange(n), np.arange(n)] *= 1e-3
    return A + np.swapaxes(A, -1, -2)


SHAPES = [(1, 1), (2, 2), (3, 3), (7, 7), (2, 5, 5), (3, 2, 4, 4), (1, 9, 9), (0, 0),
          (0, 3, 3), (2, 0, 0)]


@pytest.mark.parametrize("kind", ["indefinite", "small_diagonal"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_factors_match_torch(shape, dtype, kind):
    rng = np.random.default_rng(sum(shape) + len(shape))
    A = _symmetric(rng, shape, kind).astype(dtype)
    t = torch.linalg.ldl_factor_ex(torch.tensor(A))
    f = LA.ldl_factor_ex(fastdl.tensor(A))
    np.testing.assert_array_equal(f.pivots.numpy(), t.pivots.numpy())
    np.testing.assert_array_equal(f.info.numpy(), t.info.numpy())
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(f.LD.numpy(), t.LD.numpy(), **tol)
    assert f.LD.dtype == fastdl.tensor(A).dtype and f.pivots.numpy().dtype == np.int32
    assert f.info.numpy().dtype == np.int32 and f.info.shape == shape[:-2]


def test_two_by_two_blocks_are_taken():
    """A matrix with a zero diagonal needs 2x2 blocks: negative pivot pairs as torch's."""
    A = np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 3.0], [1.0, 3.0, 0.0]])
    t = torch.linalg.ldl_factor(torch.tensor(A))
    f = LA.ldl_factor(fastdl.tensor(A))
    assert (f.pivots.numpy() < 0).any()
    np.testing.assert_array_equal(f.pivots.numpy(), t.pivots.numpy())
    np.testing.assert_allclose(f.LD.numpy(), t.LD.numpy(), rtol=1e-12, atol=1e-14)


def test_only_the_lower_triangle_is_read():
    rng = np.random.default_rng(1)
    A = _symmetric(rng, (2, 6, 6))
    garbage = A + np.triu(np.full((6, 6), 99.0), 1)
    a, b = LA.ldl_factor(fastdl.tensor(A)), LA.ldl_factor(fastdl.tensor(garbage))
    np.testing.assert_array_equal(a.LD.numpy(), b.LD.numpy())
    np.testing.assert_array_equal(a.pivots.numpy(), b.pivots.numpy())
    assert not np.triu(a.LD.numpy(), 1).any()


def test_many_random_matrices_with_ties_match_torch():
    """Integer-valued matrices (exact ties between pivot candidates, exactly-zero columns)."""
    rng = np.random.default_rng(2)
    A = np.round(_symmetric(rng, (200, 6, 6)) * 1.5)
    t = torch.linalg.ldl_factor_ex(torch.tensor(A))
    f = LA.ldl_factor_ex(fastdl.tensor(A))
    np.testing.assert_array_equal(f.pivots.numpy(), t.pivots.numpy())
    np.testing.assert_array_equal(f.info.numpy(), t.info.numpy())
    np.testing.assert_allclose(f.LD.numpy(), t.LD.numpy(), rtol=1e-10, atol=1e-12)


def test_singular_d():
    A = np.zeros((2, 3, 3))
    A[1] = np.diag([1.0, 0.0, 2.0])
    t = torch.linalg.ldl_factor_ex(torch.tensor(A))
    f = LA.ldl_factor_ex(fastdl.tensor(A))
    np.testing.assert_array_equal(f.info.numpy(), t.info.numpy())  # [1, 2]
    np.testing.assert_array_equal(f.pivots.numpy(), t.pivots.numpy())
    np.testing.assert_array_equal(f.LD.numpy(), t.LD.numpy())
    # torch trips an internal assert here ("Unknown error code"); fastdl says what happened
    with pytest.raises(LinAlgError, match=r"Batch element 0.*D\[0,0\] is exactly zero"):
        LA.ldl_factor(fastdl.tensor(A))
    with pytest.raises(LinAlgError, match="exactly zero"):
        LA.ldl_factor_ex(fastdl.tensor(A[1]), check_errors=True)


def _torch_solve(LD, pivots, B):
    """torch's ldl_solve with LD's batch already broadcast to the result's (torch 2.13
    segfaults when it has to broadcast a size-1 LD batch dimension itself)."""
    batch = torch.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    n = LD.shape[-1]
    LD = LD.expand(batch + (n, n)).contiguous()
    pivots = pivots.expand(batch + (n,)).contiguous()
    return torch.linalg.ldl_solve(LD, pivots, B.expand(batch + B.shape[-2:]).contiguous())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, b_shape", [
    ((4, 4), (4, 2)), ((1, 1), (1, 3)), ((3, 5, 5), (3, 5, 1)), ((5, 5), (2, 5, 3)),
    ((2, 1, 6, 6), (3, 6, 2)), ((0, 0), (0, 2)), ((0, 3, 3), (0, 3, 1)), ((4, 4), (4, 0))])
def test_solve_matches_torch_and_interoperates(a_shape, b_shape, dtype):
    rng = np.random.default_rng(len(a_shape) * 10 + a_shape[-1])
    A = _symmetric(rng, a_shape, "small_diagonal").astype(dtype)
    B = rng.standard_normal(b_shape).astype(dtype)
    tLD, tp = torch.linalg.ldl_factor(torch.tensor(A))
    fLD, fp = LA.ldl_factor(fastdl.tensor(A))
    expected = _torch_solve(tLD, tp, torch.tensor(B)).numpy()
    tol = dict(rtol=2e-3, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-8, atol=1e-10)
    ours = LA.ldl_solve(fLD, fp, fastdl.tensor(B)).numpy()
    assert ours.shape == expected.shape and ours.dtype == expected.dtype
    np.testing.assert_allclose(ours, expected, **tol)
    from_torch = LA.ldl_solve(fastdl.tensor(tLD.numpy()), fastdl.tensor(tp.numpy()),
                              fastdl.tensor(B)).numpy()
    np.testing.assert_allclose(from_torch, expected, **tol)
    to_torch = _torch_solve(torch.tensor(fLD.numpy()), torch.tensor(fp.numpy()),
                            torch.tensor(B)).numpy()
    np.testing.assert_allclose(to_torch, expected, **tol)
    if A.size and B.size and dtype == np.float64:
        np.testing.assert_allclose(np.broadcast_to(A, expected.shape[:-2] + A.shape[-2:])
                                   @ ours, np.broadcast_to(B, ours.shape), atol=1e-9)


def test_hermitian_is_symmetric_for_real_matrices_and_int64_pivots_are_accepted():
    rng = np.random.default_rng(3)
    A = fastdl.tensor(_symmetric(rng, (5, 5)))
    B = fastdl.tensor(rng.standard_normal((5, 2)))
    LD, p = LA.ldl_factor(A)
    LDh, ph = LA.ldl_factor(A, hermitian=True)
    np.testing.assert_array_equal(LD.numpy(), LDh.numpy())
    x = LA.ldl_solve(LD, p, B).numpy()
    np.testing.assert_array_equal(LA.ldl_solve(LD, p, B, hermitian=True).numpy(), x)
    np.testing.assert_array_equal(LA.ldl_solve(LD, p.long(), B).numpy(), x)


def test_no_gradient_history():
    """torch has no derivative for these (its OpInfos say supports_autograd=False)."""
    A = fastdl.tensor(np.eye(3) * 2.0, requires_grad=True)
    LD, p, info = LA.ldl_factor_ex(A + 0.0)
    assert not LD.requires_grad
    B = fastdl.ones(3, 1, dtype=fastdl.float64, requires_grad=True)
    assert not LA.ldl_solve(LD, p, B).requires_grad


def test_inputs_are_not_modified():
    rng = np.random.default_rng(4)
    A, B = _symmetric(rng, (4, 4)), rng.standard_normal((4, 2))
    fa, fb = fastdl.tensor(A.copy()), fastdl.tensor(B.copy())
    LD, p = LA.ldl_factor(fa)
    ld_before = LD.numpy().copy()
    LA.ldl_solve(LD, p, fb)
    np.testing.assert_array_equal(fa.numpy(), A)
    np.testing.assert_array_equal(fb.numpy(), B)
    np.testing.assert_array_equal(LD.numpy(), ld_before)


def test_factor_errors():
    with pytest.raises(RuntimeError, match="square matrices, but they are 2 by 3"):
        LA.ldl_factor(fastdl.zeros(2, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        LA.ldl_factor_ex(fastdl.zeros(3))
    with pytest.raises(RuntimeError, match="Expected a floating point.*Got Long"):
        LA.ldl_factor(fastdl.tensor(np.eye(3, dtype=np.int64)))
    with pytest.raises(TypeError, match="hermitian"):
        LA.ldl_factor(fastdl.eye(3), hermitian="yes")


def test_solve_errors():
    LD, p = LA.ldl_factor(fastdl.tensor(np.eye(3)))
    with pytest.raises(RuntimeError, match="each A matrix is 3 by 3 but each b matrix is 4 by 1"):
        LA.ldl_solve(LD, p, fastdl.tensor(np.ones((4, 1))))
    with pytest.raises(IndexError, match="Dimension out of range"):
        LA.ldl_solve(LD, p, fastdl.tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="same dtype"):
        LA.ldl_solve(LD, p, fastdl.ones(3, 1, dtype=fastdl.float32))
    with pytest.raises(RuntimeError, match=r"LD.shape\[:-1\] and pivots.shape"):
        LA.ldl_solve(LD, p[:2], fastdl.tensor(np.ones((3, 1))))
    with pytest.raises(RuntimeError, match="pivots to be integers"):
        LA.ldl_solve(LD, p.double(), fastdl.tensor(np.ones((3, 1))))
    with pytest.raises(RuntimeError, match="sytrf form"):
        LA.ldl_solve(LD, fastdl.tensor(np.array([1, 0, 4], np.int32)),
                     fastdl.tensor(np.ones((3, 1))))
