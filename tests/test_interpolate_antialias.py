"""interpolate(antialias=True) against PyTorch: bilinear and bicubic, down- and upsampling on odd
sizes, size and (non-integer, per-dim, recomputed) scale factors, align_corners, float32 and
float64; outputs, gradients, second derivatives, gradcheck; the weight matrices bit for bit;
ATen's _upsample_*2d_aa signatures; errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastdl
from fastdl.nn import functional as F
from fastdl.nn.functional import upsampling_aa
from fastdl.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

MODES = ("bilinear", "bicubic")
# (N, C, H, W) and a resize: downsampling, upsampling, mixed, to and from a single pixel
CASES = [((2, 3, 17, 23), dict(size=(5, 7))), ((1, 2, 7, 9), dict(size=(20, 3))),
         ((2, 1, 1, 1), dict(size=(3, 4))), ((1, 3, 5, 6), dict(size=(1, 1))),
         ((3, 2, 13, 8), dict(size=(13, 3))), ((1, 2, 19, 11), dict(scale_factor=0.37)),
         ((2, 2, 9, 10), dict(scale_factor=2.3)), ((1, 1, 31, 12), dict(scale_factor=(0.45, 1.3))),
         ((1, 2, 19, 11), dict(scale_factor=0.6, recompute_scale_factor=True)),
         ((1, 1, 64, 3), dict(size=(5, 2)))]
# float32: torch sums the taps one by one, fastdl's GEMM in blocks
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _both(x, resize, mode, align_corners, grad_out=None):
    """Outputs (and input gradients for ``grad_out``) of torch and fastdl."""
    results = []
    for T, fn in ((torch.tensor, TF.interpolate), (fastdl.Tensor, F.interpolate)):
        tx = T(x, requires_grad=grad_out is not None)
        out = fn(tx, mode=mode, align_corners=align_corners, antialias=True, **resize)
        if grad_out is None:
            results.append((out.detach().numpy(), None))
        else:
            out.backward(T(grad_out))
            results.append((out.detach().numpy(), tx.grad.numpy()))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,resize", CASES)
def test_matches_torch(shape, resize, mode, align_corners, dtype):
    rng = np.random.default_rng()
    x = rng.standard_normal(shape).astype(dtype)
    (expected, _), _ = _both(x, resize, mode, align_corners)
    g = rng.standard_normal(expected.shape).astype(dtype)
    (t_out, t_grad), (f_out, f_grad) = _both(x, resize, mode, align_corners, g)
    assert f_out.dtype == t_out.dtype and f_out.shape == t_out.shape
    np.testing.assert_allclose(f_out, t_out, **TOL[dtype])
    np.testing.assert_allclose(f_grad, t_grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_weights_equal_torchs(mode, dtype):
    """One-hot inputs make torch's output its weights; fastdl's matrices hold the same bits."""
    op = getattr(torch.ops.aten, f"_upsample_{mode}2d_aa")
    for n_in, n_out, align, scale in itertools.product(
            (2, 3, 7, 11, 23, 50), (1, 2, 5, 18, 47), (False, True), (None, 1.7, 0.3)):
        if n_in == n_out or (scale is not None and n_out > n_in * scale):
            # ATen skips an unchanged dim; the last output pixels of a scale below the sizes'
            # have no taps, where ATen reads past the input (fastdl gives 0)
            continue
        eye = torch.tensor(np.eye(n_in, dtype=dtype)).reshape(n_in, 1, 1, n_in)
        expected = op(eye, [1, n_out], align, None, scale).reshape(n_in, n_out).numpy().T
        got = upsampling_aa.aa_weights(n_in, n_out, mode, align, scale, dtype)
        np.testing.assert_array_equal(got, expected, err_msg=f"{n_in} -> {n_out} {align} "
                                                             f"{scale}")


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_and_second_derivatives(mode):
    x = fastdl.Tensor(np.random.default_rng().standard_normal((1, 2, 7, 6)), requires_grad=True)

    def fn(t):
        return F.interpolate(t, size=(3, 9), mode=mode, antialias=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("mode", MODES)
def test_unchanged_size_is_a_copy(mode):
    x = fastdl.Tensor(np.random.default_rng().standard_normal((1, 2, 4, 5)), requires_grad=True)
    out = F.interpolate(x, size=(4, 5), mode=mode, antialias=True)
    np.testing.assert_array_equal(out.detach().numpy(), x.detach().numpy())
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((1, 2, 4, 5)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs", [
    dict(output_size=[3, 4], align_corners=False),
    dict(output_size=[3, 4], align_corners=True, scales_h=1.7, scales_w=0.9),
    dict(output_size=[3, 4], align_corners=False, scales_h=0.4, scales_w=0.3),
    dict(output_size=None, align_corners=False, scale_factors=[1.7, 0.35])])
def test_aten_signatures(mode, kwargs):
    x = np.random.default_rng().standard_normal((2, 3, 10, 12))
    expected = getattr(torch.ops.aten, f"_upsample_{mode}2d_aa")(torch.tensor(x), **kwargs)
    got = getattr(upsampling_aa, f"upsample_{mode}2d_aa")(fastdl.Tensor(x), **kwargs)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), **TOL[np.float64])


@pytest.mark.parametrize("shape,mode", [((1, 2, 5), "bilinear"), ((1, 2, 5, 5, 5), "bicubic"),
                                        ((1, 2, 5, 5), "nearest"), ((1, 2, 5, 5), "area"),
                                        ((1, 2, 5, 5, 5), "trilinear")])
def test_errors_like_torch(shape, mode):
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match="Anti-alias"):
        TF.interpolate(torch.tensor(x), size=3, mode=mode, antialias=True)
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(fastdl.Tensor(x), size=3, mode=mode, antialias=True)


def test_aten_errors():
    x = fastdl.Tensor(np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError):
        upsampling_aa.upsample_bilinear2d_aa(x, None, False)
    with pytest.raises(RuntimeError):
        upsampling_aa.upsample_bicubic2d_aa(x[0], [3, 3], False)
    with pytest.raises(RuntimeError):
        upsampling_aa.upsample_bicubic2d_aa(x, [0, 3], False)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("sizes", [((17, 23), (5, 7)), ((7, 9), (20, 3)), ((9, 9), (9, 4))])
def test_non_finite_values_stay_in_their_windows(mode, sizes):
    """A NaN and an inf in the input: the outputs whose windows hold them are NaN / inf as
    torch's, the others exact (tap by tap: a matrix product would spread them along the dim);
    gradients agree with torch's where torch's are finite."""
    (h, w), size = sizes
    rng = np.random.default_rng(h * w)
    x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
    x[0, 1, 3, 4], x[1, 2, 5, 1] = np.nan, np.inf
    tx = torch.tensor(x, requires_grad=True)
    ref = TF.interpolate(tx, size=size, mode=mode, antialias=True)
    fx = fastdl.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        out = F.interpolate(fx, size=size, mode=mode, antialias=True)
    r, o = ref.detach().numpy(), out.detach().numpy()
    np.testing.assert_array_equal(np.isnan(o), np.isnan(r))
    np.testing.assert_array_equal(np.isposinf(o), np.isposinf(r))
    np.testing.assert_array_equal(np.isneginf(o), np.isneginf(r))
    finite = np.isfinite(r)
    np.testing.assert_allclose(o[finite], r[finite], rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(r.shape).astype(np.float32)
    ref.backward(torch.tensor(g))
    with np.errstate(invalid="ignore"):
        out.backward(fastdl.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
