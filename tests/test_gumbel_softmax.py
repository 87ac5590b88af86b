"""F.gumbel_softmax against torch 2.13 given the same Exponential(1) draw, plus statistics."""
import warnings

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.nn.functional import gumbel as G
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")


def _torch_and_noise(x, seed, **kwargs):
    """torch's result and the exponential draw it used (the same seed, the same first draw)."""
    t = torch.tensor(x, requires_grad=True)
    torch.manual_seed(seed)
    out = torch.nn.functional.gumbel_softmax(t, **kwargs)
    torch.manual_seed(seed)
    noise = torch.empty_like(t).exponential_()
    return t, out, noise.detach().numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kwargs", [
    ((4, 5), {}), ((4, 5), dict(tau=0.3)), ((4, 5), dict(hard=True)),
    ((3, 4, 2), dict(tau=2.0, hard=True, dim=1)), ((3, 4, 2), dict(dim=0)), ((7,), {}),
    ((2, 0, 3), dict(hard=True)), ((2, 3, 1), dict(hard=True, dim=-1)), ((), {})])
def test_matches_torch_given_the_same_noise(monkeypatch, shape, kwargs, dtype):
    r = np.random.default_rng(len(shape))
    x = (r.standard_normal(shape) * 2).astype(dtype)
    t, want, noise = _torch_and_noise(x, 7, **kwargs)
    monkeypatch.setattr(G, "_exponential_like", lambda logits: fastdl.tensor(noise))
    f = fastdl.tensor(x, requires_grad=True)
    got = F.gumbel_softmax(f, **kwargs)
    assert got.dtype == f.dtype and tuple(got.shape) == tuple(want.shape)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol, atol=tol)
    w = r.standard_normal(shape).astype(dtype)
    (want * torch.tensor(w)).sum().backward()
    (got * fastdl.tensor(w)).sum().backward()
    np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=tol * 10, atol=tol * 10)


def test_hard_is_one_hot_with_the_soft_gradient(monkeypatch):
    x = np.random.default_rng(0).standard_normal((5, 6))
    noise = np.random.default_rng(1).exponential(size=(5, 6))
    monkeypatch.setattr(G, "_exponential_like", lambda logits: fastdl.tensor(noise))
    xs, xh = fastdl.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    soft = F.gumbel_softmax(xs, tau=0.7)
    hard = F.gumbel_softmax(xh, tau=0.7, hard=True)
    h = hard.detach().numpy()
    assert set(np.unique(h)) == {0.0, 1.0} and (h.sum(-1) == 1).all()
    np.testing.assert_array_equal(h.argmax(-1), soft.detach().numpy().argmax(-1))
    w = fastdl.tensor(np.random.default_rng(2).standard_normal((5, 6)))
    (soft * w).sum().backward()
    (hard * w).sum().backward()
    np.testing.assert_allclose(xh.grad.numpy(), xs.grad.numpy(), rtol=1e-12)


def test_gradcheck_float64_with_fixed_noise(monkeypatch):
    noise = np.random.default_rng(3).exponential(size=(3, 4))
    monkeypatch.setattr(G, "_exponential_like", lambda logits: fastdl.tensor(noise))
    x = fastdl.tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.gumbel_softmax(t, tau=0.5), (x,))
    # (hard=True is straight-through, not a derivative: test_hard_is_one_hot_with_the_soft_...)
    assert gradcheck(lambda t: F.gumbel_softmax(t, tau=1.5, dim=0), (x,))


def test_hard_samples_follow_softmax_of_logits():
    # argmax(logits + Gumbel) ~ Categorical(softmax(logits)), whatever tau
    fastdl.manual_seed(0)
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    n = 20000
    y = F.gumbel_softmax(fastdl.tensor(np.tile(logits, (n, 1))), tau=0.5, hard=True)
    freq = y.numpy().mean(0)
    # 5 standard errors of a frequency near 0.4 over 20000 draws is ~0.017
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.02)
    soft = F.gumbel_softmax(fastdl.tensor(np.tile(logits, (n, 1)).astype(np.float32)))
    s = soft.numpy()
    assert s.dtype == np.float32 and np.allclose(s.sum(-1), 1, atol=1e-5) and (s >= 0).all()
    # the soft samples' argmax has the same distribution
    np.testing.assert_allclose(np.bincount(s.argmax(-1), minlength=4) / n, [0.1, 0.2, 0.3, 0.4],
                               atol=0.02)


def test_draws_come_from_fastdls_generator():
    x = fastdl.randn(3, 5)
    fastdl.manual_seed(11)
    a = F.gumbel_softmax(x)
    fastdl.manual_seed(11)
    b = F.gumbel_softmax(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(F.gumbel_softmax(x).numpy(), a.numpy())


def test_eps_warns_like_torch_and_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.warns(UserWarning) as want:
        torch.nn.functional.gumbel_softmax(torch.tensor(x), eps=1e-5)
    with pytest.warns(UserWarning) as got:
        F.gumbel_softmax(fastdl.tensor(x), eps=1e-5)
    assert str(got[0].message) == str(want[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.gumbel_softmax(fastdl.tensor(x))
    with pytest.raises(IndexError):
        torch.nn.functional.gumbel_softmax(torch.tensor(x), dim=2)
    with pytest.raises(IndexError):
        F.gumbel_softmax(fastdl.tensor(x), dim=2)
    with pytest.raises(TypeError):
        F.gumbel_softmax(x)
