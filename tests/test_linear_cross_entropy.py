"""F.linear_cross_entropy, nn.LinearCrossEntropyLoss and LinearCrossEntropyOptions against
torch 2.13: values and gradients (whole and chunked), chunk sizes, second derivatives, errors."""
import sys

import numpy as np
import pytest

import fastdl
from fastdl import nn as fnn
from fastdl.nn import functional as F
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional
Options = fnn.LinearCrossEntropyOptions


def _pair(a, grad=True):
    """(fastdl leaf, torch leaf) of the same numpy array."""
    return (fastdl.tensor(a.copy(), requires_grad=grad),
            torch.tensor(a.copy(), requires_grad=grad))


def _problem(n=7, in_features=5, classes=6, out_features=(), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, in_features) if n else (in_features,)).astype(dtype)
    w = rng.standard_normal((classes, *out_features, in_features)).astype(dtype)
    b = rng.standard_normal((classes, *out_features)).astype(dtype)
    t = rng.integers(0, classes, ((n,) if n else ()) + tuple(out_features))
    cw = rng.uniform(0.5, 2.0, classes).astype(dtype)
    return x, w, b, t, cw


def _compare(x, w, t, *, bias=None, cw=None, tol=1e-10, **kwargs):
    """Values and the gradients of input, weight and bias equal torch's."""
    (fx, tx), (fw, tw) = _pair(x), _pair(w)
    fb, tb = _pair(bias) if bias is not None else (None, None)
    fcw, tcw = (fastdl.tensor(cw), torch.tensor(cw)) if cw is not None else (None, None)
    t_kwargs = {k: v for k, v in kwargs.items() if k != "options"}
    f_out = F.linear_cross_entropy(fx, fw, fastdl.tensor(t), linear_bias=fb, weight=fcw,
                                   **kwargs)
    t_out = TF.linear_cross_entropy(tx, tw, torch.tensor(t), linear_bias=tb, weight=tcw,
                                    **t_kwargs)
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), rtol=tol,
                               atol=tol)
    g = np.random.default_rng(1).standard_normal(tuple(t_out.shape))
    (f_out * fastdl.tensor(g.astype(x.dtype))).sum().backward()
    (t_out * torch.tensor(g.astype(x.dtype))).sum().backward()
    for f, t_ in ((fx, tx), (fw, tw), (fb, tb)):
        if f is not None:
            np.testing.assert_allclose(f.grad.numpy(), t_.grad.numpy(), rtol=tol, atol=tol)
    return f_out


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [None, 1, 3, 7, 100])
def test_values_and_gradients(reduction, chunk):
    x, w, b, t, cw = _problem()
    options = None if chunk is None else Options(batch_chunk_size=chunk)
    _compare(x, w, t, bias=b, cw=cw, reduction=reduction, ignore_index=2, options=options)
    _compare(x, w, t, reduction=reduction, options=options)


@pytest.mark.parametrize("chunk", [None, 2])
def test_unbatched_and_odd_shapes(chunk):
    options = None if chunk is None else Options(batch_chunk_size=chunk)
    for n, in_features, classes in ((0, 3, 4), (1, 1, 1), (5, 2, 9), (11, 7, 3)):
        x, w, b, t, cw = _problem(n, in_features, classes)
        for reduction in ("mean", "none"):
            _compare(x, w, t, bias=b, cw=cw, reduction=reduction, options=options)


@pytest.mark.parametrize("ignore_index", [-100, 0, 40])
def test_ignore_index_and_out_of_range(ignore_index):
    x, w, b, t, cw = _problem(n=9)
    t[::3] = ignore_index
    for chunk in (None, 2):
        options = None if chunk is None else Options(batch_chunk_size=chunk)
        for reduction in ("mean", "sum", "none"):
            _compare(x, w, t, cw=cw, reduction=reduction, ignore_index=ignore_index,
                     options=options)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 / 0, as torch's
def test_all_ignored_mean_is_nan_like_torch():
    x, w, _, t, _ = _problem(n=4)
    t[:] = 1
    out = _compare(x, w, t, ignore_index=1, options=Options(batch_chunk_size=2))
    assert np.isnan(out.item())


def test_k_dimensional_loss_and_probability_targets():
    x, w, b, t, cw = _problem(n=4, classes=3, out_features=(2, 3))
    for reduction in ("mean", "sum", "none"):
        _compare(x, w, t, bias=b, cw=cw, reduction=reduction, label_smoothing=0.2)
    probs = np.random.default_rng(3).dirichlet(np.ones(6), size=5)
    x, w, b, _, cw = _problem(n=5)
    _compare(x, w, probs, bias=b, cw=cw, label_smoothing=0.1)


def test_label_smoothing_falls_back_with_torchs_warning():
    x, w, b, t, cw = _problem()
    with pytest.warns(UserWarning, match="options.. ignored"):
        _compare(x, w, t, bias=b, cw=cw, label_smoothing=0.3, options=Options())


def test_float32_chunked_matches_unchunked_and_acc_dtype():
    x, w, b, t, cw = _problem(n=13, in_features=4, classes=50, dtype=np.float32)
    whole = _compare(x, w, t, bias=b, cw=cw, tol=2e-5)
    for options in (Options(), Options(chunking_method="aspect_ratio"),
                    Options(batch_chunk_size=4, acc_dtype=np.float64)):
        chunked = _compare(x, w, t, bias=b, cw=cw, tol=2e-5, options=options)
        assert chunked.dtype == fastdl.float32
        np.testing.assert_allclose(chunked.detach().numpy(), whole.detach().numpy(), rtol=1e-6)


def test_chunk_sizes_follow_torch():
    from torch.nn import LinearCrossEntropyOptions as TorchOptions
    for n, in_features, classes in ((8, 5, 4), (64, 4, 10), (1000, 16, 5000), (3, 2, 7)):
        for kwargs in ({}, {"batch_chunk_size": 2}, {"chunking_method": "aspect_ratio"},
                       {"chunking_method": "aspect_ratio:4"}, {"chunking_method": None}):
            want = TorchOptions(**kwargs)._adjust(n, in_features, classes, torch.float32,
                                                  device=None).batch_chunk_size
            assert Options(**kwargs).chunk_rows(n, in_features, classes) == want, (n, kwargs)


def test_backward_twice_and_no_full_logits(monkeypatch):
    x, w, b, t, _ = _problem(n=8, classes=30)
    fx, fw = fastdl.tensor(x, requires_grad=True), fastdl.tensor(w, requires_grad=True)
    calls = []
    real = F.linear

    def spy(inp, weight, bias=None):
        calls.append(tuple(inp.shape))
        return real(inp, weight, bias)
    # the package attribute is the function: the module itself is in sys.modules
    monkeypatch.setattr(sys.modules["fastdl.nn.functional.linear_cross_entropy"], "linear", spy)
    out = F.linear_cross_entropy(fx, fw, fastdl.tensor(t), options=Options(batch_chunk_size=3))
    out.backward(retain_graph=True)
    first = fx.grad.numpy().copy()
    out.backward()
    np.testing.assert_allclose(fx.grad.numpy(), 2 * first)
    assert calls and all(shape[0] <= 3 for shape in calls)


def test_second_derivatives_chunked_equal_unchunked():
    x, w, b, t, cw = _problem(n=5, classes=4)

    def hvp(options):
        fx, fw, fb = (fastdl.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.linear_cross_entropy(fx, fw, fastdl.tensor(t), linear_bias=fb,
                                     weight=fastdl.tensor(cw), options=options)
        grads = fastdl.autograd.grad(out, [fx, fw, fb], create_graph=True)
        total = sum((g * g).sum() for g in grads)
        return [g.numpy() for g in fastdl.autograd.grad(total, [fx, fw, fb])]
    for a, b_ in zip(hvp(None), hvp(Options(batch_chunk_size=2))):
        np.testing.assert_allclose(a, b_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("chunk", [None, 2])
def test_gradcheck_float64(chunk):
    x, w, b, t, cw = _problem(n=5, in_features=3, classes=4)
    options = None if chunk is None else Options(batch_chunk_size=chunk)
    target, weight = fastdl.tensor(t), fastdl.tensor(cw)
    inputs = [fastdl.tensor(a, requires_grad=True) for a in (x, w, b)]
    assert gradcheck(lambda xx, ww, bb: F.linear_cross_entropy(
        xx, ww, target, linear_bias=bb, weight=weight, reduction="none", options=options),
        inputs)


def test_module_matches_torch_and_state_dict():
    torch.manual_seed(0)
    kwargs = dict(out_features=(2, 3), bias=True, reduction="sum", label_smoothing=0.1,
                  ignore_index=1)
    t_mod = torch.nn.LinearCrossEntropyLoss(5, 4, **kwargs).double()
    f_mod = fnn.LinearCrossEntropyLoss(5, 4, **kwargs)
    f_mod.load_state_dict({k: v.detach().numpy() for k, v in t_mod.state_dict().items()})
    assert list(f_mod.state_dict()) == ["linear.weight", "linear.bias"]
    x = np.random.default_rng(0).standard_normal((3, 5))
    t = np.random.default_rng(1).integers(0, 4, (3, 2, 3))
    f_mod.double()
    np.testing.assert_allclose(f_mod(fastdl.tensor(x), fastdl.tensor(t)).item(),
                               t_mod(torch.tensor(x), torch.tensor(t)).item(), rtol=1e-12)
    assert "num_classes=4" in repr(f_mod) and "out_features=(2, 3)" in repr(f_mod)


def test_errors_like_torch():
    ones = fastdl.ones
    with pytest.raises(RuntimeError, match="dimensionality 1 or 2, got 3"):
        F.linear_cross_entropy(ones(2, 3, 3), ones(2, 3), ones(3, 2))
    with pytest.raises(RuntimeError, match="linear_weight with dimensionality at least 2"):
        F.linear_cross_entropy(ones(2, 3), ones(2), ones(2, 2))
    with pytest.raises(RuntimeError, match="got 3 and 4, respectively"):
        F.linear_cross_entropy(ones(2, 3), ones(2, 4), ones(2, 2))
    with pytest.raises(RuntimeError, match="ignore_index cannot be specified"):
        F.linear_cross_entropy(ones(2, 3), ones(2, 3), ones(2, 2), ignore_index=0)
    with pytest.raises(RuntimeError, match="requires batched input"):
        F.linear_cross_entropy(ones(3), ones(2, 4, 3), ones(2, 4))
    with pytest.raises(RuntimeError, match=r"linear_bias shape \(2,\), got \(3,\)"):
        F.linear_cross_entropy(ones(2, 3), ones(2, 3), ones(2), linear_bias=ones(3))
    with pytest.raises(RuntimeError, match="expected weight shape"):
        fnn.LinearCrossEntropyLoss(3, 2, weight=ones(3))
    with pytest.raises(RuntimeError, match="label_smoothing to be in range"):
        fnn.LinearCrossEntropyLoss(3, 2, label_smoothing=1.5)
    for bad in (dict(acc_policy="fast"), dict(chunking_method="rows"),
                dict(batch_chunk_size=0), dict(acc_dtype=np.int64)):
        with pytest.raises(ValueError):
            Options(**bad)
    with pytest.raises(ValueError, match="pass only one"):
        Options(batch_chunk_size=3, chunking_method="aspect_ratio").chunk_rows(8, 5, 4)
