"""Geometric, NegativeBinomial, Multinomial, MixtureSameFamily, the KL pairs of the newer
distributions (Cauchy, HalfNormal, Geometric, Pareto, ContinuousBernoulli) and the elementwise
transforms (Abs, Power, Softplus, cdf) against torch.distributions 2.13: values, gradients,
sample statistics, shapes and errors."""
import numpy as np
import pytest
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D
from distribution_cases import (cb_probs, close, close_grads, kl_matches_torch,
                                moments_and_densities, pair, positive, real, rng, unit)

DTYPES = [np.float32, np.float64]


def _pair_kw(name, given, param, dtype, *args):
    """The named distribution built from ``param`` passed as probs= or logits= (after the
    positional ``args``, Python numbers or numpy arrays) in both libraries."""
    a = np.asarray(param, dtype=dtype)
    ours_p = fastdl.tensor(a.copy(), requires_grad=True)
    theirs_p = torch.tensor(a.copy(), requires_grad=True)
    ours_args = [fastdl.tensor(x.astype(dtype)) if isinstance(x, np.ndarray) else x for x in args]
    theirs_args = [torch.tensor(x.astype(dtype)) if isinstance(x, np.ndarray) else x for x in args]
    return (getattr(D, name)(*ours_args, **{given: ours_p}),
            getattr(T, name)(*theirs_args, **{given: theirs_p}), [ours_p], [theirs_p])


def _both(value):
    return fastdl.tensor(value.numpy()), value


def _check_against_torch(ours, theirs, ours_p, theirs_p, dtype, sample_shape=(3,)):
    assert ours.batch_shape == tuple(theirs.batch_shape)
    assert ours.event_shape == tuple(theirs.event_shape)
    torch.manual_seed(7)
    value_ours, value = _both(theirs.sample(sample_shape))
    checked = moments_and_densities(ours, theirs, value_ours, value, dtype)
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), ours_p, theirs_p, dtype)
    return checked, value_ours, value


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(5,), (2, 3), ()])
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_geometric_matches_torch(given, batch, dtype):
    param = rng.uniform(0.1, 0.95, batch) if given == "probs" else real(batch)
    ours, theirs, ours_p, theirs_p = _pair_kw("Geometric", given, param, dtype)
    checked, _, _ = _check_against_torch(ours, theirs, ours_p, theirs_p, dtype)
    assert {"mean", "mode", "variance", "log_prob"} <= set(checked)
    close(ours.probs, theirs.probs, dtype)
    close(ours.logits, theirs.logits, dtype)
    close(ours.entropy(), theirs.entropy(), dtype)
    close_grads(ours.entropy(), theirs.entropy(), ours_p, theirs_p, dtype)
    close_grads(ours.mean + ours.stddev, theirs.mean + theirs.stddev, ours_p, theirs_p, dtype)


def test_geometric_with_certain_success():
    ours, theirs = D.Geometric(fastdl.tensor([1.0, 0.5])), T.Geometric(torch.tensor([1.0, 0.5]))
    close(ours.log_prob(fastdl.tensor([0.0, 2.0])), theirs.log_prob(torch.tensor([0.0, 2.0])))
    assert (ours.sample((50,)).numpy()[:, 0] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("counts", [(4,), (2, 1), ()])
def test_negative_binomial_matches_torch(counts, given, dtype):
    batch = (2, 4) if counts == (2, 1) else (4,)
    total = rng.uniform(0.5, 12.0, counts) if counts else 3.0
    param = rng.uniform(0.05, 0.9, batch) if given == "probs" else real(batch)
    ours, theirs, ours_p, theirs_p = _pair_kw("NegativeBinomial", given, param, dtype, total)
    checked, _, _ = _check_against_torch(ours, theirs, ours_p, theirs_p, dtype)
    assert {"mean", "mode", "variance", "log_prob"} <= set(checked)
    close_grads(ours.mean + ours.stddev, theirs.mean + theirs.stddev, ours_p, theirs_p, dtype)
    assert ours.param_shape == tuple(theirs.param_shape)


def test_negative_binomial_total_count_zero_and_gradient_in_total_count():
    total = np.array([0.0, 2.5, 7.0])
    ours_n, theirs_n = fastdl.tensor(total, requires_grad=True), torch.tensor(total, requires_grad=True)
    probs = np.array([0.3, 0.6, 0.2])
    ours = D.NegativeBinomial(ours_n, probs=fastdl.tensor(probs))
    theirs = T.NegativeBinomial(theirs_n, probs=torch.tensor(probs))
    value = np.array([[0.0, 3.0, 1.0], [0.0, 0.0, 9.0]])
    close(ours.log_prob(fastdl.tensor(value)), theirs.log_prob(torch.tensor(value)))
    (g,) = fastdl.autograd.grad(ours.log_prob(fastdl.tensor(value[1:]))[0, 1:].sum(), [ours_n])
    (h,) = torch.autograd.grad(theirs.log_prob(torch.tensor(value[1:]))[0, 1:].sum(), [theirs_n])
    close(g, h)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_multinomial_matches_torch(batch, given, dtype):
    shape = batch + (4,)
    param = rng.uniform(0.1, 2.0, shape) if given == "probs" else real(shape)
    ours, theirs, ours_p, theirs_p = _pair_kw("Multinomial", given, param, dtype, 6)
    checked, value_ours, value = _check_against_torch(ours, theirs, ours_p, theirs_p, dtype)
    assert {"mean", "variance", "log_prob"} <= set(checked)
    close(ours.probs, theirs.probs, dtype)
    close(ours.logits, theirs.logits, dtype)
    # torch takes lgamma(total_count + 1) of an int64 tensor in float32: compare at that accuracy
    close(ours.entropy(), theirs.entropy(), dtype, rtol=2e-6 if dtype == np.float64 else None)
    close_grads(ours.entropy(), theirs.entropy(), ours_p, theirs_p, dtype)
    # log_prob accepts counts of another total
    other = fastdl.tensor(np.array([1.0, 0.0, 2.0, 0.0], dtype=dtype))
    close(ours.log_prob(other), theirs.log_prob(torch.tensor(other.numpy())), dtype)


def test_multinomial_samples_and_errors():
    fastdl.manual_seed(13)
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    d = D.Multinomial(10, probs=fastdl.tensor(probs))
    x = d.sample((20000,)).numpy()
    assert x.shape == (20000, 2, 3) and x.dtype == np.float64 and (x.sum(-1) == 10).all()
    variance = 10 * probs * (1 - probs)
    assert np.all(np.abs(x.mean(0) - 10 * probs) < 6 * np.sqrt(variance / len(x)))
    np.testing.assert_allclose(x.var(0), variance, rtol=0.1)
    assert D.Multinomial(0, probs=fastdl.tensor(probs)).sample((2,)).numpy().sum() == 0
    expanded = d.expand((4, 2))
    assert expanded.batch_shape == (4, 2) and expanded.sample((3,)).shape == (3, 4, 2, 3)
    with pytest.raises(NotImplementedError):
        D.Multinomial(fastdl.tensor(3.0), probs=fastdl.tensor(probs))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(fastdl.tensor([4.0, 4.0, 4.0]))
    with pytest.raises(ValueError, match="Expected parameter probs"):
        D.Multinomial(3, probs=fastdl.tensor([-0.5, 1.5]), validate_args=True)


def test_geometric_and_negative_binomial_sample_moments():
    """20000 draws: means within 6 standard errors, variances within 12%."""
    fastdl.manual_seed(14)
    p = np.array([0.15, 0.5, 0.9])
    x = D.Geometric(probs=fastdl.tensor(p)).sample((20000,)).numpy()
    assert x.dtype == np.float64 and np.all(x == np.round(x)) and (x >= 0).all()
    mean, variance = (1 - p) / p, (1 - p) / p ** 2
    assert np.all(np.abs(x.mean(0) - mean) < 6 * np.sqrt(variance / len(x)))
    np.testing.assert_allclose(x.var(0), variance, rtol=0.12)
    n, p = np.array([2.0, 7.5]), np.array([0.3, 0.6])
    y = D.NegativeBinomial(fastdl.tensor(n), probs=fastdl.tensor(p)).sample((20000,)).numpy()
    mean, variance = n * p / (1 - p), n * p / (1 - p) ** 2
    assert np.all(y == np.round(y)) and (y >= 0).all()
    assert np.all(np.abs(y.mean(0) - mean) < 6 * np.sqrt(variance / len(y)))
    np.testing.assert_allclose(y.var(0), variance, rtol=0.12)


def test_discrete_validation_errors_like_torch():
    for library in (D, T):
        tensor = fastdl.tensor if library is D else torch.tensor
        with pytest.raises(ValueError, match="to be positive"):
            library.Geometric(probs=tensor([0.0, 0.5]), validate_args=True)
        with pytest.raises(ValueError, match="Expected parameter probs"):
            library.NegativeBinomial(2.0, probs=tensor([1.0]), validate_args=True)
        with pytest.raises(ValueError, match="Expected parameter total_count"):
            library.NegativeBinomial(tensor([-1.0]), probs=tensor([0.5]), validate_args=True)
        with pytest.raises(ValueError, match="support"):
            library.Geometric(probs=tensor([0.5]), validate_args=True).log_prob(tensor([1.5]))
        with pytest.raises(ValueError, match="Either `probs` or `logits`"):
            library.Geometric()


def _mixture_pair(dtype, mix_batch, batch, k=3, event=None):
    comp_shape = batch + (k,)
    logits = real(mix_batch + (k,))
    ours_mix = D.Categorical(logits=fastdl.tensor(logits.astype(dtype), requires_grad=True))
    theirs_mix = T.Categorical(logits=torch.tensor(logits.astype(dtype), requires_grad=True))
    if event is None:
        ours_c, theirs_c, ours_p, theirs_p = pair("Normal", [real(comp_shape), positive(comp_shape)], dtype)
    else:
        ours_b, theirs_b, ours_p, theirs_p = pair(
            "Normal", [real(comp_shape + event), positive(comp_shape + event)], dtype)
        ours_c, theirs_c = D.Independent(ours_b, len(event)), T.Independent(theirs_b, len(event))
    return (D.MixtureSameFamily(ours_mix, ours_c), T.MixtureSameFamily(theirs_mix, theirs_c),
            ours_p + [ours_mix.logits], theirs_p + [theirs_mix.logits])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mix_batch, batch, event", [((), (), None), ((2,), (2,), None),
                                                     ((4,), (4,), (2,)), ((1,), (3,), None)])
def test_mixture_same_family_matches_torch(mix_batch, batch, event, dtype):
    ours, theirs, ours_p, theirs_p = _mixture_pair(dtype, mix_batch, batch, event=event)
    checked, value_ours, value = _check_against_torch(ours, theirs, ours_p, theirs_p, dtype)
    assert {"mean", "variance", "log_prob"} <= set(checked)
    assert ("cdf" in checked) == (event is None)
    close_grads(ours.mean + ours.variance, theirs.mean + theirs.variance, ours_p, theirs_p, dtype)
    assert not ours.has_rsample
    # torch's draws keep the mixture's batch shape (1,) where it broadcasts: ours broadcast it
    assert ours.sample((5, 2)).shape == (5, 2) + tuple(theirs.batch_shape + theirs.event_shape)
    if mix_batch == batch:
        assert ours.sample((5, 2)).shape == tuple(theirs.sample((5, 2)).shape)
    expanded, t_expanded = ours.expand((6,) + batch), theirs.expand((6,) + batch)
    assert expanded.batch_shape == tuple(t_expanded.batch_shape)
    close(expanded.log_prob(value_ours.unsqueeze(1)), t_expanded.log_prob(value.unsqueeze(1)),
          dtype)


def test_mixture_samples_come_from_the_chosen_components():
    """Components far apart: each draw lies near one component mean, with the frequencies of
    the mixture weights (6 binomial standard errors), and a broadcast mixture batch works."""
    fastdl.manual_seed(15)
    weights = np.array([0.2, 0.5, 0.3])
    means = np.array([[-100.0, 0.0, 100.0], [10.0, 20.0, 30.0]])
    d = D.MixtureSameFamily(D.Categorical(probs=fastdl.tensor(weights)),
                            D.Normal(fastdl.tensor(means), fastdl.tensor(np.full((2, 3), 0.1))))
    x = d.sample((20000,)).numpy()
    assert x.shape == (20000, 2)
    chosen = np.abs(x[:, :, None] - means).argmin(-1)
    assert np.abs(x - means[np.arange(2), chosen]).max() < 1.0
    for row in range(2):
        freq = np.bincount(chosen[:, row], minlength=3) / len(x)
        assert np.all(np.abs(freq - weights) < 6 * np.sqrt(weights * (1 - weights) / len(x)))


def test_mixture_errors_like_torch():
    normal = D.Normal(fastdl.zeros(2, 3), fastdl.ones(2, 3))
    with pytest.raises(ValueError, match="Categorical"):
        D.MixtureSameFamily(normal, normal)
    with pytest.raises(ValueError, match="does not equal"):
        D.MixtureSameFamily(D.Categorical(probs=fastdl.ones(4)), normal)
    with pytest.raises(ValueError, match="not compatible"):
        D.MixtureSameFamily(D.Categorical(probs=fastdl.ones(5, 3)), normal)
    half = D.MixtureSameFamily(D.Categorical(probs=fastdl.ones(3)),
                               D.HalfNormal(fastdl.ones(3)), validate_args=True)
    with pytest.raises(ValueError, match="support"):
        half.log_prob(fastdl.tensor(-1.0))


KL_PAIRS = [  # (p name, p arrays, q name, q arrays)
    ("Cauchy", lambda: [real((3, 4)), positive(4)], "Cauchy", lambda: [real(4), positive((3, 1))]),
    ("HalfNormal", lambda: [positive(4)], "HalfNormal", lambda: [positive(4)]),
    ("Pareto", lambda: [positive(5), positive(5)], "Pareto", lambda: [positive(5), positive(5)]),
    ("Pareto", lambda: [positive(5), rng.uniform(0.5, 3, 5)], "Exponential", lambda: [positive(5)]),
    ("Pareto", lambda: [positive(5), rng.uniform(0.5, 3, 5)],
     "Gamma", lambda: [positive(5), positive(5)]),
    ("Pareto", lambda: [positive(5), rng.uniform(1.0, 4, 5)],
     "Normal", lambda: [real(5), positive(5)]),
    ("Uniform", lambda: [rng.uniform(0.2, 1, 5), rng.uniform(1.5, 2, 5)],
     "Pareto", lambda: [rng.uniform(0.1, 0.6, 5), positive(5)]),
    ("Pareto", lambda: [positive(3), positive(3)], "Uniform", lambda: [real(3), real(3) + 5]),
    ("Pareto", lambda: [positive(3), positive(3)], "Beta", lambda: [positive(3), positive(3)]),
    ("Normal", lambda: [real(3), positive(3)], "Pareto", lambda: [positive(3), positive(3)]),
    ("Gamma", lambda: [positive(3), positive(3)], "Pareto", lambda: [positive(3), positive(3)]),
    ("Beta", lambda: [positive(3), positive(3)], "Pareto", lambda: [positive(3), positive(3)]),
    ("Exponential", lambda: [positive(3)], "Pareto", lambda: [positive(3), positive(3)]),
    ("Gumbel", lambda: [real(3), positive(3)], "Pareto", lambda: [positive(3), positive(3)]),
    ("Laplace", lambda: [real(3), positive(3)], "Pareto", lambda: [positive(3), positive(3)]),
    # ContinuousBernoulli
    ("ContinuousBernoulli", lambda: [cb_probs(5)], "ContinuousBernoulli", lambda: [cb_probs(5)]),
    ("Beta", lambda: [positive(5), positive(5)], "ContinuousBernoulli", lambda: [cb_probs(5)]),
    ("Uniform", lambda: [rng.uniform(0.05, 0.4, 5), rng.uniform(0.5, 0.95, 5)],
     "ContinuousBernoulli", lambda: [cb_probs(5)]),
    ("ContinuousBernoulli", lambda: [cb_probs(5)], "Exponential", lambda: [positive(5)]),
    ("ContinuousBernoulli", lambda: [cb_probs(5)], "Normal", lambda: [real(5), positive(5)]),
    ("ContinuousBernoulli", lambda: [cb_probs(5)], "Uniform", lambda: [real(5) - 3, real(5) + 3]),
    ("ContinuousBernoulli", lambda: [cb_probs(3)], "Pareto", lambda: [positive(3), positive(3)]),
    ("Pareto", lambda: [positive(3), positive(3)], "ContinuousBernoulli", lambda: [cb_probs(3)]),
    ("Normal", lambda: [real(3), positive(3)], "ContinuousBernoulli", lambda: [cb_probs(3)]),
    ("Gamma", lambda: [positive(3), positive(3)], "ContinuousBernoulli", lambda: [cb_probs(3)]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p_name, p_arrays, q_name, q_arrays", KL_PAIRS,
                         ids=[f"{p[0]}-{p[2]}" for p in KL_PAIRS])
def test_kl_divergence_matches_torch(p_name, p_arrays, q_name, q_arrays, dtype):
    kl_matches_torch(p_name, p_arrays(), q_name, q_arrays(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_geometric_matches_torch(dtype):
    ours_p, theirs_p, op, tp = _pair_kw("Geometric", "probs", unit(5), dtype)
    ours_q, theirs_q, oq, tq = _pair_kw("Geometric", "logits", real(5), dtype)
    ref = T.kl_divergence(theirs_p, theirs_q)
    out = D.kl_divergence(ours_p, ours_q)
    close(out, ref, dtype)
    close_grads(out, ref, op + oq, tp + tq, dtype)


def _transform_cases(dtype):
    exponent = rng.uniform(0.3, 2.5, 4).astype(dtype)
    x_real = real((3, 4)).astype(dtype)
    x_positive = positive((3, 4)).astype(dtype)
    return [  # (ours, theirs, input)
        (D.AbsTransform(), T.transforms.AbsTransform(), x_real),
        (D.PowerTransform(fastdl.tensor(exponent)),
         T.transforms.PowerTransform(torch.tensor(exponent)), x_positive),
        (D.SoftplusTransform(), T.transforms.SoftplusTransform(), x_real * 5),
        (D.CumulativeDistributionTransform(D.Normal(fastdl.tensor(dtype(0.5)),
                                                    fastdl.tensor(dtype(2.0)))),
         T.transforms.CumulativeDistributionTransform(T.Normal(torch.tensor(dtype(0.5)),
                                                               torch.tensor(dtype(2.0)))), x_real),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_transforms_match_torch(dtype):
    for ours, theirs, x in _transform_cases(dtype):
        ours_x = fastdl.tensor(x, requires_grad=True)
        theirs_x = torch.tensor(x, requires_grad=True)
        y_ours, y_theirs = ours(ours_x), theirs(theirs_x)
        close(y_ours, y_theirs, dtype)
        close_grads(y_ours, y_theirs, [ours_x], [theirs_x], dtype)
        close(ours.inv(y_ours), theirs.inv(y_theirs), dtype)
        if isinstance(ours, D.AbsTransform):
            assert not ours.bijective and ours == D.AbsTransform()
            continue  # not bijective: torch defines no log|det|
        jacobian = ours.log_abs_det_jacobian(ours_x, y_ours)
        t_jacobian = theirs.log_abs_det_jacobian(theirs_x, y_theirs)
        close(jacobian, t_jacobian, dtype)
        close_grads(jacobian, t_jacobian, [ours_x], [theirs_x], dtype)
        assert ours.bijective == theirs.bijective
        assert ours.domain.event_dim == theirs.domain.event_dim
        cached = ours.with_cache(1)
        assert cached.inv(cached(ours_x)) is ours_x  # the cache returns the exact preimage


def test_power_transform_sign_and_softplus_inverse_at_large_values():
    t = D.PowerTransform(fastdl.tensor([-1.0, 2.0]))
    assert t.sign.tolist() == [-1.0, 1.0]
    assert t == D.PowerTransform(fastdl.tensor([-1.0, 2.0])) and t != D.PowerTransform(2.0)
    big = fastdl.tensor([50.0, 700.0], dtype=fastdl.float64)
    np.testing.assert_allclose(D.SoftplusTransform().inv(big).numpy(), big.numpy(), rtol=1e-12)
