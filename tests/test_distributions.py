"""fastdl.distributions against torch.distributions 2.13 on parameters from a fixed seed:
densities, moments, cdf/icdf, entropies and their parameter gradients (float32 and float64,
broadcast and odd batch shapes), float64 gradchecks, reparametrized-sample gradients, sample
statistics, seeding, and torch's argument-validation errors."""
import doctest
import importlib
import pkgutil

import numpy as np
import pytest
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D
from distribution_cases import (close, close_grads, moments_and_densities, pair, positive, real,
                                rng, simplex, unit)
from fastdl.testing import gradcheck


def uniform_bounds(low_shape, high_shape):
    return [rng.uniform(-2.0, 1.0, low_shape), rng.uniform(1.5, 3.0, high_shape)]


CONTINUOUS = {  # name: function(shapes) -> parameter arrays
    "Normal": lambda s: [real(s[0]), positive(s[1])],
    "Laplace": lambda s: [real(s[0]), positive(s[1])],
    "Gumbel": lambda s: [real(s[0]), positive(s[1])],
    "Uniform": lambda s: uniform_bounds(s[0], s[1]),
    "Gamma": lambda s: [positive(s[0]), positive(s[1])],
    "Beta": lambda s: [positive(s[0]), positive(s[1])],
    "Exponential": lambda s: [positive(s[1])],
    "LogNormal": lambda s: [real(s[0]) * 0.5, positive(s[1]) * 0.5],
}
# the shapes of the parameters; () draws Python floats (see distribution_cases.pair)
SHAPES = [((5,), (5,)), ((2, 1), (3,)), ((3, 1, 4), (1, 2, 1)), ((), (7,)), ((), ())]
DTYPES = [np.float32, np.float64]


def _sample_value(theirs, sample_shape=(2,)):
    torch.manual_seed(20261130)
    return theirs.sample(sample_shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_values_and_gradients_match_torch(name, shapes, dtype):
    ours, theirs, ours_p, theirs_p = pair(name, CONTINUOUS[name](shapes), dtype)
    assert ours.batch_shape == tuple(theirs.batch_shape)
    assert ours.event_shape == tuple(theirs.event_shape)
    value = _sample_value(theirs)
    checked = moments_and_densities(ours, theirs, fastdl.tensor(value.numpy()), value, dtype)
    assert {"mean", "variance", "log_prob"} <= set(checked)
    assert "cdf" in checked or name == "Beta"  # torch's Beta has no cdf
    close(ours.entropy(), theirs.entropy(), dtype)
    for fn in (lambda d: d.log_prob(d_value(d, value)), lambda d: d.entropy(),
               lambda d: d.mean + d.stddev):
        close_grads(fn(ours), fn(theirs), ours_p, theirs_p, dtype)
    if "cdf" in checked:
        # torch's gammainc has no gradient in the concentration: compare the rate's only
        compared = slice(1, None) if name == "Gamma" else slice(None)
        close_grads(ours.cdf(d_value(ours, value)), theirs.cdf(value), ours_p[compared],
                    theirs_p[compared], dtype)
    probabilities = rng.uniform(0.02, 0.98, (2,) + tuple(theirs.batch_shape)).astype(dtype)
    try:
        ref = theirs.icdf(torch.tensor(probabilities))
    except NotImplementedError:
        return
    out = ours.icdf(fastdl.tensor(probabilities))
    close(out, ref, dtype)
    close_grads(out, ref, ours_p, theirs_p, dtype)


def d_value(d, value):
    """The sample value in the library of ``d``."""
    return value if isinstance(d, T.Distribution) else fastdl.tensor(value.numpy())


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_log_prob_and_entropy_gradcheck(name):
    arrays = CONTINUOUS[name](((2, 3), (3,)))
    params = [fastdl.tensor(a, requires_grad=True) for a in arrays]
    value = fastdl.tensor(_sample_value(getattr(T, name)(*map(torch.tensor, arrays))).numpy())
    dist = getattr(D, name)
    assert gradcheck(lambda *p: dist(*p).log_prob(value), params)
    assert gradcheck(lambda *p: dist(*p).entropy(), params)
    if name not in ("Beta",):
        assert gradcheck(lambda *p: dist(*p).cdf(value), params)


@pytest.mark.parametrize("alpha", [0.05, 0.4, 1.0, 3.5, 40.0, 900.0, 2e4])
def test_gamma_implicit_gradient_against_scipy(alpha):
    """d x / d alpha at a fixed cdf value, by central differences of scipy's inverse of the
    regularized incomplete gamma function (torch's own approximation is ~1e-5 off)."""
    special = pytest.importorskip("scipy.special")
    from fastdl.distributions.gamma import _standard_gamma_grad_array
    alphas = np.full(64, alpha)
    x = rng.standard_gamma(alphas)
    u = special.gammainc(alphas, x)
    step = 1e-6 * alpha
    expected = (special.gammaincinv(alphas + step, u)
                - special.gammaincinv(alphas - step, u)) / (2 * step)
    inside = (u > 1e-12) & (u < 1 - 1e-12)  # where the differences themselves are accurate
    np.testing.assert_allclose(_standard_gamma_grad_array(alphas, x)[inside], expected[inside],
                               rtol=1e-5 if alpha < 1e4 else 1e-4)


def _mean_and_error(draws):
    return draws.mean(0), draws.std(0) / np.sqrt(len(draws))


def test_gamma_beta_dirichlet_rsample_gradients():
    """Unbiased reparametrization: the average of d x / d parameter over 20000 draws is the
    derivative of the mean (Gamma: d(a / r) / da = 1 / r; Beta: d(a / (a + b)) / da =
    b / (a + b)^2), within 6 standard errors; d x / d rate = -x / rate exactly."""
    fastdl.manual_seed(21)
    n = 20000
    a = fastdl.tensor(np.full((n, 3), [0.3, 2.0, 15.0]), requires_grad=True)
    rate = fastdl.tensor(np.full((n, 3), [1.0, 0.5, 3.0]), requires_grad=True)
    x = D.Gamma(a, rate).rsample()
    a_grad, rate_grad = fastdl.autograd.grad(x.sum(), [a, rate])
    mean, error = _mean_and_error(a_grad.numpy())
    assert np.all(np.abs(mean - 1 / np.array([1.0, 0.5, 3.0])) < 6 * error)
    np.testing.assert_allclose(rate_grad.numpy(), -x.detach().numpy() / rate.detach().numpy())
    c1 = fastdl.tensor(np.full((n, 2), [0.5, 4.0]), requires_grad=True)
    c0 = fastdl.tensor(np.full((n, 2), [2.0, 1.5]), requires_grad=True)
    (c1_grad,) = fastdl.autograd.grad(D.Beta(c1, c0).rsample().sum(), [c1])
    mean, error = _mean_and_error(c1_grad.numpy())
    assert np.all(np.abs(mean - np.array([2.0, 1.5]) / np.array([2.5, 5.5]) ** 2) < 6 * error)
    concentration = np.array([0.7, 2.0, 5.0])
    c = fastdl.tensor(np.tile(concentration, (n, 1)), requires_grad=True)
    (c_grad,) = fastdl.autograd.grad(D.Dirichlet(c).rsample()[:, 0].sum(), [c])
    total = concentration.sum()
    expected = (np.eye(3)[0] * total - concentration[0]) / total ** 2
    mean, error = _mean_and_error(c_grad.numpy())
    assert np.all(np.abs(mean - expected) < 6 * error)


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Gumbel"])
def test_rsample_is_loc_plus_scale_times_a_standard_draw(name):
    """d rsample / d loc = 1 and d rsample / d scale = the standard draw (x - loc) / scale."""
    ours, _, (loc, scale), _ = pair(name, [real((3, 1)), positive(4)], np.float64)
    x = ours.rsample((5,))
    assert x.shape == (5, 3, 4) and x.dtype == np.float64
    loc_grad, scale_grad = fastdl.autograd.grad(x.sum(), [loc, scale])
    np.testing.assert_allclose(loc_grad.numpy(), np.full((3, 1), 20.0))
    standard = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    np.testing.assert_allclose(scale_grad.numpy(), standard.sum((0, 1)), rtol=1e-12)


def test_uniform_rsample_gradients():
    ours, _, (low, high), _ = pair("Uniform", uniform_bounds((4,), (4,)), np.float64)
    x = ours.rsample((6,))
    low_grad, high_grad = fastdl.autograd.grad(x.sum(), [low, high])
    fraction = (x.detach().numpy() - low.detach().numpy()) / (high - low).detach().numpy()
    assert ((fraction >= 0) & (fraction < 1)).all()
    np.testing.assert_allclose(high_grad.numpy(), fraction.sum(0), rtol=1e-12)
    np.testing.assert_allclose(low_grad.numpy(), (1 - fraction).sum(0), rtol=1e-12)


STATISTICS = [  # (name, parameter arrays): moderate parameters, fast-converging moments
    ("Normal", [np.array([-1.0, 2.0]), np.array([0.5, 3.0])]),
    ("Laplace", [np.array([0.5, -3.0]), np.array([1.0, 0.25])]),
    ("Gumbel", [np.array([0.0, 1.0]), np.array([2.0, 0.5])]),
    ("Uniform", [np.array([-1.0, 2.0]), np.array([0.0, 7.0])]),
    ("Gamma", [np.array([0.7, 3.0, 9.0]), np.array([1.0, 0.5, 4.0])]),
    ("Beta", [np.array([0.5, 2.0, 5.0]), np.array([0.5, 3.0, 1.0])]),
    ("Exponential", [np.array([0.3, 2.0])]),
    ("LogNormal", [np.array([0.0, 1.0]), np.array([0.25, 0.5])]),
]


@pytest.mark.parametrize("name, arrays", STATISTICS, ids=[s[0] for s in STATISTICS])
def test_sample_mean_and_variance(name, arrays):
    """20000 draws: the sample mean within 6 standard errors; the sample variance within 12%
    (over 4 standard errors of it for these distributions' kurtoses, at most 3 + 6 / 0.7 for
    Gamma(0.7); a wrong scale or shape moves it by far more)."""
    fastdl.manual_seed(11)
    ours, theirs, _, _ = pair(name, arrays, np.float64, requires_grad=False)
    x = ours.sample((20000,)).numpy()
    mean, variance = theirs.mean.numpy(), theirs.variance.numpy()
    assert np.all(np.abs(x.mean(0) - mean) < 6 * np.sqrt(variance / len(x)))
    np.testing.assert_allclose(x.var(0), variance, rtol=0.12)


@pytest.mark.parametrize("name", sorted(CONTINUOUS) + ["Bernoulli", "Categorical"])
def test_samples_replay_under_manual_seed(name):
    arrays = [unit(3)] if name == "Bernoulli" else [simplex((2, 5))] if name == "Categorical" \
        else CONTINUOUS[name](((3,), (3,)))
    ours, theirs, _, _ = pair(name, arrays, np.float32, requires_grad=False)
    fastdl.manual_seed(5)
    a = ours.sample((4, 2))
    fastdl.manual_seed(5)
    b = ours.sample((4, 2))
    fastdl.manual_seed(6)
    c = ours.sample((4, 2))
    assert a.shape == (4, 2) + tuple(theirs.batch_shape) + tuple(theirs.event_shape)
    assert a.dtype == theirs.sample().numpy().dtype
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())


def test_doc_examples():
    names = {n: getattr(D, n) for n in D.__all__}
    attempted = 0
    for info in pkgutil.iter_modules(D.__path__, "fastdl.distributions."):
        result = doctest.testmod(importlib.import_module(info.name),
                                 extraglobs={"fastdl": fastdl, **names},
                                 optionflags=doctest.ELLIPSIS, report=True)
        assert result.failed == 0, info.name
        attempted += result.attempted
    assert attempted >= 15  # the examples of the classes and of kl_divergence ran


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_expand_matches_torch(name):
    arrays = CONTINUOUS[name](((3,), (1,)))
    ours, theirs, _, _ = pair(name, arrays, np.float64, requires_grad=False)
    ours, theirs = ours.expand((2, 3)), theirs.expand((2, 3))
    assert ours.batch_shape == tuple(theirs.batch_shape) == (2, 3)
    value = _sample_value(theirs, ())
    close(ours.log_prob(fastdl.tensor(value.numpy())), theirs.log_prob(value))
    close(ours.mean, theirs.mean)
    assert ours.sample((4,)).shape == (4, 2, 3)
