"""The 4 x 4 / stride 2 / padding 1 convolution (and the transposed convolution, its adjoint) by
sub-pixel phases and Winograd F(2x2, 2x2) (csrc/cpu/conv/conv_subpixel_winograd_kernels.cpp):
forward, input and weight gradients against torch in float64, odd planes, several image blocks,
every thread count giving the same bits, and the path against the direct ones
(FASTDL_CONV_WINOGRAD=0)."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl.nn import functional as F
from fastdl.testing import gradcheck

from test_conv_valid_taps import (_kernels, _kernels_at_every_thread_count,
                                  _kernels_with_path_and_without, _reference)

torch = pytest.importorskip("torch")
TF = torch.nn.functional

S, P, D = [2, 2], [1, 1], [1, 1]


@pytest.mark.parametrize("shape", [
    # (N, C, K, H, W) of the convolution's output plane (input 2H x 2W): DCGAN's / the bench's
    # layer (several image blocks), odd planes (a partial last tile), 1 x 1, channels that fill
    # no 8 x 8 transpose block, batch 1
    (32, 64, 128, 16, 16),
    (3, 16, 9, 5, 7),
    (2, 8, 12, 1, 1),
    (5, 10, 8, 3, 2),
    (1, 13, 21, 4, 6),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subpixel_winograd_against_float64(shape, dtype):
    N, C, K, H, W = shape
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, C, 2 * H, 2 * W)).astype(dtype)
    w = (rng.standard_normal((K, C, 4, 4)) / np.sqrt(16 * C)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    go = rng.standard_normal((N, K, H, W)).astype(dtype)
    refs = _reference(x, w, go, S, P, D, 1, bias=b)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    results = _kernels_at_every_thread_count(x, w, go, S, P, D, 1, bias=b)
    for name, ours, r in zip(("output", "input gradient", "weight gradient"), results, refs):
        assert np.abs(ours - r).max() <= tol * np.abs(r).max() * np.sqrt(16 * C), name


def test_subpixel_winograd_matches_direct_paths(monkeypatch):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 24, 14, 10)).astype(np.float32)
    w = (rng.standard_normal((40, 24, 4, 4)) / 20).astype(np.float32)
    go = rng.standard_normal((4, 40, 7, 5)).astype(np.float32)
    ours, direct = _kernels_with_path_and_without(monkeypatch, "FASTDL_CONV_WINOGRAD", x, w, go,
                                                  S, P, D, 1)
    for a, b in zip(ours, direct):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose2d_dcgan_layer_matches_torch(dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 16, 5, 6)).astype(dtype)
    w = (rng.standard_normal((16, 8, 4, 4)) / 8).astype(dtype)
    b = rng.standard_normal(8).astype(dtype)
    fx, fw, fb = (fastdl.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv_transpose2d(fx, fw, fb, stride=2, padding=1)
    ref = TF.conv_transpose2d(tx, tw, tb, stride=2, padding=1)
    g = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(fastdl.tensor(g))
    ref.backward(torch.tensor(g))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for ours, r in ((out, ref), (fx.grad, tx.grad), (fw.grad, tw.grad), (fb.grad, tb.grad)):
        r = r.detach().numpy()
        np.testing.assert_allclose(np.asarray(ours.detach().data if hasattr(ours, "detach") else ours),
                                   r, rtol=tol, atol=tol * np.abs(r).max())


@pytest.mark.parametrize("fn", [F.conv2d, F.conv_transpose2d])
def test_subpixel_winograd_gradcheck(fn):
    rng = np.random.default_rng(8)
    if fn is F.conv2d:
        shapes = ((1, 8, 4, 6), (8, 8, 4, 4), (8,))
    else:
        shapes = ((1, 8, 2, 3), (8, 8, 4, 4), (8,))
    inputs = [fastdl.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert gradcheck(lambda x, w, b: fn(x, w, b, stride=2, padding=1), inputs)


@pytest.mark.parametrize("taps", ["winograd", "valid"])
def test_nan_reaches_the_outputs_the_direct_sum_reaches(taps, monkeypatch):
    # one NaN input (and one NaN output gradient): the NaN pattern of every result is torch's
    rng = np.random.default_rng(12)
    if taps == "winograd":
        x_shape, w_shape, s, p = (2, 8, 6, 8), (12, 8, 4, 4), [2, 2], [1, 1]
    else:
        monkeypatch.setenv("FASTDL_CONV_TAPS", "1")
        x_shape, w_shape, s, p = (2, 16, 4, 4), (16, 16, 3, 3), [1, 1], [1, 1]
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    x[1, 3, 2, 1] = np.nan
    tx, tw = torch.tensor(x), torch.tensor(w)
    ref = torch.ops.aten.convolution(tx, tw, None, s, p, [1, 1], False, [0, 0], 1)
    go = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    go[0, 5, 1, 2] = np.nan
    rgx, rgw, _ = torch.ops.aten.convolution_backward(
        torch.tensor(go), tx, tw, None, s, p, [1, 1], False, [0, 0], 1, [True, True, False])
    out, gx, gw = _kernels(x, w, go, s, p, [1, 1], 1)
    for name, ours, r in (("output", out, ref), ("input gradient", gx, rgx),
                          ("weight gradient", gw, rgw)):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(r.numpy()), err_msg=name)
