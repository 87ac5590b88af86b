"""StudentT, Chi2, Cauchy, HalfNormal, HalfCauchy, Pareto and Weibull against
torch.distributions 2.13 (fixed-seed parameters, float32 and float64): densities, cdf/icdf,
moments, entropies and their parameter gradients, float64 gradchecks, reparametrized-sample
gradients, sample statistics, expand and torch's argument-validation errors."""
import math

import numpy as np
import pytest
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D
from distribution_cases import (close, close_grads, moments_and_densities, pair, positive, real, rng,
                                sample_moments_match)
from fastdl.testing import gradcheck

CONTINUOUS = {  # name: function(batch shape) -> parameter arrays
    "StudentT": lambda s: [rng.uniform(0.5, 6.0, s), real(s), positive(s)],
    "Chi2": lambda s: [rng.uniform(0.5, 8.0, s)],
    "Cauchy": lambda s: [real(s), positive(s)],
    "HalfNormal": lambda s: [positive(s)],
    "HalfCauchy": lambda s: [positive(s)],
    "Pareto": lambda s: [positive(s), rng.uniform(0.5, 5.0, s)],
    "Weibull": lambda s: [positive(s), rng.uniform(0.5, 4.0, s)],
}
# the batch shapes; () draws Python floats (see distribution_cases.pair)
BATCHES = [(5,), (2, 3), ()]
DTYPES = [np.float32, np.float64]
NO_FINITE_MEAN = {"Cauchy", "HalfCauchy"}


def _sample_value(theirs, sample_shape=(2,)):
    torch.manual_seed(20261130)
    return theirs.sample(sample_shape)


def _ours(value):
    return fastdl.tensor(value.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_values_and_gradients_match_torch(name, batch, dtype):
    ours, theirs, ours_p, theirs_p = pair(name, CONTINUOUS[name](batch), dtype)
    assert ours.batch_shape == tuple(theirs.batch_shape) == batch
    assert ours.event_shape == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    value = _sample_value(theirs)
    checked = moments_and_densities(ours, theirs, _ours(value), value, dtype)
    assert {"mean", "mode", "variance", "log_prob"} <= set(checked)
    assert ("cdf" in checked) == (name not in ("StudentT",))  # torch's StudentT has no cdf
    close(ours.entropy(), theirs.entropy(), dtype)
    statistics = [lambda d, v: d.log_prob(v), lambda d, v: d.entropy()]
    if name not in NO_FINITE_MEAN:
        statistics.append(lambda d, v: d.mean + d.stddev)
    if "cdf" in checked and name != "Chi2":  # torch's gammainc has no df-gradient
        statistics.append(lambda d, v: d.cdf(v))
    for fn in statistics:
        close_grads(fn(ours, _ours(value)), fn(theirs, value), ours_p, theirs_p, dtype)
    probabilities = rng.uniform(0.02, 0.98, (2,) + batch).astype(dtype)
    if name in ("StudentT", "Chi2"):  # neither library has these icdfs
        with pytest.raises(NotImplementedError):
            theirs.icdf(torch.tensor(probabilities))
        with pytest.raises(NotImplementedError):
            ours.icdf(fastdl.tensor(probabilities))
        return
    out, ref = ours.icdf(fastdl.tensor(probabilities)), theirs.icdf(torch.tensor(probabilities))
    close(out, ref, dtype)
    close_grads(out, ref, ours_p, theirs_p, dtype)


def test_student_t_moments_where_they_do_not_exist():
    df = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    ours, theirs, ours_p, theirs_p = pair("StudentT", [df, real(5), positive(5)], np.float64)
    close(ours.mean, theirs.mean)
    close(ours.variance, theirs.variance)
    # the df > 2 entry's gradient, and no NaN leaking from the other branches
    grads = fastdl.autograd.grad(ours.variance[4], ours_p, allow_unused=True)
    ref = torch.autograd.grad(theirs.variance[4], theirs_p, allow_unused=True)
    assert grads[1] is None and ref[1] is None  # loc
    for i in (0, 2):
        close(grads[i], ref[i])


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_log_prob_entropy_and_cdf_gradcheck(name):
    arrays = CONTINUOUS[name]((2, 3))
    params = [fastdl.tensor(a, requires_grad=True) for a in arrays]
    value = _ours(_sample_value(getattr(T, name)(*map(torch.tensor, arrays))))
    dist = getattr(D, name)
    assert gradcheck(lambda *p: dist(*p).log_prob(value), params)
    assert gradcheck(lambda *p: dist(*p).entropy(), params)
    if name != "StudentT":
        assert gradcheck(lambda *p: dist(*p).cdf(value), params)


def _params(arrays):
    return [fastdl.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]


def test_rsample_gradients_of_the_transformed_laws():
    """Exact pathwise slopes: x = scale * g(theta) gives dx/dscale = x / scale; Pareto's
    x = scale exp(E / alpha) gives dx/dalpha = -x log(x / scale) / alpha, Weibull's
    x = scale E^(1/k) gives dx/dk = -x log(x / scale) / k; Cauchy's is loc + scale * z."""
    fastdl.manual_seed(4)
    for name, arrays in [("Pareto", [[0.5, 2.0], [1.5, 4.0]]),
                         ("Weibull", [[0.5, 2.0], [0.7, 3.0]])]:
        scale, shape = _params(arrays)
        x = getattr(D, name)(scale, shape).rsample((7,))
        assert x.shape == (7, 2)
        scale_grad, shape_grad = fastdl.autograd.grad(x.sum(), [scale, shape])
        x, s, k = x.detach().numpy(), scale.detach().numpy(), shape.detach().numpy()
        np.testing.assert_allclose(scale_grad.numpy(), (x / s).sum(0), rtol=1e-10)
        np.testing.assert_allclose(shape_grad.numpy(), (-x * np.log(x / s) / k).sum(0),
                                   rtol=1e-9)
    for name, arrays in [("HalfNormal", [[0.5, 2.0]]), ("HalfCauchy", [[0.5, 2.0]])]:
        (scale,) = _params(arrays)
        x = getattr(D, name)(scale).rsample((7,))
        (grad,) = fastdl.autograd.grad(x.sum(), [scale])
        assert (x.detach().numpy() >= 0).all()
        np.testing.assert_allclose(grad.numpy(), (x.detach().numpy() / scale.detach().numpy()).sum(0),
                                   rtol=1e-12)
    loc, scale = _params([[0.0, 3.0], [1.0, 0.5]])
    x = D.Cauchy(loc, scale).rsample((7,))
    loc_grad, scale_grad = fastdl.autograd.grad(x.sum(), [loc, scale])
    np.testing.assert_allclose(loc_grad.numpy(), [7.0, 7.0])
    standard = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    np.testing.assert_allclose(scale_grad.numpy(), standard.sum(0), rtol=1e-12)


def _mean_and_error(draws):
    return draws.mean(0), draws.std(0) / np.sqrt(len(draws))


def test_student_t_and_chi2_rsample_gradients_are_unbiased():
    """Averages over 40000 draws of pathwise derivatives equal the derivatives of the moments
    within 6 standard errors: d E[x] / d df = 1 for Chi2; d E[x^2] / d df = -2 scale^2 /
    (df - 2)^2 for StudentT (loc 0); and dx / d loc = 1, dx / d scale = (x - loc) / scale."""
    fastdl.manual_seed(9)
    n = 40000
    df = fastdl.tensor(np.full((n, 2), [1.5, 6.0]), requires_grad=True)
    (df_grad,) = fastdl.autograd.grad(D.Chi2(df).rsample().sum(), [df])
    mean, error = _mean_and_error(df_grad.numpy())
    assert np.all(np.abs(mean - 1.0) < 6 * error)
    df_value, scale_value = np.array([5.0, 9.0]), np.array([1.0, 2.5])
    df = fastdl.tensor(np.tile(df_value, (n, 1)), requires_grad=True)
    loc = fastdl.tensor(np.zeros((n, 2)), requires_grad=True)
    scale = fastdl.tensor(np.tile(scale_value, (n, 1)), requires_grad=True)
    x = D.StudentT(df, loc, scale).rsample()
    df_grad, loc_grad, scale_grad = fastdl.autograd.grad(x.pow(2).sum(), [df, loc, scale])
    mean, error = _mean_and_error(df_grad.numpy())
    assert np.all(np.abs(mean + 2 * scale_value ** 2 / (df_value - 2) ** 2) < 6 * error)
    x = x.detach().numpy()
    np.testing.assert_allclose(loc_grad.numpy(), 2 * x, rtol=1e-12)
    np.testing.assert_allclose(scale_grad.numpy(), 2 * x * x / scale_value, rtol=1e-12)


STATISTICS = [  # (name, parameter arrays): parameters with finite fourth moments
    ("StudentT", [np.array([6.0, 10.0]), np.array([0.0, -2.0]), np.array([1.0, 0.5])]),
    ("Chi2", [np.array([0.8, 3.0, 12.0])]),
    ("HalfNormal", [np.array([0.5, 3.0])]),
    ("Pareto", [np.array([1.0, 0.2]), np.array([9.0, 12.0])]),
    ("Weibull", [np.array([1.0, 3.0]), np.array([0.8, 2.5])]),
]


@pytest.mark.parametrize("name, arrays", STATISTICS, ids=[s[0] for s in STATISTICS])
def test_sample_mean_and_variance(name, arrays):
    """20000 draws: the sample mean within 6 standard errors, the sample variance within 20%
    (StudentT(6)'s and Pareto(9)'s heavy tails make the variance estimate noisy)."""
    sample_moments_match(name, arrays, seed=11)


@pytest.mark.parametrize("name", ["Cauchy", "HalfCauchy"])
def test_heavy_tailed_sample_quartiles(name):
    """No moments: the sample quartiles match icdf(1/4, 1/2, 3/4) within 5 standard errors
    of a quantile, sqrt(q (1 - q) / n) / density(quantile)."""
    fastdl.manual_seed(12)
    arrays = [np.array([-1.0, 2.0]), np.array([0.5, 3.0])][-(1 if name == "HalfCauchy" else 2):]
    ours, _, _, _ = pair(name, arrays, np.float64, requires_grad=False)
    n = 20000
    x = ours.sample((n,)).numpy()
    for q in (0.25, 0.5, 0.75):
        quantile = ours.icdf(fastdl.tensor(np.full(2, q)))
        density = ours.log_prob(quantile).exp().numpy()
        error = np.sqrt(q * (1 - q) / n) / density
        assert np.all(np.abs(np.quantile(x, q, axis=0) - quantile.numpy()) < 5 * error), q


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_expand_and_sample_shapes_match_torch(name):
    ours, theirs, _, _ = pair(name, CONTINUOUS[name]((3,)), np.float64, requires_grad=False)
    assert ours.sample((4, 2)).shape == tuple(theirs.sample((4, 2)).shape) == (4, 2, 3)
    assert ours.rsample().shape == (3,)
    ours, theirs = ours.expand((2, 3)), theirs.expand((2, 3))
    assert type(ours) is getattr(D, name)
    assert ours.batch_shape == tuple(theirs.batch_shape) == (2, 3)
    value = _sample_value(theirs, ())
    close(ours.log_prob(_ours(value)), theirs.log_prob(value))
    close(ours.entropy(), theirs.entropy())
    assert ours.sample((4,)).shape == (4, 2, 3)


def test_samples_replay_under_manual_seed():
    for name in sorted(CONTINUOUS):
        ours, _, _, _ = pair(name, CONTINUOUS[name]((3,)), np.float32, requires_grad=False)
        fastdl.manual_seed(5)
        a = ours.sample((4,))
        fastdl.manual_seed(5)
        b = ours.sample((4,))
        assert a.dtype == np.float32 and np.array_equal(a.numpy(), b.numpy()), name


INVALID = [  # (name, arrays with an invalid parameter, the parameter torch names)
    ("StudentT", [np.array([-1.0]), np.array([0.0]), np.array([1.0])], "df"),
    ("StudentT", [np.array([1.0]), np.array([0.0]), np.array([0.0])], "scale"),
    ("Chi2", [np.array([0.0])], "df"),
    ("Cauchy", [np.array([np.nan]), np.array([1.0])], "loc"),
    ("Cauchy", [np.array([0.0]), np.array([-1.0])], "scale"),
    ("HalfNormal", [np.array([-1.0])], "scale"),
    ("HalfCauchy", [np.array([0.0])], "scale"),
    ("Pareto", [np.array([1.0]), np.array([-2.0])], "rate"),  # its base Exponential's check
    ("Weibull", [np.array([-1.0]), np.array([2.0])], "scale"),
]


@pytest.mark.parametrize("name, arrays, param", INVALID)
def test_invalid_parameters_raise_like_torch(name, arrays, param):
    with pytest.raises(ValueError) as theirs:
        getattr(T, name)(*map(torch.tensor, arrays), validate_args=True)
    with pytest.raises(ValueError, match=f"Expected parameter {param}"):
        getattr(D, name)(*map(fastdl.tensor, arrays), validate_args=True)
    assert str(theirs.value).startswith(f"Expected parameter {param}")
    getattr(D, name)(*map(fastdl.tensor, arrays), validate_args=False)  # no check


@pytest.mark.parametrize("name, value", [("HalfNormal", -0.5), ("HalfCauchy", -1.0),
                                         ("Pareto", 0.5), ("Weibull", 0.0), ("Chi2", -1.0)])
def test_values_outside_the_support_raise_like_torch(name, value):
    arrays = {"Pareto": [np.array([1.0]), np.array([2.0])],
              "Weibull": [np.array([1.0]), np.array([2.0])]}.get(name, [np.array([1.0])])
    with pytest.raises(ValueError, match="support"):
        getattr(T, name)(*map(torch.tensor, arrays), validate_args=True).log_prob(
            torch.tensor([value]))
    with pytest.raises(ValueError, match="support"):
        getattr(D, name)(*map(fastdl.tensor, arrays), validate_args=True).log_prob(
            fastdl.tensor([value]))
    unchecked = getattr(D, name)(*map(fastdl.tensor, arrays), validate_args=False)
    unchecked.log_prob(fastdl.tensor([value]))


def test_folded_log_prob_is_minus_infinity_below_zero_without_validation():
    for name in ("HalfNormal", "HalfCauchy"):
        ours = getattr(D, name)(fastdl.tensor([1.0]), validate_args=False)
        theirs = getattr(T, name)(torch.tensor([1.0]), validate_args=False)
        value = np.array([-1.0, 0.5], dtype=np.float32)
        close(ours.log_prob(fastdl.tensor(value)), theirs.log_prob(torch.tensor(value)))
    assert math.isclose(D.HalfNormal(1.0).icdf(fastdl.tensor(0.5)).item(),
                        T.HalfNormal(1.0).icdf(torch.tensor(0.5)).item(), rel_tol=1e-6)
