"""Fractional max pooling (F.fractional_max_pool2d/3d, nn.FractionalMaxPool2d/3d) vs torch."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [(2, (2, 3, 9, 9), 3, dict(output_size=(2, 3))),
         (2, (2, 3, 9, 7), (2, 3), dict(output_size=(6, 4))),
         (2, (3, 10, 11), 2, dict(output_ratio=(0.5, 0.5))),  # torch: no float here
         (2, (1, 1, 16, 16), 1, dict(output_ratio=(0.5, 0.25))),
         (2, (1, 2, 5, 5), 2, dict(output_size=1)),
         (2, (2, 2, 5, 6), 2, dict(output_size=0)),
         (2, (0, 2, 5, 6), 2, dict(output_size=3)),
         (3, (2, 3, 7, 6, 7), (2, 3, 4), dict(output_size=(3, 2, 3))),
         (3, (4, 5, 5, 5), 2, dict(output_ratio=0.5)),
         (3, (2, 4, 16, 7, 5), (4, 2, 3), dict(output_size=(10, 3, 2)))]


def _both(d, x, k, kwargs, samples, dtype):
    tx = torch.tensor(x, requires_grad=True)
    fx = fastdl.tensor(x, requires_grad=True)
    tfn = getattr(TF, f"fractional_max_pool{d}d")
    ffn = getattr(F, f"fractional_max_pool{d}d")
    to, ti = tfn(tx, k, return_indices=True, _random_samples=torch.tensor(samples), **kwargs)
    fo, fi = ffn(fx, k, return_indices=True, _random_samples=fastdl.tensor(samples), **kwargs)
    return tx, fx, to, ti, fo, fi


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d,shape,k,kwargs", CASES)
def test_values_indices_gradients_match_torch(d, shape, k, kwargs, dtype):
    r = np.random.default_rng(len(shape) * 100 + shape[-1])
    x = r.standard_normal(shape).astype(dtype)
    n = shape[0] if len(shape) == d + 2 else 1
    samples = r.random((max(n, 1), shape[-d - 1], d)).astype(dtype)
    tx, fx, to, ti, fo, fi = _both(d, x, k, kwargs, samples, dtype)
    assert fo.dtype == fx.dtype and fi.dtype == fastdl.int64
    np.testing.assert_array_equal(fo.detach().numpy(), to.detach().numpy())
    np.testing.assert_array_equal(fi.numpy(), ti.numpy())
    w = r.standard_normal(to.shape).astype(dtype)
    (to * torch.tensor(w)).sum().backward()
    (fo * fastdl.tensor(w)).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_ties_and_nans_pick_torchs_index():
    x = np.array([[[[1., np.nan, 3.], [np.nan, 2, 0], [5, 5, 1]]]], np.float32)
    s = np.array([[[0.3, 0.7]]], np.float32)
    for k, o in ((2, 2), (1, 3), (3, 1)):
        _, _, to, ti, fo, fi = _both(2, x, k, dict(output_size=o), s, np.float32)
        np.testing.assert_array_equal(fi.numpy(), ti.numpy())
        np.testing.assert_array_equal(fo.detach().numpy(), to.detach().numpy())


def test_float32_starts_use_float32_arithmetic():
    # alpha and (i + u) * alpha in float32 truncate differently from float64 for some u
    x = np.arange(1.0, 1 + 3 * 40 * 40).reshape(1, 3, 40, 40)
    s = np.array([[[0.6999999, 0.1], [0.3333333, 0.9999999], [0.5, 0.25]]])
    for dtype in (np.float32, np.float64):
        _, _, to, ti, fo, fi = _both(2, x.astype(dtype), 3, dict(output_size=(13, 29)),
                                     s.astype(dtype), dtype)
        np.testing.assert_array_equal(fi.numpy(), ti.numpy())


def test_gradcheck_float64():
    r = np.random.default_rng(0)
    # distinct values keep every window's argmax away from ties under the perturbation
    x = fastdl.tensor(r.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 10.0,
                      requires_grad=True)
    s = fastdl.tensor(r.random((2, 2, 2)))
    assert gradcheck(lambda t: F.fractional_max_pool2d(t, 2, output_size=(4, 3),
                                                       _random_samples=s), (x,))
    x3 = fastdl.tensor(r.permutation(2 * 5 * 5 * 5).reshape(2, 5, 5, 5) / 10.0,
                       requires_grad=True)
    s3 = fastdl.tensor(r.random((1, 2, 3)))
    assert gradcheck(lambda t: F.fractional_max_pool3d(t, 2, output_size=2,
                                                       _random_samples=s3), (x3,))


def test_without_samples_draws_from_fastdls_generator():
    x = fastdl.randn(3, 4, 12, 12)
    fastdl.manual_seed(5)
    a, ia = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), return_indices=True)
    fastdl.manual_seed(5)
    b = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    fastdl.manual_seed(5)
    s = fastdl.rand(3, 4, 2)
    np.testing.assert_array_equal(
        F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), _random_samples=s).numpy(),
        a.numpy())
    # the drawn starts vary: over many draws more than one index pattern appears per plane
    patterns = {F.fractional_max_pool2d(x, 2, output_size=5, return_indices=True)[1]
                .numpy()[0, 0].tobytes() for _ in range(20)}
    assert len(patterns) > 1
    assert F.fractional_max_pool3d(fastdl.randn(2, 6, 6, 6), 2, output_ratio=0.5).shape == \
        (2, 3, 3, 3)


def test_with_indices_forms():
    x = fastdl.randn(1, 2, 6, 6)
    s = fastdl.rand(1, 2, 2)
    out, idx = F.fractional_max_pool2d_with_indices(x, 2, output_size=3, _random_samples=s)
    np.testing.assert_array_equal(
        out.numpy(), F.fractional_max_pool2d(x, 2, output_size=3, _random_samples=s).numpy())
    out3, idx3 = F.fractional_max_pool3d_with_indices(fastdl.randn(1, 2, 5, 5, 5), 2,
                                                       output_size=2,
                                                       _random_samples=fastdl.rand(1, 2, 3))
    assert out3.shape == idx3.shape == (1, 2, 2, 2, 2)


ERROR_CALLS = [
    (2, (2, 3, 9, 9), (3,), dict(output_size=8), (2, 3, 2)),
    (2, (2, 3, 9, 9), (3,), dict(output_size=(2, 8)), (2, 3, 2)),
    (2, (2, 3, 9, 9), (10,), dict(output_size=2), (2, 3, 2)),
    (2, (2, 3, 9, 9), (3,), dict(output_size=2), (1, 3, 2)),
    (2, (2, 3, 9, 9), (3,), dict(output_size=2), (2, 3, 3)),
    (2, (2, 3, 9, 9), (3,), dict(output_size=2), (2, 2, 2)),
    (2, (2, 3, 9, 9), (3,), dict(output_size=2), (2, 3)),
    (2, (1, 2, 3, 9, 9), (3,), dict(output_size=2), (1, 2, 2)),
    (2, (2, 0, 9, 9), (3,), dict(output_size=2), (2, 0, 2)),
    (2, (2, 3, 9, 9), ((3, 3, 3),), dict(output_size=2), (2, 3, 2)),
    (2, (2, 3, 9, 9), (3,), dict(output_size=(2, 2, 2)), (2, 3, 2)),
    (2, (2, 3, 9, 9), (3,), dict(), (2, 3, 2)),
    (2, (2, 3, 9, 9), (3,), dict(output_ratio=(0.5, 0.5, 0.5)), (2, 3, 2)),
    (2, (9, 9), (3,), dict(output_size=2), None),
    (2, (9, 9), (3,), dict(output_size=2), (1, 9, 2)),
    (3, (2, 3, 5, 5, 5), (2,), dict(output_size=(4, 3, 3)), (2, 3, 3)),
    (3, (2, 3, 5, 5, 5), (2,), dict(output_size=(3, 4, 3)), (2, 3, 3)),
    (3, (2, 3, 5, 5, 5), (2,), dict(output_size=(3, 3, 4)), (2, 3, 3)),
    (3, (2, 3, 5, 5, 5), (2,), dict(output_size=(2, 2)), (2, 3, 3)),
    (3, (2, 3, 5, 5, 5), (2,), dict(output_size=2), (2, 3, 2)),
    (3, (2, 3, 5, 5, 5, 5), (2,), dict(output_size=2), (2, 3, 3)),
    (3, (3, 5, 5), (2,), dict(output_size=2), None),
    (3, (2, 0, 5, 5, 5), (2,), dict(output_size=2), (2, 0, 3)),
]


@pytest.mark.parametrize("d,shape,args,kwargs,sshape", ERROR_CALLS)
def test_errors_match_torch(d, shape, args, kwargs, sshape):
    x = np.zeros(shape, np.float32)
    ts = None if sshape is None else torch.rand(sshape)
    fs = None if sshape is None else fastdl.tensor(ts.numpy())
    with pytest.raises((RuntimeError, ValueError, IndexError)) as want:
        getattr(TF, f"fractional_max_pool{d}d")(torch.tensor(x), *args, **kwargs,
                                                _random_samples=ts)
    with pytest.raises(want.type) as got:
        getattr(F, f"fractional_max_pool{d}d")(fastdl.tensor(x), *args, **kwargs,
                                               _random_samples=fs)
    assert str(got.value) == str(want.value)


def test_dtype_errors():
    with pytest.raises(RuntimeError, match="same dtype as input"):
        F.fractional_max_pool2d(fastdl.zeros(1, 1, 5, 5), 2, output_size=2,
                                _random_samples=fastdl.rand(1, 1, 2, dtype=fastdl.float64))
    with pytest.raises(TypeError, match="float32 or float64"):
        F.fractional_max_pool2d(fastdl.zeros(1, 1, 5, 5, dtype=fastdl.int64), 2, output_size=2)
    with pytest.raises(RuntimeError, match="kernel_size must be greater than zero"):
        F.fractional_max_pool2d(fastdl.zeros(1, 1, 5, 5), 0, output_size=2)


@pytest.mark.parametrize("cls", ["FractionalMaxPool2d", "FractionalMaxPool3d"])
def test_module_matches_torch(cls):
    d = 2 if cls.endswith("2d") else 3
    tsamples = torch.rand(2, 3, d, dtype=torch.float64)
    tm = getattr(torch.nn, cls)(2, output_ratio=0.5, return_indices=True,
                                _random_samples=tsamples)
    fm = getattr(fastdl.nn, cls)(2, output_ratio=0.5, return_indices=True,
                                 _random_samples=fastdl.tensor(tsamples.numpy()))
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict()) == ["_random_samples"]
    x = np.random.default_rng(0).standard_normal((2, 3) + (8,) * d)
    (to, ti), (fo, fi) = tm(torch.tensor(x)), fm(fastdl.tensor(x))
    np.testing.assert_array_equal(fo.numpy(), to.numpy())
    np.testing.assert_array_equal(fi.numpy(), ti.numpy())
    plain = getattr(fastdl.nn, cls)(2, output_size=3)
    assert plain.state_dict() == {} and plain._random_samples is None
    assert plain(fastdl.randn(2, 3, *(7,) * d)).shape == (2, 3) + (3,) * d


@pytest.mark.parametrize("kwargs", [dict(), dict(output_size=2, output_ratio=0.5),
                                    dict(output_ratio=1.5), dict(output_ratio=(0.5, 0.0))])
def test_module_errors_match_torch(kwargs):
    for cls in ("FractionalMaxPool2d", "FractionalMaxPool3d"):
        if cls.endswith("3d") and isinstance(kwargs.get("output_ratio"), tuple):
            continue
        with pytest.raises(ValueError) as want:
            getattr(torch.nn, cls)(3, **kwargs)
        with pytest.raises(ValueError) as got:
            getattr(fastdl.nn, cls)(3, **kwargs)
        assert str(got.value) == str(want.value)
