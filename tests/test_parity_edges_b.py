"""Edge behaviours checked against torch: logcumsumexp's gradient at infinite inputs and its
dtypes, batch_norm with eps=0, capturable optimizers on CPU parameters, lazy norms given
float64 input."""
import numpy as np
import pytest
import torch

import fastdl

INF = float("inf")


def _assert_same(ours, theirs, **kw):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy(), dtype=np.float64),
                               theirs.detach().double().numpy(), equal_nan=True, **kw)


# ---- logcumsumexp -------------------------------------------------------------------------
@pytest.mark.parametrize("values", [
    [1.0, INF, 2.0], [-INF, 1.0, 2.0], [-INF, INF, 1.0], [-INF] * 3, [INF] * 3,
    [1.0, float("nan"), 2.0], [-INF, -INF, 0.5], [0.0, 0.0, 1000.0], [3.0, -INF, 1.0]])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logcumsumexp_gradient_at_edges(values, dtype):
    """torch's backward sums grad's positive and negative parts by a reversed logcumsumexp,
    so an infinite input gives NaN where inf - inf appears (the running logaddexp fastdl
    differentiated before gave finite limits there)."""
    g = [1.0, -2.0, 0.5]
    x = fastdl.tensor(values, dtype=getattr(fastdl, dtype), requires_grad=True)
    fastdl.logcumsumexp(x, 0).backward(fastdl.tensor(g, dtype=getattr(fastdl, dtype)))
    tx = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
    y = torch.logcumsumexp(tx, 0)
    y.backward(torch.tensor(g, dtype=getattr(torch, dtype)))
    _assert_same(fastdl.logcumsumexp(fastdl.tensor(values), 0), y, rtol=1e-6)
    assert np.array_equal(np.isnan(x.grad.numpy()), torch.isnan(tx.grad).numpy())
    _assert_same(x.grad, tx.grad, rtol=1e-5, atol=1e-6)


def test_logcumsumexp_gradient_along_a_dim_with_zero_grads():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5))
    a[1, 2, 0] = -INF
    a[2, 0, 3] = INF
    g = rng.standard_normal(a.shape)
    g[0, 1] = 0.0
    x = fastdl.tensor(a, requires_grad=True)
    fastdl.logcumsumexp(x, 1).backward(fastdl.tensor(g))
    tx = torch.tensor(a, requires_grad=True)
    torch.logcumsumexp(tx, 1).backward(torch.tensor(g))
    _assert_same(x.grad, tx.grad, rtol=1e-10, atol=1e-12)


def test_logcumsumexp_double_backward_matches_torch():
    a = np.array([[0.3, -1.2, 2.0, 0.1], [1.5, 1.5, -0.4, 0.9]])
    x = fastdl.tensor(a, requires_grad=True)
    (gx,) = fastdl.autograd.grad(fastdl.logcumsumexp(x, 1).sin().sum(), x, create_graph=True)
    (ggx,) = fastdl.autograd.grad(gx.pow(2).sum(), x)
    tx = torch.tensor(a, requires_grad=True)
    (tgx,) = torch.autograd.grad(torch.logcumsumexp(tx, 1).sin().sum(), tx, create_graph=True)
    (tggx,) = torch.autograd.grad(tgx.pow(2).sum(), tx)
    _assert_same(gx, tgx, rtol=1e-10)
    _assert_same(ggx, tggx, rtol=1e-9, atol=1e-12)


def test_logcumsumexp_float16_accumulates_in_float32():
    """torch's CPU kernel runs float16 in float32 and rounds once; a float16 running sum drifts
    (0.4 off after 2000 terms)."""
    a = np.random.default_rng(0).standard_normal(2000).astype(np.float16)
    ours = fastdl.logcumsumexp(fastdl.tensor(a), 0)
    theirs = torch.logcumsumexp(torch.tensor(a), 0)
    assert ours.dtype == fastdl.float16
    _assert_same(ours, theirs, rtol=2e-3)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_logcumsumexp_refuses_non_float(dtype):
    with pytest.raises(NotImplementedError) as theirs:
        torch.logcumsumexp(torch.tensor([1, 0], dtype=getattr(torch, dtype)), 0)
    with pytest.raises(NotImplementedError) as ours:
        fastdl.logcumsumexp(fastdl.tensor([1, 0], dtype=getattr(fastdl, dtype)), 0)
    assert str(ours.value) == str(theirs.value)

