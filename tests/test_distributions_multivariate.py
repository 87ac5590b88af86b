"""fastdl.distributions.MultivariateNormal against torch.distributions 2.13: the three
parametrizations, broadcast batches, gradients through the Cholesky factor and triangular
solves, rsample's loc + L eps structure, sample covariance and the MVN-MVN KL."""
import numpy as np
import pytest
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D
from distribution_cases import close, close_grads, moments_and_densities, real, rng
from fastdl.testing import gradcheck

DTYPES = [np.float32, np.float64]
PARAMETRIZATIONS = ["covariance_matrix", "precision_matrix", "scale_tril"]


def spd(batch, n):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) / n + np.eye(n)


def matrix_for(name, batch, n):
    m = spd(batch, n)
    return np.linalg.cholesky(m) if name == "scale_tril" else m


def mvn_pair(name, loc, matrix, dtype):
    tensors = []
    for lib in (fastdl, torch):
        loc_t = lib.tensor(loc.astype(dtype), requires_grad=True)
        matrix_t = lib.tensor(matrix.astype(dtype), requires_grad=True)
        tensors.append((loc_t, matrix_t))
    (lo, mo), (lt, mt) = tensors
    return (D.MultivariateNormal(lo, **{name: mo}), T.MultivariateNormal(lt, **{name: mt}),
            [lo, mo], [lt, mt])


CASES = [((4, 3), (), 3), ((3,), (2, 1), 3), ((5,), (), 5), ((2, 1, 2), (3,), 2), ((1,), (), 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loc_shape, matrix_batch, n", CASES)
@pytest.mark.parametrize("name", PARAMETRIZATIONS)
def test_multivariate_normal_matches_torch(name, loc_shape, matrix_batch, n, dtype):
    loc = real(loc_shape[:-1] + (n,))
    _matches_torch(*mvn_pair(name, loc, matrix_for(name, matrix_batch, n), dtype), dtype)


def _matches_torch(ours, theirs, ours_p, theirs_p, dtype):
    """Shapes, moments, the three matrices, log_prob and entropy with their gradients."""
    assert (ours.batch_shape, ours.event_shape) == (tuple(theirs.batch_shape),
                                                    tuple(theirs.event_shape))
    torch.manual_seed(4)
    value = theirs.sample((2,))
    value_ours = fastdl.tensor(value.numpy())
    assert {"mean", "variance", "log_prob"} <= set(
        moments_and_densities(ours, theirs, value_ours, value, dtype))
    for attribute in PARAMETRIZATIONS:
        close(getattr(ours, attribute), getattr(theirs, attribute), dtype, rtol=1e-3 if
              dtype == np.float32 else 1e-7)
    close(ours.entropy(), theirs.entropy(), dtype)
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), ours_p, theirs_p, dtype)
    close_grads(ours.entropy(), theirs.entropy(), ours_p, theirs_p, dtype)


def test_multivariate_normal_log_prob_gradcheck():
    loc, tril = real((2, 3)), np.linalg.cholesky(spd((), 3))
    value = fastdl.tensor(real((4, 2, 3)))
    # validate_args=False: gradcheck's nudges leave the triangle (the upper part is unread)
    assert gradcheck(lambda m, L: D.MultivariateNormal(m, scale_tril=L, validate_args=False)
                     .log_prob(value),
                     [fastdl.tensor(loc, requires_grad=True),
                      fastdl.tensor(tril, requires_grad=True)])
    # symmetrized: the Cholesky factor reads one triangle, its gradient is the symmetric one
    assert gradcheck(lambda m, C: D.MultivariateNormal(m, covariance_matrix=(C + C.mT) / 2,
                                                       validate_args=False).log_prob(value),
                     [fastdl.tensor(loc, requires_grad=True),
                      fastdl.tensor(spd((), 3), requires_grad=True)])


def test_rsample_is_loc_plus_scale_tril_times_a_standard_draw():
    loc = fastdl.tensor(real((2, 3)), requires_grad=True)
    tril = fastdl.tensor(np.linalg.cholesky(spd((), 3)), requires_grad=True)
    x = D.MultivariateNormal(loc, scale_tril=tril).rsample((7,))
    assert x.shape == (7, 2, 3)
    loc_grad, tril_grad = fastdl.autograd.grad(x.sum(), [loc, tril])
    np.testing.assert_allclose(loc_grad.numpy(), np.full((2, 3), 7.0))
    eps = np.linalg.solve(tril.detach().numpy(), (x - loc).detach().numpy()[..., None])[..., 0]
    # d sum(L eps) / d L[i, j] = sum of eps_j over draws (every row i alike)
    expected = np.tril(np.broadcast_to(eps.sum((0, 1)), (3, 3)))
    np.testing.assert_allclose(np.tril(tril_grad.numpy()), expected, rtol=1e-10, atol=1e-12)


def test_sample_mean_and_covariance():
    """20000 draws: mean within 6 standard errors, covariance within 0.08 (> 5 standard errors
    of the entries for these unit-scale matrices)."""
    fastdl.manual_seed(9)
    cov = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
    loc = np.array([1.0, -2.0, 0.5])
    x = D.MultivariateNormal(fastdl.tensor(loc), covariance_matrix=fastdl.tensor(cov)).sample(
        (20000,)).numpy()
    assert np.all(np.abs(x.mean(0) - loc) < 6 * np.sqrt(np.diag(cov) / len(x)))
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.08)
    fastdl.manual_seed(9)
    again = D.MultivariateNormal(fastdl.tensor(loc), covariance_matrix=fastdl.tensor(cov))
    np.testing.assert_array_equal(again.sample((20000,)).numpy(), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_multivariate_normal(dtype):
    p, tp, p_ours, p_theirs = mvn_pair("scale_tril", real((2, 3)),
                                       np.linalg.cholesky(spd((2,), 3)), dtype)
    q, tq, q_ours, q_theirs = mvn_pair("covariance_matrix", real(3), spd((), 3), dtype)
    out, ref = D.kl_divergence(p, q), T.kl_divergence(tp, tq)
    close(out, ref, dtype)
    close_grads(out, ref, p_ours + q_ours, p_theirs + q_theirs, dtype)
    close(D.kl_divergence(p, p), torch.zeros(2, dtype=tp.loc.dtype), dtype)
    other = D.MultivariateNormal(fastdl.zeros(2, dtype=dtype), scale_tril=fastdl.eye(2, dtype=dtype))
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(p, other)


def test_multivariate_normal_argument_errors():
    loc = fastdl.zeros(2)
    with pytest.raises(ValueError, match="Exactly one of"):
        D.MultivariateNormal(loc)
    with pytest.raises(ValueError, match="Exactly one of"):
        D.MultivariateNormal(loc, covariance_matrix=fastdl.eye(2), scale_tril=fastdl.eye(2))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        D.MultivariateNormal(fastdl.tensor(0.0), scale_tril=fastdl.eye(2))
    with pytest.raises(ValueError, match="PositiveDefinite"):
        D.MultivariateNormal(loc, covariance_matrix=fastdl.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="LowerCholesky"):
        D.MultivariateNormal(loc, scale_tril=fastdl.tensor([[1.0, 0.5], [0.0, 1.0]]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4,), (2, 3, 5), (1, 2)])
def test_dirichlet_matches_torch(shape, dtype):
    concentration = rng.uniform(0.3, 4.0, shape).astype(dtype)
    ours_c = fastdl.tensor(concentration, requires_grad=True)
    theirs_c = torch.tensor(concentration, requires_grad=True)
    ours, theirs = D.Dirichlet(ours_c), T.Dirichlet(theirs_c)
    assert (ours.batch_shape, ours.event_shape) == (shape[:-1], shape[-1:])
    torch.manual_seed(7)
    value = theirs.sample((3,))
    value_ours = fastdl.tensor(value.numpy())
    assert {"mean", "mode", "variance", "log_prob"} <= set(
        moments_and_densities(ours, theirs, value_ours, value, dtype))
    close(ours.entropy(), theirs.entropy(), dtype)
    close_grads(ours.log_prob(value_ours), theirs.log_prob(value), [ours_c], [theirs_c], dtype)
    close_grads(ours.entropy(), theirs.entropy(), [ours_c], [theirs_c], dtype)
    other = rng.uniform(0.3, 4.0, shape[-1:]).astype(dtype)
    other_ours, other_theirs = fastdl.tensor(other, requires_grad=True), torch.tensor(
        other, requires_grad=True)
    out = D.kl_divergence(ours, D.Dirichlet(other_ours))
    ref = T.kl_divergence(theirs, T.Dirichlet(other_theirs))
    close(out, ref, dtype)
    close_grads(out, ref, [ours_c, other_ours], [theirs_c, other_theirs], dtype)
    if dtype == np.float64:
        assert gradcheck(lambda c: D.Dirichlet(c).log_prob(value_ours),
                         [fastdl.tensor(concentration, requires_grad=True)])


def test_dirichlet_samples():
    """20000 draws on the simplex: component means within 6 standard errors."""
    fastdl.manual_seed(12)
    concentration = np.array([[0.5, 1.0, 2.5], [6.0, 2.0, 1.0]])
    d = D.Dirichlet(fastdl.tensor(concentration))
    x = d.sample((20000,)).numpy()
    assert x.shape == (20000, 2, 3) and np.allclose(x.sum(-1), 1.0)
    mean, variance = d.mean.numpy(), d.variance.numpy()
    assert np.all(np.abs(x.mean(0) - mean) < 6 * np.sqrt(variance / len(x)))
    np.testing.assert_allclose(x.var(0), variance, rtol=0.1)
    fastdl.manual_seed(12)
    np.testing.assert_array_equal(d.sample((20000,)).numpy(), x)


def lowrank_pair(loc, factor, diag, dtype):
    made = []
    for lib in (fastdl, torch):
        params = [lib.tensor(a.astype(dtype), requires_grad=True) for a in (loc, factor, diag)]
        made.append(params)
    return (D.LowRankMultivariateNormal(*made[0]), T.LowRankMultivariateNormal(*made[1]),
            made[0], made[1])


LOWRANK_CASES = [((4,), (4, 2), (4,)), ((2, 1, 5), (3, 5, 1), (5,)), ((3,), (2, 3, 3), (2, 3))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loc_shape, factor_shape, diag_shape", LOWRANK_CASES)
def test_low_rank_multivariate_normal_matches_torch(loc_shape, factor_shape, diag_shape, dtype):
    ours, theirs, ours_p, theirs_p = lowrank_pair(real(loc_shape), real(factor_shape),
                                                  rng.uniform(0.3, 2.0, diag_shape), dtype)
    _matches_torch(ours, theirs, ours_p, theirs_p, dtype)
    full, t_full, full_ours, full_theirs = mvn_pair("scale_tril", real(loc_shape[-1:]),
                                                    np.linalg.cholesky(spd((), loc_shape[-1])),
                                                    dtype)
    for out, ref in ((D.kl_divergence(ours, full), T.kl_divergence(theirs, t_full)),
                     (D.kl_divergence(full, ours), T.kl_divergence(t_full, theirs)),
                     (D.kl_divergence(ours, ours), T.kl_divergence(theirs, theirs))):
        close(out, ref, dtype, atol=1e-4 if dtype == np.float32 else 1e-9)
    out, ref = D.kl_divergence(ours, full), T.kl_divergence(theirs, t_full)
    close_grads(out, ref, ours_p + full_ours, theirs_p + full_theirs, dtype)


def test_low_rank_rsample_and_sample_covariance():
    fastdl.manual_seed(16)
    loc, factor, diag = np.array([1.0, 0.0, -1.0]), np.array([[1.0], [0.5], [-0.5]]), \
        np.array([0.5, 1.0, 0.25])
    params = [fastdl.tensor(a, requires_grad=True) for a in (loc, factor, diag)]
    d = D.LowRankMultivariateNormal(*params)
    x = d.rsample((20000,))
    loc_grad, diag_grad = fastdl.autograd.grad(x.sum(), [params[0], params[2]])
    np.testing.assert_allclose(loc_grad.numpy(), np.full(3, 20000.0))
    # d (sqrt(D) eps) / dD = eps / (2 sqrt(D)), whose sum over draws is near 0 (6 sigma)
    assert np.all(np.abs(diag_grad.numpy()) < 6 * np.sqrt(20000) / (2 * np.sqrt(diag)))
    samples = x.detach().numpy()
    covariance = factor @ factor.T + np.diag(diag)
    assert np.all(np.abs(samples.mean(0) - loc) < 6 * np.sqrt(np.diag(covariance) / 20000))
    np.testing.assert_allclose(np.cov(samples.T), covariance, atol=0.06)


def test_low_rank_argument_errors():
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices with shape 3 x m"):
        D.LowRankMultivariateNormal(fastdl.zeros(3), fastdl.ones(2, 1), fastdl.ones(3))
    with pytest.raises(ValueError, match="cov_diag must be a batch of vectors"):
        D.LowRankMultivariateNormal(fastdl.zeros(3), fastdl.ones(3, 1), fastdl.ones(2))
    with pytest.raises(ValueError, match="Incompatible batch shapes"):
        D.LowRankMultivariateNormal(fastdl.zeros(2, 3), fastdl.ones(4, 3, 1), fastdl.ones(3))
    with pytest.raises(ValueError, match="cov_diag"):
        D.LowRankMultivariateNormal(fastdl.zeros(3), fastdl.ones(3, 1), -fastdl.ones(3))
