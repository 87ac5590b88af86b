"""The CUDA kernels on a real GPU (fastdl._C_cuda on cupy arrays), checked against the CPU kernels
(fastdl._C on the same numbers) and against the same kernel source run by the emulator on the same
operand layouts, on odd sizes, batches too large for one launch, and a non-default stream.

These need a GPU: they skip elsewhere. bench/gpu_check.sh runs them on a lent GPU machine and
counts a skip there as a failure.
"""
import numpy as np
import pytest

import fastdl
from fastdl import ops
from gemm_cases import assert_close, operand_layouts, output_layouts, rand, reference_gemm

if not fastdl.cuda.is_available():
    pytest.skip("needs a CUDA GPU (bench/gpu_check.sh runs these on one)", allow_module_level=True)
cp = pytest.importorskip("cupy")
from fastdl import _C_cuda as cuda_mod  # noqa: E402  (exists whenever a GPU is available)

emu = fastdl.cuda.emulator()

# Odd sizes around the 128 x 128 x 8 tiles, a single element, k smaller than one tile, and a
# product large enough to fill the GPU.
SIZES = [(1, 1, 1), (3, 5, 7), (127, 129, 9), (129, 127, 255), (257, 300, 129), (1000, 77, 1023),
         (1023, 1025, 1031)]


@pytest.mark.parametrize("m,n,k", SIZES)
def test_gemm_matches_cpu_kernel(m, n, k):
    rng = np.random.default_rng([m, n, k, 20])
    a, b = rand(rng, m, k), rand(rng, k, n)
    out = cp.full((m, n), cp.nan, cp.float32)  # beta == 0 must never read it
    cuda_mod.gemm(cp.asarray(a), cp.asarray(b), out)
    got = cp.asnumpy(out)
    assert_close(got, ops.gemm(a, b), k)
    assert_close(got, reference_gemm(a, b, None, 1.0, 0.0), k)


@pytest.mark.parametrize("m,n,k", [(65, 97, 33), (20, 36, 32), (131, 258, 67)])
def test_gemm_every_operand_layout_matches_the_emulator(m, n, k):
    # Same seed, same layouts: the GPU and the emulator take the same load path per case.
    host = operand_layouts(np.random.default_rng([m, n, k, 21]), m, n, k, np)
    device = operand_layouts(np.random.default_rng([m, n, k, 21]), m, n, k, cp)
    for (name, a, b), (_, a_dev, b_dev) in zip(host, device):
        assert a_dev.strides == a.strides and b_dev.strides == b.strides, name
        emulated = np.empty((m, n), np.float32)
        emu.gemm(a, b, emulated)
        out = cp.empty((m, n), cp.float32)
        cuda_mod.gemm(a_dev, b_dev, out)
        got = cp.asnumpy(out)
        assert_close(got, emulated, k, msg=name)
        assert_close(got, reference_gemm(a, b, None, 1.0, 0.0), k, msg=name)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (-2.0, 0.5), (0.0, 1.0), (0.25, 0.0)])
def test_gemm_alpha_beta(alpha, beta):
    rng = np.random.default_rng(22)
    m, n, k = 37, 141, 23
    a, b, c = rand(rng, m, k), rand(rng, k, n), rand(rng, m, n)
    out = cp.asarray(c)
    if beta == 0:
        out[0, 0], out[1, 1] = cp.nan, cp.inf  # overwritten, never read
    cuda_mod.gemm(cp.asarray(a), cp.asarray(b), out, alpha=alpha, beta=beta)
    expected = c.copy()
    ops.gemm(a, b, expected, alpha=alpha, beta=beta)
    assert_close(cp.asnumpy(out), expected, k)
    if alpha == 0 and beta == 1:
        np.testing.assert_array_equal(cp.asnumpy(out), c)


def test_gemm_output_layouts():
    rng = np.random.default_rng(23)
    m, n, k = 33, 45, 19
    a, b = rand(rng, m, k), rand(rng, k, n)
    want = reference_gemm(a, b, None, 1.0, 0.0)
    for out in output_layouts(m, n, cp):
        cuda_mod.gemm(cp.asarray(a), cp.asarray(b), out)
        assert_close(cp.asnumpy(out), want, k)


def test_batched_gemm_with_broadcast_and_more_dims_than_one_launch_addresses():
    rng = np.random.default_rng(24)
    m, n, k = 9, 70, 13
    shape = (2, 3, 2, 2, 3, 2)  # six batch dimensions: the launcher loops over the outer two
    reverse = (range(6), range(5, -1, -1))  # batch dimensions in reverse memory order
    base_a, base_b = rand(rng, *shape, m, k), rand(rng, 1, 3, 1, 2, 3, 1, k, n)
    a, a_dev = np.moveaxis(base_a, *reverse), cp.moveaxis(cp.asarray(base_a), *reverse)
    b = np.broadcast_to(base_b, shape + (k, n))  # stride 0 along four dimensions
    b_dev = cp.broadcast_to(cp.asarray(base_b), shape + (k, n))
    out = cp.empty(shape + (m, n), cp.float32)
    assert a_dev.strides == a.strides and b_dev.strides == b.strides
    cuda_mod.gemm(a_dev, b_dev, out)
    got = cp.asnumpy(out)
    assert_close(got, reference_gemm(a, b, None, 1.0, 0.0), k)
    assert_close(got, ops.gemm(np.ascontiguousarray(a), np.ascontiguousarray(b)), k)


def test_batch_larger_than_one_grid_dimension():
    # 70,000 items exceed grid.z's 65,535: the host splits the batch over several launches.
    rng = np.random.default_rng(25)
    a, b = rand(rng, 70_000, 3, 5), rand(rng, 70_000, 5, 2)
    out = cp.empty((70_000, 3, 2), cp.float32)
    cuda_mod.gemm(cp.asarray(a), cp.asarray(b), out)
    assert_close(cp.asnumpy(out), reference_gemm(a, b, None, 1.0, 0.0), 5)


def test_gemm_on_a_non_default_stream():
    rng = np.random.default_rng(26)
    m, n, k = 513, 257, 129
    a, b = rand(rng, m, k), rand(rng, k, n)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        a_dev, b_dev = cp.asarray(a), cp.asarray(b)
        out = cp.full((m, n), cp.nan, cp.float32)
        cuda_mod.gemm(a_dev, b_dev, out, stream=stream.ptr)
    stream.synchronize()
    assert_close(cp.asnumpy(out), ops.gemm(a, b), k)


def test_ops_gemm_and_matmul_run_cupy_arrays_on_the_gpu():
    rng = np.random.default_rng(27)
    a, b = rand(rng, 4, 33, 17), rand(rng, 17, 9)
    got = ops.matmul(cp.asarray(a), cp.asarray(b))
    assert isinstance(got, cp.ndarray)
    assert_close(cp.asnumpy(got), ops.matmul(a, b), 17)


def test_gemm_rejects_bad_device_input():
    a, b = cp.ones((4, 3), cp.float32), cp.ones((3, 5), cp.float32)
    out = cp.empty((4, 5), cp.float32)
    with pytest.raises(TypeError, match="float32"):
        cuda_mod.gemm(a.astype(cp.float64), b, out)
    with pytest.raises(TypeError, match="CUDA device"):
        cuda_mod.gemm(cp.asnumpy(a), b, out)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 5\).*\(4, 5\)"):
        cuda_mod.gemm(a, cp.ones((4, 5), cp.float32), out)
    cuda_mod.gemm(cp.ones((0, 3), cp.float32), b, cp.empty((0, 5), cp.float32))  # empty: no-op
