"""Shared helpers of the distribution tests: fastdl/torch distribution pairs built from the same
numpy parameters, and value comparison."""
import numpy as np
import torch
import torch.distributions as T

import fastdl
import fastdl.distributions as D

rng = np.random.default_rng(20261130)  # fixed: the same parameters on every run


def real(shape):
    return rng.standard_normal(shape)


def positive(shape):
    return rng.uniform(0.4, 2.5, shape)


def unit(shape):
    return rng.uniform(0.05, 0.95, shape)


def simplex(shape):
    p = rng.uniform(0.05, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def cb_probs(n):
    """ContinuousBernoulli probs outside (0.42, 0.58): closer to 1/2 (but outside torch's
    Taylor region) both libraries' float32 closed forms cancel to ~1% accuracy."""
    below = rng.uniform(0.03, 0.42, n)
    return np.where(rng.random(n) < 0.5, below, 1 - below)


def pair(name, arrays, dtype, requires_grad=True, **kwargs):
    """(ours, theirs, our params, their params): the same named distribution on the same
    arrays; ``arrays`` are positional parameters, numpy arrays or Python numbers (0-d draws
    like rng.standard_normal(()) are numpy float64 scalars, which are floats: both libraries
    then make default-dtype tensors of them)."""
    ours_p, theirs_p = [], []
    for a in arrays:
        if isinstance(a, (int, float)):
            ours_p.append(a)
            theirs_p.append(a)
            continue
        a = np.asarray(a, dtype=dtype)
        ours_p.append(fastdl.tensor(a.copy(), requires_grad=requires_grad))
        theirs_p.append(torch.tensor(a.copy(), requires_grad=requires_grad))
    ours = getattr(D, name)(*ours_p, **kwargs)
    theirs = getattr(T, name)(*theirs_p, **kwargs)
    return ours, theirs, ours_p, theirs_p


def to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def close(ours, theirs, dtype=None, rtol=None, atol=None):
    ours, theirs = to_numpy(ours), to_numpy(theirs)
    single = np.float32 in (dtype, theirs.dtype)  # Python-number parameters give float32
    rtol = rtol if rtol is not None else 2e-4 if single else 1e-7
    atol = atol if atol is not None else 2e-5 if single else 1e-9
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def close_grads(out, ref, ours_p, theirs_p, dtype, **tolerance):
    """Backpropagate the same random weights through both and compare parameter gradients
    (retain_graph: the parameters' broadcast views are shared by every statistic of a
    distribution, and fastdl frees a graph's nodes after a backward through them)."""
    if not ref.requires_grad:  # Python-number parameters: nothing to differentiate
        assert not out.requires_grad
        return
    weights = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    ours_grads = fastdl.autograd.grad((out * fastdl.tensor(weights)).sum(),
                                      [p for p in ours_p if isinstance(p, fastdl.Tensor)],
                                      allow_unused=True, retain_graph=True)
    theirs_grads = torch.autograd.grad((ref * torch.tensor(weights)).sum(),
                                       [p for p in theirs_p if isinstance(p, torch.Tensor)],
                                       allow_unused=True, retain_graph=True)
    for g, h in zip(ours_grads, theirs_grads):
        if h is None:
            assert g is None or not np.any(to_numpy(g))
        else:
            close(g, h, dtype, **tolerance)


def moments_and_densities(ours, theirs, value_ours, value_theirs, dtype):
    """Compare every statistic torch defines for the pair (skipping the ones it raises on)."""
    checked = []
    for name in ("mean", "mode", "variance", "stddev"):
        try:
            ref = getattr(theirs, name)
        except NotImplementedError:
            continue
        close(getattr(ours, name), ref, dtype)
        checked.append(name)
    for name in ("log_prob", "cdf"):
        try:
            ref = getattr(theirs, name)(value_theirs)
        except NotImplementedError:
            continue
        close(getattr(ours, name)(value_ours), ref, dtype)
        checked.append(name)
    return checked


def kl_matches_torch(p_name, p_arrays, q_name, q_arrays, dtype):
    """kl_divergence of the pair built from the same arrays in both libraries: values, and
    parameter gradients where torch's value is finite."""
    ours_p, theirs_p, op, tp = pair(p_name, p_arrays, dtype)
    ours_q, theirs_q, oq, tq = pair(q_name, q_arrays, dtype)
    ref = torch.distributions.kl_divergence(theirs_p, theirs_q)
    out = D.kl_divergence(ours_p, ours_q)
    close(out, ref, dtype)
    if np.isfinite(ref.detach().numpy()).all():
        close_grads(out, ref, op + oq, tp + tq, dtype)


def sample_moments_match(name, arrays, seed, n=20000, rtol=0.2):
    """n float64 draws of the named distribution: the sample mean within 6 standard errors of
    torch's mean, the sample variance within ``rtol`` of torch's variance."""
    fastdl.manual_seed(seed)
    ours, theirs, _, _ = pair(name, arrays, np.float64, requires_grad=False)
    x = ours.sample((n,)).numpy()
    assert x.shape == (n,) + tuple(theirs.batch_shape) and x.dtype == np.float64
    mean, variance = theirs.mean.numpy(), theirs.variance.numpy()
    assert np.all(np.abs(x.mean(0) - mean) < 6 * np.sqrt(variance / n))
    np.testing.assert_allclose(x.var(0), variance, rtol=rtol)
