"""The CUDA conv and pool kernels on a real GPU (fastdl._C_cuda on cupy arrays), on the emulator
tests' odd shapes: checked against the same kernel source run by the emulator, against the CPU
kernels where fastdl._C has them, and against a float64 reference; the wired op layer (conv2d on
cupy tensors) too.

These need a GPU: they skip elsewhere. bench/gpu_check.sh runs them on a lent GPU machine and
counts a skip there as a failure.
"""
import numpy as np
import pytest

import fastdl
from conv_pool_cases import (AVG_POOL_CASES, BACKWARD_INPUT_CASES, CONV_CASES, INTERP_CASES,
                             MAX_POOL_CASES, assert_close, conv_problem, pool_out_size, rand)
from conv_pool_reference import reference

if not fastdl.cuda.is_available():
    pytest.skip("needs a CUDA GPU (bench/gpu_check.sh runs these on one)", allow_module_level=True)
cp = pytest.importorskip("cupy")
from fastdl import _C_cuda as cuda_mod  # noqa: E402  (exists whenever a GPU is available)

emu = fastdl.cuda.emulator()
ref = reference()
DTYPES = (np.float32, np.float64)


def both(fn_name, host_args, device_outputs, **kw):
    """Runs fn on the GPU (cupy copies of host_args; outputs listed by position) and returns
    the device outputs on the host."""
    dev = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in host_args]
    getattr(cuda_mod, fn_name)(*dev, **kw)
    cp.cuda.Device().synchronize()
    return [cp.asnumpy(dev[i]) for i in device_outputs]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_on_gpu_matches_emulator_and_reference(case, dtype):
    x, w, b, go, args = conv_problem(case, seed=5)
    xs, ws, bs, gos = (a.astype(dtype) for a in (x, w, b, go))
    want = ref.conv_forward(x, w, b, *args)
    want_gx, want_gw = ref.conv_backward(x, w, go, *args)
    terms = max(w[0].size, go.shape[0] * np.prod(go.shape[2:]), w.shape[0] * np.prod(w.shape[2:]))
    got = both("conv_forward", [xs, ws, bs, np.full(want.shape, np.nan, dtype), *args], [3])[0]
    emulated = np.empty(want.shape, dtype)
    emu.conv_forward(xs, ws, bs, emulated, *args)
    assert_close(got, want, terms, dtype)
    assert_close(got, emulated, terms, dtype)
    gx = both("conv_backward_input", [gos, ws, np.full(x.shape, np.nan, dtype), *args], [2])[0]
    assert_close(gx, want_gx, terms, dtype)
    gw = both("conv_backward_weight", [xs, gos, np.full(w.shape, np.nan, dtype), *args], [2])[0]
    assert_close(gw, want_gw, terms, dtype)
    gb = both("conv_backward_bias", [gos, np.full(b.shape, np.nan, dtype)], [1])[0]
    assert_close(gb, go.sum(axis=(0,) + tuple(range(2, go.ndim))), terms, dtype)
    # Deterministic backward-weight: the same bits on a second run.
    gw2 = both("conv_backward_weight", [xs, gos, np.full(w.shape, np.nan, dtype), *args], [2])[0]
    np.testing.assert_array_equal(gw, gw2)


# The stride-phase backward-input kernels; the stem-sized case is big enough (over 512 * 256 * 4
# input pixels) for four pixels per thread in the few-channel kernel.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", BACKWARD_INPUT_CASES + [
    ("stem_224_s2", 11, 3, 8, (224, 224), (7, 7), (2, 2), (3, 3), (1, 1), 1)],
    ids=[c[0] for c in BACKWARD_INPUT_CASES] + ["stem_224_s2"])
def test_conv_backward_input_on_gpu(case, dtype):
    x, w, _, go, args = conv_problem(case, seed=6)
    gos, ws = go.astype(dtype), w.astype(dtype)
    want_gx, _ = ref.conv_backward(x, w, go, *args)
    terms = w.shape[0] // args[3] * np.prod(w.shape[2:])
    gx = both("conv_backward_input", [gos, ws, np.full(x.shape, np.nan, dtype), *args], [2])[0]
    assert_close(gx, want_gx, terms, dtype)
    emulated = np.empty(x.shape, dtype)
    emu.conv_backward_input(gos, ws, emulated, *args)
    assert_close(gx, emulated, terms, dtype)
    again = both("conv_backward_input", [gos, ws, np.full(x.shape, np.nan, dtype), *args], [2])[0]
    np.testing.assert_array_equal(gx, again)


@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=[c[0] for c in MAX_POOL_CASES])
def test_max_pool_on_gpu(case):
    name, n, c, size, ker, stride, pad, dil, ceil_mode = case
    rng = np.random.default_rng(len(name) + 40)
    x = rand(rng, (n, c) + size)
    osz = pool_out_size(size, ker, stride, pad, dil, ceil_mode)
    want, want_idx = ref.max_pool(x, ker, stride, pad, dil, osz)
    window = (list(ker), list(stride), list(pad), list(dil))
    for dtype in DTYPES:
        out, idx = both("max_pool_forward", [x.astype(dtype), np.empty(want.shape, dtype),
                                             np.empty(want.shape, np.int64), *window], [1, 2])
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(out, want.astype(dtype))
        go = rand(rng, want.shape, dtype)
        gx = both("max_pool_backward", [go, idx, np.full(x.shape, np.nan, dtype)], [2])[0]
        assert_close(gx, ref.scatter_add(go.astype(np.float64), idx, x.shape), np.prod(ker), dtype)
        g = both("gather_by_index", [x.astype(dtype), idx, np.empty(want.shape, dtype)], [2])[0]
        np.testing.assert_array_equal(g, out)


@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=[c[0] for c in AVG_POOL_CASES])
def test_avg_pool_on_gpu(case):
    name, n, c, size, ker, stride, pad, ceil_mode = case
    rng = np.random.default_rng(len(name) + 41)
    x = rand(rng, (n, c) + size)
    osz = pool_out_size(size, ker, stride, pad, (1,) * len(size), ceil_mode)
    go = rand(rng, (n, c) + osz)
    for cip, dov in ((True, 0), (False, 0), (True, 5)):
        args = (list(ker), list(stride), list(pad), ceil_mode, cip, dov)
        for dtype in DTYPES:
            out = both("avg_pool_forward", [x.astype(dtype), np.empty((n, c) + osz, dtype), *args],
                       [1])[0]
            assert_close(out, ref.avg_pool(x, ker, stride, pad, cip, dov, osz), np.prod(ker), dtype)
            gx = both("avg_pool_backward", [go.astype(dtype), np.empty(x.shape, dtype), *args],
                      [1])[0]
            assert_close(gx, ref.avg_pool_backward(go, x.shape, ker, stride, pad, cip, dov),
                         np.prod(ker), dtype)


@pytest.mark.parametrize("case", INTERP_CASES, ids=["-".join(map(str, c)) for c in INTERP_CASES])
def test_interpolate_on_gpu_matches_emulator(case):
    mode, size, out_size, align_corners, scales = case
    rng = np.random.default_rng(sum(out_size) + 42)
    x = rand(rng, (2, 3) + size, np.float32)
    go = rand(rng, (2, 3) + out_size, np.float32)
    terms = 4 ** len(size) * 8
    for fn, src, dst_shape in (("interpolate_forward", x, (2, 3) + out_size),
                               ("interpolate_backward", go, x.shape)):
        got = both(fn, [src, np.empty(dst_shape, np.float32), mode, align_corners, list(scales)],
                   [1])[0]
        emulated = np.empty(dst_shape, np.float32)
        getattr(emu, fn)(src, emulated, mode, align_corners, list(scales))
        assert_close(got, emulated, terms, np.float32, fn)


def test_adaptive_pools_on_gpu():
    rng = np.random.default_rng(43)
    x = rand(rng, (2, 5, 13, 11))
    go = rand(rng, (2, 5, 5, 4))
    out = both("adaptive_avg_pool_forward", [x, np.empty((2, 5, 5, 4))], [1])[0]
    np.testing.assert_allclose(out, ref.adaptive_avg(x, (5, 4)), atol=1e-12)
    gx = both("adaptive_avg_pool_backward", [go, np.empty(x.shape)], [1])[0]
    np.testing.assert_allclose(gx, ref.adaptive_avg_backward(go, x.shape), atol=1e-12)
    mx, idx = both("adaptive_max_pool_forward", [x, np.empty((2, 5, 5, 4)),
                                                 np.empty((2, 5, 5, 4), np.int64)], [1, 2])
    want, want_idx = ref.adaptive_max(x, (5, 4))
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(mx, want)


def test_conv2d_op_on_cupy_tensors_runs_the_cuda_kernels():
    import fastdl.nn.functional as F
    rng = np.random.default_rng(44)
    x, w, b = rand(rng, (2, 10, 13, 13)), rand(rng, (15, 2, 3, 3)), rand(rng, (15,))
    tx, tw, tb = (fastdl.tensor(cp.asarray(a), requires_grad=True) for a in (x, w, b))
    y = F.conv2d(tx, tw, tb, stride=2, padding=1, dilation=2, groups=5)
    assert fastdl.backend.is_cupy_array(y._data)
    g = rand(rng, y.shape)
    y.backward(fastdl.tensor(cp.asarray(g)))
    want = ref.conv_forward(x, w, b, [2, 2], [1, 1], [2, 2], 5)
    want_gx, want_gw = ref.conv_backward(x, w, g, [2, 2], [1, 1], [2, 2], 5)
    np.testing.assert_allclose(cp.asnumpy(y._data), want, atol=1e-10)
    np.testing.assert_allclose(cp.asnumpy(tx.grad._data), want_gx, atol=1e-10)
    np.testing.assert_allclose(cp.asnumpy(tw.grad._data), want_gw, atol=1e-10)
    np.testing.assert_allclose(cp.asnumpy(tb.grad._data), g.sum(axis=(0, 2, 3)), atol=1e-10)


def test_kernels_run_on_a_non_default_stream():
    x = cp.asarray(np.random.default_rng(45).standard_normal((2, 5, 13, 13)).astype(np.float32))
    out = cp.empty((2, 5, 6, 6), cp.float32)
    idx = cp.empty((2, 5, 6, 6), cp.int64)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        cuda_mod.max_pool_forward(x, out, idx, [3, 3], [2, 2], [1, 1], [1, 1], stream=stream.ptr)
    stream.synchronize()
    host = np.empty((2, 5, 6, 6), np.float32)
    emu.max_pool_forward(cp.asnumpy(x), host, None, [3, 3], [2, 2], [1, 1], [1, 1])
    np.testing.assert_array_equal(cp.asnumpy(out), host)
