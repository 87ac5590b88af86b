"""The CUDA convolution and pooling kernels (csrc/cuda/conv, csrc/cuda/pool) run on the CPU by the
CUDA emulator (fastdl._C_cudaemu), on odd shapes (13x13, 5 channels, groups 5, stride 2,
dilation 2, rank 1 and 3, batch 1, channel counts and pixel counts that are not multiples of the
64x64x16 tiles), against a float64 reference (PyTorch's CPU ops when installed, else the numpy one
in conv_pool_reference.py) and, where the CPU kernels exist (fastdl._C.conv_* etc.), against
those too; under two schedules: threads in order, and one warp at a time between barriers.

Emulation is slow: sizes are small (the file runs in seconds).
"""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import _C
from emulated_gpu import load_device_tests
from conv_pool_cases import (AVG_POOL_CASES, BACKWARD_INPUT_CASES, CONV_CASES, INTERP_CASES,
                             MAX_POOL_CASES, algos, assert_close, conv_problem, pool_out_size, rand)
from conv_pool_reference import NumpyRef, TorchRef, reference, torch

emu = fastdl.cuda.emulator()
ref = reference()
SCHEDULES = ("forward", "warp_at_a_time")
DTYPES = (np.float32, np.float64)


def cpu_kernel(name):
    """fastdl._C's kernel of the same name, once the CPU conv/pool families provide it."""
    return getattr(_C, name, None)


# ---------------------------------------------------------------------------------------------
# Convolution


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_forward_and_backward(case, dtype, schedule):
    x, w, b, go, args = conv_problem(case)
    want = ref.conv_forward(x, w, b, *args)
    want_nobias = want - b.reshape((1, -1) + (1,) * (x.ndim - 2))
    want_gx, want_gw = ref.conv_backward(x, w, go, *args)
    want_gb = go.sum(axis=(0,) + tuple(range(2, go.ndim)))
    xs, ws, bs, gos = (a.astype(dtype) for a in (x, w, b, go))
    r_fwd = w[0].size
    r_bwd_in = w.shape[0] // args[3] * np.prod(w.shape[2:])
    r_bwd_w = go.shape[0] * np.prod(go.shape[2:])
    for algo in algos(case):
        kw = dict(schedule=schedule, algo=algo)
        out = np.full(want.shape, np.nan, dtype)  # outputs are never read
        emu.conv_forward(xs, ws, bs, out, *args, **kw)
        assert_close(out, want, r_fwd, dtype, f"forward {algo}")
        emu.conv_forward(xs, ws, None, out, *args, **kw)
        assert_close(out, want_nobias, r_fwd, dtype, f"forward without bias {algo}")
        gx = np.full(x.shape, np.nan, dtype)
        emu.conv_backward_input(gos, ws, gx, *args, **kw)
        assert_close(gx, want_gx, r_bwd_in, dtype, f"backward input {algo}")
        gw = np.full(w.shape, np.nan, dtype)
        emu.conv_backward_weight(xs, gos, gw, *args, **kw)
        assert_close(gw, want_gw, r_bwd_w, dtype, f"backward weight {algo}")
    gb = np.full(b.shape, np.nan, dtype)
    emu.conv_backward_bias(gos, gb, schedule=schedule)
    assert_close(gb, want_gb, r_bwd_w, dtype, "backward bias")


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_matches_cpu_kernels(case):
    if cpu_kernel("conv_forward") is None:
        pytest.skip("fastdl._C has no conv kernels in this build (branch `conv` not merged)")
    x, w, b, go, args = conv_problem(case, seed=1)
    for dtype in DTYPES:
        xs, ws, bs, gos = (a.astype(dtype) for a in (x, w, b, go))
        pairs = []
        for mod in (emu, _C):
            out = np.empty(go.shape, dtype)
            mod.conv_forward(xs, ws, bs, out, *args)
            gx, gw, gb = np.empty(x.shape, dtype), np.empty(w.shape, dtype), np.empty(b.shape, dtype)
            mod.conv_backward_input(gos, ws, gx, *args)
            mod.conv_backward_weight(xs, gos, gw, *args)
            mod.conv_backward_bias(gos, gb)
            pairs.append((out, gx, gw, gb))
        terms = max(w[0].size, go.shape[0] * np.prod(go.shape[2:]), w.shape[0] * np.prod(w.shape[2:]))
        for what, ours, cpu in zip(("forward", "grad_input", "grad_weight", "grad_bias"), *pairs):
            assert_close(ours, cpu, terms, dtype, f"{what} vs _C")


# Backward-input has two kernels, both by stride phases: the few-channel one (C / groups <= 8,
# "direct") and the implicit GEMM. Each runs every case (direct where it may), and "auto" must be
# the one the shape picks: the same bits (each kernel sums in a fixed order).
SMALL_CHANNELS = 8


def backward_input_algos(cg):
    return ("implicit_gemm", "direct") if cg <= SMALL_CHANNELS else ("implicit_gemm",)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", BACKWARD_INPUT_CASES, ids=[c[0] for c in BACKWARD_INPUT_CASES])
def test_conv_backward_input_by_stride_phases(case, dtype, schedule):
    x, w, _, go, args = conv_problem(case)
    want_gx, _ = ref.conv_backward(x, w, go, *args)
    cg, groups = w.shape[1], args[3]
    terms = w.shape[0] // groups * np.prod(w.shape[2:])
    results = {}
    for algo in backward_input_algos(cg) + ("auto",):
        gx = np.full(x.shape, np.nan, dtype)
        emu.conv_backward_input(go.astype(dtype), w.astype(dtype), gx, *args, schedule=schedule,
                                algo=algo)
        assert_close(gx, want_gx, terms, dtype, f"backward input {algo}")
        results[algo] = gx
    picked = "direct" if cg <= SMALL_CHANNELS else "implicit_gemm"
    np.testing.assert_array_equal(results["auto"], results[picked])


def test_conv_backward_input_four_pixels_per_thread():
    # From 512 * 256 * 4 input pixels (images x pixels) a thread of the few-channel kernel takes
    # four, 256 apart: here they cross rows, phases' ends and images.
    case = ("1d_long", 2, 3, 2, (262147,), (3,), (2,), (1,), (1,), 1)
    x, w, _, go, args = conv_problem(case)
    want_gx, _ = ref.conv_backward(x, w, go, *args)
    for dtype in DTYPES:
        gx = np.full(x.shape, np.nan, dtype)
        emu.conv_backward_input(go.astype(dtype), w.astype(dtype), gx, *args, algo="direct")
        assert_close(gx, want_gx, 6, dtype)
    case = ("2d_long", 3, 1, 2, (420, 420), (3, 3), (2, 2), (1, 1), (1, 1), 1)
    x, w, _, go, args = conv_problem(case)
    want_gx, _ = ref.conv_backward(x, w, go, *args)
    gx = np.full(x.shape, np.nan, np.float32)
    emu.conv_backward_input(go.astype(np.float32), w.astype(np.float32), gx, *args)
    assert_close(gx, want_gx, 18, np.float32)


def test_conv_backward_input_is_deterministic_across_schedules():
    for case in (BACKWARD_INPUT_CASES[4], BACKWARD_INPUT_CASES[6]):  # one per kernel
        x, w, _, go, args = conv_problem(case, seed=2)
        runs = []
        for schedule, seed in (("forward", 0), ("reverse", 0), ("random", 1), ("warp_at_a_time", 0)):
            gx = np.empty(x.shape, np.float32)
            emu.conv_backward_input(go.astype(np.float32), w.astype(np.float32), gx, *args,
                                    schedule=schedule, seed=seed)
            runs.append(gx)
        for gx in runs[1:]:
            np.testing.assert_array_equal(gx, runs[0])


# A transposed convolution = backward-input into a caller-chosen size (output_padding).
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("d,groups,c_out,stride,dil,out_pad", [
    (1, 1, 6, 2, 1, (1,)),
    (2, 2, 6, 2, 1, (1, 0)),
    (3, 1, 6, 2, 1, (0, 1, 1)),
    (2, 1, 10, 3, 2, (2, 1)),  # 10 channels: the implicit GEMM
    (2, 2, 4, 3, 1, (2, 0)),   # output_padding 2: the last rows of a phase read no grad_out
])
def test_transposed_conv_with_output_padding(d, groups, c_out, stride, dil, out_pad, schedule):
    rng = np.random.default_rng(d * c_out + stride)
    stride, pad, dil = (stride,) * d, (1,) * d, (dil,) * d
    ker = (4, 3, 3)[:d]
    xt = rand(rng, (2, 4) + (5, 4, 3)[:d])  # the transposed conv's input: grad_out here
    w = rand(rng, (4, c_out // groups) + ker)
    in_size = tuple((o - 1) * s - 2 * p + dl * (k - 1) + 1 + op
                    for o, s, p, dl, k, op in zip(xt.shape[2:], stride, pad, dil, ker, out_pad))
    want = ref.conv_transpose(xt, w, in_size, stride, pad, dil, groups)
    for dtype in DTYPES:
        for algo in backward_input_algos(c_out // groups):
            y = np.full((2, c_out) + in_size, np.nan, dtype)
            emu.conv_backward_input(xt.astype(dtype), w.astype(dtype), y, list(stride), list(pad),
                                    list(dil), groups, schedule=schedule, algo=algo)
            assert_close(y, want, 4 * np.prod(ker), dtype, algo)


def test_conv_backward_weight_is_deterministic_across_schedules():
    # dense_K70: 169 rows of (image, pixel) split over 3 blocks; depthwise: a tree per weight.
    for case in (CONV_CASES[3], CONV_CASES[0]):
        x, w, b, go, args = conv_problem(case, seed=2)
        runs = []
        for schedule, seed in (("forward", 0), ("reverse", 0), ("random", 1), ("random", 2),
                               ("warp_at_a_time", 0)):
            gw = np.empty(w.shape, np.float32)
            emu.conv_backward_weight(x.astype(np.float32), go.astype(np.float32), gw, *args,
                                     schedule=schedule, seed=seed)
            gb = np.empty(b.shape, np.float32)
            emu.conv_backward_bias(go.astype(np.float32), gb, schedule=schedule, seed=seed)
            runs.append((gw, gb))
        for gw, gb in runs[1:]:
            np.testing.assert_array_equal(gw, runs[0][0])
            np.testing.assert_array_equal(gb, runs[0][1])


def test_conv_empty_reductions_give_zeros():
    # No input channels per group to sum (C = 0): forward is the bias; batch 0 gives zero grads.
    x = np.zeros((2, 0, 5, 5), np.float32)
    w = np.zeros((3, 0, 3, 3), np.float32)
    b = np.arange(3, dtype=np.float32)
    out = np.full((2, 3, 3, 3), np.nan, np.float32)
    emu.conv_forward(x, w, b, out, [1, 1], [0, 0], [1, 1], 1)
    np.testing.assert_array_equal(out, np.broadcast_to(b.reshape(1, 3, 1, 1), out.shape))
    gw = np.full((3, 2, 3, 3), np.nan, np.float32)
    emu.conv_backward_weight(np.zeros((0, 2, 5, 5), np.float32), np.zeros((0, 3, 3, 3), np.float32),
                             gw, [1, 1], [0, 0], [1, 1], 1)
    np.testing.assert_array_equal(gw, 0)
    gb = np.full(3, np.nan, np.float32)
    emu.conv_backward_bias(np.zeros((0, 3, 3, 3), np.float32), gb)
    np.testing.assert_array_equal(gb, 0)


def test_conv_bad_input_raises_before_running():
    x, w = np.ones((1, 4, 6, 6), np.float32), np.ones((6, 2, 3, 3), np.float32)
    out = np.empty((1, 6, 4, 4), np.float32)
    args = ([1, 1], [0, 0], [1, 1], 2)
    emu.conv_forward(x, w, None, out, *args)  # the valid call
    with pytest.raises(TypeError, match="same dtype"):
        emu.conv_forward(x, w.astype(np.float64), None, out, *args)
    with pytest.raises(TypeError, match="float32 or float64, got int32"):
        emu.conv_forward(x.astype(np.int32), w, None, out, *args)
    with pytest.raises(ValueError, match=r"groups=3 must .*divide"):
        emu.conv_forward(x, w, None, out, [1, 1], [0, 0], [1, 1], 3)
    with pytest.raises(ValueError, match=r"out of shape \(1, 6, 3, 3\) does not match"):
        emu.conv_forward(x, w, None, np.empty((1, 6, 3, 3), np.float32), *args)
    with pytest.raises(ValueError, match="stride must have 2 entries"):
        emu.conv_forward(x, w, None, out, [1], [0, 0], [1, 1], 2)
    with pytest.raises(ValueError, match="padding entries must be >= 0"):
        emu.conv_forward(x, w, None, out, [1, 1], [-1, 0], [1, 1], 2)
    with pytest.raises(ValueError, match="C-contiguous"):
        emu.conv_forward(x[..., ::-1], w, None, out, *args)
    with pytest.raises(ValueError, match="bias must have shape"):
        emu.conv_forward(x, w, np.ones(5, np.float32), out, *args)
    with pytest.raises(ValueError, match="1 to 3 spatial"):
        emu.conv_forward(x[0, 0], w[0, 0], None, out[0, 0], *args)
    with pytest.raises(ValueError, match="weight of shape"):
        emu.conv_backward_weight(x, np.ones((1, 6, 4, 4), np.float32), np.empty((6, 4, 3, 3), np.float32),
                                 *args)
    with pytest.raises(ValueError, match="overlaps"):
        gi = np.empty((1, 4, 6, 6), np.float32)
        emu.conv_backward_input(gi.reshape(-1)[:96].reshape(1, 6, 4, 4), w, gi, *args)
    with pytest.raises(ValueError, match="direct kernel needs C / groups == 1"):
        emu.conv_forward(x, w, None, out, *args, algo="direct")
    with pytest.raises(ValueError, match="direct backward-input kernel needs C / groups <= 8, got 9"):
        emu.conv_backward_input(np.ones((1, 2, 4, 4), np.float32), np.ones((2, 9, 3, 3), np.float32),
                                np.empty((1, 9, 6, 6), np.float32), [1, 1], [0, 0], [1, 1], 1,
                                algo="direct")
    with pytest.raises(ValueError, match="unknown schedule"):
        emu.conv_forward(x, w, None, out, *args, schedule="sideways")
    if fastdl.cuda.is_built():
        from fastdl import _C_cuda
        with pytest.raises(TypeError, match="must be an array in CUDA device"):
            _C_cuda.conv_forward(x, w, None, out, *args)


# ---------------------------------------------------------------------------------------------
# Pooling

@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=[c[0] for c in MAX_POOL_CASES])
def test_max_pool_forward_backward_unpool_gather(case, schedule):
    name, n, c, size, ker, stride, pad, dil, ceil_mode = case
    rng = np.random.default_rng(len(name))
    x = rand(rng, (n, c) + size)
    osz = pool_out_size(size, ker, stride, pad, dil, ceil_mode)
    want, want_idx = ref.max_pool(x, ker, stride, pad, dil, osz)
    go = rand(rng, want.shape)
    want_gx = ref.scatter_add(go, want_idx, x.shape)
    window = (list(ker), list(stride), list(pad), list(dil))
    for dtype in DTYPES:
        out = np.full(want.shape, np.nan, dtype)
        idx = np.full(want.shape, -7, np.int64)
        emu.max_pool_forward(x.astype(dtype), out, idx, *window, schedule=schedule)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(out, want.astype(dtype))
        out2 = np.full(want.shape, np.nan, dtype)
        emu.max_pool_forward(x.astype(dtype), out2, None, *window, schedule=schedule)
        np.testing.assert_array_equal(out2, out)
        gx = np.full(x.shape, np.nan, dtype)
        emu.max_pool_backward(go.astype(dtype), idx, gx, schedule=schedule)
        assert_close(gx, want_gx, np.prod(ker), dtype)
        # max_unpool puts each value back where its index says (later duplicates may win).
        un = np.full(x.shape, np.nan, dtype)
        emu.max_unpool_forward(out, idx, un, schedule=schedule)
        expect = np.zeros(x.shape, dtype).reshape(n * c, -1)
        expect[np.repeat(np.arange(n * c), idx[0, 0].size), idx.reshape(-1)] = out.reshape(-1)
        np.testing.assert_array_equal(un.reshape(n * c, -1) != 0, expect != 0)
        # gather_by_index(x, indices) is the pooled maximum again (max_unpool's backward).
        g = np.full(want.shape, np.nan, dtype)
        emu.gather_by_index(x.astype(dtype), idx, g, schedule=schedule)
        np.testing.assert_array_equal(g, out)
        cpu = cpu_kernel("max_pool_forward")
        if cpu is not None:
            out_c, idx_c = np.empty_like(out), np.empty_like(idx)
            cpu(x.astype(dtype), out_c, idx_c, *window)
            np.testing.assert_array_equal(idx_c, idx)
            np.testing.assert_array_equal(out_c, out)
            gx_c = np.empty_like(gx)
            _C.max_pool_backward(go.astype(dtype), idx, gx_c)
            assert_close(gx, gx_c, np.prod(ker), dtype, "max_pool_backward vs _C")


def test_max_unpool_matches_torch_and_nan_wins():
    rng = np.random.default_rng(3)
    x = rand(rng, (2, 3, 13, 13))
    x[0, 1, 4, 5] = np.nan
    out = np.empty((2, 3, 6, 6))
    idx = np.empty(out.shape, np.int64)
    emu.max_pool_forward(x, out, idx, [2, 2], [2, 2], [0, 0], [1, 1])
    assert np.isnan(out[0, 1, 2, 2]) and idx[0, 1, 2, 2] == 4 * 13 + 5
    assert np.isfinite(np.delete(out.reshape(-1), np.ravel_multi_index((0, 1, 2, 2), out.shape))).all()
    if torch is not None:
        un = np.empty((2, 3, 13, 13))
        emu.max_unpool_forward(out, idx, un)
        want = torch.nn.functional.max_unpool2d(torch.tensor(out), torch.tensor(idx), 2, 2,
                                                output_size=(13, 13)).numpy()
        np.testing.assert_array_equal(un, want)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=[c[0] for c in AVG_POOL_CASES])
def test_avg_pool_forward_backward(case, schedule):
    name, n, c, size, ker, stride, pad, ceil_mode = case
    rng = np.random.default_rng(len(name) + 1)
    x = rand(rng, (n, c) + size)
    osz = pool_out_size(size, ker, stride, pad, (1,) * len(size), ceil_mode)
    go = rand(rng, (n, c) + osz)
    for cip in (True, False):
        for dov in (0, 5):
            want = ref.avg_pool(x, ker, stride, pad, cip, dov, osz)
            want_gx = ref.avg_pool_backward(go, x.shape, ker, stride, pad, cip, dov)
            args = (list(ker), list(stride), list(pad), ceil_mode, cip, dov)
            for dtype in DTYPES:
                out = np.full(want.shape, np.nan, dtype)
                emu.avg_pool_forward(x.astype(dtype), out, *args, schedule=schedule)
                assert_close(out, want, np.prod(ker), dtype, f"forward cip={cip} dov={dov}")
                gx = np.full(x.shape, np.nan, dtype)
                emu.avg_pool_backward(go.astype(dtype), gx, *args, schedule=schedule)
                assert_close(gx, want_gx, np.prod(ker), dtype, f"backward cip={cip} dov={dov}")
                cpu = cpu_kernel("avg_pool_forward")
                if cpu is not None:
                    out_c, gx_c = np.empty_like(out), np.empty_like(gx)
                    cpu(x.astype(dtype), out_c, *args)
                    _C.avg_pool_backward(go.astype(dtype), gx_c, *args)
                    assert_close(out, out_c, np.prod(ker), dtype, "avg_pool_forward vs _C")
                    assert_close(gx, gx_c, np.prod(ker), dtype, "avg_pool_backward vs _C")


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("size,out_size", [((13, 13), (5, 4)), ((13,), (6,)), ((7,), (9,)),
                                           ((5, 6, 7), (3, 4, 2)), ((13, 13), (1, 1))])
def test_adaptive_pools(size, out_size, schedule):
    rng = np.random.default_rng(len(size) * 10 + out_size[0])
    x = rand(rng, (2, 5) + size)
    go = rand(rng, (2, 5) + out_size)
    want = ref.adaptive_avg(x, out_size)
    want_gx = ref.adaptive_avg_backward(go, x.shape)
    want_max, want_idx = ref.adaptive_max(x, out_size)
    window = int(np.prod([-(-i // o) + 1 for i, o in zip(size, out_size)]))
    for dtype in DTYPES:
        out = np.full(want.shape, np.nan, dtype)
        emu.adaptive_avg_pool_forward(x.astype(dtype), out, schedule=schedule)
        assert_close(out, want, window, dtype)
        gx = np.full(x.shape, np.nan, dtype)
        emu.adaptive_avg_pool_backward(go.astype(dtype), gx, schedule=schedule)
        assert_close(gx, want_gx, window, dtype)
        mx, idx = np.full(want.shape, np.nan, dtype), np.full(want.shape, -1, np.int64)
        emu.adaptive_max_pool_forward(x.astype(dtype), mx, idx, schedule=schedule)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(mx, want_max.astype(dtype))
        if cpu_kernel("adaptive_avg_pool_forward") is not None:
            out_c, gx_c = np.empty_like(out), np.empty_like(gx)
            _C.adaptive_avg_pool_forward(x.astype(dtype), out_c)
            _C.adaptive_avg_pool_backward(go.astype(dtype), gx_c)
            assert_close(out, out_c, window, dtype)
            assert_close(gx, gx_c, window, dtype)
            mx_c, idx_c = np.empty_like(mx), np.empty_like(idx)
            _C.adaptive_max_pool_forward(x.astype(dtype), mx_c, idx_c)
            np.testing.assert_array_equal(idx_c, idx)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("case", INTERP_CASES, ids=["-".join(map(str, c)) for c in INTERP_CASES])
def test_interpolate(case, schedule):
    mode, size, out_size, align_corners, scales = case
    rng = np.random.default_rng(sum(out_size))
    x = rand(rng, (2, 3) + size)
    go = rand(rng, (2, 3) + out_size)
    want = ref.interpolate(x, out_size, mode, align_corners, scales)
    # torch 2.13's bicubic backward copies when the size does not change, though its forward
    # resamples with the given scales: we keep the true adjoint of the forward (what gradcheck
    # wants), so that case is checked against the numpy reference's adjoint.
    torch_inconsistent = mode == "cubic" and size == out_size and any(s > 0 for s in scales)
    bwd_ref = NumpyRef() if torch_inconsistent else ref
    want_gx = bwd_ref.interpolate_backward(go, x.shape, mode, align_corners, scales)
    terms = 4 ** len(size) * (1 + int(np.prod([max(1, o // i) for i, o in zip(size, out_size)])))
    for dtype in DTYPES:
        out = np.full(want.shape, np.nan, dtype)
        emu.interpolate_forward(x.astype(dtype), out, mode, align_corners, list(scales),
                                schedule=schedule)
        assert_close(out, want, terms, dtype, "forward")
        gx = np.full(x.shape, np.nan, dtype)
        emu.interpolate_backward(go.astype(dtype), gx, mode, align_corners, list(scales),
                                 schedule=schedule)
        assert_close(gx, want_gx, terms, dtype, "backward")
        cpu = cpu_kernel("interpolate_forward")
        if cpu is not None:
            out_c, gx_c = np.empty_like(out), np.empty_like(gx)
            cpu(x.astype(dtype), out_c, mode, align_corners, list(scales))
            _C.interpolate_backward(go.astype(dtype), gx_c, mode, align_corners, list(scales))
            assert_close(out, out_c, terms, dtype, "forward vs _C")
            if not torch_inconsistent:  # _C follows torch's copy there, not the adjoint
                assert_close(gx, gx_c, terms, dtype, "backward vs _C")


def test_gather_backwards_are_deterministic():
    rng = np.random.default_rng(11)
    go = rand(rng, (2, 3, 29, 6), np.float32)
    results = []
    for schedule, seed in (("forward", 0), ("reverse", 0), ("random", 5), ("warp_at_a_time", 0)):
        gx = np.empty((2, 3, 13, 13), np.float32)
        emu.interpolate_backward(go, gx, "cubic", False, [0.0, 0.0], schedule=schedule, seed=seed)
        ga = np.empty((2, 3, 13, 13), np.float32)
        emu.avg_pool_backward(np.ascontiguousarray(go[:, :, :7, :6]), ga, [3, 3], [2, 2], [1, 1],
                              True, True, 0, schedule=schedule, seed=seed)
        results.append((gx, ga))
    for gx, ga in results[1:]:
        np.testing.assert_array_equal(gx, results[0][0])
        np.testing.assert_array_equal(ga, results[0][1])


def test_pool_bad_input_raises():
    x = np.ones((2, 3, 8, 8), np.float32)
    out = np.empty((2, 3, 4, 4), np.float32)
    idx = np.empty((2, 3, 4, 4), np.int64)
    window = ([2, 2], [2, 2], [0, 0], [1, 1])
    with pytest.raises(TypeError, match="indices must be int64"):
        emu.max_pool_forward(x, out, idx.astype(np.int32), *window)
    with pytest.raises(ValueError, match="must agree in N and C"):
        emu.max_pool_forward(x, np.empty((2, 4, 4, 4), np.float32), None, *window)
    with pytest.raises(ValueError, match="kernel must have 2 entries"):
        emu.max_pool_forward(x, out, None, [2], [2, 2], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="same shape"):
        emu.max_pool_backward(out, idx[:, :, :2].copy(), x.copy())
    with pytest.raises(ValueError, match="unknown mode 'bilinear'"):
        emu.interpolate_forward(x, out, "bilinear", False, [0.0, 0.0])
    with pytest.raises(ValueError, match="'cubic' needs 2 spatial"):
        emu.interpolate_forward(x[:, :, 0].copy(), out[:, :, 0].copy(), "cubic", False, [0.0])
    with pytest.raises(ValueError, match="scales must have 2 entries"):
        emu.interpolate_forward(x, out, "linear", False, [0.0])
    with pytest.raises(ValueError, match="divisor_override must be >= 0"):
        emu.avg_pool_forward(x, out, [2, 2], [2, 2], [0, 0], False, True, -1)
    with pytest.raises(TypeError, match="same dtype"):
        emu.adaptive_avg_pool_forward(x, out.astype(np.float64))


# ---------------------------------------------------------------------------------------------
# The numpy fallback reference agrees with torch (so a machine without torch still tests well).

@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_numpy_reference_matches_torch():
    npr, tr = NumpyRef(), TorchRef()
    for case in CONV_CASES:
        x, w, b, go, args = conv_problem(case, seed=3)
        np.testing.assert_allclose(npr.conv_forward(x, w, b, *args), tr.conv_forward(x, w, b, *args),
                                   atol=1e-12)
        for a, t in zip(npr.conv_backward(x, w, go, *args), tr.conv_backward(x, w, go, *args)):
            np.testing.assert_allclose(a, t, atol=1e-12)
    xt, w = np.random.default_rng(0).standard_normal((2, 4, 5, 4)), np.ones((4, 3, 4, 3))
    np.testing.assert_allclose(npr.conv_transpose(xt, w, (10, 7), (2, 2), (1, 1), (1, 1), 1),
                               tr.conv_transpose(xt, w, (10, 7), (2, 2), (1, 1), (1, 1), 1), atol=1e-12)
    rng = np.random.default_rng(4)
    for name, n, c, size, ker, stride, pad, dil, ceil_mode in MAX_POOL_CASES:
        x = rng.standard_normal((n, c) + size)
        osz = pool_out_size(size, ker, stride, pad, dil, ceil_mode)
        for a, t in zip(npr.max_pool(x, ker, stride, pad, dil, osz),
                        tr.max_pool(x, ker, stride, pad, dil, osz)):
            np.testing.assert_array_equal(a, t)
    for name, n, c, size, ker, stride, pad, ceil_mode in AVG_POOL_CASES:
        x = rng.standard_normal((n, c) + size)
        osz = pool_out_size(size, ker, stride, pad, (1,) * len(size), ceil_mode)
        go = rng.standard_normal((n, c) + osz)
        for cip in (True, False):
            np.testing.assert_allclose(npr.avg_pool(x, ker, stride, pad, cip, 0, osz),
                                       tr.avg_pool(x, ker, stride, pad, cip, 0, osz), atol=1e-12)
            np.testing.assert_allclose(npr.avg_pool_backward(go, x.shape, ker, stride, pad, cip, 0),
                                       tr.avg_pool_backward(go, x.shape, ker, stride, pad, cip, 0),
                                       atol=1e-12)
    x = rng.standard_normal((2, 3, 13, 11))
    np.testing.assert_allclose(npr.adaptive_avg(x, (5, 4)), tr.adaptive_avg(x, (5, 4)), atol=1e-12)
    go = rng.standard_normal((2, 3, 5, 4))
    np.testing.assert_allclose(npr.adaptive_avg_backward(go, x.shape),
                               tr.adaptive_avg_backward(go, x.shape), atol=1e-12)
    for a, t in zip(npr.adaptive_max(x, (5, 4)), tr.adaptive_max(x, (5, 4))):
        np.testing.assert_array_equal(a, t)
    for mode, size, out_size, ac, scales in INTERP_CASES:
        x = rng.standard_normal((1, 2) + size)
        go = rng.standard_normal((1, 2) + out_size)
        np.testing.assert_allclose(npr.interpolate(x, out_size, mode, ac, scales),
                                   tr.interpolate(x, out_size, mode, ac, scales), atol=1e-12)
        if not (mode == "cubic" and size == out_size):  # see test_interpolate
            np.testing.assert_allclose(npr.interpolate_backward(go, x.shape, mode, ac, scales),
                                       tr.interpolate_backward(go, x.shape, mode, ac, scales),
                                       atol=1e-12)


# ---------------------------------------------------------------------------------------------
# The op layer's cuda= forwards: with the emulator standing in for _C_cuda (same functions and
# arguments) and the forwards swapped in for the CPU ones, conv2d / conv_transpose2d forward and
# backward through fastdl's autograd must still match torch.

def _swap_in_cuda_forwards(monkeypatch, ops):
    """Makes the ops' CPU forwards their cuda= forwards, on the emulator as _C_cuda; returns the
    set of kernel names the forwards fetched from it."""
    from fastdl import backend
    used = set()

    class Kernels:
        def __getattr__(self, name):
            used.add(name)
            return getattr(emu, name)

    monkeypatch.setattr(backend, "cuda_kernels", lambda: Kernels())
    for op in ops:
        assert op.cuda is not None, f"{op.name} has no cuda= forward"
        # The fast paths are closures over op.cpu: rebuild them, and restore the old ones after.
        old = op.unary, op.binary
        monkeypatch.setattr(op, "cpu", op.cuda)
        op._build_fast_paths()
        new, (op.unary, op.binary) = (op.unary, op.binary), old
        monkeypatch.setattr(op, "unary", new[0])
        monkeypatch.setattr(op, "binary", new[1])
    return used


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_conv_op_cuda_forwards_through_autograd(monkeypatch):
    conv_mod = pytest.importorskip("fastdl.nn.functional.conv")
    used = _swap_in_cuda_forwards(monkeypatch, (conv_mod.convolution_op,
                                                conv_mod.backward_weight_op,
                                                conv_mod.backward_bias_op))
    import fastdl.nn.functional as fF
    rng = np.random.default_rng(21)
    x = rand(rng, (2, 10, 13, 13))
    w = rand(rng, (15, 2, 3, 3))
    b = rand(rng, (15,))
    wt = rand(rng, (10, 3, 4, 4))
    for fn, tfn, weight, kw in ((fF.conv2d, torch.nn.functional.conv2d, w,
                                 dict(stride=2, padding=1, dilation=2, groups=5)),
                                (fF.conv_transpose2d, torch.nn.functional.conv_transpose2d, wt,
                                 dict(stride=2, padding=1, output_padding=1, groups=5))):
        bias = b[:weight.shape[1] * 5] if fn is fF.conv_transpose2d else b
        fx, fw, fb = (fastdl.tensor(a, requires_grad=True) for a in (x, weight, bias))
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
        y = fn(fx, fw, fb, **kw)
        ty = tfn(tx, tw, tb, **kw)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-12)
        g = rng.standard_normal(ty.shape)
        y.backward(fastdl.tensor(g))
        ty.backward(torch.tensor(g))
        for ours, theirs in ((fx, tx), (fw, tw), (fb, tb)):
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-11)
    assert used == {"conv_forward", "conv_backward_input", "conv_backward_weight",
                    "conv_backward_bias"}


# ---------------------------------------------------------------------------------------------
# The GPU tests run only where a GPU is lent (rarely): run their kernel checks here, with numpy
# standing in for cupy and the emulator for _C_cuda, so a mistake in them shows before a loan.

def test_gpu_tests_dry_run_on_the_emulator(monkeypatch):
    mod = load_device_tests(monkeypatch, emu, "test_cuda_conv_pool_device.py")
    for case in CONV_CASES[:4] + CONV_CASES[-2:]:
        for dtype in DTYPES:
            mod.test_conv_on_gpu_matches_emulator_and_reference(case, dtype)
    for case in BACKWARD_INPUT_CASES[::3]:
        mod.test_conv_backward_input_on_gpu(case, np.float32)
    for case in MAX_POOL_CASES:
        mod.test_max_pool_on_gpu(case)
    for case in AVG_POOL_CASES:
        mod.test_avg_pool_on_gpu(case)
    for case in INTERP_CASES[::3]:
        mod.test_interpolate_on_gpu_matches_emulator(case)
    mod.test_adaptive_pools_on_gpu()
    mod.test_kernels_run_on_a_non_default_stream()


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_pool_ops_cuda_forwards_through_autograd(monkeypatch):
    P = pytest.importorskip("fastdl.nn.functional.pooling")
    U = pytest.importorskip("fastdl.nn.functional.upsampling")
    used = _swap_in_cuda_forwards(monkeypatch, (
        P.max_pool_op, P.adaptive_max_pool_op, P.pool_scatter_op, P.pool_gather_op,
        P.max_unpool_op, P.avg_pool_op, P.avg_pool_backward_op, P.adaptive_avg_pool_op,
        P.adaptive_avg_pool_backward_op, U.interpolate_op, U.interpolate_backward_op))
    import fastdl.nn.functional as fF
    tF = torch.nn.functional
    rng = np.random.default_rng(22)
    x = rand(rng, (2, 5, 13, 13))
    calls = [
        ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
        ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                            count_include_pad=False)),
        ("adaptive_avg_pool2d", dict(output_size=(5, 4))),
        ("adaptive_max_pool2d", dict(output_size=(5, 4))),
        ("interpolate", dict(size=(29, 6), mode="bilinear", align_corners=False)),
        ("interpolate", dict(scale_factor=(2.3, 0.6), mode="bicubic", align_corners=True)),
        ("interpolate", dict(size=(20, 7), mode="nearest-exact")),
    ]
    for name, kw in calls:
        fx, tx = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = getattr(fF, name)(fx, **kw), getattr(tF, name)(tx, **kw)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-12,
                                   err_msg=name)
        g = rng.standard_normal(ty.shape)
        y.backward(fastdl.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=1e-12, err_msg=name)
    # max_unpool2d: the indices of a max pool put the values back; its backward is a gather.
    fx, tx = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fy, fi = fF.max_pool2d(fx, 2, 2, return_indices=True)
    ty, ti = tF.max_pool2d(tx, 2, 2, return_indices=True)
    fu = fF.max_unpool2d(fy, fi, 2, 2, output_size=(13, 13))
    tu = tF.max_unpool2d(ty, ti, 2, 2, output_size=(13, 13))
    np.testing.assert_array_equal(fu.detach().numpy(), tu.detach().numpy())
    g = rng.standard_normal(tu.shape)
    fu.backward(fastdl.tensor(g))
    tu.backward(torch.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    assert used == {"max_pool_forward", "max_pool_backward", "avg_pool_forward",
                    "avg_pool_backward", "adaptive_avg_pool_forward",
                    "adaptive_avg_pool_backward", "adaptive_max_pool_forward",
                    "interpolate_forward", "interpolate_backward", "max_unpool_forward",
                    "gather_by_index"}


# ---------------------------------------------------------------------------------------------
# One interface (BRIEF.md): _C, _C_cudaemu and _C_cuda take the same arguments, the CUDA ones plus
# a trailing stream (and the emulator's schedule keywords).

KERNEL_NAMES = ("conv_forward", "conv_backward_input", "conv_backward_weight", "conv_backward_bias",
                "max_pool_forward", "max_pool_backward", "max_unpool_forward", "gather_by_index",
                "avg_pool_forward", "avg_pool_backward", "adaptive_avg_pool_forward",
                "adaptive_avg_pool_backward", "adaptive_max_pool_forward", "interpolate_forward",
                "interpolate_backward")


def _parameter_names(fn):
    import re
    signature = fn.__nb_signature__[0][0]
    return re.findall(r"[(,]\s*(\w+):", signature)


def test_cpu_cuda_and_emulator_share_the_interface():
    cuda_mod = None
    if fastdl.cuda.is_built():
        from fastdl import _C_cuda as cuda_mod
    for name in KERNEL_NAMES:
        emu_names = _parameter_names(getattr(emu, name))
        extra = ["stream", "schedule", "seed", "workers"] + (["algo"] if "conv" in name else [])
        assert emu_names[-len(extra):] == extra, name
        base = emu_names[:-len(extra)]
        if cpu_kernel(name) is not None:
            assert _parameter_names(cpu_kernel(name)) == base, name
        if cuda_mod is not None:
            assert _parameter_names(getattr(cuda_mod, name)) == base + ["stream"], name
