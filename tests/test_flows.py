"""RealNVP (issue #13): invertibility, the log-determinant against a numerical Jacobian in
float64, log_prob against the change-of-variables formula and as a normalised density,
make_moons against scikit-learn, bad input, and that the flow beats a fitted Gaussian on
two moons at test size."""
import doctest
import math

import numpy as np
import pytest

import fastdl
import fastdl.models.flows as flows_module
from fastdl.data import make_moons
from fastdl.models import AffineCoupling, RealNVP


def test_docstring_examples_run():
    result = doctest.testmod(flows_module, extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 10


def _random_flow(features=3, layers=4, seed=0, scale=0.5):
    """A float64 flow with every parameter random (a fresh one is the identity)."""
    fastdl.manual_seed(seed)
    flow = RealNVP(features, num_layers=layers, hidden=12).double()
    rng = np.random.default_rng(seed)
    with fastdl.no_grad():
        for p in flow.parameters():
            p.copy_(fastdl.tensor(scale * rng.normal(size=p.shape)))
    return flow


def _numerical_jacobian(fn, x, eps=1e-6):
    """(N, D, D) Jacobians of a row-wise map by central differences."""
    n, d = x.shape
    jac = np.empty((n, d, d))
    for j in range(d):
        step = np.zeros(d)
        step[j] = eps
        jac[:, :, j] = (fn(x + step) - fn(x - step)) / (2 * eps)
    return jac


def test_fresh_flow_is_the_identity():
    flow = RealNVP(2, num_layers=3, hidden=8)
    x = fastdl.randn(5, 2)
    z, log_det = flow(x)
    np.testing.assert_array_equal(z.detach().numpy(), x.numpy())
    np.testing.assert_array_equal(log_det.detach().numpy(), np.zeros(5))


def test_inverse_of_forward_is_the_identity():
    flow = _random_flow()
    x = fastdl.tensor(np.random.default_rng(1).normal(size=(20, 3)))
    with fastdl.no_grad():
        z, _ = flow(x)
        assert np.abs(z.numpy() - x.numpy()).max() > 0.1  # not the identity
        np.testing.assert_allclose(flow.inverse(z).numpy(), x.numpy(), atol=1e-12)
        np.testing.assert_allclose(flow(flow.inverse(x))[0].numpy(), x.numpy(), atol=1e-12)
        for layer in flow.layers:  # each coupling: inverse log-det is minus the forward one
            y, ld = layer(x)
            back, ld_inv = layer.inverse(y)
            np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-12)
            np.testing.assert_allclose(ld_inv.numpy(), -ld.numpy(), atol=1e-12)


def test_log_det_and_log_prob_match_a_numerical_jacobian():
    flow = _random_flow()
    x = np.random.default_rng(2).normal(size=(10, 3))

    def f(points):
        with fastdl.no_grad():
            return flow(fastdl.tensor(points))[0].numpy()

    jac = _numerical_jacobian(f, x)
    sign, logabsdet = np.linalg.slogdet(jac)
    assert (sign != 0).all()
    with fastdl.no_grad():
        z, log_det = (t.numpy() for t in flow(fastdl.tensor(x)))
        log_prob = flow.log_prob(fastdl.tensor(x)).numpy()
    np.testing.assert_allclose(log_det, logabsdet, atol=1e-7)
    assert np.abs(log_det).max() > 0.3  # a non-trivial volume change
    # change of variables: log p(x) = log N(f(x); 0, I) + log |det J_f(x)|
    base = -0.5 * (z ** 2).sum(1) - 1.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(log_prob, base + logabsdet, atol=1e-7)


def test_density_integrates_to_one():
    flow = _random_flow(features=2, layers=4, seed=3, scale=0.3)
    grid = np.linspace(-10, 10, 201)
    xx, yy = np.meshgrid(grid, grid)
    points = fastdl.tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    with fastdl.no_grad():
        density = np.exp(flow.log_prob(points).numpy())
    mass = density.sum() * (grid[1] - grid[0]) ** 2
    assert abs(mass - 1.0) < 0.01, mass


def test_log_prob_gradient_matches_finite_differences():
    flow = _random_flow(features=2, layers=2, seed=4)
    x = fastdl.tensor(np.random.default_rng(5).normal(size=(3, 2)), requires_grad=True)
    assert fastdl.testing.gradcheck(lambda t: flow.log_prob(t), (x,))


def test_make_moons_matches_sklearn_layout():
    X, y = make_moons(101, noise=0.0, shuffle=False)
    assert X.shape == (101, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert (y[:50] == 0).all() and (y[50:] == 1).all()
    np.testing.assert_allclose(np.hypot(X[:50, 0], X[:50, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(X[50:, 0] - 1.0, X[50:, 1] - 0.5), 1.0, atol=1e-6)
    datasets = pytest.importorskip("sklearn.datasets")
    X_ref, y_ref = datasets.make_moons(101, noise=0.0, shuffle=False)
    np.testing.assert_allclose(X, X_ref, atol=1e-6)
    np.testing.assert_array_equal(y, y_ref)
    a, _ = make_moons(50, noise=0.1, seed=3)
    b, _ = make_moons(50, noise=0.1, seed=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="n_samples"):
        make_moons(1)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-1)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="features"):
        RealNVP(1)
    with pytest.raises(ValueError, match="num_layers"):
        RealNVP(2, num_layers=0)
    with pytest.raises(ValueError, match="keep some"):
        AffineCoupling([1, 1])
    with pytest.raises(ValueError, match="0/1"):
        AffineCoupling([1, 0.5])
    flow = RealNVP(2, num_layers=2, hidden=4)
    with pytest.raises(ValueError, match=r"\(N, 2\).*\(3, 3\)"):
        flow.log_prob(fastdl.randn(3, 3))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        flow.inverse(fastdl.randn(3))
    with pytest.raises(ValueError, match="n must be"):
        flow.sample(0)


def _gaussian_log_likelihood(train, test):
    mean, cov = train.mean(0), np.cov(train, rowvar=False, bias=True)
    diff = test - mean
    maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    return np.mean(-0.5 * (maha + np.linalg.slogdet(cov)[1] + 2 * np.log(2 * np.pi)))


def test_realnvp_beats_a_gaussian_on_two_moons():
    fastdl.manual_seed(0)
    X_train, _ = make_moons(1000, noise=0.08, seed=0)
    X_test, _ = make_moons(500, noise=0.08, seed=1)
    flow = RealNVP(2, num_layers=4, hidden=32)
    optimizer = fastdl.optim.Adam(flow.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(200):
        optimizer.zero_grad()
        (-flow.log_prob(fastdl.tensor(X_train[rng.integers(0, 1000, 256)])).mean()).backward()
        optimizer.step()
    with fastdl.no_grad():
        test_ll = flow.log_prob(fastdl.tensor(X_test)).mean().item()
    gaussian = _gaussian_log_likelihood(X_train, X_test)  # -1.90 nats
    assert test_ll > gaussian + 0.3, (test_ll, gaussian)  # measured ~ -1.3 after 200 steps
    samples = flow.sample(2000).numpy()
    assert np.isfinite(samples).all() and samples.shape == (2000, 2)
    # the samples keep the data's moments
    np.testing.assert_allclose(samples.mean(0), X_train.mean(0), atol=0.15)
