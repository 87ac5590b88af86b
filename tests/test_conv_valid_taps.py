"""The convolution's valid-taps path (csrc/cpu/conv/conv_valid_taps_kernels.cpp): small planes
computed without the products that read padding. Chosen by shape (planes up to 4 x 4 with 16+
channels); FASTDL_CONV_TAPS=1 forces it for any geometry, so every case of test_conv's table
runs through it here, against torch in float64 and float32, with gradcheck on top."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl.nn import functional as F
from fastdl.testing import gradcheck

from test_conv import CONV_CASES, _arrays, run_both

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture
def taps_forced(monkeypatch):
    monkeypatch.setenv("FASTDL_CONV_TAPS", "1")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}d-{c[1:6]}-{c[6]}-b{c[7]}")
def test_every_conv_case_through_valid_taps(case, dtype, taps_forced):
    d, N, C, K, spatial, k, kw, bias = case
    ks = (k,) * d if isinstance(k, int) else k
    groups = kw.get("groups", 1)
    arrays = _arrays((N, C) + spatial, (K, C // groups) + ks, bias)
    run_both(f"conv{d}d", arrays, kw, dtype)


@pytest.mark.parametrize("fn, kw, shapes", [
    (F.conv2d, dict(stride=2, padding=1, groups=2), ((2, 4, 3, 3), (4, 2, 3, 3), (4,))),
    (F.conv2d, dict(padding=2, dilation=2), ((3, 2, 2, 3), (3, 2, 3, 3), (3,))),
    (F.conv1d, dict(padding=1), ((2, 3, 4), (2, 3, 3), (2,))),
    (F.conv_transpose2d, dict(stride=2, padding=1, output_padding=1), ((1, 2, 2, 2), (2, 3, 3, 3), (3,))),
])
def test_valid_taps_gradcheck(fn, kw, shapes, taps_forced):
    rng = np.random.default_rng(5)
    inputs = [fastdl.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert gradcheck(lambda x, w, b: fn(x, w, b, **kw), inputs)


def _reference(x, w, go, s, p, d, groups, bias=None):
    """torch's output, input and weight gradients in float64."""
    tx, tw = (torch.tensor(a.astype(np.float64)) for a in (x, w))
    tb = None if bias is None else torch.tensor(bias.astype(np.float64))
    ref = torch.ops.aten.convolution(tx, tw, tb, s, p, d, False, [0] * len(s), groups)
    gx, gw, _ = torch.ops.aten.convolution_backward(
        torch.tensor(go.astype(np.float64)), tx, tw, None, s, p, d, False, [0] * len(s), groups,
        [True, True, False])
    return [r.numpy() for r in (ref, gx, gw)]


def _kernels(x, w, go, s, p, d, groups, bias=None):
    """Our output, input and weight gradients (every element must be written: NaN-filled)."""
    out = np.full(go.shape, np.nan, x.dtype)
    gx, gw = np.full_like(x, np.nan), np.full_like(w, np.nan)
    _C.conv_forward(x, w, bias, out, s, p, d, groups)
    _C.conv_backward_input(go, w, gx, s, p, d, groups)
    _C.conv_backward_weight(x, go, gw, s, p, d, groups)
    return out, gx, gw


def _kernels_with_path_and_without(monkeypatch, variable, *args):
    """``_kernels(*args)`` with the path ``variable`` switches left to its default choice, then
    with the path off (``variable=0``)."""
    monkeypatch.delenv(variable, raising=False)
    chosen = _kernels(*args)
    monkeypatch.setenv(variable, "0")
    return chosen, _kernels(*args)


def _kernels_at_every_thread_count(*args, **kwargs):
    """_kernels at 1, 2 and 3 threads, which must give the same bits (every output element is
    one task's fixed sequence of products); the results."""
    before = fastdl.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            fastdl.set_num_threads(threads)
            results.append(_kernels(*args, **kwargs))
    finally:
        fastdl.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    return results[0]


@pytest.mark.parametrize("shape", [
    # (N, C, K, H, W, k, stride, pad, dilation, groups): ResNet-18's 4 x 4 and 2 x 2 layers at
    # batch 16, odd batches (a partial sliver of images), channels that fill no sliver, groups,
    # dilation, strides (the weight gradient), a 5 x 5 kernel, 1 x 1 and 1 x 3 planes, and a
    # batch of 70 (several image chunks, the weight gradient added across them)
    (16, 256, 256, 4, 4, 3, 1, 1, 1, 1),
    (16, 512, 512, 2, 2, 3, 1, 1, 1, 1),
    (5, 17, 33, 3, 5, 3, 1, 1, 1, 1),
    (1, 64, 50, 4, 4, 3, 1, 1, 1, 1),
    (9, 32, 48, 4, 4, 3, 2, 1, 1, 2),
    (3, 40, 64, 5, 3, 3, 1, 2, 2, 2),
    (11, 24, 50, 4, 4, 5, 1, 2, 1, 1),
    (2, 16, 16, 1, 1, 3, 1, 1, 1, 1),
    (4, 20, 36, 1, 3, 3, 1, 1, 1, 1),
    (70, 256, 200, 4, 4, 3, 1, 1, 1, 1),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_valid_taps_kernels_against_float64(shape, dtype, taps_forced):
    N, C, K, H, W, k, s, p, d, groups = shape
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C // groups, k, k)) / np.sqrt(C * k * k)).astype(dtype)
    Ho = (H + 2 * p - d * (k - 1) - 1) // s + 1
    Wo = (W + 2 * p - d * (k - 1) - 1) // s + 1
    go = rng.standard_normal((N, K, Ho, Wo)).astype(dtype)
    st, pd, dl = [s, s], [p, p], [d, d]
    refs = _reference(x, w, go, st, pd, dl, groups)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    results = _kernels_at_every_thread_count(x, w, go, st, pd, dl, groups)
    for name, ours, ref in zip(("output", "input gradient", "weight gradient"), results, refs):
        scale = np.abs(ref).max()
        assert np.abs(ours - ref).max() <= tol * scale, name


def test_valid_taps_bias_and_positions_without_taps(taps_forced):
    # padding 4 with a 3 x 3 kernel at stride 3 on 4 x 4: some outputs read only padding (they
    # get the bias, and give no input gradient); some inputs are read by no output
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 16, 4, 4)).astype(np.float32)
    w = rng.standard_normal((20, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = TF.conv2d(tx, tw, tb, stride=3, padding=4)
    go = rng.standard_normal(ref.shape).astype(np.float32)
    ref.backward(torch.tensor(go))
    out, gx, gw = _kernels(x, w, go, [3, 3], [4, 4], [1, 1], 1, bias=b)
    for ours, r in ((out, ref), (gx, tx.grad), (gw, tw.grad)):
        r = r.detach().numpy()
        np.testing.assert_allclose(ours, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())


def test_valid_taps_chosen_by_shape_matches_other_paths(monkeypatch):
    # ResNet-18's layer3 shape on the default choice (valid taps) and with the path off
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 256, 4, 4)).astype(np.float32)
    w = (rng.standard_normal((256, 256, 3, 3)) / 48).astype(np.float32)
    go = rng.standard_normal((16, 256, 4, 4)).astype(np.float32)
    chosen, other = _kernels_with_path_and_without(monkeypatch, "FASTDL_CONV_TAPS", x, w, go,
                                                   [1, 1], [1, 1], [1, 1], 1)
    for a, b in zip(chosen, other):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())
