"""Lazy modules (nn/modules/lazy.py) against torch's: parameters inferred from the first
input, reprs before and after, the switch to the eager class, loading a state_dict into an
uninitialized module, dtypes, errors; outputs and gradients once materialized. Inputs come from
a fixed seed."""
import numpy as np
import pytest

import fastdl
from fastdl import nn

torch = pytest.importorskip("torch")

SEED = 20261130


def _randn(*shape, dtype=np.float32):
    return np.random.default_rng(SEED).standard_normal(shape).astype(dtype)


def _materialized_twins(name, args, kwargs, x):
    """Both modules after a first forward on ``x``, ours holding torch's parameter values."""
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.has_uninitialized_params() and theirs.has_uninitialized_params()
    with torch.no_grad(), fastdl.no_grad():
        theirs(torch.tensor(x))
        ours(fastdl.Tensor(x))
    assert not any(isinstance(p, nn.UninitializedParameter) for p in ours.parameters())
    assert type(ours).__name__ == type(theirs).__name__ and repr(ours) == repr(theirs)
    t_state = theirs.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in t_state.items()}
    ours.load_state_dict({k: v.numpy().copy() for k, v in t_state.items()})
    return ours, theirs


def _compare_forward_backward(ours, theirs, x, rtol=2e-5, atol=2e-5):
    t_x, f_x = torch.tensor(x, requires_grad=True), fastdl.Tensor(x.copy(), requires_grad=True)
    t_out, f_out = theirs(t_x), ours(f_x)
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), rtol=rtol,
                               atol=atol)
    t_out.sum().backward()
    f_out.sum().backward()
    np.testing.assert_allclose(f_x.grad.numpy(), t_x.grad.numpy(), rtol=rtol, atol=atol)
    f_params = dict(ours.named_parameters())
    for name, t_param in theirs.named_parameters():
        np.testing.assert_allclose(f_params[name].grad.numpy(), t_param.grad.numpy(),
                                   rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("bias", [True, False])
def test_lazy_linear_infers_in_features_and_becomes_linear(bias):
    x = _randn(3, 2, 7)
    ours, theirs = _materialized_twins("LazyLinear", (5,), {"bias": bias}, x)
    assert isinstance(ours, nn.Linear) and ours.in_features == 7 and ours.out_features == 5
    assert not ours._forward_pre_hooks  # the inference hook is gone
    _compare_forward_backward(ours, theirs, x)


def test_lazy_linear_parameters_are_the_same_objects_after_materializing():
    m = nn.LazyLinear(4)
    weight, bias = m.weight, m.bias
    assert isinstance(weight, nn.UninitializedParameter) and repr(weight) == \
        "<UninitializedParameter>"
    m(fastdl.ones(2, 3))
    assert m.weight is weight and m.bias is bias and type(weight) is nn.Parameter
    assert weight.shape == (4, 3) and weight.requires_grad
    bound = 1 / np.sqrt(3)  # Linear's initialization ran on the inferred shape
    assert np.abs(weight.detach().numpy()).max() <= bound and np.any(weight.detach().numpy())


def test_lazy_linear_keeps_its_dtype():
    m = nn.LazyLinear(2, dtype=fastdl.float64)
    assert m(fastdl.ones(1, 3, dtype=fastdl.float64)).dtype == np.float64
    m = nn.LazyLinear(2).to(np.float64)
    m(fastdl.ones(1, 3, dtype=fastdl.float64))
    assert m.weight.dtype == np.float64 and m.bias.dtype == np.float64


def test_loading_a_state_dict_materializes_a_lazy_module():
    source = torch.nn.Linear(6, 3)
    m = nn.LazyLinear(3)
    m.load_state_dict({k: v.detach().numpy() for k, v in source.state_dict().items()})
    assert m.weight.shape == (3, 6) and m.in_features == 6
    np.testing.assert_array_equal(m.weight.detach().numpy(), source.weight.detach().numpy())
    x = _randn(4, 6)
    np.testing.assert_allclose(m(fastdl.Tensor(x)).detach().numpy(),
                               source(torch.tensor(x)).detach().numpy(), rtol=2e-5, atol=2e-5)
    assert type(m) is nn.Linear


def test_uninitialized_parameter_materializes_with_its_dtype():
    p = nn.UninitializedParameter(dtype=fastdl.float64, requires_grad=False)
    p.materialize((2, 5))
    assert type(p) is nn.Parameter and p.shape == (2, 5) and p.dtype == np.float64
    assert not p.requires_grad


CONVS = [  # (class, constructor args, kwargs, input shape)
    ("LazyConv1d", (4, 3), {}, (2, 5, 9)), ("LazyConv1d", (4, 3), {"groups": 2}, (6, 9)),
    ("LazyConv2d", (6, (3, 2)), {"stride": 2, "padding": 1, "bias": False}, (2, 3, 7, 6)),
    ("LazyConv3d", (2, 2), {"dilation": 2}, (1, 3, 5, 5, 6)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2, "output_padding": 1}, (2, 5, 7)),
    ("LazyConvTranspose2d", (4, 3), {"groups": 2}, (2, 6, 5, 4)),
    ("LazyConvTranspose3d", (3, 2), {}, (3, 4, 3, 3)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", CONVS, ids=lambda v: str(v))
def test_lazy_convolutions_infer_in_channels(name, args, kwargs, shape):
    x = _randn(*shape)
    ours, theirs = _materialized_twins(name, args, kwargs, x)
    batched = len(shape) == theirs.weight.ndim
    assert ours.in_channels == shape[1 if batched else 0]
    _compare_forward_backward(ours, theirs, x, rtol=1e-4, atol=1e-4)


def test_lazy_convolution_errors_match_torch():
    for name, args, kwargs, shape in (("LazyConv2d", (4, 3), {}, (5, 6)),
                                      ("LazyConv1d", (4, 3), {"groups": 2}, (2, 5, 9))):
        x = _randn(*shape)
        with pytest.raises(Exception) as theirs:
            getattr(torch.nn, name)(*args, **kwargs)(torch.tensor(x))
        with pytest.raises(type(theirs.value)):
            getattr(nn, name)(*args, **kwargs)(fastdl.Tensor(x))


@pytest.mark.parametrize("name, kwargs, shape", [
    ("LazyBatchNorm1d", {}, (6, 4)), ("LazyBatchNorm1d", {"affine": False}, (6, 4, 3)),
    ("LazyBatchNorm2d", {"momentum": 0.3}, (3, 5, 4, 2)),
    ("LazyBatchNorm2d", {"track_running_stats": False}, (3, 5, 4, 2)),
    ("LazyBatchNorm3d", {"eps": 1e-3}, (2, 3, 2, 3, 2)),
], ids=lambda v: str(v))
def test_lazy_batch_norms_infer_num_features(name, kwargs, shape):
    x = _randn(*shape)
    ours, theirs = _materialized_twins(name, (), kwargs, x)
    assert ours.num_features == shape[1]
    _compare_forward_backward(ours, theirs, x)  # training: batch statistics, running updates
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(np.asarray(ours.state_dict()[key].numpy()), value.numpy(),
                                   rtol=2e-5, atol=2e-5, err_msg=key)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(fastdl.Tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=2e-5, atol=2e-5)


def test_loading_a_state_dict_materializes_lazy_buffers():
    source = torch.nn.BatchNorm1d(5)
    source(torch.randn(7, 5))  # running statistics away from their initial values
    m = nn.LazyBatchNorm1d()
    assert isinstance(m.running_mean, nn.UninitializedBuffer)
    m.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    assert m.num_features == 5 and type(m.running_mean) is fastdl.Tensor
    np.testing.assert_array_equal(m.running_var.numpy(), source.running_var.numpy())
    m.eval(), source.eval()
    x = _randn(4, 5)
    np.testing.assert_allclose(m(fastdl.Tensor(x)).detach().numpy(),
                               source(torch.tensor(x)).detach().numpy(), rtol=2e-5, atol=2e-5)
    assert type(m) is nn.BatchNorm1d
