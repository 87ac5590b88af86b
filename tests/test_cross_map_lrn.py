"""nn.CrossMapLRN2d against torch 2.13 (its legacy windows in the forward and the backward)."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("shape", [(2, 1, 3, 4), (2, 3, 3, 4), (1, 9, 2, 5), (3, 6, 1, 1),
                                   (0, 4, 2, 2)])
def test_values_and_gradients_match_torch(size, shape, dtype):
    r = np.random.default_rng(size * 10 + shape[1])
    x = r.standard_normal(shape).astype(dtype)
    kwargs = dict(alpha=0.5, beta=0.75, k=1.5) if size % 2 else {}
    tm, fm = torch.nn.CrossMapLRN2d(size, **kwargs), fastdl.nn.CrossMapLRN2d(size, **kwargs)
    assert repr(fm) == repr(tm)
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    ty, fy = tm(tx), fm(fx)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert fy.dtype == fx.dtype
    np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), **tol)
    g = r.standard_normal(shape).astype(dtype)
    ty.backward(torch.tensor(g))
    fy.backward(fastdl.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), **tol)


def test_matches_the_plain_formula_when_one_window_covers_all_channels():
    # with C <= the first window, every channel's sum is over all channels: the textbook LRN
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    y = fastdl.nn.CrossMapLRN2d(5, alpha=0.2, beta=0.5, k=2.0)(fastdl.tensor(x)).numpy()
    s = (x ** 2).sum(1, keepdims=True)
    np.testing.assert_allclose(y, x / (2.0 + 0.2 / 5 * s) ** 0.5, rtol=1e-12)


def test_size_one_has_a_gradient():
    # torch's backward fails for size=1 (its padded buffer is one channel short); fastdl's
    # forward equals torch's and its backward applies torch's formula
    x = np.random.default_rng(1).standard_normal((1, 3, 2, 2))
    tm, fm = torch.nn.CrossMapLRN2d(1), fastdl.nn.CrossMapLRN2d(1)
    np.testing.assert_allclose(fm(fastdl.tensor(x)).numpy(),
                               tm(torch.tensor(x)).numpy(), rtol=1e-12)
    fx = fastdl.tensor(x, requires_grad=True)
    fm(fx).sum().backward()
    assert fx.grad.shape == x.shape and np.isfinite(fx.grad.numpy()).all()


@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 2, 3, 4, 5), (4,)])
def test_rank_errors_match_torch(shape):
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError) as want:
        torch.nn.CrossMapLRN2d(3)(torch.tensor(x))
    with pytest.raises(ValueError) as got:
        fastdl.nn.CrossMapLRN2d(3)(fastdl.tensor(x))
    assert str(got.value) == str(want.value)
