"""copysign, hypot, logaddexp, xlogy / xlog1py, logit and sinc (functional/pointwise_edges.py)
at their edge values: zeros, signed zeros, infinities, NaN, points outside the domain and the
ends of logit's eps clamp. Values and gradients against torch 2.13 (NaN in the same places), and
the accuracy of sinc's gradient near 0 against a float64 evaluation of its series."""
import math

import numpy as np
import pytest
import torch

import fastdl
from fastdl.testing import gradcheck

INF, NAN = math.inf, math.nan
rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run


def _leaves(arrays, dtype):
    ours = [fastdl.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    return ours, theirs


def _same_as_torch(fn_ours, fn_torch, arrays, dtype=np.float64, rtol=1e-12):
    """Values and the gradients of a random-weighted sum equal torch's, NaN where torch's."""
    ours, theirs = _leaves(arrays, dtype)
    out, ref = fn_ours(*ours), fn_torch(*theirs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=rtol,
                               equal_nan=True)
    assert out.detach().numpy().dtype == ref.detach().numpy().dtype
    w = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    (out * fastdl.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for o, t in zip(ours, theirs):
        expected = np.zeros(t.shape, dtype) if t.grad is None else t.grad.numpy()
        got = np.zeros(o.shape, dtype) if o.grad is None else o.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=rtol, equal_nan=True)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copysign_gradient_at_zero_infinity_and_nan(dtype):
    x = [0.0, -0.0, 0.0, INF, -INF, NAN, 2.0, -3.0, NAN]
    y = [-1.0, 1.0, -0.0, -1.0, 2.0, -1.0, -0.0, 0.0, NAN]
    ours, _ = _same_as_torch(fastdl.copysign, torch.copysign, [x, y], dtype)
    g = ours[0].grad.numpy()
    assert g[0] == g[1] == g[2] == 0  # result / input, 0 where input is 0
    assert np.isnan(g[3:6]).all()  # inf / inf and NaN: NaN, as torch's
    assert not np.any(ours[1].grad.numpy())  # other gets zeros
    _same_as_torch(lambda a: a.copysign(-0.0), lambda a: a.copysign(-0.0), [x], dtype)


def test_copysign_gradcheck():
    a = rng.uniform(0.2, 2.0, (3, 4)) * rng.choice([-1, 1], (3, 4))
    b = rng.uniform(0.2, 2.0, (4,)) * rng.choice([-1, 1], (4,))
    assert gradcheck(fastdl.copysign, [fastdl.tensor(a, requires_grad=True),
                                       fastdl.tensor(b, requires_grad=True)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hypot_origin_infinity_and_no_overflow(dtype):
    big = 1e30 if dtype == np.float32 else 1e300  # its square overflows
    x = [0.0, 3.0, INF, NAN, big, -big, 1e-30, 0.0]
    y = [0.0, -4.0, NAN, -INF, big, 2.0, 1e-30, -0.0]
    ours, _ = _same_as_torch(fastdl.hypot, torch.hypot, [x, y], dtype, rtol=1e-6)
    out = fastdl.hypot(*[fastdl.tensor(np.asarray(v, dtype)) for v in (x, y)]).numpy()
    expected = np.hypot(np.asarray(x), np.asarray(y)).astype(dtype)  # float64 reference
    np.testing.assert_allclose(out, expected, rtol=1e-6, equal_nan=True)
    assert np.isnan(ours[0].grad.numpy()[[0, 7]]).all()  # 0 / 0 at the origin, as torch's


def test_logaddexp_gradient_with_infinite_inputs():
    x = [INF, INF, INF, -INF, -INF, -INF, NAN, 1.0, -INF, 5.0]
    y = [INF, -INF, 1.0, INF, -INF, 2.0, 1.0, NAN, 3.0, -INF]
    for dtype in (np.float32, np.float64):
        ours, _ = _same_as_torch(fastdl.logaddexp, torch.logaddexp, [x, y], dtype, rtol=1e-6)
        g = ours[0].grad.numpy()
        assert np.isnan(g[[0, 4, 6, 7]]).all()  # inf - inf, or a NaN
        assert np.isfinite(g[[1, 2, 3, 5, 8, 9]]).all()  # only inf - inf or a NaN gives NaN


def test_logaddexp_finite_values_and_errors():
    a, b = rng.standard_normal((3, 1)) * 30, rng.standard_normal(4) * 30
    _same_as_torch(fastdl.logaddexp, torch.logaddexp, [a, b])
    ours = [fastdl.tensor(v, requires_grad=True) for v in (a, b)]
    assert gradcheck(fastdl.logaddexp, ours)
    _same_as_torch(fastdl.logaddexp2, torch.logaddexp2, [a, b], rtol=1e-10)
    with pytest.raises(TypeError):  # torch: argument 'other' must be Tensor, not int
        fastdl.logaddexp(fastdl.tensor([1.0, 2.0]), 2)
    with pytest.raises(NotImplementedError, match="logaddexp_cpu.*Long"):
        fastdl.logaddexp(fastdl.tensor([1, 2]), fastdl.tensor([3, 4]))


def test_xlogy_gradients_where_input_is_zero():
    x = [0.0, 0.0, 0.0, 0.0, 0.0, 1.5, 0.0, -2.0]
    y = [0.0, -1.0, INF, -INF, NAN, 0.0, 2.0, 3.0]
    ours, _ = _same_as_torch(fastdl.xlogy, torch.xlogy, [x, y])
    assert np.isnan(ours[1].grad.numpy()[0])  # other's gradient x / y: 0 / 0
    assert np.isinf(ours[0].grad.numpy()[2])  # log(inf): only y <= 0 is masked at x == 0
    _same_as_torch(fastdl.special.xlog1py, torch.special.xlog1py,
                   [x, [-1.0, -2.0, INF, -INF, NAN, -1.0, 1.0, 2.0]])
    a, b = rng.standard_normal((3, 1)), rng.uniform(0.2, 2.0, 4)
    assert gradcheck(fastdl.xlogy, [fastdl.tensor(a, requires_grad=True),
                                    fastdl.tensor(b, requires_grad=True)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("eps", [None, 0.0, 0.05, -0.1, 0.6])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logit_outside_the_domain_and_eps(eps, dtype):
    x = [-0.5, 0.0, 0.05, 0.3, 0.5, 0.95, 1.0, 1.5, NAN, INF, -INF]
    _same_as_torch(lambda t: fastdl.logit(t, eps), lambda t: torch.logit(t, eps), [x], dtype,
                   rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sinc_gradient_accurate_near_zero(dtype):
    x = np.concatenate([[0.0, -0.0, 1e-30, -7.6e-5, 1e-3, -1e-3, 0.159, -0.16],
                        rng.uniform(-0.2, 0.2, 40), rng.uniform(-5, 5, 40)]).astype(dtype)
    t = fastdl.tensor(x, requires_grad=True)
    fastdl.sinc(t).sum().backward()
    u = math.pi * x.astype(np.float64)
    with np.errstate(all="ignore"):  # exact in float64 away from 0: cos u - sinc
        closed = (np.cos(u) - np.sin(u) / u) / x.astype(np.float64)
    series = -math.pi ** 2 * x.astype(np.float64) / 3 * (1 - u * u / 10 + u ** 4 / 280)
    expected = np.where(np.abs(u) < 1e-2, series, closed)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-5 if dtype == np.float32 else
                               1e-12, atol=1e-6 if dtype == np.float32 else 1e-15)
    assert t.grad.numpy()[0] == 0


def test_sinc_matches_torch_in_float64_and_gradchecks():
    x = np.concatenate([[0.0, 1.0, -2.0, 0.5, INF, NAN], rng.uniform(-4, 4, 20)])
    _same_as_torch(fastdl.sinc, torch.sinc, [x], rtol=1e-9)
    a = rng.uniform(-2.0, 2.0, (3, 4))
    a[0, :3] = [0.01, -0.1, 0.155]  # around the switch to the series
    assert gradcheck(fastdl.sinc, [fastdl.tensor(a, requires_grad=True)])
