"""fastdl.distributions' discrete distributions, Independent, kl_divergence and argument
validation against torch.distributions 2.13 (fixed-seed parameters, float32 and float64)."""
import re

import numpy as np
import pytest
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D
from distribution_cases import (close, close_grads, moments_and_densities, pair, positive, real,
                                rng, simplex, unit)
from fastdl.testing import gradcheck

DTYPES = [np.float32, np.float64]
BATCHES = [(5,), (2, 3), (), (1, 7)]


def _both_values(value):
    return fastdl.tensor(value.numpy()), value


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_bernoulli_matches_torch(given, batch, dtype):
    param = unit(batch) if given == "probs" else real(batch) * 2
    ours, theirs, ours_p, theirs_p = _pair_kw("Bernoulli", given, param, dtype)
    torch.manual_seed(1)
    value_ours, value = _both_values(theirs.sample((3,)))
    assert set(moments_and_densities(ours, theirs, value_ours, value, dtype)) >= {
        "mean", "variance", "log_prob"}
    close(ours.probs, theirs.probs, dtype)
    close(ours.logits, theirs.logits, dtype)
    close(ours.entropy(), theirs.entropy(), dtype)
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), ours_p, theirs_p, dtype)
    close_grads(ours.entropy(), theirs.entropy(), ours_p, theirs_p, dtype)
    close(ours.enumerate_support(), theirs.enumerate_support(), dtype)
    close(ours.enumerate_support(expand=False), theirs.enumerate_support(expand=False), dtype)


def _pair_kw(name, given, param, dtype, **extra):
    """Like ``pair`` for a distribution given by keyword (probs= or logits=); numpy arrays in
    ``extra`` become each library's tensors."""
    a = np.asarray(param, dtype=dtype)
    ours_p = fastdl.tensor(a.copy(), requires_grad=True)
    theirs_p = torch.tensor(a.copy(), requires_grad=True)
    ours_extra = {k: fastdl.tensor(v) if isinstance(v, np.ndarray) else v
                  for k, v in extra.items()}
    theirs_extra = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                    for k, v in extra.items()}
    return (getattr(D, name)(**{given: ours_p}, **ours_extra),
            getattr(T, name)(**{given: theirs_p}, **theirs_extra), [ours_p], [theirs_p])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("name", ["Categorical", "OneHotCategorical"])
def test_categorical_matches_torch(name, given, batch, dtype):
    shape = batch + (int(rng.integers(2, 7)),)
    # unnormalized on purpose: both normalize (probs by their sum, logits by logsumexp)
    param = rng.uniform(0.1, 2.0, shape) if given == "probs" else real(shape) * 2
    ours, theirs, ours_p, theirs_p = _pair_kw(name, given, param, dtype)
    assert (ours.batch_shape, ours.event_shape) == (tuple(theirs.batch_shape),
                                                    tuple(theirs.event_shape))
    torch.manual_seed(2)
    value_ours, value = _both_values(theirs.sample((4,)))
    moments_and_densities(ours, theirs, value_ours, value, dtype)
    close(ours.probs, theirs.probs, dtype)
    close(ours.logits, theirs.logits, dtype)
    close(ours.entropy(), theirs.entropy(), dtype)
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), ours_p, theirs_p, dtype)
    close_grads(ours.entropy(), theirs.entropy(), ours_p, theirs_p, dtype)
    support = theirs.enumerate_support()
    close(ours.enumerate_support(), support, dtype)
    close(ours.log_prob(fastdl.tensor(support.numpy())), theirs.log_prob(support), dtype)


def test_categorical_entropy_and_kl_with_zero_probabilities():
    p = np.array([[0.0, 0.3, 0.7], [0.5, 0.5, 0.0]])
    q = np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    ours = [D.Categorical(probs=fastdl.tensor(a)) for a in (p, q)]
    theirs = [T.Categorical(probs=torch.tensor(a)) for a in (p, q)]
    close(ours[0].entropy(), theirs[0].entropy())
    close(D.kl_divergence(*ours), T.kl_divergence(*theirs))
    assert np.isinf(D.kl_divergence(*ours).numpy()[1])


def test_categorical_and_bernoulli_sample_frequencies():
    """20000 draws: each category's frequency within 6 binomial standard errors."""
    fastdl.manual_seed(3)
    probs = np.array([[0.05, 0.15, 0.3, 0.5], [0.7, 0.1, 0.1, 0.1]])
    x = D.Categorical(probs=fastdl.tensor(probs)).sample((20000,)).numpy()
    assert x.dtype == np.int64 and x.shape == (20000, 2)
    for row in range(2):
        freq = np.bincount(x[:, row], minlength=4) / len(x)
        assert np.all(np.abs(freq - probs[row]) < 6 * np.sqrt(probs[row] * (1 - probs[row]) / len(x)))
    p = np.array([0.02, 0.5, 0.9])
    y = D.Bernoulli(probs=fastdl.tensor(p)).sample((20000,)).numpy()
    assert np.all(np.abs(y.mean(0) - p) < 6 * np.sqrt(p * (1 - p) / len(y)))
    onehot = D.OneHotCategorical(probs=fastdl.tensor(probs)).sample((20000,)).numpy()
    assert set(np.unique(onehot)) == {0.0, 1.0} and np.all(onehot.sum(-1) == 1)
    assert np.all(np.abs(onehot.mean(0) - probs) < 6 * np.sqrt(probs * (1 - probs) / 20000))


@pytest.mark.parametrize("dtype", DTYPES)
def test_independent_normal(dtype):
    ours_base, theirs_base, ours_p, theirs_p = pair("Normal", [real((4, 3, 2)), positive(2)],
                                                    dtype)
    ours, theirs = D.Independent(ours_base, 2), T.Independent(theirs_base, 2)
    assert (ours.batch_shape, ours.event_shape) == ((4,), (3, 2))
    torch.manual_seed(3)
    value_ours, value = _both_values(theirs.sample((2,)))
    moments_and_densities(ours, theirs, value_ours, value, dtype)
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), ours_p, theirs_p, dtype)
    close_grads(ours.entropy(), theirs.entropy(), ours_p, theirs_p, dtype)
    assert ours.rsample((5,)).shape == (5, 4, 3, 2) and ours.has_rsample
    expanded = ours.expand((6, 4))
    assert expanded.batch_shape == (6, 4) and expanded.log_prob(value_ours.unsqueeze(1)).shape == (2, 6, 4)
    with pytest.raises(ValueError):
        D.Independent(ours_base, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
def test_poisson_matches_torch(batch, dtype):
    ours, theirs, ours_p, theirs_p = pair("Poisson", [rng.uniform(0.2, 30.0, batch)], dtype)
    torch.manual_seed(5)
    value_ours, value = _both_values(theirs.sample((3,)))
    assert {"mean", "mode", "variance", "log_prob"} <= set(
        moments_and_densities(ours, theirs, value_ours, value, dtype))
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), ours_p, theirs_p, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("counts", [(5,), (2, 3), ()])
def test_binomial_matches_torch(counts, given, dtype):
    batch = counts if counts else (4,)
    total = rng.integers(0, 25, counts).astype(dtype)
    param = unit(batch) if given == "probs" else real(batch) * 2
    ours, theirs, ours_p, theirs_p = _pair_kw("Binomial", given, param, dtype,
                                              total_count=total)
    torch.manual_seed(6)
    value_ours, value = _both_values(theirs.sample((3,)))
    assert {"mean", "mode", "variance", "log_prob"} <= set(
        moments_and_densities(ours, theirs, value_ours, value, dtype))
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), ours_p, theirs_p, dtype)
    homogeneous, t_homogeneous, h_ours, h_theirs = _pair_kw("Binomial", given, param, dtype,
                                                            total_count=7)
    close(homogeneous.entropy(), t_homogeneous.entropy(), dtype)
    close_grads(homogeneous.entropy(), t_homogeneous.entropy(), h_ours, h_theirs, dtype)
    close(homogeneous.enumerate_support(), t_homogeneous.enumerate_support(), dtype)


def test_poisson_and_binomial_sample_moments():
    """20000 draws: means within 6 standard errors, variances within 10%."""
    fastdl.manual_seed(8)
    rate = np.array([0.5, 4.0, 60.0])
    x = D.Poisson(fastdl.tensor(rate)).sample((20000,)).numpy()
    assert x.dtype == np.float64 and np.all(x == np.round(x))
    assert np.all(np.abs(x.mean(0) - rate) < 6 * np.sqrt(rate / len(x)))
    np.testing.assert_allclose(x.var(0), rate, rtol=0.1)
    n, p = np.array([3.0, 40.0]), np.array([0.2, 0.7])
    y = D.Binomial(fastdl.tensor(n), fastdl.tensor(p)).sample((20000,)).numpy()
    assert np.all((y >= 0) & (y <= n)) and np.all(y == np.round(y))
    assert np.all(np.abs(y.mean(0) - n * p) < 6 * np.sqrt(n * p * (1 - p) / len(y)))
    np.testing.assert_allclose(y.var(0), n * p * (1 - p), rtol=0.1)


KL_PAIRS = [  # (p name, p arrays, q name, q arrays)
    ("Normal", lambda: [real((3, 4)), positive(4)], "Normal", lambda: [real(4), positive((3, 1))]),
    ("Laplace", lambda: [real(5), positive(5)], "Laplace", lambda: [real(5), positive(5)]),
    ("Gumbel", lambda: [real(5), positive(5)], "Gumbel", lambda: [real(5), positive(5)]),
    ("Uniform", lambda: [rng.uniform(-1, 0, 5), rng.uniform(1, 2, 5)],
     "Uniform", lambda: [rng.uniform(-3, -1, 5), rng.uniform(2, 3, 5)]),
    ("Uniform", lambda: [rng.uniform(-1, 0, 5), rng.uniform(1, 2, 5)],
     "Normal", lambda: [real(5), positive(5)]),
    ("Gamma", lambda: [positive((2, 3)), positive(3)], "Gamma", lambda: [positive(3), positive(3)]),
    ("Beta", lambda: [positive(4), positive(4)], "Beta", lambda: [positive(4), positive((2, 1))]),
    ("Exponential", lambda: [positive(4)], "Exponential", lambda: [positive(4)]),
    ("Poisson", lambda: [positive(4)], "Poisson", lambda: [positive(4)]),
    ("LogNormal", lambda: [real(4), positive(4)], "LogNormal", lambda: [real(4), positive(4)]),
    # across families
    ("Exponential", lambda: [positive(4)], "Gamma", lambda: [positive(4), positive(4)]),
    ("Gamma", lambda: [positive(4), positive(4)], "Exponential", lambda: [positive(4)]),
    ("Exponential", lambda: [positive(4)], "Normal", lambda: [real(4), positive(4)]),
    ("Gamma", lambda: [positive(4), positive(4)], "Normal", lambda: [real(4), positive(4)]),
    ("Laplace", lambda: [real(4), positive(4)], "Normal", lambda: [real(4), positive(4)]),
    ("Normal", lambda: [real(4), positive(4)], "Laplace", lambda: [real(4), positive(4)]),
    ("Normal", lambda: [real(4), positive(4)], "Gumbel", lambda: [real(4), positive(4)]),
    ("Beta", lambda: [positive(4), positive(4)],
     "Uniform", lambda: [rng.uniform(-1, 0.2, 4), rng.uniform(0.8, 2, 4)]),
    ("Uniform", lambda: [rng.uniform(-1, 0, 4), rng.uniform(1, 2, 4)],
     "Gumbel", lambda: [real(4), positive(4)]),
    ("Uniform", lambda: [rng.uniform(-0.5, 1, 4), rng.uniform(1, 2, 4)],
     "Exponential", lambda: [positive(4)]),
    ("Uniform", lambda: [rng.uniform(-0.5, 1, 4), rng.uniform(1, 2, 4)],
     "Gamma", lambda: [positive(4), positive(4)]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", KL_PAIRS, ids=[f"{c[0]}-{c[2]}" for c in KL_PAIRS])
def test_kl_divergence_matches_torch(case, dtype):
    p_name, p_arrays, q_name, q_arrays = case
    p, tp, p_ours, p_theirs = pair(p_name, p_arrays(), dtype)
    q, tq, q_ours, q_theirs = pair(q_name, q_arrays(), dtype)
    out, ref = D.kl_divergence(p, q), T.kl_divergence(tp, tq)
    close(out, ref, dtype)
    close_grads(out, ref, p_ours + q_ours, p_theirs + q_theirs, dtype)
    # (where q's support misses part of p's the divergence is inf, and so are differences)
    if dtype == np.float64 and np.isfinite(out.detach().numpy()).all():
        assert gradcheck(lambda *a: D.kl_divergence(getattr(D, p_name)(*a), q), p_ours)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_kl_divergence_discrete_and_independent(given, dtype):
    def make(name, shape, **extra):
        param = unit(shape) if name in ("Bernoulli", "Binomial") else simplex(shape)
        return _pair_kw(name, given, param if given == "probs" else np.log(param), dtype,
                        **extra)

    for name, shape, extra in (("Bernoulli", (3, 4), {}), ("Categorical", (3, 5), {}),
                               ("OneHotCategorical", (2, 6), {}),
                               ("Binomial", (3,), {"total_count": 6})):
        p, tp, p_ours, p_theirs = make(name, shape, **extra)
        q, tq, q_ours, q_theirs = make(name, shape, **extra)
        out, ref = D.kl_divergence(p, q), T.kl_divergence(tp, tq)
        close(out, ref, dtype)
        close_grads(out, ref, p_ours + q_ours, p_theirs + q_theirs, dtype)
    p, tp, p_ours, p_theirs = pair("Normal", [real((2, 3)), positive(3)], dtype)
    q, tq, q_ours, q_theirs = pair("Normal", [real(3), positive((2, 3))], dtype)
    out = D.kl_divergence(D.Independent(p, 1), D.Independent(q, 1))
    ref = T.kl_divergence(T.Independent(tp, 1), T.Independent(tq, 1))
    close(out, ref, dtype)
    close_grads(out, ref, p_ours + q_ours, p_theirs + q_theirs, dtype)


def test_register_kl_dispatches_to_the_most_derived_pair():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(fastdl.tensor(0.0), fastdl.tensor(1.0)), D.Normal(fastdl.tensor(1.0),
                                                                        fastdl.tensor(2.0))
    generic = D.kl_divergence(p, q).item()
    assert generic == pytest.approx(T.kl_divergence(T.Normal(0.0, 1.0), T.Normal(1.0, 2.0)).item())

    @D.register_kl(MyNormal, D.Normal)
    def _constant(p, q):
        return fastdl.tensor(42.0)

    assert D.kl_divergence(p, q).item() == 42.0
    assert D.kl_divergence(q, q).item() == 0.0
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Bernoulli(probs=fastdl.tensor(0.5)), q)
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)
    with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
        D.kl_divergence(D.Binomial(2, fastdl.tensor([0.5])), D.Binomial(3, fastdl.tensor([0.5])))
    larger_p = D.kl_divergence(D.Binomial(4, fastdl.tensor([0.5])),
                               D.Binomial(3, fastdl.tensor([0.5])))
    assert np.isinf(larger_p.numpy()).all()


def _torch_message(fn):
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("make", [
    lambda L: L.Normal(L_tensor(L, [0.0, 1.0]), L_tensor(L, [1.0, -1.0])),
    lambda L: L.Normal(L_tensor(L, [0.0, float("nan")]), L_tensor(L, [1.0, 1.0])),
    lambda L: L.Bernoulli(probs=L_tensor(L, [0.5, 1.5])),
    lambda L: L.Categorical(probs=L_tensor(L, [[0.5, -0.5]])),
    lambda L: L.Uniform(L_tensor(L, [0.0, 2.0]), L_tensor(L, [1.0, 1.0])),
    lambda L: L.Bernoulli(probs=L_tensor(L, [0.5]), logits=L_tensor(L, [0.0])),
    lambda L: L.Categorical(probs=L_tensor(L, 1.0)),
    lambda L: L.Bernoulli(probs=L_tensor(L, [0.3])).log_prob(L_tensor(L, [0.5])),
    lambda L: L.Categorical(probs=L_tensor(L, [0.3, 0.7])).log_prob(L_tensor(L, 2)),
    lambda L: L.Uniform(L_tensor(L, [0.0]), L_tensor(L, [1.0])).log_prob(L_tensor(L, [1.5])),
    lambda L: L.Normal(L_tensor(L, [0.0] * 3), L_tensor(L, [1.0] * 3)).log_prob(
        L_tensor(L, [0.0] * 2)),
    lambda L: L.Independent(L.Normal(L_tensor(L, [[0.0] * 3]), L_tensor(L, [[1.0] * 3])),
                            1).log_prob(L_tensor(L, [0.0] * 2)),
    lambda L: L.Normal(L_tensor(L, 0.0), L_tensor(L, 1.0)).log_prob(0.5),
    lambda L: L.Poisson(L_tensor(L, [1.0])).log_prob(L_tensor(L, [1.5])),
    lambda L: L.Binomial(L_tensor(L, [3.0]), L_tensor(L, [0.5])).log_prob(L_tensor(L, [4.0])),
    lambda L: L.Binomial(L_tensor(L, [2.5]), L_tensor(L, [0.5])),
    lambda L: L.Gamma(L_tensor(L, [1.0]), L_tensor(L, [0.0])),
    lambda L: L.Beta(L_tensor(L, [1.0]), L_tensor(L, [1.0])).log_prob(L_tensor(L, [1.5])),
    lambda L: L.Dirichlet(L_tensor(L, [1.0, 1.0])).log_prob(L_tensor(L, [0.3, 0.3])),
    lambda L: L.Exponential(L_tensor(L, [1.0])).log_prob(L_tensor(L, [-1.0])),
])
def test_validation_errors_match_torch(make):
    assert _normalized(_torch_message(lambda: make(D))) == \
        _normalized(_torch_message(lambda: make(T)))


def _normalized(message):
    """A ValueError's text without what the two print differently: torch.Size([2, 3]) is our
    (2, 3), and the distribution's repr and the offending values are left out."""
    message = re.sub(r"torch\.Size\(\[([^\]]*)\]\)",
                     lambda m: repr(tuple(int(v) for v in m.group(1).split(",") if v.strip())),
                     message)
    message = re.sub(r"distribution \w+\(.*?\)( to satisfy|, but found)", r"distribution\1",
                     message, flags=re.S)
    return message.split("invalid values:")[0]


def L_tensor(library, value):
    return (fastdl.tensor if library is D else torch.tensor)(value)


def test_validation_can_be_switched_off():
    assert D.Normal(fastdl.tensor(0.0), fastdl.tensor(-1.0), validate_args=False).scale.item() == -1
    D.Distribution.set_default_validate_args(False)
    try:
        d = D.Bernoulli(probs=fastdl.tensor([1.5]))
        assert d.log_prob(fastdl.tensor([0.5])).shape == (1,)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Bernoulli(probs=fastdl.tensor([1.5]))
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")
