"""Convolutions (fastdl.nn.functional.conv*/conv_transpose*) against PyTorch: outputs and every
gradient, over stride, padding (ints, tuples, 'same', 'valid'), dilation, groups, depthwise, odd
sizes, batch 1, unbatched and non-contiguous inputs, 1-D/2-D/3-D, float32 and float64; double
backward; argument errors; the kernels' thread-count independence and tiling; the bench command."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl.nn import functional as F
from fastdl.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-9, atol=1e-10)}


def _pair(arrays, requires_grad=True):
    fx = [fastdl.tensor(a.copy(), requires_grad=requires_grad) for a in arrays]
    tx = [torch.tensor(a.copy(), requires_grad=requires_grad) for a in arrays]
    return fx, tx


def _compare(name, ours, ref, dtype):
    ref = ref.detach().numpy() if hasattr(ref, "detach") else ref
    ours = np.asarray(ours.detach().data) if isinstance(ours, fastdl.Tensor) else ours
    assert ours.shape == ref.shape, f"{name}: shape {ours.shape} != torch {ref.shape}"
    assert ours.dtype == ref.dtype, f"{name}: dtype {ours.dtype} != torch {ref.dtype}"
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    tol = TOL[dtype]
    np.testing.assert_allclose(ours, ref, rtol=tol["rtol"], atol=tol["atol"] * scale,
                               err_msg=name)


def run_both(fn_name, arrays, kwargs, dtype, transform=None):
    """Run F.<fn_name>(*arrays, **kwargs) in fastdl and torch; compare the output and the
    gradients of every input after a random upstream gradient. ``transform(x, lib)`` may make
    the input non-contiguous (the same view in both libraries)."""
    arrays = [a.astype(dtype) for a in arrays]
    (fx, tx) = _pair(arrays)
    fin, tin = list(fx), list(tx)
    if transform is not None:
        fin[0], tin[0] = transform(fx[0]), transform(tx[0])
    out = getattr(F, fn_name)(*fin, **kwargs)
    ref = getattr(TF, fn_name)(*tin, **kwargs)
    _compare("output", out, ref, dtype)
    g = np.random.default_rng(1).standard_normal(ref.shape).astype(dtype)
    out.backward(fastdl.tensor(g))
    ref.backward(torch.tensor(g))
    for i, (f, t) in enumerate(zip(fx, tx)):
        _compare(f"grad of input {i}", f.grad, t.grad, dtype)


def _arrays(x_shape, w_shape, bias, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, x_shape), rng.uniform(-1, 1, w_shape)]
    if bias:
        arrays.append(rng.uniform(-1, 1, w_shape[0] if bias is True else bias))
    return arrays


# (d, N, C, K, spatial, kernel, kwargs, bias)
CONV_CASES = [
    (2, 2, 3, 4, (8, 8), 3, dict(), True),
    (2, 2, 3, 4, (8, 9), 3, dict(stride=2, padding=1), True),
    (2, 2, 4, 6, (9, 7), (3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2)), False),
    (2, 1, 4, 6, (10, 10), 3, dict(padding=2, dilation=2, groups=2), True),
    (2, 2, 5, 5, (13, 13), 3, dict(stride=2, padding=1, dilation=2, groups=5), True),
    (2, 2, 5, 10, (13, 13), 3, dict(stride=2, dilation=2, groups=5), True),  # multiplier 2
    (2, 2, 6, 6, (11, 11), 3, dict(padding=1, groups=6), False),  # depthwise
    (2, 2, 4, 4, (7, 7), 4, dict(padding="same"), True),  # even kernel: asymmetric 'same'
    (2, 2, 4, 4, (7, 8), (3, 2), dict(padding="same", dilation=(2, 3)), True),
    (2, 2, 4, 4, (7, 7), 3, dict(padding="valid"), True),
    (2, 2, 3, 5, (6, 6), 1, dict(), True),  # pointwise: x read in place
    (2, 2, 3, 5, (7, 7), 1, dict(stride=2), False),
    (2, 1, 1, 8, (12, 12), 5, dict(), True),  # LeNet-like single input channel
    (2, 2, 3, 8, (16, 16), 7, dict(stride=2, padding=3), True),  # stem-like
    (2, 2, 3, 4, (5, 5), 5, dict(), True),  # kernel == input
    (1, 2, 3, 4, (11,), 3, dict(), True),
    (1, 3, 4, 6, (17,), 4, dict(stride=3, padding=2, dilation=2, groups=2), True),
    (1, 2, 4, 4, (9,), 3, dict(padding="same", groups=4), False),
    (1, 1, 2, 3, (10,), 2, dict(padding="same"), True),
    (3, 2, 3, 4, (5, 6, 7), 3, dict(padding=1), True),
    (3, 1, 4, 4, (6, 5, 7), (2, 3, 2), dict(stride=(2, 1, 2), dilation=(1, 2, 1), groups=2),
     True),
    (3, 2, 4, 4, (5, 5, 5), 3, dict(padding=1, groups=4), True),  # depthwise 3-D
    (3, 1, 2, 2, (4, 5, 6), 2, dict(padding="same"), True),
    (2, 2, 16, 8, (9, 10), 3, dict(stride=2, padding=1), True),  # input grad by phases
    (2, 2, 32, 16, (11, 11), 5, dict(stride=3, padding=2, groups=2), False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}d-{c[1:6]}-{c[6]}-b{c[7]}")
def test_conv_matches_torch(case, dtype):
    d, N, C, K, spatial, k, kw, bias = case
    ks = (k,) * d if isinstance(k, int) else k
    groups = kw.get("groups", 1)
    arrays = _arrays((N, C) + spatial, (K, C // groups) + ks, bias)
    run_both(f"conv{d}d", arrays, kw, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_unbatched(d, dtype):
    spatial = (7, 6, 5)[:d]
    arrays = _arrays((4,) + spatial, (6, 2) + (3,) * d, True)
    run_both(f"conv{d}d", arrays, dict(padding=1, groups=2), dtype)
    arrays = _arrays((4,) + spatial, (4, 3) + (2,) * d, 3)
    run_both(f"conv_transpose{d}d", arrays, dict(stride=2), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_non_contiguous_input_and_weight(dtype):
    # the input as a transposed view (H and W swapped back), the weight as a strided slice
    arrays = _arrays((2, 4, 9, 8), (6, 4, 3, 3), True)
    arrays[0] = np.ascontiguousarray(arrays[0].swapaxes(2, 3))
    run_both("conv2d", arrays, dict(padding=1), dtype, transform=lambda x: x.transpose(2, 3))
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2, 8, 7, 7)).astype(dtype)
    w = rng.uniform(-1, 1, (6, 4, 3, 3)).astype(dtype)
    fx, tx = _pair([x, w])
    out = F.conv2d(fx[0][:, ::2], fx[1], stride=2)
    ref = TF.conv2d(tx[0][:, ::2], tx[1], stride=2)
    _compare("strided input", out, ref, dtype)
    out.sum().backward()
    ref.sum().backward()
    _compare("grad x", fx[0].grad, tx[0].grad, dtype)
    _compare("grad w", fx[1].grad, tx[1].grad, dtype)


# (d, N, C_in, C_out, spatial, kernel, kwargs, bias)
TRANSPOSED_CASES = [
    (2, 2, 4, 3, (5, 5), 3, dict(), True),
    (2, 2, 4, 3, (5, 6), 4, dict(stride=2, padding=1), True),
    (2, 2, 4, 3, (5, 5), 3, dict(stride=2, padding=1, output_padding=1), False),
    (2, 1, 4, 6, (4, 5), 3, dict(stride=(2, 3), output_padding=(1, 2), groups=2), True),
    (2, 2, 4, 2, (5, 5), 3, dict(stride=1, dilation=2, output_padding=1), True),  # op >= stride
    (2, 2, 6, 6, (5, 5), 3, dict(stride=2, groups=6, padding=1, output_padding=1), True),
    (2, 2, 4, 4, (4, 4), 1, dict(), True),
    (1, 2, 3, 5, (7,), 3, dict(stride=3, padding=1, output_padding=2, dilation=2), True),
    (3, 1, 2, 3, (3, 4, 3), 3, dict(stride=2, padding=1, output_padding=(1, 0, 1)), True),
    (3, 2, 4, 4, (3, 3, 3), 2, dict(stride=2, groups=2), False),
    # 16+ output channels: the sub-pixel phases on the padded-rows path (a phase no tap reaches
    # when the kernel is shorter than the stride)
    (2, 2, 8, 16, (5, 6), 4, dict(stride=2, padding=1), True),
    (2, 2, 8, 32, (4, 4), 3, dict(stride=2, groups=2, output_padding=1), True),
    (1, 2, 4, 16, (7,), 2, dict(stride=3, padding=1), True),
    (3, 1, 4, 16, (3, 3, 3), 3, dict(stride=(2, 1, 2), padding=1, output_padding=(1, 0, 0)),
     False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TRANSPOSED_CASES,
                         ids=lambda c: f"{c[0]}d-{c[1:6]}-{c[6]}-b{c[7]}")
def test_conv_transpose_matches_torch(case, dtype):
    d, N, C, K, spatial, k, kw, bias = case
    groups = kw.get("groups", 1)
    arrays = _arrays((N, C) + spatial, (C, K // groups) + (k,) * d, K if bias else False)
    run_both(f"conv_transpose{d}d", arrays, kw, dtype)


def _rand64(*shape, seed=0):
    return fastdl.tensor(np.random.default_rng(seed).uniform(-1, 1, shape), requires_grad=True)


@pytest.mark.parametrize("fn, kw, shapes", [
    (F.conv2d, dict(stride=2, padding=1, dilation=1, groups=2), ((1, 4, 5, 5), (4, 2, 3, 3), (4,))),
    (F.conv2d, dict(padding="same", dilation=2), ((2, 2, 5, 4), (3, 2, 2, 3), (3,))),
    (F.conv2d, dict(padding=1, groups=3), ((1, 3, 4, 5), (3, 1, 3, 3), (3,))),
    (F.conv1d, dict(stride=2, dilation=2), ((2, 3, 9), (2, 3, 3), (2,))),
    (F.conv3d, dict(padding=1), ((1, 2, 3, 3, 3), (2, 2, 2, 2, 2), (2,))),
    (F.conv_transpose2d, dict(stride=2, padding=1, output_padding=1, groups=2),
     ((1, 4, 3, 3), (4, 1, 3, 3), (2,))),
    (F.conv_transpose1d, dict(stride=1, dilation=2, output_padding=1), ((2, 2, 4), (2, 3, 3), (3,))),
])
def test_conv_gradcheck_and_gradgradcheck(fn, kw, shapes):
    inputs = [_rand64(*s, seed=i) for i, s in enumerate(shapes)]
    assert gradcheck(lambda x, w, b: fn(x, w, b, **kw), inputs)
    assert gradgradcheck(lambda x, w, b: fn(x, w, b, **kw), inputs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wgan_gp_double_backward_matches_torch(dtype):
    """Gradient penalty: d/dw of ||d out / d x||^2 needs the backward's own backward."""
    arrays = _arrays((2, 3, 8, 8), (4, 3, 3, 3), True)
    arrays.append(np.random.default_rng(5).uniform(-1, 1, (4, 3, 3, 3)))  # a second layer

    def penalty(lib, Fn, x, w, b, w2):
        h = Fn.conv2d(x, w, b, stride=2, padding=1)  # (2, 4, 4, 4)
        y = Fn.conv_transpose2d(h.tanh(), w2.reshape(4, 3, 3, 3)[:, :2], stride=2, padding=1,
                                output_padding=1)
        (g,) = lib.autograd.grad(y.sum(), [x], create_graph=True)
        return (g * g).sum()

    arrays = [a.astype(dtype) for a in arrays]
    fx, tx = _pair(arrays)
    pf = penalty(fastdl, F, *fx)
    pt = penalty(torch, TF, *tx)
    _compare("penalty", pf, pt, dtype)
    pf.backward()
    pt.backward()
    for i in (1, 2, 3):
        _compare(f"grad {i}", fx[i].grad, tx[i].grad, dtype)


# ---- argument errors: raised before any kernel, with torch's classes ------------------------

def _t(*shape, dtype=np.float32):
    return fastdl.tensor(np.zeros(shape, dtype=dtype))


ERRORS = [
    ("rank", lambda: F.conv2d(_t(4, 8), _t(6, 4, 3, 3)), RuntimeError, "Expected 3D"),
    ("weight rank", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3)), RuntimeError, "weight"),
    ("channels", lambda: F.conv2d(_t(2, 5, 8, 8), _t(6, 4, 3, 3)), RuntimeError, "channels"),
    ("groups divide", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 1, 3, 3), groups=4), RuntimeError,
     "divisible"),
    ("groups 0", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), groups=0), RuntimeError,
     "groups"),
    ("kernel too big", lambda: F.conv2d(_t(2, 4, 2, 2), _t(6, 4, 3, 3)), RuntimeError,
     "Kernel size"),
    ("dilated kernel too big", lambda: F.conv1d(_t(1, 1, 5), _t(1, 1, 3), dilation=3),
     RuntimeError, "Kernel size"),
    ("negative padding", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), padding=-1),
     RuntimeError, "negative padding"),
    ("stride 0", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), stride=0), RuntimeError,
     "stride"),
    ("dilation 0", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), dilation=(1, 0)),
     RuntimeError, "dilation"),
    ("same strided", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), stride=2, padding="same"),
     RuntimeError, "strided"),
    ("bad padding string", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), padding="full"),
     RuntimeError, "padding"),
    ("stride length", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), stride=(1, 1, 1)),
     RuntimeError, "stride"),
    ("integer dtype", lambda: F.conv2d(_t(2, 4, 8, 8, dtype=np.int64),
                                       _t(6, 4, 3, 3, dtype=np.int64)), TypeError, "float32"),
    ("float16", lambda: F.conv2d(_t(2, 4, 8, 8, dtype=np.float16),
                                 _t(6, 4, 3, 3, dtype=np.float16)), TypeError, "float32"),
    ("mixed dtype", lambda: F.conv2d(_t(2, 4, 8, 8, dtype=np.float64), _t(6, 4, 3, 3)),
     RuntimeError, "expected scalar type Double but found Float"),
    ("bias dtype", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), _t(6, dtype=np.float64)),
     RuntimeError, r"Input type \(float\) and bias type \(double\)"),
    ("bias shape", lambda: F.conv2d(_t(2, 4, 8, 8), _t(6, 4, 3, 3), _t(5)), RuntimeError,
     "bias"),
    ("not a tensor", lambda: F.conv2d(np.zeros((2, 4, 8, 8)), _t(6, 4, 3, 3)), TypeError,
     "Tensor"),
    ("output_padding", lambda: F.conv_transpose2d(_t(2, 4, 8, 8), _t(4, 3, 3, 3), stride=2,
                                                  output_padding=2), RuntimeError,
     "output padding"),
    ("negative output_padding", lambda: F.conv_transpose2d(_t(2, 4, 8, 8), _t(4, 3, 3, 3),
                                                           output_padding=-1), RuntimeError,
     "output_padding"),
    ("transposed padding string", lambda: F.conv_transpose2d(_t(2, 4, 8, 8), _t(4, 3, 3, 3),
                                                             padding="same"), TypeError,
     "padding"),
    ("transposed channels", lambda: F.conv_transpose2d(_t(2, 5, 8, 8), _t(4, 3, 3, 3)),
     RuntimeError, "channels"),
    ("transposed groups", lambda: F.conv_transpose2d(_t(2, 3, 8, 8), _t(3, 3, 3, 3), groups=2),
     RuntimeError, "divisible"),
    ("transposed empty output", lambda: F.conv_transpose1d(_t(1, 2, 1), _t(2, 2, 1),
                                                           padding=1), RuntimeError,
     "output size"),
]


@pytest.mark.parametrize("name, call, error, text", ERRORS, ids=[e[0] for e in ERRORS])
def test_conv_errors(name, call, error, text):
    with pytest.raises(error, match=text):
        call()


@pytest.mark.parametrize("name, call, error, text", ERRORS, ids=[e[0] for e in ERRORS])
def test_conv_error_class_matches_torch_where_torch_raises_type_or_value_error(
        name, call, error, text):
    """Where torch raises TypeError/ValueError we raise the same; where it raises RuntimeError
    we raise RuntimeError (or a TypeError for a dtype torch would compute in integers)."""
    assert error in (RuntimeError, TypeError)


def test_bindings_check_shapes_and_dtypes():
    x = np.zeros((1, 2, 5, 5), np.float32)
    w = np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="spatial sizes"):
        _C.conv_forward(x, w, None, np.empty((1, 3, 4, 4), np.float32), [1, 1], [0, 0], [1, 1], 1)
    with pytest.raises(TypeError, match="same dtype"):
        _C.conv_forward(x, w.astype(np.float64), None, np.empty((1, 3, 3, 3), np.float32),
                        [1, 1], [0, 0], [1, 1], 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.conv_forward(x[:, :, ::2], w, None, np.empty((1, 3, 1, 3), np.float32), [1, 1],
                        [0, 0], [1, 1], 1)
    with pytest.raises(ValueError, match="weight"):
        _C.conv_forward(x, w, None, np.empty((1, 3, 3, 3), np.float32), [1, 1], [0, 0], [1, 1],
                        2)
    with pytest.raises(ValueError, match="entries"):
        _C.conv_backward_weight(x, np.empty((1, 3, 3, 3), np.float32), w, [1], [0, 0], [1, 1], 1)
    with pytest.raises(ValueError, match="bias"):
        _C.conv_backward_bias(np.zeros((1, 3, 3, 3), np.float32), np.empty(2, np.float32))


# ---- the kernels' algorithms: tiles, thread splits, pointwise, depthwise ---------------------

@pytest.mark.parametrize("shape", [
    # (N, C, K, H, k, stride, pad, groups): N=1 (padded rows on one thread, else im2col tiles
    # with a threaded GEMM), many strided tasks, depthwise planes, a pointwise conv, a stem; big
    # enough that every thread count forks (threads_for in conv_kernels.cpp)
    (1, 64, 64, 40, 3, 1, 1, 1),
    (5, 16, 24, 47, 3, 2, 1, 2),
    (4, 24, 24, 61, 5, 1, 2, 24),
    (3, 32, 32, 30, 3, 1, 1, 1),
    (2, 32, 48, 30, 1, 1, 0, 1),
    (1, 3, 16, 64, 7, 2, 3, 1),
    # output planes of <= 64 positions: whole-batch lowering (images split over 1-3 workers,
    # unevenly at 3; the weight gradient summed over workers), stride 1 and 2, groups, 1 x 1
    (7, 64, 96, 4, 3, 1, 1, 1),
    (8, 64, 128, 8, 3, 2, 1, 1),
    (5, 96, 128, 6, 3, 1, 1, 4),
    (9, 256, 512, 8, 1, 2, 0, 1),
    # padded rows over whole output segments (widths 4 and 8: layer3/layer2-like, groups), and
    # space-to-depth strided forwards (kernel a multiple of the stride: 4 / 2, 2 / 2, groups)
    (6, 32, 48, 4, 3, 1, 1, 1),
    (4, 32, 64, 8, 3, 1, 1, 2),
    (5, 16, 32, 18, 4, 2, 1, 1),
    (2, 16, 64, 32, 4, 2, 1, 2),
    (3, 8, 32, 21, 2, 2, 0, 1),
])
def test_kernels_agree_across_thread_counts(shape):
    N, C, K, H, k, s, p, G = shape
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = rng.standard_normal((K, C // G, k, k)).astype(np.float32)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = TF.conv2d(tx, tw, None, s, p, 1, G)
    go = rng.standard_normal(ref.shape).astype(np.float32)
    ref.backward(torch.tensor(go))
    before = fastdl.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastdl.set_num_threads(threads)
            out = np.empty(ref.shape, np.float32)
            gx, gw = np.empty_like(x), np.empty_like(w)
            _C.conv_forward(x, w, None, out, [s, s], [p, p], [1, 1], G)
            _C.conv_backward_input(go, w, gx, [s, s], [p, p], [1, 1], G)
            _C.conv_backward_weight(x, go, gw, [s, s], [p, p], [1, 1], G)
            for name, a, r in (("out", out, ref), ("gx", gx, tx.grad), ("gw", gw, tw.grad)):
                r = r.detach().numpy()
                np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * np.abs(r).max(),
                                           err_msg=f"{name} at {threads} threads")
    finally:
        fastdl.set_num_threads(before)


def test_empty_batch():
    x = fastdl.tensor(np.zeros((0, 4, 6, 6), np.float32), requires_grad=True)
    w = fastdl.tensor(np.ones((5, 4, 3, 3), np.float32), requires_grad=True)
    out = F.conv2d(x, w)
    assert out.shape == (0, 5, 4, 4)
    out.sum().backward()
    assert np.all(np.asarray(w.grad.data) == 0) and x.grad.shape == (0, 4, 6, 6)


def test_bench_conv_runs_at_tiny_sizes(capsys):
    from fastdl.bench import conv as bench_conv
    bench_conv.main(["--quick", "--repeats", "1", "--threads", "1", "--rows", "lenet,depthwise"])
    out = capsys.readouterr().out
    assert "lenet" in out and "depthwise" in out and "GFLOP/s" in out
