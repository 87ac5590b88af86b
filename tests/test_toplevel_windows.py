"""torch.hann_window, hamming_window, blackman_window, bartlett_window and kaiser_window:
values against torch 2.13 in float32 and float64, periodic and symmetric, the lengths 0 and 1,
dtype / requires_grad, and torch's errors."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]
LENGTHS = list(range(0, 12)) + [31, 64, 257, 1000]
DTYPES = [(fastdl.float32, torch.float32), (fastdl.float64, torch.float64)]
# the cosine windows differ from torch by at most an ulp of the cosine (its SLEEF cos is
# not correctly rounded), kaiser by a few ulp of the Bessel function I0
ULPS = {"kaiser_window": 16}


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("dt,tdt", DTYPES)
@pytest.mark.parametrize("periodic", [True, False])
def test_values_match_torch(name, dt, tdt, periodic):
    for n in LENGTHS:
        got = getattr(fastdl, name)(n, periodic, dtype=dt)
        want = getattr(torch, name)(n, periodic, dtype=tdt).numpy()
        assert got.dtype == dt and got.shape == want.shape, (n, got.shape)
        eps = np.finfo(want.dtype).eps
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=ULPS.get(name, 2) * eps,
                                   err_msg=f"{name}({n}, {periodic})")


@pytest.mark.parametrize("name", WINDOWS)
def test_lengths_zero_and_one(name):
    fn = getattr(fastdl, name)
    for periodic in (True, False):
        assert fn(0, periodic).shape == (0,)
        assert fn(1, periodic).tolist() == [1.0]


def test_default_is_periodic_and_default_dtype():
    for name in WINDOWS:
        got = getattr(fastdl, name)(8)
        assert got.dtype == fastdl.float32
        np.testing.assert_allclose(got.numpy(), getattr(torch, name)(8).numpy(), atol=1e-6)
    fastdl.set_default_dtype(fastdl.float64)
    try:
        assert fastdl.hann_window(4).dtype == fastdl.float64
    finally:
        fastdl.set_default_dtype(fastdl.float32)


@pytest.mark.parametrize("alpha,beta", [(0.54, 0.46), (0.5, 0.5), (0.6, 0.3), (1.0, -1.0)])
def test_hamming_alpha_beta(alpha, beta):
    for n in (1, 2, 7, 50):
        for periodic in (True, False):
            got = fastdl.hamming_window(n, periodic, alpha, beta, dtype=fastdl.float64)
            want = torch.hamming_window(n, periodic, alpha, beta, dtype=torch.float64)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("beta", [0.0, 2.0, 8.6, 12.0, -1.0, 30.0])
def test_kaiser_beta(beta):
    for n in (2, 5, 16, 101):
        for periodic in (True, False):
            got = fastdl.kaiser_window(n, periodic, beta, dtype=fastdl.float64)
            want = torch.kaiser_window(n, periodic, beta, dtype=torch.float64)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-15)


def test_keywords_and_requires_grad():
    w = fastdl.hann_window(5, periodic=False, dtype=fastdl.float64, requires_grad=True,
                           device="cpu", layout=None)
    assert w.requires_grad and w.is_leaf and w.dtype == fastdl.float64
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.detach().numpy())
    assert not fastdl.kaiser_window(4).requires_grad


@pytest.mark.parametrize("name", WINDOWS)
def test_errors_like_torch(name):
    fn = getattr(fastdl, name)
    with pytest.raises(RuntimeError, match="non-negative window_length"):
        fn(-1)
    with pytest.raises(RuntimeError, match="expects floating point dtypes"):
        fn(3, dtype=fastdl.int64)
    with pytest.raises(TypeError, match="window_length"):
        fn(2.5)
    with pytest.raises(TypeError):
        fn(3, dtype=fastdl.bfloat16)
