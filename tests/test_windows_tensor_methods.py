"""fastdl.signal.windows against torch.signal.windows (values, sym, dtypes, the lengths 0 and
1, errors), the Tensor methods and top-level functions torch has for complex and ATen-level
use (conj, real, angle, H, byte, resize_, native_layer_norm, nonzero_static ...) and the
distributions and seeding of the in-place random fills. OpInfo samples for most of these run
in test_opinfo_conformance.py; this file covers what those do not."""

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")

W = fastdl.signal.windows
DTYPES = [(fastdl.float32, torch.float32), (fastdl.float64, torch.float64)]
PARAMETERS = {"kaiser": [{"beta": 0.0}, {"beta": 5.5}, {"beta": 95.0}],
              "exponential": [{"tau": 0.3}, {"tau": 4.0}],
              "gaussian": [{"std": 0.2}, {"std": 3.0}],
              "general_hamming": [{"alpha": 0.3}, {"alpha": 1.0}],
              "general_cosine": [{"a": [1.0]}, {"a": (0.2, 0.5, 0.2, 0.1)}]}


# torch's float32 windows round a float32 linspace (kaiser: sqrt(beta^2 - k^2), cancelling at
# the centre); fastdl's round the float64 window once: torch's OpInfo tolerances
TOLERANCES = {fastdl.float32: (1.3e-6, 1e-5), fastdl.float64: (1e-7, 1e-7)}


def _close(got, want, dtype):
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)
    assert got.dtype == dtype


# ---- fastdl.signal.windows -------------------------------------------------------------------
@pytest.mark.parametrize("name", W.__all__)
@pytest.mark.parametrize("dt,tdt", DTYPES)
def test_windows_match_torch(name, dt, tdt):
    for kwargs in PARAMETERS.get(name, [{}]):
        for M in [*range(0, 8), 31, 64, 257]:
            for sym in (True, False):
                got = getattr(W, name)(M, sym=sym, dtype=dt, **kwargs)
                want = getattr(torch.signal.windows, name)(M, sym=sym, dtype=tdt, **kwargs)
                assert got.shape == (M,)
                _close(got, want, dt)


@pytest.mark.parametrize("name", [n for n in W.__all__ if n not in ("cosine", "exponential",
                                                                      "gaussian")])
def test_windows_of_length_0_and_1(name):
    kwargs = PARAMETERS.get(name, [{}])[0]
    for sym in (True, False):
        assert getattr(W, name)(0, sym=sym, **kwargs).shape == (0,)
        assert getattr(W, name)(1, sym=sym, **kwargs).tolist() == [1.0]


def test_sym_false_is_the_periodic_top_level_window():
    for name in ("hann", "hamming", "blackman", "bartlett", "kaiser"):
        top = getattr(fastdl, f"{name}_window")
        for M in (5, 6, 17):
            assert fastdl.equal(getattr(W, name)(M, sym=False), top(M))
            assert fastdl.equal(getattr(W, name)(M), top(M, periodic=False))


def test_window_dtype_and_requires_grad():
    w = W.gaussian(7, dtype=fastdl.float64, requires_grad=True)
    assert w.dtype == fastdl.float64 and w.requires_grad
    fastdl.set_default_dtype(fastdl.float64)
    try:
        assert W.cosine(3).dtype == fastdl.float64
    finally:
        fastdl.set_default_dtype(fastdl.float32)
    assert W.hann(3).dtype == fastdl.float32 and not W.hann(3).requires_grad


def test_exponential_center_only_for_periodic_windows():
    got = W.exponential(6, sym=False, center=1.5, tau=2.0)
    want = torch.signal.windows.exponential(6, sym=False, center=1.5, tau=2.0)
    _close(got, want, fastdl.float32)
    with pytest.raises(ValueError, match="Center must be None for symmetric windows"):
        W.exponential(6, center=1.5)


@pytest.mark.parametrize("call, error, message", [
    (lambda: W.hann(-1), ValueError, "requires non-negative window length, got M=-1"),
    (lambda: W.bartlett(3, dtype=fastdl.int64), ValueError, "expects float32 or float64"),
    (lambda: W.blackman(3, dtype=fastdl.float16), ValueError, "expects float32 or float64"),
    (lambda: W.nuttall(3, layout="sparse_coo"), ValueError, "strided tensors only"),
    (lambda: W.hamming(2.5), TypeError, "must be int, not float"),
    (lambda: W.cosine(True), TypeError, "must be int, not bool"),
    (lambda: W.kaiser(3, beta=-1), ValueError, "beta must be non-negative"),
    (lambda: W.exponential(3, tau=0), ValueError, "Tau must be positive"),
    (lambda: W.gaussian(3, std=-2.0), ValueError, "Standard deviation must be positive"),
    (lambda: W.general_cosine(3, a=None), TypeError, "Coefficients must be a list/tuple"),
    (lambda: W.general_cosine(3, a=[]), ValueError, "Coefficients cannot be empty"),
])
def test_window_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_general_cosine_checks_coefficients_only_where_used():
    # torch returns [] and [1.] before looking at ``a``
    assert W.general_cosine(1, a=None).tolist() == [1.0]
    assert W.general_cosine(0, a=[]).shape == (0,)


def test_kaiser_overflows_float32_like_torch():
    got = W.kaiser(9, beta=100.0)
    want = torch.signal.windows.kaiser(9, beta=100.0)
    assert np.array_equal(np.isnan(got.numpy()), np.isnan(want.numpy()))
    assert not np.isnan(W.kaiser(9, beta=100.0, dtype=fastdl.float64).numpy()).any()


def test_signal_docstring_examples_run():
    import doctest
    for module in (fastdl.signal, fastdl.signal.windows):
        result = doctest.testmod(module, extraglobs={"fastdl": fastdl},
                                 optionflags=doctest.ELLIPSIS)
        assert result.attempted and not result.failed, module.__name__
    assert all(">>>" in getattr(W, name).__doc__ for name in W.__all__)
