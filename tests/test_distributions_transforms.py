"""fastdl.distributions.transforms and TransformedDistribution against torch 2.13: forward,
inverse and log|det J| of each transform and of compositions, caching, and the change-of-
variables log_prob/cdf/icdf (with gradients) of transformed Normals (tanh-squashed policies,
sigmoid flows, negative affine scales)."""
import numpy as np
import pytest
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D
from distribution_cases import close, close_grads, positive, real, rng
from fastdl.testing import gradcheck

DTYPES = [np.float32, np.float64]


def transform_pairs(dtype):
    """(name, ours, theirs, inputs on their domain, values on their codomain)."""
    loc, scale = real(4).astype(dtype), (positive(4) * rng.choice([-1, 1], 4)).astype(dtype)
    x = real((3, 4)).astype(dtype) * 2
    return [
        ("Exp", D.ExpTransform(), T.ExpTransform()),
        ("Sigmoid", D.SigmoidTransform(), T.SigmoidTransform()),
        ("Tanh", D.TanhTransform(), T.TanhTransform()),
        ("Affine", D.AffineTransform(fastdl.tensor(loc), fastdl.tensor(scale)),
         T.AffineTransform(torch.tensor(loc), torch.tensor(scale))),
        ("AffineNumbers", D.AffineTransform(0.5, -3.0), T.AffineTransform(0.5, -3.0)),
        ("AffineEvent", D.AffineTransform(fastdl.tensor(loc), fastdl.tensor(scale), event_dim=1),
         T.AffineTransform(torch.tensor(loc), torch.tensor(scale), event_dim=1)),
        ("Compose", D.ComposeTransform([D.AffineTransform(0.3, 2.0), D.TanhTransform(),
                                        D.AffineTransform(fastdl.tensor(loc), fastdl.tensor(scale),
                                                          event_dim=1)]),
         T.ComposeTransform([T.AffineTransform(0.3, 2.0), T.TanhTransform(),
                             T.AffineTransform(torch.tensor(loc), torch.tensor(scale),
                                               event_dim=1)])),
    ], x


@pytest.mark.parametrize("dtype", DTYPES)
def test_transforms_match_torch(dtype):
    pairs, x = transform_pairs(dtype)
    for name, ours, theirs in pairs:
        x_ours = fastdl.tensor(x, requires_grad=True)
        x_theirs = torch.tensor(x, requires_grad=True)
        y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
        close(y_ours, y_theirs, dtype)
        ladj_ours = ours.log_abs_det_jacobian(x_ours, y_ours)
        ladj_theirs = theirs.log_abs_det_jacobian(x_theirs, y_theirs)
        close(ladj_ours, ladj_theirs, dtype)
        close_grads(y_ours, y_theirs, [x_ours], [x_theirs], dtype)
        if ladj_theirs.requires_grad:  # constant for affine maps
            close_grads(ladj_ours, ladj_theirs, [x_ours], [x_theirs], dtype)
        # the inverse, on values of the codomain computed without a cache
        y = y_theirs.detach().numpy()
        close(ours.inv(fastdl.tensor(y)), theirs.inv(torch.tensor(y)), dtype,
              rtol=1e-3 if dtype == np.float32 else 1e-7)
        inverse_ladj = ours.inv.log_abs_det_jacobian(fastdl.tensor(y), fastdl.tensor(x))
        close(inverse_ladj, theirs.inv.log_abs_det_jacobian(torch.tensor(y), torch.tensor(x)),
              dtype)
        assert ours.inv.inv is ours or name == "Compose", name
        assert (ours.domain.event_dim, ours.codomain.event_dim) == (
            theirs.domain.event_dim, theirs.codomain.event_dim), name


def test_transform_gradcheck_and_equality():
    x = fastdl.tensor(real((2, 3)), requires_grad=True)
    for transform in (D.TanhTransform(), D.SigmoidTransform(), D.ExpTransform()):
        assert gradcheck(lambda v: transform.log_abs_det_jacobian(v, transform(v)), [x])
        assert gradcheck(lambda v: transform.inv(transform(v)), [x])
    assert D.TanhTransform() == D.TanhTransform() and D.ExpTransform() != D.TanhTransform()
    assert D.AffineTransform(1.0, 2.0) == D.AffineTransform(1.0, 2.0)
    assert D.AffineTransform(1.0, 2.0) != D.AffineTransform(1.0, 3.0)
    assert D.ExpTransform().inv == D.ExpTransform().inv


def test_cache_returns_the_exact_preimage():
    """tanh(20) rounds to 1: only the cache recovers x (what SAC's log_prob relies on)."""
    x = fastdl.tensor([20.0, -0.5], dtype=fastdl.float64)
    cached = D.TanhTransform(cache_size=1)
    y = cached(x)
    assert cached.inv(y) is x
    assert not np.isfinite(D.TanhTransform().inv(y).numpy()[0])
    with pytest.raises(ValueError):
        D.TanhTransform(cache_size=2)


def _transformed_pair(dtype, with_grad=True):
    loc, scale = real((2, 3)).astype(dtype), positive(3).astype(dtype)
    shift, stretch = real(3).astype(dtype), (-positive(3)).astype(dtype)
    ours_p = [fastdl.tensor(a, requires_grad=with_grad) for a in (loc, scale, shift, stretch)]
    theirs_p = [torch.tensor(a, requires_grad=with_grad) for a in (loc, scale, shift, stretch)]
    ours = D.TransformedDistribution(D.Normal(ours_p[0], ours_p[1]), [
        D.AffineTransform(ours_p[2], ours_p[3]), D.SigmoidTransform()])
    theirs = T.TransformedDistribution(T.Normal(theirs_p[0], theirs_p[1]), [
        T.AffineTransform(theirs_p[2], theirs_p[3]), T.SigmoidTransform()])
    return ours, theirs, ours_p, theirs_p


@pytest.mark.parametrize("dtype", DTYPES)
def test_transformed_distribution_matches_torch(dtype):
    ours, theirs, ours_p, theirs_p = _transformed_pair(dtype)
    assert (ours.batch_shape, ours.event_shape) == ((2, 3), ())
    torch.manual_seed(8)
    value = theirs.sample((4,))
    value_ours = fastdl.tensor(value.numpy())
    for fn in (lambda d, v: d.log_prob(v), lambda d, v: d.cdf(v), lambda d, v: d.icdf(v)):
        out, ref = fn(ours, value_ours), fn(theirs, value)
        close(out, ref, dtype, rtol=1e-3 if dtype == np.float32 else 1e-7)
        if dtype == np.float64:  # float32 icdf gradients differ by the sigmoid's rounding
            close_grads(out, ref, ours_p, theirs_p, dtype)
    assert ours.rsample((5,)).shape == (5, 2, 3)
    assert str(ours.support) == "Interval(lower_bound=0.0, upper_bound=1.0)"


def test_transformed_distribution_gradcheck_and_independent_event():
    ours, _, ours_p, _ = _transformed_pair(np.float64)
    value = ours.sample((2,))

    def log_prob(loc, scale, shift, stretch):
        return D.TransformedDistribution(D.Normal(loc, scale), [
            D.AffineTransform(shift, stretch), D.SigmoidTransform()]).log_prob(value)

    assert gradcheck(log_prob, ours_p)
    # an event_dim=1 transform turns a batch of Normals into one vector event, as in torch
    base = D.Normal(fastdl.zeros(4, 3, dtype=fastdl.float64), fastdl.ones(3, dtype=fastdl.float64))
    flow = D.TransformedDistribution(base, [D.AffineTransform(0.0, fastdl.tensor(
        [1.0, 2.0, 3.0], dtype=fastdl.float64), event_dim=1)])
    theirs = T.TransformedDistribution(T.Normal(torch.zeros(4, 3, dtype=torch.float64),
                                                torch.ones(3, dtype=torch.float64)),
                                       [T.AffineTransform(0.0, torch.tensor([1.0, 2.0, 3.0],
                                                          dtype=torch.float64), event_dim=1)])
    assert (flow.batch_shape, flow.event_shape) == ((4,), (3,))
    v = real((4, 3))
    close(flow.log_prob(fastdl.tensor(v)), theirs.log_prob(torch.tensor(v)))


def test_tanh_squashed_policy_log_prob_through_the_cache():
    """SAC: a = tanh(u), u ~ N(mu, sigma) by rsample; log_prob(a) goes back to u through the
    cache and its gradient reaches mu and sigma like torch's."""
    mu, sigma = real(6) * 3, positive(6)
    ours_p = [fastdl.tensor(mu, requires_grad=True), fastdl.tensor(sigma, requires_grad=True)]
    theirs_p = [torch.tensor(mu, requires_grad=True), torch.tensor(sigma, requires_grad=True)]
    ours = D.TransformedDistribution(D.Normal(*ours_p), [D.TanhTransform(cache_size=1)])
    theirs = T.TransformedDistribution(T.Normal(*theirs_p), [T.TanhTransform(cache_size=1)])
    fastdl.manual_seed(0)
    action = ours.rsample()
    eps = (ours.transforms[0].inv(action).detach().numpy() - mu) / sigma
    theirs_action = torch.tanh(theirs_p[0] + theirs_p[1] * torch.tensor(eps))
    out, ref = ours.log_prob(action), theirs.log_prob(theirs_action)
    close(out, ref)
    close_grads(out, ref, ours_p, theirs_p, np.float64)


def _relaxed_class(library, name):
    """Where the two keep each relaxed distribution (the Exp/Logit bases in submodules)."""
    if library is D:
        return getattr(D.relaxed, name)
    module = T.relaxed_bernoulli if "Bernoulli" in name else T.relaxed_categorical
    return getattr(module, name)


def _relaxed_pair(name, temperature, given, param, dtype):
    t, a = np.asarray(temperature, dtype=dtype), np.asarray(param, dtype=dtype)
    ours_p = [fastdl.tensor(t, requires_grad=True), fastdl.tensor(a, requires_grad=True)]
    theirs_p = [torch.tensor(t, requires_grad=True), torch.tensor(a, requires_grad=True)]
    return (_relaxed_class(D, name)(ours_p[0], **{given: ours_p[1]}),
            _relaxed_class(T, name)(theirs_p[0], **{given: theirs_p[1]}), ours_p, theirs_p)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("name, shape", [("RelaxedBernoulli", (2, 3)),
                                         ("RelaxedOneHotCategorical", (2, 4)),
                                         ("LogitRelaxedBernoulli", (5,)),
                                         ("ExpRelaxedCategorical", (3,))])
def test_relaxed_distributions_match_torch(name, shape, given, dtype):
    param = rng.uniform(0.05, 1.0, shape)
    if "Categorical" in name:
        param /= param.sum(-1, keepdims=True)
    elif given == "probs":
        param = np.clip(param, 0.05, 0.95)
    param = param if given == "probs" else np.log(param)
    for temperature in (0.4, 1.5):
        ours, theirs, ours_p, theirs_p = _relaxed_pair(name, temperature, given, param, dtype)
        assert (ours.batch_shape, ours.event_shape) == (tuple(theirs.batch_shape),
                                                        tuple(theirs.event_shape))
        torch.manual_seed(10)
        value = theirs.sample((3,))
        out, ref = ours.log_prob(fastdl.tensor(value.numpy())), theirs.log_prob(value)
        close(out, ref, dtype, rtol=1e-3 if dtype == np.float32 else 1e-7)
        if dtype == np.float64:
            close_grads(out, ref, ours_p, theirs_p, dtype)
        assert ours.rsample((4,)).shape == (4,) + tuple(theirs.batch_shape + theirs.event_shape)


def test_relaxed_bernoulli_rsample_gradient_and_threshold_frequency():
    """x = sigmoid((logit(u) + logits) / T): P(x > 1/2) = probs at any temperature, and
    d logit(x) / d logits = 1 / T."""
    fastdl.manual_seed(13)
    probs = np.array([0.1, 0.5, 0.85])
    d = D.RelaxedBernoulli(fastdl.tensor(0.7, dtype=fastdl.float64), probs=fastdl.tensor(probs))
    x = d.sample((20000,)).numpy()
    assert np.all((x > 0) & (x < 1))
    assert np.all(np.abs((x > 0.5).mean(0) - probs) < 6 * np.sqrt(probs * (1 - probs) / 20000))
    logits = fastdl.tensor(np.log(probs / (1 - probs)), requires_grad=True)
    base = D.relaxed.LogitRelaxedBernoulli(fastdl.tensor(0.7, dtype=fastdl.float64), logits=logits)
    (grad,) = fastdl.autograd.grad(base.rsample((6,)).sum(), [logits])
    np.testing.assert_allclose(grad.numpy(), np.full(3, 6 / 0.7))


def test_gumbel_softmax_argmax_follows_the_probabilities():
    fastdl.manual_seed(14)
    probs = np.array([0.2, 0.5, 0.3])
    d = D.RelaxedOneHotCategorical(fastdl.tensor(0.5, dtype=fastdl.float64),
                                   probs=fastdl.tensor(probs))
    x = d.sample((20000,)).numpy()
    np.testing.assert_allclose(x.sum(-1), 1.0)
    freq = np.bincount(x.argmax(-1), minlength=3) / len(x)
    assert np.all(np.abs(freq - probs) < 6 * np.sqrt(probs * (1 - probs) / len(x)))
