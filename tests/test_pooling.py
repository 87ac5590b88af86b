"""Pooling against PyTorch: outputs, indices and gradients over enumerated configurations
(kernel, stride, padding, dilation, ceil_mode, count_include_pad, divisor_override), odd sizes,
batch 1, unbatched and non-contiguous inputs, float32 and float64; ties and NaN as torch; the
SIMD 2x2/stride-2 path and its tails; argument errors before any kernel; the modules."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl import nn
from fastdl.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach()._data)


def run_both(f_fn, t_fn, x, dtype=np.float64, seed=0, noncontig=False, grad=True):
    """Call both libraries on the same values; compare outputs (and indices), then the input
    gradients of sum(out * w) for a random w. Returns fastdl's outputs."""
    x = np.asarray(x, dtype=dtype)
    if noncontig:  # the same values, every stride doubled
        holder = np.zeros(x.shape + (2,), dtype)
        holder[..., 0] = x
        fx_data = holder[..., 0]
    else:
        fx_data = x.copy()
    tx = torch.tensor(x, requires_grad=grad)
    fx = fastdl.Tensor(fx_data, requires_grad=grad)
    t_out, f_out = t_fn(tx), f_fn(fx)
    t_main, f_main = (t_out[0], f_out[0]) if isinstance(t_out, tuple) else (t_out, f_out)
    assert f_main.shape == tuple(t_main.shape)
    assert f_main.dtype == dtype
    np.testing.assert_allclose(_np(f_main), _np(t_main), equal_nan=True, **TOL[dtype])
    if isinstance(t_out, tuple):
        np.testing.assert_array_equal(_np(f_out[1]), _np(t_out[1]))
        assert _np(f_out[1]).dtype == np.int64
    if grad:
        w = np.random.default_rng(seed).standard_normal(tuple(t_main.shape)).astype(dtype)
        (t_main * torch.tensor(w)).sum().backward()
        (f_main * fastdl.Tensor(w)).sum().backward()
        np.testing.assert_allclose(_np(fx.grad), _np(tx.grad), equal_nan=True, **TOL[dtype])
    return f_out


def distinct(rng, shape):
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.01 - 0.005 * n)


def _max_pool_configs():
    """(d, input shape, kwargs) over kernel/stride/padding/dilation/ceil_mode, valid for torch."""
    rng = np.random.default_rng(1)
    configs = []
    for d in (1, 2, 3):
        for k, s, p, dil, ceil in itertools.product((1, 2, 3), (None, 1, 2, 3), (0, 1),
                                                    (1, 2), (False, True)):
            if p > k // 2:
                continue
            size = [int(v) for v in rng.integers(4 if d == 3 else 5, 8 if d == 3 else 12, d)]
            eff = dil * (k - 1) + 1
            if any(sz + 2 * p < eff for sz in size):
                continue
            if rng.random() > (0.3 if d < 3 else 0.12):  # a sample of the product
                continue
            configs.append((d, (2, 3, *size), dict(kernel_size=k, stride=s, padding=p,
                                                   dilation=dil, ceil_mode=ceil)))
    # per-dim tuples
    configs.append((2, (1, 2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0),
                                          dilation=(1, 2), ceil_mode=True)))
    configs.append((3, (1, 2, 5, 6, 7), dict(kernel_size=(1, 2, 3), stride=(1, 2, 2),
                                             padding=(0, 1, 1), ceil_mode=True)))
    return configs


MAX_POOL_CONFIGS = _max_pool_configs()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d,shape,kw", MAX_POOL_CONFIGS,
                         ids=[f"{d}d-{s}-{kw}" for d, s, kw in MAX_POOL_CONFIGS])
def test_max_pool_matches_torch(d, shape, kw, dtype):
    x = distinct(np.random.default_rng(2), shape)
    f_fn, t_fn = getattr(F, f"max_pool{d}d"), getattr(TF, f"max_pool{d}d")
    run_both(lambda x: f_fn(x, return_indices=True, **kw),
             lambda x: t_fn(x, return_indices=True, **kw), x, dtype)


@pytest.mark.parametrize("width", [2, 15, 32, 33, 35, 47, 64, 67])
@pytest.mark.parametrize("height", [2, 7])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_2x2_fast_path(width, height, ceil_mode):
    """2x2 / stride 2 runs the SIMD path over full windows, scalar tails and ceil_mode's last
    row and column; float32 and float64, values and indices."""
    rng = np.random.default_rng(width * 10 + height)
    x = rng.standard_normal((2, 3, height, width))
    for dtype in (np.float32, np.float64):
        run_both(lambda x: F.max_pool2d(x, 2, ceil_mode=ceil_mode, return_indices=True),
                 lambda x: TF.max_pool2d(x, 2, ceil_mode=ceil_mode, return_indices=True),
                 x, dtype)


@pytest.mark.parametrize("width", [2, 3, 5, 32, 33, 34, 35, 36, 66, 67])
@pytest.mark.parametrize("height", [2, 3, 8, 9])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_3x3_stride2_pad1_fast_path(width, height, ceil_mode):
    """3x3 / stride 2 / padding 1 (ResNet's stem pool) runs the SIMD path over the rows and
    columns whose windows lie inside the input, 16 outputs at a time with a masked last group;
    the padded first row and column and ceil_mode's last ones go the generic way. ReLU'd inputs
    (ties between zeros), NaNs and -inf keep torch's first-maximum rule; values and indices."""
    rng = np.random.default_rng(width * 10 + height)
    x = np.maximum(rng.standard_normal((2, 3, height, width)), 0.0)
    x[1, 2, height // 2, width // 2] = np.nan
    x[0, 1, height - 1, :] = -np.inf
    for dtype in (np.float32, np.float64):
        run_both(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode, return_indices=True),
                 lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode, return_indices=True),
                 x, dtype)


def test_max_pool_2x2_without_indices_matches_with():
    x = fastdl.Tensor(np.random.default_rng(3).standard_normal((3, 5, 10, 70)).astype(np.float32))
    plain = F.max_pool2d(x, 2)
    values, _ = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(_np(plain), _np(values))


@pytest.mark.parametrize("isa", _C.available_simd_paths())
def test_max_pool_every_simd_path(isa):
    x = np.random.default_rng(4).standard_normal((2, 2, 9, 41)).astype(np.float32)
    x[0, 0, 1, 3] = np.nan
    x[1, 1, 4, 20:24] = 5.0  # ties
    prev = _C.simd_path()
    try:
        _C.set_simd_path(isa)
        run_both(lambda x: F.max_pool2d(x, 2, return_indices=True),
                 lambda x: TF.max_pool2d(x, 2, return_indices=True), x, np.float32)
        run_both(lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True),
                 lambda x: TF.max_pool2d(x, 3, 2, 1, return_indices=True), x, np.float32)
    finally:
        _C.set_simd_path(prev)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool_ties_nan_and_inf_like_torch(kw):
    """torch keeps the first maximum of a tie, lets a NaN win (the last NaN of a window), and
    points an all -inf window at its first element."""
    x = np.zeros((1, 2, 6, 36), np.float32)
    x[0, 1, :, ::3] = 1.0  # ties between windows' members
    x[0, 0, 2, 5] = np.nan
    x[0, 0, 2, 6] = np.nan
    x[0, 0, 4, 10:14] = -np.inf
    x[0, 1, 3, 30] = np.nan
    for dtype in (np.float32, np.float64):
        run_both(lambda x: F.max_pool2d(x, return_indices=True, **kw),
                 lambda x: TF.max_pool2d(x, return_indices=True, **kw), x, dtype)
    ones = np.ones((1, 1, 4, 40))
    run_both(lambda x: F.max_pool2d(x, 2, return_indices=True),
             lambda x: TF.max_pool2d(x, 2, return_indices=True), ones, np.float32)
    run_both(lambda x: F.adaptive_max_pool2d(x, 3, return_indices=True),
             lambda x: TF.adaptive_max_pool2d(x, 3, return_indices=True), x, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_unbatched_batch1_noncontiguous(dtype):
    rng = np.random.default_rng(5)
    for d in (1, 2, 3):
        shape = (3,) + (7,) * d
        f_fn, t_fn = getattr(F, f"max_pool{d}d"), getattr(TF, f"max_pool{d}d")
        x = distinct(rng, shape)
        out, idx = run_both(lambda x: f_fn(x, 3, 2, 1, return_indices=True),
                            lambda x: t_fn(x, 3, 2, 1, return_indices=True), x, dtype)
        assert out.shape == (3,) + (4,) * d and idx.shape == out.shape
        run_both(lambda x: f_fn(x, 2), lambda x: t_fn(x, 2), x[None], dtype, noncontig=True)
    x = distinct(rng, (2, 3, 8, 10)).transpose(0, 1, 3, 2)  # a transposed view
    run_both(lambda x: F.max_pool2d(x, 2, return_indices=True),
             lambda x: TF.max_pool2d(x, 2, return_indices=True), x, dtype, noncontig=True)


def test_max_pool_with_indices_functions_and_empty_batch():
    x = fastdl.Tensor(np.random.default_rng(6).standard_normal((2, 3, 8)))
    out, idx = F.max_pool1d_with_indices(x, 2)
    t_out, t_idx = TF.max_pool1d(torch.tensor(_np(x)), 2, return_indices=True)
    np.testing.assert_array_equal(_np(idx), t_idx.numpy())
    for d in (2, 3):
        x = fastdl.Tensor(np.zeros((0, 2) + (4,) * d))
        out, idx = getattr(F, f"max_pool{d}d_with_indices")(x, 2)
        assert out.shape == (0, 2) + (2,) * d and idx.shape == out.shape


def test_max_pool_double_backward_matches_torch():
    """The gradient is the scatter op; its derivative in the upstream gradient is the gather
    op: Hessian-vector products through it match torch's."""
    rng = np.random.default_rng(7)
    x = distinct(rng, (2, 2, 7, 7))
    w, v = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 2, 7, 7))
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    (tg,) = torch.autograd.grad((TF.max_pool2d(tx, 3, 2) * tw).sum(), tx, create_graph=True)
    (tgw,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tw)
    fx = fastdl.Tensor(x, requires_grad=True)
    fw = fastdl.Tensor(w, requires_grad=True)
    (fg,) = fastdl.autograd.grad((F.max_pool2d(fx, 3, 2) * fw).sum(), [fx], create_graph=True)
    (fgw,) = fastdl.autograd.grad((fg * fastdl.Tensor(v)).sum(), [fw])
    np.testing.assert_allclose(_np(fgw), tgw.numpy(), rtol=1e-12)


def test_pool_results_do_not_depend_on_threads():
    rng = np.random.default_rng(8)
    x = fastdl.Tensor(rng.standard_normal((4, 16, 40, 40)).astype(np.float32),
                      requires_grad=True)
    before = _C.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            _C.set_num_threads(n)
            x.grad = None
            outs = [F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1),
                    F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 5),
                    F.interpolate(x, scale_factor=2, mode="bilinear")]
            sum(o.sum() for o in outs).backward()
            results.append([_np(o).copy() for o in outs] + [_np(x.grad).copy()])
    finally:
        _C.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ---- average pool ----------------------------------------------------------------------------

def _avg_pool_configs():
    configs = []
    rng = np.random.default_rng(9)
    for d in (1, 2, 3):
        for k, s, p, ceil, cip, dov in itertools.product((1, 2, 3), (None, 1, 2), (0, 1),
                                                         (False, True), (False, True),
                                                         (None, 3, -2)):
            if p > k // 2 or (d == 1 and dov is not None):
                continue
            if rng.random() > (0.2 if d < 3 else 0.08):
                continue
            size = [int(v) for v in rng.integers(4, 10 if d < 3 else 7, d)]
            kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip)
            if d > 1:
                kw["divisor_override"] = dov
            configs.append((d, (2, 3, *size), kw))
    configs.append((2, (1, 2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1),
                                          ceil_mode=True, count_include_pad=False)))
    return configs


AVG_POOL_CONFIGS = _avg_pool_configs()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d,shape,kw", AVG_POOL_CONFIGS,
                         ids=[f"{d}d-{s}-{kw}" for d, s, kw in AVG_POOL_CONFIGS])
def test_avg_pool_matches_torch(d, shape, kw, dtype):
    x = np.random.default_rng(10).standard_normal(shape)
    f_fn, t_fn = getattr(F, f"avg_pool{d}d"), getattr(TF, f"avg_pool{d}d")
    run_both(lambda x: f_fn(x, **kw), lambda x: t_fn(x, **kw), x, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_unbatched_noncontiguous_and_double_backward(dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 9, 8))
    run_both(lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), x, dtype)
    run_both(lambda x: F.avg_pool1d(x, 2), lambda x: TF.avg_pool1d(x, 2), x, dtype,
             noncontig=True)
    # double backward: avg_pool_backward's own backward is avg_pool
    fx = fastdl.Tensor(x[None], requires_grad=True)
    w = fastdl.Tensor(rng.standard_normal((1, 3, 5, 4)), requires_grad=True)
    (g,) = fastdl.autograd.grad((F.avg_pool2d(fx, 3, 2, 1) * w).sum(), [fx], create_graph=True)
    (gw,) = fastdl.autograd.grad((g * g).sum(), [w])
    tx = torch.tensor(x[None], requires_grad=True)
    tw = torch.tensor(_np(w), requires_grad=True)
    (tg,) = torch.autograd.grad((TF.avg_pool2d(tx, 3, 2, 1) * tw).sum(), tx, create_graph=True)
    (tgw,) = torch.autograd.grad((tg * tg).sum(), tw)
    np.testing.assert_allclose(_np(gw), tgw.numpy(), rtol=1e-10)


# ---- adaptive pools --------------------------------------------------------------------------

ADAPTIVE_CASES = [(1, (2, 3, 9), 4), (1, (3, 10), 10), (1, (1, 2, 5), 8),
                  (2, (2, 3, 7, 9), (3, 4)), (2, (1, 2, 7, 9), 1), (2, (2, 5, 6), (None, 4)),
                  (2, (1, 2, 4, 5), (7, 9)), (3, (1, 2, 5, 6, 7), (2, 3, 4)),
                  (3, (2, 4, 5, 3), (None, 2, 5))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d,shape,size", ADAPTIVE_CASES)
def test_adaptive_pools_match_torch(d, shape, size, dtype):
    rng = np.random.default_rng(12)
    x = distinct(rng, shape)
    run_both(lambda x: getattr(F, f"adaptive_avg_pool{d}d")(x, size),
             lambda x: getattr(TF, f"adaptive_avg_pool{d}d")(x, size), x, dtype)
    run_both(lambda x: getattr(F, f"adaptive_max_pool{d}d")(x, size, return_indices=True),
             lambda x: getattr(TF, f"adaptive_max_pool{d}d")(x, size, return_indices=True),
             x, dtype, noncontig=True)


# ---- max unpool ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_max_unpool_roundtrip_matches_torch(d, dtype):
    """Windows that do not overlap (stride = kernel): a duplicated index is written by whichever
    of torch's threads comes last (its unpool runs parallel over all elements), a race."""
    rng = np.random.default_rng(13)
    x = distinct(rng, (2, 3) + (7,) * d)
    _, t_idx = getattr(TF, f"max_pool{d}d")(torch.tensor(x), 3, 3, 1, return_indices=True)
    pooled = rng.standard_normal(tuple(t_idx.shape))
    for output_size in (None, (7,) * d, (2, 3) + (8,) * d):
        run_both(lambda p: getattr(F, f"max_unpool{d}d")(
                     p, fastdl.Tensor(t_idx.numpy()), 3, 3, 1, output_size=output_size),
                 lambda p: getattr(TF, f"max_unpool{d}d")(p, t_idx, 3, 3, 1,
                                                          output_size=output_size),
                 pooled, dtype)
    # unbatched
    run_both(lambda p: getattr(F, f"max_unpool{d}d")(p, fastdl.Tensor(t_idx.numpy()[0]), 3, 3,
                                                     1),
             lambda p: getattr(TF, f"max_unpool{d}d")(p, t_idx[0], 3, 3, 1), pooled[0], dtype)


def test_max_unpool_duplicate_indices_last_write_wins():
    """Overlapping windows repeat an index: fastdl writes each plane in order (the last value
    wins, deterministically); the gradient of every input is the output gradient read at its
    index (torch's definition)."""
    x = fastdl.Tensor(np.array([[[1.0, 2.0, 3.0]]]), requires_grad=True)
    idx = fastdl.Tensor(np.array([[[1, 1, 0]]], dtype=np.int64))
    out = F.max_unpool1d(x, idx, 2, 1)  # output size (3 - 1) * 1 + 2 = 4
    np.testing.assert_array_equal(_np(out), [[[3.0, 2.0, 0.0, 0.0]]])
    (out * fastdl.Tensor(np.array([[[10.0, 20.0, 30.0, 40.0]]]))).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [[[20.0, 20.0, 10.0]]])


# ---- errors ----------------------------------------------------------------------------------

def _t(shape, dtype=np.float32):
    return fastdl.Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("call,error", [
    (lambda: F.max_pool2d(_t((2, 3)), 2), RuntimeError),                 # wrong rank
    (lambda: F.max_pool2d(_t((1, 2, 3, 4, 5)), 2), RuntimeError),
    (lambda: F.max_pool2d(_t((1, 2, 6, 6)), 0), RuntimeError),           # kernel 0
    (lambda: F.max_pool2d(_t((1, 2, 6, 6)), 2, stride=0), RuntimeError),
    (lambda: F.max_pool2d(_t((1, 2, 6, 6)), 2, padding=2), RuntimeError),  # pad > k/2
    (lambda: F.max_pool2d(_t((1, 2, 6, 6)), 3, padding=-1), RuntimeError),
    (lambda: F.max_pool2d(_t((1, 2, 6, 6)), 3, dilation=0), RuntimeError),
    (lambda: F.max_pool2d(_t((1, 2, 2, 2)), 3), RuntimeError),            # output size 0
    (lambda: F.max_pool2d(_t((1, 2, 6, 6)), (2, 2, 2)), RuntimeError),
    (lambda: F.max_pool2d(_t((1, 2, 6, 6)), 2.5), TypeError),
    (lambda: F.max_pool2d(_t((1, 0, 6, 6)), 2), RuntimeError),            # empty channels
    (lambda: F.max_pool2d(_t((1, 2, 6, 6), np.int64), 2), TypeError),     # wrong dtype
    (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4)), 2), TypeError),          # not a Tensor
    (lambda: F.max_pool1d(_t((2, 3, 4), np.float16), 2), TypeError),
    (lambda: F.avg_pool2d(_t((1, 2, 6, 6)), 2, divisor_override=0), RuntimeError),
    (lambda: F.avg_pool2d(_t((1, 2, 6, 6)), 3, padding=2), RuntimeError),
    (lambda: F.avg_pool1d(_t((1, 2, 2)), 3), RuntimeError),
    (lambda: F.adaptive_avg_pool2d(_t((2, 2)), 2), RuntimeError),
    (lambda: F.adaptive_avg_pool2d(_t((1, 2, 4, 4)), (2, 2, 2)), RuntimeError),
    (lambda: F.adaptive_max_pool2d(_t((1, 2, 0, 4)), 2), RuntimeError),
    (lambda: F.adaptive_avg_pool1d(_t((1, 2, 4)), -1), RuntimeError),
    (lambda: F.max_unpool2d(_t((1, 1, 2, 2)), fastdl.Tensor(np.full((1, 1, 2, 2), 16)), 2),
     RuntimeError),                                                    # index out of range
    (lambda: F.max_unpool2d(_t((1, 1, 2, 2)), fastdl.Tensor(np.full((1, 1, 2, 2), -1)), 2),
     RuntimeError),
    (lambda: F.max_unpool2d(_t((1, 1, 2, 2)), fastdl.Tensor(np.zeros((1, 1, 2, 2), np.int32)),
                            2), TypeError),
    (lambda: F.max_unpool2d(_t((1, 1, 2, 2)), fastdl.Tensor(np.zeros((1, 1, 2, 1), np.int64)),
                            2), RuntimeError),
    (lambda: F.max_unpool2d(_t((1, 1, 2, 2)), fastdl.Tensor(np.zeros((1, 1, 2, 2), np.int64)),
                            2, output_size=(9, 4)), ValueError),
    (lambda: F.max_unpool2d(_t((1, 1, 2, 2)), fastdl.Tensor(np.zeros((1, 1, 2, 2), np.int64)),
                            2, output_size=(4,)), ValueError),
])
def test_bad_arguments_raise_clear_errors(call, error):
    with pytest.raises(error) as info:
        call()
    assert str(info.value)


def test_torch_agrees_on_the_error_cases():
    """The same bad calls fail in torch (so fastdl is not stricter than torch)."""
    z = torch.zeros
    for call in [lambda: TF.max_pool2d(z(2, 3), 2), lambda: TF.max_pool2d(z(1, 2, 6, 6), 0),
                 lambda: TF.max_pool2d(z(1, 2, 6, 6), 2, padding=2),
                 lambda: TF.max_pool2d(z(1, 2, 2, 2), 3),
                 lambda: TF.max_pool2d(z(1, 0, 6, 6), 2),
                 lambda: TF.avg_pool2d(z(1, 2, 6, 6), 2, divisor_override=0),
                 lambda: TF.adaptive_avg_pool2d(z(2, 2), 2),
                 lambda: TF.max_unpool2d(z(1, 1, 2, 2), torch.full((1, 1, 2, 2), 16), 2)]:
        with pytest.raises((RuntimeError, ValueError, TypeError, IndexError)):
            call()


def test_kernel_bindings_check_shapes_and_indices():
    x = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError):
        _C.max_pool_forward(x, np.zeros((1, 3, 2, 2), np.float32), None, [2, 2], [2, 2], [0, 0],
                            [1, 1])
    with pytest.raises(TypeError):
        _C.max_pool_forward(x, np.zeros((1, 2, 2, 2)), None, [2, 2], [2, 2], [0, 0], [1, 1])
    with pytest.raises(ValueError):
        _C.max_pool_forward(x[..., ::2], np.zeros((1, 2, 2, 1), np.float32), None, [2, 2],
                            [2, 2], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="outside"):
        _C.max_pool_backward(np.ones((1, 2, 2, 2), np.float32),
                             np.full((1, 2, 2, 2), 16, np.int64), x)
    with pytest.raises(ValueError, match="outside"):
        _C.gather_by_index(x, np.full((1, 2, 2, 2), -1, np.int64),
                           np.zeros((1, 2, 2, 2), np.float32))
    with pytest.raises(ValueError):
        _C.interpolate_forward(x, np.zeros((1, 2, 3, 3), np.float32), "cubic", False, [0.0])


# ---- modules ---------------------------------------------------------------------------------

MODULE_CASES = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 9)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", ((3, 2),), dict(stride=1, dilation=(1, 2)), (1, 2, 7, 8)),
    ("MaxPool3d", (2,), dict(return_indices=True), (1, 2, 4, 4, 4)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 9)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, divisor_override=4), (2, 3, 8, 8)),
    ("AvgPool3d", (2,), dict(ceil_mode=True), (1, 2, 5, 4, 3)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, (2, 3, 7, 7)),
    ("AdaptiveAvgPool3d", ((None, 2, 3),), {}, (1, 2, 3, 5, 6)),
    ("AdaptiveMaxPool1d", (4,), dict(return_indices=True), (2, 3, 9)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 7, 8)),
    ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 3, 5, 6)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", MODULE_CASES,
                         ids=[c[0] + str(i) for i, c in enumerate(MODULE_CASES)])
def test_modules_match_torch(name, args, kwargs, shape):
    f_mod, t_mod = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(f_mod) == repr(t_mod)
    assert list(f_mod.state_dict()) == []
    x = distinct(np.random.default_rng(14), shape)
    run_both(f_mod, t_mod, x, np.float64)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_max_unpool_modules_match_torch(d):
    name = f"MaxUnpool{d}d"
    f_mod, t_mod = getattr(nn, name)(2), getattr(torch.nn, name)(2)
    assert repr(f_mod) == repr(t_mod)
    x = distinct(np.random.default_rng(15), (1, 2) + (6,) * d)
    _, t_idx = getattr(TF, f"max_pool{d}d")(torch.tensor(x), 2, return_indices=True)
    pooled = np.random.default_rng(16).standard_normal(tuple(t_idx.shape))
    run_both(lambda p: f_mod(p, fastdl.Tensor(t_idx.numpy()), output_size=(7,) * d),
             lambda p: t_mod(p, t_idx, output_size=(7,) * d), pooled)


@pytest.mark.parametrize("length", [1, 3, 7])
def test_max_pool_window_of_only_padding_takes_no_gradient(length):
    """A dilated window can cover only padding: -inf out (an index outside the plane, torch's
    too) and no gradient, as torch."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(length).standard_normal((1, 2, length))
    kw = dict(kernel_size=2, stride=3, padding=1, dilation=2)
    tx = torch.tensor(x, requires_grad=True)
    fx = fastdl.tensor(x).requires_grad_()
    to, fo = torch.nn.functional.max_pool1d(tx, **kw), F.max_pool1d(fx, **kw)
    np.testing.assert_array_equal(fo.detach().numpy(), to.detach().numpy())
    (to * to.isfinite()).nan_to_num(0.0).sum().backward()
    fo.backward(fastdl.tensor(np.isfinite(fo.detach().numpy()).astype(np.float64)))
    np.testing.assert_array_equal(fx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("name,shape,output_size", [
    ("adaptive_avg_pool2d", (2, 2), (2, 2)), ("adaptive_max_pool3d", (2, 2), (2, 2, 2)),
    ("adaptive_avg_pool2d", (2, 2), 2), ("adaptive_avg_pool1d", (2,), 3),
    ("adaptive_max_pool2d", (2, 2, 2, 2, 2), (2, 2))])
def test_adaptive_pool_rank_errors_have_torchs_type(name, shape, output_size):
    """torch.nn.functional checks a tuple output_size against the input's rank itself
    (ValueError) before the kernel's rank check (RuntimeError)."""
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        getattr(torch.nn.functional, name)(torch.ones(*shape), output_size)
    with pytest.raises(Exception) as ours:
        getattr(F, name)(fastdl.ones(*shape), output_size)
    assert type(ours.value) is type(theirs.value)
    if isinstance(theirs.value, ValueError):
        assert str(ours.value) == str(theirs.value)


def test_avg_pool2d_non_tensor_input_is_a_type_error():
    """The 2-d avg pool's rank check (torch's IndexError for < 3 dims) reads input.ndim: a
    non-Tensor is refused before it, as by every pool."""
    with pytest.raises(TypeError, match="must be a fastdl.Tensor"):
        F.avg_pool2d([[1.0, 2.0]], 2)
