"""fastdl.signal.windows against torch.signal.windows (values, sym, dtypes, the lengths 0 and
1, errors), the Tensor methods and top-level functions torch has for complex and ATen-level
use (conj, real, angle, H, byte, resize_, native_layer_norm, nonzero_static ...) and the
distributions and seeding of the in-place random fills. OpInfo samples for most of these run
in test_opinfo_conformance.py; this file covers what those do not."""
import math

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


# ---- the complex-number API on real tensors, casts, H -------------------------------------
def test_real_tensor_is_its_own_conjugate_and_real_part():
    x = fastdl.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    for fn in (fastdl.conj, fastdl.conj_physical, fastdl.resolve_conj, fastdl.resolve_neg,
               fastdl.real):
        assert fn(x) is x
    assert x.conj() is x and x.real is x and x.resolve_neg() is x
    assert not x.is_conj() and not x.is_neg()
    with pytest.raises(TypeError, match="must be Tensor"):
        fastdl.conj([1.0])


def test_imag_raises_like_torch():
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex"):
        fastdl.ones(2).imag
    with pytest.raises(RuntimeError, match="non-complex dtypes"):
        fastdl.imag(fastdl.ones(2))


def test_angle_values_dtypes_and_zero_gradient():
    values = [-2.5, -0.0, 0.0, 3.0, float("inf"), -float("inf"), float("nan")]
    for dtype, tdtype in DTYPES:
        x = fastdl.tensor(values, dtype=dtype, requires_grad=True)
        y = fastdl.angle(x)
        want = torch.angle(torch.tensor(values, dtype=tdtype))
        np.testing.assert_array_equal(y.detach().numpy(), want.numpy())
        assert y.dtype == dtype and y.requires_grad
        (y * 3.0).sum().backward()
        assert x.grad.tolist() == [0.0] * len(values)
    for ints in ([3, -1, 0], [True, False]):
        got = fastdl.tensor(ints).angle()
        assert got.dtype == fastdl.float32
        np.testing.assert_allclose(got.numpy(), torch.tensor(ints).angle().numpy())


def test_H_is_the_matrix_transpose():
    x = fastdl.arange(6.0).reshape(2, 3)
    assert x.H.shape == (3, 2) and fastdl.equal(x.H, x.t())
    with pytest.raises(RuntimeError, match="only supported on matrices .* Got 1-D"):
        fastdl.ones(3).H
    with pytest.raises(RuntimeError, match="Got 3-D tensor. For batches of matrices"):
        fastdl.ones(2, 2, 2).H
    with pytest.warns(UserWarning, match="deprecated on 0-D"):
        s = fastdl.tensor(2.0)
        assert s.H is s


@pytest.mark.parametrize("method, dtype", [("byte", fastdl.uint8), ("char", fastdl.int8),
                                           ("short", fastdl.int16)])
def test_integer_casts(method, dtype):
    values = [[0.0, 1.9, 100.2], [-3.5, 7.0, 127.0]]
    got = getattr(fastdl.tensor(values), method)()
    want = getattr(torch.tensor(values), method)()
    assert got.dtype == dtype and got.tolist() == want.tolist()
    assert getattr(fastdl.tensor([1, 2]), method)(memory_format=fastdl.contiguous_format) \
        .dtype == dtype


# ---- ATen-level names ------------------------------------------------------------------------
def test_unsafe_split_and_chunk_are_split_and_chunk():
    x = fastdl.arange(7.0).reshape(7, 1)
    for got, want in zip(x.unsafe_split(3), x.split(3)):
        assert fastdl.equal(got, want)
    assert [t.shape for t in fastdl.unsafe_chunk(x, 3)] == [(3, 1), (3, 1), (1, 1)]
    assert [t.shape for t in x.unsafe_chunk(2, dim=1)] == [(7, 1)]
    with pytest.raises(TypeError, match="'split_size' .* must be int, not list"):
        fastdl.unsafe_split(x, [3, 4])


def test_resize_keeps_memory_order_and_refuses_grad():
    x = fastdl.arange(6)
    assert x.resize_(2, 2).tolist() == [[0, 1], [2, 3]]
    assert x.resize_((5,)).shape == (5,) and x[:4].tolist() == [0, 1, 2, 3]
    t = fastdl.arange(6).reshape(2, 3).t()  # a transposed view: torch keeps storage order
    assert t.resize_(6).tolist() == torch.arange(6).reshape(2, 3).t().resize_(6).tolist()
    y = fastdl.zeros(3)
    assert y.resize_as_(fastdl.ones(1, 3)).shape == (1, 3)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        fastdl.ones(2, requires_grad=True).resize_(4)
    with pytest.raises(RuntimeError, match="negative dimension"):
        fastdl.ones(2).resize_(-1)


def test_nonzero_static_pads_and_truncates():
    x = fastdl.tensor([[0, 2], [3, 0], [0, 5]])
    tx = torch.tensor(x.tolist())
    for size, fill in ((0, -1), (2, -1), (3, -1), (6, 9)):
        got = fastdl.nonzero_static(x, size=size, fill_value=fill)
        want = torch.nonzero_static(tx, size=size, fill_value=fill)
        assert got.dtype == fastdl.int64 and got.tolist() == want.tolist()
    assert fastdl.nonzero_static(fastdl.tensor(1.0), size=2).shape == (2, 0)
    with pytest.raises(RuntimeError, match="non-negative"):
        fastdl.nonzero_static(x, size=-1)


def test_empty_permuted_strides_and_errors():
    for size, layout in (((2, 3, 4), (2, 0, 1)), ((2, 3), (1, 0)), ((0, 5), (1, 0)), ((), ())):
        got = fastdl.empty_permuted(size, layout, dtype=fastdl.float64)
        want = torch.empty_permuted(size, layout, dtype=torch.float64)
        assert got.shape == tuple(want.shape) and got.dtype == fastdl.float64
        if got.numel() > 1:
            assert got.stride() == want.stride()
    assert fastdl.empty_permuted((2,), (0,), requires_grad=True).requires_grad
    for size, layout, error in (((2,), (0, 1), RuntimeError), ((2,), (3,), IndexError),
                                ((2, 3), (0, 0), RuntimeError)):
        with pytest.raises(error):
            fastdl.empty_permuted(size, layout)


def test_constant_pad_nd_pads_and_crops():
    x = fastdl.arange(6.0).reshape(2, 3).requires_grad_()
    got = fastdl.constant_pad_nd(x, (1, -1, 0, 1), -2.0)
    want = torch.constant_pad_nd(torch.arange(6.0).reshape(2, 3), (1, -1, 0, 1), -2.0)
    assert got.tolist() == want.tolist()
    got.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]


def test_native_norm_statistics():
    x = np.random.default_rng(0).standard_normal((4, 6, 5)).astype(np.float32)
    out, mean, rstd = fastdl.native_layer_norm(fastdl.tensor(x), (6, 5), None, None, 1e-5)
    t_out, t_mean, t_rstd = torch.native_layer_norm(torch.tensor(x), (6, 5), None, None, 1e-5)
    for got, want in ((out, t_out), (mean, t_mean), (rstd, t_rstd)):
        assert got.shape == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    assert not mean.requires_grad
    running = (fastdl.zeros(6), fastdl.ones(6))
    t_running = (torch.zeros(6), torch.ones(6))
    got = fastdl.native_batch_norm(fastdl.tensor(x), None, None, *running, True, 0.3, 1e-5)
    want = torch.native_batch_norm(torch.tensor(x), None, None, *t_running, True, 0.3, 1e-5)
    for g, w in zip(got + running, want + t_running):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-5)
    _, mean, rstd = fastdl.native_batch_norm(fastdl.tensor(x), None, None, *running, False,
                                             0.1, 1e-5)
    assert mean.shape == rstd.shape == (0,)
    _, mean, rstd = fastdl.native_group_norm(fastdl.tensor(x, requires_grad=True), None, None,
                                             4, 6, 5, 3, 1e-5)
    assert mean.shape == rstd.shape == (4, 3) and mean.requires_grad
    with pytest.raises(RuntimeError, match="N \\* C \\* HxW"):
        fastdl.native_group_norm(fastdl.tensor(x), None, None, 4, 6, 4, 3, 1e-5)


# ---- in-place random fills: distributions, seeding, errors -----------------------------------
N = 200_000


def _erf(x):
    return torch.erf(torch.from_numpy(x)).numpy()


def _ks(sample, cdf):
    """The Kolmogorov-Smirnov distance between a sample and a continuous CDF."""
    x = np.sort(sample.astype(np.float64))
    f = cdf(x)
    n = len(x)
    return max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))


# 2.0 / sqrt(N) is a KS distance p < 1e-3 would exceed; a wrong parameter (a rate off by 5%,
# a shifted median) gives several times that
KS_BOUND = 2.0 / math.sqrt(N)
FILLS = {
    "uniform_": ((-1.0, 3.0), lambda x: np.clip((x + 1.0) / 4.0, 0, 1)),
    "cauchy_": ((1.0, 2.0), lambda x: 0.5 + np.arctan((x - 1.0) / 2.0) / math.pi),
    "exponential_": ((2.5,), lambda x: 1.0 - np.exp(-2.5 * np.maximum(x, 0))),
    "log_normal_": ((0.5, 0.75), lambda x: 0.5 * (1.0 + _erf(
        (np.log(x) - 0.5) / (0.75 * math.sqrt(2.0))))),
    "normal_": ((-1.0, 0.5), lambda x: 0.5 * (1.0 + _erf(
        (x + 1.0) / (0.5 * math.sqrt(2.0))))),
}


@pytest.mark.parametrize("name", sorted(FILLS))
def test_random_fill_distribution(name):
    args, cdf = FILLS[name]
    fastdl.manual_seed(0)
    for dtype in (fastdl.float32, fastdl.float64):
        x = getattr(fastdl.empty(N, dtype=dtype), name)(*args)
        assert x.dtype == dtype
        assert _ks(x.numpy(), cdf) < KS_BOUND, name
    # the same test rejects a wrongly parameterized sample
    wrong = getattr(fastdl.empty(N, dtype=fastdl.float64), name)(*[a * 1.1 for a in args])
    assert _ks(wrong.numpy(), cdf) > KS_BOUND


def test_geometric_fill_moments():
    fastdl.manual_seed(0)
    for p in (0.2, 0.7):
        x = fastdl.empty(N, dtype=fastdl.int64).geometric_(p).numpy()
        assert x.min() >= 1
        assert abs(x.mean() - 1 / p) < 4 * math.sqrt((1 - p) / p ** 2 / N)
        assert abs(x.var() / ((1 - p) / p ** 2) - 1) < 0.03
        assert abs(np.mean(x == 1) - p) < 4 * math.sqrt(p * (1 - p) / N)


def test_uniform_moments_and_torch_keywords():
    fastdl.manual_seed(1)
    x = fastdl.empty(N, dtype=fastdl.float64).uniform_(**{"from": 2.0, "to": 5.0}).numpy()
    assert 2.0 <= x.min() and x.max() < 5.0
    assert abs(x.mean() - 3.5) < 4 * math.sqrt(0.75 / N)
    assert abs(x.var() / 0.75 - 1) < 0.02


@pytest.mark.parametrize("name, args", [("uniform_", ()), ("cauchy_", ()), ("normal_", ()),
                                        ("exponential_", (0.5,)), ("geometric_", (0.3,)),
                                        ("log_normal_", ())])
def test_random_fills_follow_the_seed_and_generator(name, args):
    def draw(**kwargs):
        return getattr(fastdl.empty(7, 3), name)(*args, **kwargs).numpy()

    fastdl.manual_seed(123)
    first = draw()
    fastdl.manual_seed(123)
    assert np.array_equal(draw(), first)
    assert not np.array_equal(draw(), first)
    g = fastdl.Generator().manual_seed(5)
    mine = draw(generator=g)
    g.manual_seed(5)
    fastdl.manual_seed(99)  # the global state does not affect a generator's draws
    assert np.array_equal(draw(generator=g), mine)


def test_random_fills_return_self_and_keep_dtype():
    x = fastdl.zeros(4, dtype=fastdl.float64)
    assert x.cauchy_() is x and x.dtype == fastdl.float64
    assert x.log_normal_() is x and bool((x > 0).all())


@pytest.mark.parametrize("call, message", [
    (lambda x: x.uniform_(3, -1), "uniform_ expects to return a \\[from, to\\) range"),
    (lambda x: x.cauchy_(0, 0), "cauchy_ expects sigma > 0.0"),
    (lambda x: x.exponential_(-1), "exponential_ expects lambda > 0.0"),
    (lambda x: x.geometric_(-1), "geometric_ expects p to be in \\(0, 1\\)"),
    (lambda x: x.geometric_(1.5), "geometric_ expects p to be in \\(0, 1\\)"),
    (lambda x: x.log_normal_(1, -2), "log_normal_ expects std > 0.0"),
])
def test_random_fill_errors(call, message):
    # the messages are those torch's OpInfo error_inputs expect
    with pytest.raises(RuntimeError, match=message):
        call(fastdl.zeros(3))

