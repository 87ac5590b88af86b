"""The arguments torch 2.13 has that fastdl lacked (found by test_signature_parity.py): the
regression losses' ``weight``, F.normalize's ``out``, Hardtanh's deprecated min_value /
max_value, the lazy norms' ``bias``, NLLLoss2d, F.conv_tbc and the implementation flags of
SGD, Adagrad, RMSprop and Adadelta; each behaves as torch's."""
import warnings

import numpy as np
import pytest
import torch

import fastdl
import fastdl.nn.functional as F


@pytest.mark.parametrize("name,kwargs", [("huber_loss", {"delta": 0.7}), ("l1_loss", {}),
                                         ("mse_loss", {})])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("target_shape", [(3, 4), (4,)])
def test_weighted_regression_losses_match_torch(name, kwargs, reduction, target_shape):
    rng = np.random.default_rng(len(target_shape))
    x, t = rng.standard_normal((3, 4)), rng.standard_normal(target_shape)
    w = rng.random((3, 4)).astype(np.float32)  # float32 weights promote with a float64 loss
    xo, xt = fastdl.tensor(x).requires_grad_(), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the broadcast-target warning, in both)
        ours = getattr(F, name)(xo, fastdl.tensor(t), reduction=reduction,
                                weight=fastdl.tensor(w), **kwargs)
        theirs = getattr(torch.nn.functional, name)(xt, torch.tensor(t), reduction=reduction,
                                                    weight=torch.tensor(w), **kwargs)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    # (l1 and mse divide by the float32 sum of the weights, which numpy and torch add up in
    # different orders)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ["huber_loss", "l1_loss", "mse_loss"])
def test_weighted_loss_errors_match_torch(name):
    for lib in (fastdl, torch):
        fn = getattr(lib.nn.functional, name)
        with pytest.raises(ValueError, match="Weights and input must have the same size"):
            fn(lib.ones(2, 3), lib.ones(2, 3), weight=lib.ones(3))
        with pytest.raises(ValueError, match="reduction"):
            fn(lib.ones(2, 3), lib.ones(2, 3), reduction="avg", weight=lib.ones(2, 3))


def test_normalize_out_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3))
    for lib in (fastdl, torch):
        out = lib.empty(2, 3)  # float32: the float64 result is cast into it
        assert lib.nn.functional.normalize(lib.tensor(x), out=out) is out
        np.testing.assert_allclose(out.numpy(), x / np.linalg.norm(x, axis=1, keepdims=True),
                                   rtol=1e-6)
        resized = lib.empty(0)
        lib.nn.functional.normalize(lib.tensor(x), dim=0, out=resized)
        assert tuple(resized.shape) == (2, 3)
        with pytest.warns(UserWarning, match="resized"):
            lib.nn.functional.normalize(lib.tensor(x), out=lib.empty(5))
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
            lib.nn.functional.normalize(lib.tensor(x), out=lib.empty(2, 3, dtype=lib.int64))
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            lib.nn.functional.normalize(lib.tensor(x, requires_grad=True), out=lib.empty(2, 3))


def test_hardtanh_deprecated_argument_names():
    for lib in (fastdl, torch):
        with pytest.warns(FutureWarning, match="`min_value` is deprecated"):
            m = lib.nn.Hardtanh(min_value=-2.0)
        with pytest.warns(FutureWarning, match="`max_value` is deprecated"):
            m2 = lib.nn.Hardtanh(-1.0, 1.0, max_value=3.0)
        assert (m.min_val, m.max_val, m2.min_val, m2.max_val) == (-2.0, 1.0, -1.0, 3.0)
        assert m2(lib.tensor([5.0, -5.0])).tolist() == [3.0, -1.0]
        with pytest.raises(AssertionError, match="must be greater than min_val"):
            lib.nn.Hardtanh(1.0, 1.0)


@pytest.mark.parametrize("name", ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
                                  "LazyInstanceNorm1d", "LazyInstanceNorm2d",
                                  "LazyInstanceNorm3d"])
def test_lazy_norms_bias_false_learn_a_scale_only(name):
    rank = {"1": 3, "2": 4, "3": 5}[name[-2]]
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 2, 3)[:rank]).astype(np.float32)
    outputs = []
    for lib in (fastdl, torch):
        m = getattr(lib.nn, name)(bias=False)
        y = m(lib.tensor(x))
        assert m.bias is None and tuple(m.weight.shape) == (3,)
        assert list(m.state_dict()) == ["weight", "running_mean", "running_var",
                                        "num_batches_tracked"]
        outputs.append((y.detach().numpy(), repr(m)))
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-5, atol=1e-6)
    assert outputs[0][1] == outputs[1][1]
    assert fastdl.nn.LazyBatchNorm1d(affine=False, bias=False).bias is None


def test_nllloss2d_is_a_deprecated_nllloss():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4))
    target = np.random.default_rng(3).integers(0, 3, (2, 4, 4))
    losses = []
    for lib in (fastdl, torch):
        with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
            loss = lib.nn.NLLLoss2d(ignore_index=1, reduction="sum")
        assert isinstance(loss, lib.nn.NLLLoss)
        losses.append(loss(lib.tensor(x).log_softmax(1), lib.tensor(target)).item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-12)


def test_functional_conv_tbc_is_the_top_level_one():
    assert F.conv_tbc is fastdl.conv_tbc
    assert torch.nn.functional.conv_tbc is torch.conv_tbc


@pytest.mark.parametrize("name,flags", [
    ("SGD", dict(foreach=True)), ("SGD", dict(fused=True)),
    ("Adagrad", dict(foreach=False)), ("Adagrad", dict(fused=True)),
    ("RMSprop", dict(foreach=True, centered=True)), ("Adadelta", dict(foreach=True))])
def test_optimizer_implementation_flags_are_recorded_as_torch(name, flags):
    rng = np.random.default_rng(4)
    w, g = rng.standard_normal(5), rng.standard_normal(5)
    ours_p, theirs_p = fastdl.nn.Parameter(fastdl.tensor(w)), torch.nn.Parameter(torch.tensor(w))
    ours = getattr(fastdl.optim, name)([ours_p], lr=0.1, **flags)
    theirs = getattr(torch.optim, name)([theirs_p], lr=0.1, **flags)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    if name in ("RMSprop", "Adadelta"):  # (torch steps capturable ones on CUDA only)
        flags = dict(flags, capturable=True)
        assert getattr(fastdl.optim, name)([ours_p], **flags).state_dict()["param_groups"] == \
            getattr(torch.optim, name)([theirs_p], **flags).state_dict()["param_groups"]
    for _ in range(2):  # the flags pick torch's kernels: the steps are the same
        ours_p.grad, theirs_p.grad = fastdl.tensor(g), torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(ours_p.detach().numpy(), theirs_p.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam"])
def test_fused_with_foreach_is_refused_as_torch(name):
    for lib in (fastdl, torch):
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True`"):
            getattr(lib.optim, name)([lib.nn.Parameter(lib.zeros(2))], fused=True,
                                     foreach=True)
    for name in ("SGD", "Adagrad", "RMSprop", "Adadelta"):  # fastdl steps outside autograd
        with pytest.raises(ValueError, match="differentiable=True is not supported"):
            getattr(fastdl.optim, name)([fastdl.nn.Parameter(fastdl.zeros(2))],
                                        differentiable=True)
