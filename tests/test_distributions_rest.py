"""Kumaraswamy, InverseGamma, FisherSnedecor, VonMises, ContinuousBernoulli, LogisticNormal,
OneHotCategoricalStraightThrough, ExponentialFamily and the event-wise transforms (softmax,
stick-breaking, Cholesky, positive-definite, reshape, independent, cat, stack, correlation
Cholesky) against torch.distributions 2.13."""
import numpy as np
import pytest
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D
from distribution_cases import (close, close_grads, cb_probs, moments_and_densities, pair, positive,
                                real, rng, sample_moments_match, unit)
from fastdl.testing import gradcheck

CONTINUOUS = {  # name: function(batch shape) -> parameter arrays
    "Kumaraswamy": lambda s: [positive(s), positive(s)],
    "InverseGamma": lambda s: [rng.uniform(0.5, 5.0, s), positive(s)],
    "FisherSnedecor": lambda s: [rng.uniform(0.5, 9.0, s), rng.uniform(1.0, 12.0, s)],
    "VonMises": lambda s: [real(s) * 2, rng.uniform(0.05, 8.0, s)],
}
HAS = {  # what torch defines beyond log_prob and the moments
    "Kumaraswamy": {"entropy", "cdf", "icdf"},
    "InverseGamma": {"entropy", "cdf"},
    "FisherSnedecor": set(),
    "VonMises": set(),
}
DTYPES = [np.float32, np.float64]


def _ours(value):
    return fastdl.tensor(value.numpy())


def _sample_value(theirs, sample_shape=(2,)):
    torch.manual_seed(20261130)
    return theirs.sample(sample_shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(5,), (2, 3), ()])
@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_values_and_gradients_match_torch(name, batch, dtype):
    ours, theirs, ours_p, theirs_p = pair(name, CONTINUOUS[name](batch), dtype)
    assert ours.batch_shape == tuple(theirs.batch_shape) == batch
    assert ours.has_rsample == theirs.has_rsample
    value = _sample_value(theirs)
    # VonMises: torch's log I0/I1 are polynomial fits good to ~2e-7 (their slopes to ~1e-6);
    # ours are exact (test_von_mises_is_exact checks them against scipy)
    tolerance = {"rtol": 2e-6, "atol": 1e-6} if name == "VonMises" and dtype == np.float64 else {}
    for statistic in ("mean", "mode", "variance"):
        close(getattr(ours, statistic), getattr(theirs, statistic), dtype, **tolerance)
    close(ours.log_prob(_ours(value)), theirs.log_prob(value), dtype, **tolerance)
    statistics = [lambda d, v: d.log_prob(v)]
    if "entropy" in HAS[name]:
        close(ours.entropy(), theirs.entropy(), dtype)
        statistics.append(lambda d, v: d.entropy())
    if name != "VonMises":
        statistics.append(lambda d, v: d.mean + d.stddev)
    if "cdf" in HAS[name]:
        close(ours.cdf(_ours(value)), theirs.cdf(value), dtype)
        if name != "InverseGamma":  # torch's gammainc has no gradient in the concentration
            statistics.append(lambda d, v: d.cdf(v))
    for fn in statistics:
        close_grads(fn(ours, _ours(value)), fn(theirs, value), ours_p, theirs_p, dtype,
                    **tolerance)
    if "icdf" in HAS[name]:
        u = rng.uniform(0.02, 0.98, (2,) + batch).astype(dtype)
        out, ref = ours.icdf(fastdl.tensor(u)), theirs.icdf(torch.tensor(u))
        close(out, ref, dtype)
        close_grads(out, ref, ours_p, theirs_p, dtype)


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_log_prob_gradcheck_expand_and_shapes(name):
    arrays = CONTINUOUS[name]((3,))
    params = [fastdl.tensor(a, requires_grad=True) for a in arrays]
    theirs = getattr(T, name)(*map(torch.tensor, arrays))
    value = _ours(_sample_value(theirs))
    assert gradcheck(lambda *p: getattr(D, name)(*p).log_prob(value), params)
    ours = getattr(D, name)(*[p.detach() for p in params])
    assert ours.sample((4, 2)).shape == tuple(theirs.sample((4, 2)).shape) == (4, 2, 3)
    expanded, t_expanded = ours.expand((2, 3)), theirs.expand((2, 3))
    assert type(expanded) is type(ours) and expanded.batch_shape == (2, 3)
    close(expanded.log_prob(value), t_expanded.log_prob(_sample_value(theirs).double()),
          rtol=2e-6, atol=1e-7)
    close(expanded.mean, t_expanded.mean)


STATISTICS = [  # (name, arrays, mean, variance) in closed form
    ("Kumaraswamy", [np.array([0.5, 3.0]), np.array([2.0, 1.5])]),
    ("InverseGamma", [np.array([6.0, 9.0]), np.array([1.0, 4.0])]),
    ("FisherSnedecor", [np.array([5.0, 12.0]), np.array([14.0, 20.0])]),
]


@pytest.mark.parametrize("name, arrays", STATISTICS, ids=[s[0] for s in STATISTICS])
def test_sample_mean_and_variance(name, arrays):
    """20000 draws: the mean within 6 standard errors, the variance within 20%."""
    sample_moments_match(name, arrays, seed=16)


def test_von_mises_is_exact():
    """log_prob and the circular variance against scipy to 1e-12, and d log_prob / d kappa =
    cos(x - loc) - I1(kappa) / I0(kappa) exactly."""
    stats = pytest.importorskip("scipy.stats")
    special = pytest.importorskip("scipy.special")
    loc, kappa = real(6), np.array([1e-4, 0.3, 1.0, 3.74, 3.76, 40.0])
    x = real(6) * 3
    k = fastdl.tensor(kappa, requires_grad=True)
    d = D.VonMises(fastdl.tensor(loc), k)
    log_prob = d.log_prob(fastdl.tensor(x))
    np.testing.assert_allclose(log_prob.detach().numpy(),
                               stats.vonmises.logpdf(x, kappa, loc=loc), rtol=1e-12)
    ratio = special.i1e(kappa) / special.i0e(kappa)
    np.testing.assert_allclose(d.variance.detach().numpy(), 1 - ratio, rtol=1e-12)
    (grad,) = fastdl.autograd.grad(log_prob.sum(), [k])
    np.testing.assert_allclose(grad.numpy(), np.cos(x - loc) - ratio, rtol=1e-10, atol=1e-14)


def test_von_mises_samples_have_the_circular_moments():
    """E[cos(x - loc)] = I1(k) / I0(k) = 1 - circular variance, E[sin(x - loc)] = 0, draws in
    [-pi, pi), within 6 standard errors over 20000 draws; float32 kept for float32 params."""
    fastdl.manual_seed(17)
    loc, kappa = np.array([0.5, -3.0, 2.0]), np.array([0.01, 1.0, 20.0])
    d = D.VonMises(fastdl.tensor(loc), fastdl.tensor(kappa))
    x = d.sample((20000,)).numpy()
    assert ((x >= -np.pi) & (x < np.pi)).all()
    cos, sin = np.cos(x - loc), np.sin(x - loc)
    resultant = 1 - d.variance.numpy()
    assert np.all(np.abs(cos.mean(0) - resultant) < 6 * cos.std(0) / np.sqrt(len(x)))
    assert np.all(np.abs(sin.mean(0)) < 6 * sin.std(0) / np.sqrt(len(x)))
    single = D.VonMises(fastdl.tensor([0.0], dtype=fastdl.float32), fastdl.tensor([1e-6])).sample((5,))
    assert single.dtype == np.float32 and single.shape == (5, 1)


def test_rsample_gradients_of_the_transformed_laws():
    """InverseGamma draws are 1 / Gamma draws: dx / d rate = x / rate exactly; Kumaraswamy's
    inverse-cdf draws satisfy cdf(x) = u, so the slope in b is -(dcdf/db) / density; the
    mean of FisherSnedecor's d x / d df1 is 0 (its mean does not depend on df1)."""
    fastdl.manual_seed(18)
    a, rate = (fastdl.tensor(np.array(v), requires_grad=True) for v in ([3.0, 0.7], [2.0, 0.5]))
    x = D.InverseGamma(a, rate).rsample((6,))
    (rate_grad,) = fastdl.autograd.grad(x.sum(), [rate])
    np.testing.assert_allclose(rate_grad.numpy(), (x.detach().numpy() / [2.0, 0.5]).sum(0),
                               rtol=1e-10)
    a, b = (fastdl.tensor(np.array(v), requires_grad=True) for v in ([2.0, 0.5], [3.0, 1.5]))
    x = D.Kumaraswamy(a, b).rsample((6,))
    a_grad, b_grad = fastdl.autograd.grad(x.sum(), [a, b])
    xv, av, bv = x.detach().numpy(), np.array([2.0, 0.5]), np.array([3.0, 1.5])
    # cdf = 1 - (1 - x^a)^b: dcdf/db = -(1 - x^a)^b log(1 - x^a), density a b x^(a-1) (1-x^a)^(b-1)
    one_minus = 1 - xv ** av
    density = av * bv * xv ** (av - 1) * one_minus ** (bv - 1)
    expected_b = (one_minus ** bv * np.log(one_minus) / density).sum(0)
    np.testing.assert_allclose(b_grad.numpy(), expected_b, rtol=1e-8)
    expected_a = (-(bv * one_minus ** (bv - 1) * xv ** av * np.log(xv)) / density).sum(0)
    np.testing.assert_allclose(a_grad.numpy(), expected_a, rtol=1e-8)
    df1 = fastdl.tensor(np.full((20000, 1), 6.0), requires_grad=True)
    (df1_grad,) = fastdl.autograd.grad(D.FisherSnedecor(df1, 30.0).rsample().sum(), [df1])
    g = df1_grad.numpy()
    assert abs(g.mean()) < 6 * g.std() / np.sqrt(len(g))


INVALID = [  # (name, arrays, the parameter our message names)
    ("Kumaraswamy", [[-1.0], [1.0]], "concentration1"),
    ("InverseGamma", [[1.0], [0.0]], "rate"),
    ("FisherSnedecor", [[1.0], [-2.0]], "df2"),
    ("VonMises", [[0.0], [-1.0]], "concentration"),
]


@pytest.mark.parametrize("name, arrays, param", INVALID)
def test_invalid_parameters_raise_like_torch(name, arrays, param):
    with pytest.raises(ValueError) as theirs:
        getattr(T, name)(*map(torch.tensor, arrays), validate_args=True)
    with pytest.raises(ValueError) as ours:
        getattr(D, name)(*map(fastdl.tensor, arrays), validate_args=True)
    # Kumaraswamy and InverseGamma report their base distribution's parameter, as torch;
    # torch's FisherSnedecor reports its inner Gamma's concentration, ours names df2
    assert str(ours.value).startswith(f"Expected parameter {param}")
    if name != "FisherSnedecor":
        assert str(ours.value).split(" (")[0] == str(theirs.value).split(" (")[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_continuous_bernoulli_matches_torch(given, dtype):
    # probs on both sides of and inside the Taylor region around 1/2
    probs = np.array([0.02, 0.3, 0.4995, 0.5, 0.5008, 0.7, 0.97])
    param = probs if given == "probs" else np.log(probs / (1 - probs))
    a = param.astype(dtype)
    ours_p, theirs_p = fastdl.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
    ours = D.ContinuousBernoulli(**{given: ours_p})
    theirs = T.ContinuousBernoulli(**{given: theirs_p})
    value = _sample_value(theirs, (3,))
    checked = moments_and_densities(ours, theirs, _ours(value), value, dtype)
    assert {"mean", "variance", "log_prob", "cdf"} <= set(checked)
    close(ours.entropy(), theirs.entropy(), dtype)
    u = rng.uniform(0.02, 0.98, (2, 7)).astype(dtype)
    close(ours.icdf(fastdl.tensor(u)), theirs.icdf(torch.tensor(u)), dtype)
    for fn in (lambda d, v: d.log_prob(v), lambda d, v: d.entropy(), lambda d, v: d.cdf(v),
               lambda d, v: d.mean + d.stddev):
        close_grads(fn(ours, _ours(value)), fn(theirs, value), [ours_p], [theirs_p], dtype)
    assert ours.rsample((4,)).shape == (4, 7) and ours.has_rsample
    expanded = ours.expand((2, 7))
    close(expanded.log_prob(_ours(value[:1])), theirs.expand((2, 7)).log_prob(value[:1]), dtype)


def test_continuous_bernoulli_rsample_is_its_icdf_and_validation():
    """rsample(u) = icdf(u): d x / d p = -(d cdf / d p) / density at x; torch's own probs check
    runs whenever validate_args is given."""
    fastdl.manual_seed(19)
    p = fastdl.tensor([0.2, 0.9, 0.5], dtype=fastdl.float64, requires_grad=True)
    x = D.ContinuousBernoulli(probs=p).rsample((5,))
    (grad,) = fastdl.autograd.grad(x.sum(), [p])
    xv = x.detach()
    rows = []
    for row in xv.numpy():
        q = fastdl.tensor(p.detach().numpy(), requires_grad=True)
        d = D.ContinuousBernoulli(probs=q)
        (cdf_grad,) = fastdl.autograd.grad(d.cdf(fastdl.tensor(row)).sum(), [q])
        rows.append(-cdf_grad.numpy() / d.log_prob(fastdl.tensor(row)).exp().detach().numpy())
    np.testing.assert_allclose(grad.numpy(), np.sum(rows, 0), rtol=1e-6, atol=1e-9)
    for library, tensor in ((D, fastdl.tensor), (T, torch.tensor)):
        with pytest.raises(ValueError, match="The parameter probs has invalid values"):
            library.ContinuousBernoulli(probs=tensor([1.5]), validate_args=False)
        with pytest.raises(ValueError, match="support"):
            library.ContinuousBernoulli(probs=tensor([0.5]), validate_args=True).log_prob(
                tensor([1.5]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_exponential_family_bregman_entropy_and_kl(dtype):
    """The generic ExponentialFamily entropy (autograd of the log normalizer) agrees with the
    closed form; the generic Bregman KL between two ContinuousBernoullis with torch's."""
    p = cb_probs(6).astype(dtype)
    ours = D.ContinuousBernoulli(probs=fastdl.tensor(p))
    theirs = T.ContinuousBernoulli(probs=torch.tensor(p))
    close(D.ExponentialFamily.entropy(ours), T.ExponentialFamily.entropy(theirs), dtype)
    close(D.ExponentialFamily.entropy(ours), ours.entropy(), dtype, rtol=1e-3 if dtype == np.float32 else 1e-6)
    q = cb_probs(6).astype(dtype)
    from fastdl.distributions.exp_family import bregman_kl
    close(bregman_kl(ours, D.ContinuousBernoulli(probs=fastdl.tensor(q))),
          torch.distributions.kl._kl_expfamily_expfamily(
              theirs, T.ContinuousBernoulli(probs=torch.tensor(q))), dtype)
    with pytest.raises(NotImplementedError):
        bregman_kl(ours, D.Normal(0.0, 1.0))
    assert isinstance(ours, D.ExponentialFamily)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_normal_matches_torch(dtype):
    ours, theirs, ours_p, theirs_p = pair("LogisticNormal", [real((2, 3)), positive(3)], dtype)
    assert (ours.batch_shape, ours.event_shape) == ((2,), (4,))
    value = _sample_value(theirs)
    close(ours.log_prob(_ours(value)), theirs.log_prob(value), dtype)
    close_grads(ours.log_prob(_ours(value)), theirs.log_prob(value), ours_p, theirs_p, dtype)
    x = ours.rsample((5,))
    assert x.shape == (5, 2, 4) and np.allclose(x.detach().numpy().sum(-1), 1)
    grads = fastdl.autograd.grad(x[..., 0].sum(), ours_p)
    assert all(np.isfinite(g.numpy()).all() and np.abs(g.numpy()).sum() > 0 for g in grads)
    scalar, t_scalar, _, _ = pair("LogisticNormal", [0.5, 2.0], dtype)
    assert scalar.event_shape == tuple(t_scalar.event_shape) == (2,)
    close(ours.expand((3, 2)).log_prob(_ours(value[:1])),
          theirs.expand((3, 2)).log_prob(value[:1]), dtype)


def test_one_hot_categorical_straight_through():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    p = fastdl.tensor(probs, requires_grad=True)
    d = D.OneHotCategoricalStraightThrough(probs=p)
    assert d.has_rsample and isinstance(d, D.OneHotCategorical)
    fastdl.manual_seed(20)
    x = d.rsample((4,))
    assert x.shape == (4, 2, 3) and set(np.unique(x.detach().numpy())) == {0.0, 1.0}
    weights = rng.standard_normal((4, 2, 3))
    (ours,) = fastdl.autograd.grad((x * fastdl.tensor(weights)).sum(), [p])
    tp = torch.tensor(probs, requires_grad=True)
    probs_t = T.OneHotCategoricalStraightThrough(probs=tp).probs
    (theirs,) = torch.autograd.grad((probs_t * torch.tensor(weights)).sum(), [tp])
    close(ours, theirs)  # the gradient is the one of probs, whatever was drawn


def _structured_cases(dtype):
    square = real((2, 3, 3)).astype(dtype)
    spd = square @ np.swapaxes(square, -1, -2) + 3 * np.eye(3, dtype=dtype)
    return [  # (ours, theirs, x, has log|det|)
        (D.SoftmaxTransform(), T.transforms.SoftmaxTransform(), real((3, 4)).astype(dtype), False),
        (D.StickBreakingTransform(), T.transforms.StickBreakingTransform(),
         real((3, 4)).astype(dtype), True),
        (D.LowerCholeskyTransform(), T.transforms.LowerCholeskyTransform(), square, False),
        (D.PositiveDefiniteTransform(), T.transforms.PositiveDefiniteTransform(), square, False),
        (D.ReshapeTransform((6,), (2, 3)), T.transforms.ReshapeTransform((6,), (2, 3)),
         real((4, 6)).astype(dtype), True),
        (D.IndependentTransform(D.ExpTransform(), 2),
         T.transforms.IndependentTransform(T.transforms.ExpTransform(), 2),
         real((2, 3, 4)).astype(dtype), True),
    ], spd


@pytest.mark.parametrize("dtype", DTYPES)
def test_structured_transforms_match_torch(dtype):
    cases, spd = _structured_cases(dtype)
    for ours, theirs, x, has_jacobian in cases:
        ours_x, theirs_x = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ref = ours(ours_x), theirs(theirs_x)
        close(y, ref, dtype)
        close_grads(y, ref, [ours_x], [theirs_x], dtype)
        close(ours.inv(y), theirs.inv(ref), dtype, rtol=1e-4 if dtype == np.float32 else 1e-7)
        assert ours.forward_shape(x.shape) == tuple(theirs.forward_shape(x.shape))
        assert ours.inverse_shape(tuple(ref.shape)) == tuple(theirs.inverse_shape(ref.shape))
        assert (ours.domain.event_dim, ours.codomain.event_dim) == (
            theirs.domain.event_dim, theirs.codomain.event_dim)
        assert ours.bijective == theirs.bijective
        assert bool(ours.codomain.check(y.detach()).all())
        if has_jacobian:
            jacobian = ours.log_abs_det_jacobian(ours_x, y)
            t_jacobian = theirs.log_abs_det_jacobian(theirs_x, ref)
            close(jacobian, t_jacobian, dtype)
            if jacobian.requires_grad:
                close_grads(jacobian, t_jacobian, [ours_x], [theirs_x], dtype)
    x = D.PositiveDefiniteTransform().inv(fastdl.tensor(spd))
    close(x, T.transforms.PositiveDefiniteTransform().inv(torch.tensor(spd)), dtype,
          rtol=1e-4 if dtype == np.float32 else 1e-7)


def test_structured_transform_errors_and_equality():
    with pytest.raises(ValueError, match="different numbers of elements"):
        D.ReshapeTransform((4,), (3,))
    with pytest.raises(ValueError, match="Shape mismatch"):
        D.ReshapeTransform((4,), (2, 2)).forward_shape((3, 5))
    with pytest.raises(ValueError, match="Too few dimensions"):
        D.StickBreakingTransform().forward_shape(())
    assert D.StickBreakingTransform() == D.StickBreakingTransform() != D.SoftmaxTransform()
    assert D.transforms.AbsTransform is D.AbsTransform
    # a stick-breaking flow: a TransformedDistribution whose event grows by one
    base = D.Independent(D.Normal(fastdl.zeros(3), fastdl.ones(3)), 1)
    flow = D.TransformedDistribution(base, [D.StickBreakingTransform()])
    theirs = T.TransformedDistribution(T.Independent(T.Normal(torch.zeros(3), torch.ones(3)), 1),
                                       [T.transforms.StickBreakingTransform()])
    assert flow.event_shape == tuple(theirs.event_shape) == (4,)
    value = _sample_value(theirs)
    close(flow.log_prob(_ours(value)), theirs.log_prob(value))


def _joined_cases(dtype):
    x = real((3, 6)).astype(dtype)
    exp = (D.ExpTransform(), T.transforms.ExpTransform())
    affine = (D.AffineTransform(0.5, 2.0), T.transforms.AffineTransform(0.5, 2.0))
    return [  # (ours, theirs, x)
        (D.CorrCholeskyTransform(), T.transforms.CorrCholeskyTransform(), x),
        (D.CatTransform([exp[0], affine[0]], dim=-1, lengths=[2, 4]),
         T.transforms.CatTransform([exp[1], affine[1]], dim=-1, lengths=[2, 4]), x),
        (D.CatTransform([exp[0], affine[0]], dim=0, lengths=[1, 2]),
         T.transforms.CatTransform([exp[1], affine[1]], dim=0, lengths=[1, 2]), x),
        # event dims of 1 along the joined dim: the pieces' log|det|s add up
        (D.CatTransform([D.IndependentTransform(exp[0], 1), D.IndependentTransform(affine[0], 1)],
                        dim=-1, lengths=[2, 4]),
         T.transforms.CatTransform([T.transforms.IndependentTransform(exp[1], 1),
                                    T.transforms.IndependentTransform(affine[1], 1)],
                                   dim=-1, lengths=[2, 4]), x),
        (D.StackTransform([exp[0], affine[0], exp[0]], dim=0),
         T.transforms.StackTransform([exp[1], affine[1], exp[1]], dim=0), x),
        (D.StackTransform([exp[0], affine[0]], dim=-1),
         T.transforms.StackTransform([exp[1], affine[1]], dim=-1), x[:, :2]),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_joined_and_corr_cholesky_transforms_match_torch(dtype):
    for ours, theirs, x in _joined_cases(dtype):
        ours_x, theirs_x = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ref = ours(ours_x), theirs(theirs_x)
        close(y, ref, dtype)
        close_grads(y, ref, [ours_x], [theirs_x], dtype)
        close(ours.inv(y), theirs.inv(ref), dtype, rtol=1e-4 if dtype == np.float32 else 1e-7)
        jacobian = ours.log_abs_det_jacobian(ours_x, y)
        t_jacobian = theirs.log_abs_det_jacobian(theirs_x, ref)
        close(jacobian, t_jacobian, dtype)
        close_grads(jacobian, t_jacobian, [ours_x], [theirs_x], dtype)
        assert ours.bijective == theirs.bijective
        assert (ours.domain.event_dim, ours.codomain.event_dim) == (
            theirs.domain.event_dim, theirs.codomain.event_dim)
        close(ours.codomain.check(y.detach()), theirs.codomain.check(ref.detach()))
        close(ours.domain.check(ours_x.detach()), theirs.domain.check(theirs_x.detach()))
        cached = ours.with_cache(1)
        assert cached.inv(cached(ours_x)) is ours_x


def test_corr_cholesky_shapes_and_joined_errors():
    t = D.CorrCholeskyTransform()
    assert t.forward_shape((5, 6)) == (5, 4, 4) and t.inverse_shape((5, 4, 4)) == (5, 6)
    with pytest.raises(ValueError, match="flattened lower-diagonal"):
        t.forward_shape((5,))
    with pytest.raises(ValueError, match="not square"):
        t.inverse_shape((3, 4))
    y = t(fastdl.tensor(real((2, 10))))  # 5 x 5 factors: L L^T has a unit diagonal
    corr = (y @ y.mT).numpy()
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, rtol=1e-6)
    assert bool(D.constraints.corr_cholesky.check(y).all())
    with pytest.raises(AssertionError, match="must equal length"):
        D.CatTransform([D.ExpTransform()], dim=0, lengths=[2])(fastdl.zeros(3))
    with pytest.raises(AssertionError, match="must equal len"):
        D.StackTransform([D.ExpTransform()], dim=0)(fastdl.zeros(3))
    with pytest.raises(AssertionError, match="must match"):
        D.CatTransform([D.ExpTransform()], lengths=[1, 2])


EXPONENTIAL_FAMILIES = {  # name: arrays of p, arrays of q; the members torch derives from it
    "Normal": lambda: ([real(4), positive(4)], [real(4), positive(4)]),
    "Gamma": lambda: ([positive(4), positive(4)], [positive(4), positive(4)]),
    "Exponential": lambda: ([positive(4)], [positive(4)]),
    "Beta": lambda: ([positive(4), positive(4)], [positive(4), positive(4)]),
    "Dirichlet": lambda: ([positive((2, 3))], [positive((2, 3))]),
    "Poisson": lambda: ([positive(4)], [positive(4)]),
    "Bernoulli": lambda: ([unit(4)], [unit(4)]),
}


@pytest.mark.parametrize("name", sorted(EXPONENTIAL_FAMILIES))
def test_exponential_family_members_match_torch(name):
    """The natural parameters and log normalizers agree with torch's: the Bregman KL equals
    torch's generic one and the closed-form KL; the generic entropy (where the carrier
    measure is defined) equals the closed form."""
    p_arrays, q_arrays = EXPONENTIAL_FAMILIES[name]()
    ours_p, theirs_p, _, _ = pair(name, p_arrays, np.float64, requires_grad=False)
    ours_q, theirs_q, _, _ = pair(name, q_arrays, np.float64, requires_grad=False)
    assert isinstance(ours_p, D.ExponentialFamily) == isinstance(theirs_p, T.ExponentialFamily)
    from fastdl.distributions.exp_family import bregman_kl
    generic = bregman_kl(ours_p, ours_q)
    close(generic, torch.distributions.kl._kl_expfamily_expfamily(theirs_p, theirs_q))
    close(generic, D.kl_divergence(ours_p, ours_q), rtol=1e-6, atol=1e-9)
    if name in ("Normal", "Gamma", "Exponential", "Bernoulli"):
        close(D.ExponentialFamily.entropy(ours_p), ours_p.entropy(), rtol=1e-9)
    else:  # torch leaves these carrier measures undefined
        with pytest.raises(NotImplementedError):
            D.ExponentialFamily.entropy(ours_p)
    other = D.Poisson(fastdl.tensor([2.0])) if name != "Poisson" else D.Exponential(2.0)
    with pytest.raises(NotImplementedError, match="No KL.*different exponential families"):
        D.kl_divergence(ours_p, other)
