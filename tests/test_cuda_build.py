"""The real CUDA module (fastdl._C_cuda, built by nvcc): it imports without a GPU, reports its
device count consistently with fastdl.cuda, rejects host arrays, and, when cupy and a GPU exist,
its SGEMM agrees with cupy's matmul."""
import numpy as np
import pytest

import fastdl

cuda_mod = pytest.importorskip("fastdl._C_cuda", reason="fastdl was built without nvcc")


def test_imports_and_counts_devices():
    count = cuda_mod.device_count()
    assert isinstance(count, int) and count >= 0
    assert fastdl.cuda.is_built()
    assert fastdl.cuda.device_count() == count
    assert fastdl.cuda.is_available() == (count > 0)
    assert cuda_mod.architectures  # e.g. "80 90"


def test_gemm_rejects_host_arrays():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="a must be an array in CUDA device"):
        cuda_mod.gemm(a, b, np.empty((2, 4), np.float32))


def _cupy_with_gpu():
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1 or cuda_mod.device_count() < 1:
            pytest.skip("no CUDA device")
    except cp.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    return cp


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 33, 5), (65, 97, 31), (257, 300, 129)])
def test_gemm_matches_cupy(m, n, k):
    cp = _cupy_with_gpu()
    rng = np.random.default_rng([m, n, k])
    a = cp.asarray(rng.standard_normal((m, k), dtype=np.float32))
    b = cp.asarray(rng.standard_normal((k, n), dtype=np.float32))
    c0 = cp.asarray(rng.standard_normal((m, n), dtype=np.float32))
    for a_v, b_v in ((a, b), (cp.asfortranarray(a), b), (a, cp.asfortranarray(b)), (a[:, ::-1], b[::-1])):
        out = cp.full((m, n), cp.nan, dtype=cp.float32)
        cuda_mod.gemm(a_v, b_v, out)
        want = cp.matmul(a_v.astype(cp.float64), b_v.astype(cp.float64))
        cp.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    out = c0.copy()
    cuda_mod.gemm(a, b, out, alpha=0.5, beta=-1.5)
    cp.cuda.Device().synchronize()
    want = 0.5 * cp.matmul(a.astype(cp.float64), b.astype(cp.float64)) - 1.5 * c0
    cp.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_batched_gemm_matches_cupy():
    cp = _cupy_with_gpu()
    rng = np.random.default_rng(1)
    a = cp.asarray(rng.standard_normal((3, 2, 19, 23), dtype=np.float32))
    b = cp.broadcast_to(cp.asarray(rng.standard_normal((1, 2, 23, 40), dtype=np.float32)), (3, 2, 23, 40))
    out = cp.empty((3, 2, 19, 40), dtype=cp.float32)
    cuda_mod.gemm(a, b, out)
    cp.testing.assert_allclose(out, cp.matmul(a, b), rtol=1e-4, atol=1e-3)


def test_ops_gemm_dispatches_cupy_arrays_to_cuda():
    cp = _cupy_with_gpu()
    a = cp.asarray(np.random.default_rng(2).standard_normal((33, 17), dtype=np.float32))
    b = cp.asarray(np.random.default_rng(3).standard_normal((17, 9), dtype=np.float32))
    cp.testing.assert_allclose(fastdl.ops.gemm(a, b), a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 33, 5), (65, 97, 31), (257, 300, 129)])
def test_dgemm_matches_cupy_float64(m, n, k):
    # The same kernel source instantiated for double: fp64 FMAs, so it agrees with cupy's
    # float64 matmul to a few ulps of the terms' magnitude.
    cp = _cupy_with_gpu()
    rng = np.random.default_rng([m, n, k, 64])
    a, b = cp.asarray(rng.standard_normal((m, k))), cp.asarray(rng.standard_normal((k, n)))
    c0 = cp.asarray(rng.standard_normal((m, n)))
    scale = cp.matmul(cp.abs(a), cp.abs(b))
    for a_v, b_v in ((a, b), (cp.asfortranarray(a), b), (a, cp.asfortranarray(b)), (a[:, ::-1], b[::-1])):
        out = cp.full((m, n), cp.nan)
        cuda_mod.gemm(a_v, b_v, out)
        err = cp.abs(out - cp.matmul(a_v, b_v))
        assert bool((err <= 8 * np.sqrt(k) * 2.3e-16 * scale).all())
    out = c0.copy()
    cuda_mod.gemm(a, b, out, alpha=1 / 3, beta=0.1)
    want = cp.matmul(a, b) / 3 + 0.1 * c0
    assert bool((cp.abs(out - want) <= 8 * np.sqrt(k) * 2.3e-16 * (scale + cp.abs(c0))).all())
