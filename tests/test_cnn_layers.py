"""CNN layers beyond the conformance harness: channel dropout structure, padding modules and
F.pad modes against torch on odd shapes (non-contiguous inputs, batch 1), reprs, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F

torch = pytest.importorskip("torch")


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def _f(a, grad=False):
    return fastdl.Tensor(a.copy(), requires_grad=grad)


@pytest.mark.parametrize("name,shape,rows", [
    ("dropout1d", (6, 7, 9), 42), ("dropout1d", (7, 9), 7),
    ("dropout2d", (5, 6, 4, 3), 30), ("dropout3d", (3, 4, 2, 3, 5), 12),
    ("dropout3d", (4, 2, 3, 5), 4)])
def test_channel_dropout_drops_whole_channels(name, shape, rows):
    fastdl.manual_seed(3)
    p = 0.4
    x = _f(np.random.default_rng(0).uniform(0.5, 1.5, shape), grad=True)
    y = getattr(F, name)(x, p=p)
    out = y.detach().numpy().reshape(rows, -1)
    kept = (out != 0).all(axis=1)
    assert np.all((out != 0).any(axis=1) == kept), "a channel is partly dropped"
    np.testing.assert_allclose(out[kept], x.detach().numpy().reshape(rows, -1)[kept] / (1 - p),
                               rtol=1e-6)
    assert 0 < kept.sum() < rows
    y.sum().backward()
    g = x.grad.numpy().reshape(rows, -1)
    np.testing.assert_allclose(g, np.where(kept[:, None], 1 / (1 - p), 0.0) + 0 * g, rtol=1e-6)


def test_channel_dropout_rate_and_modules():
    fastdl.manual_seed(4)
    x = fastdl.ones(200, 50, 2, 2)
    dropped = float((F.dropout2d(x, 0.3).numpy()[:, :, 0, 0] == 0).mean())
    assert abs(dropped - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 10000)
    for cls, shape in ((nn.Dropout1d, (4, 8, 5)), (nn.Dropout2d, (4, 8, 5, 5)),
                       (nn.Dropout3d, (4, 8, 2, 3, 3))):
        m = cls(0.5)
        assert repr(m) == repr(getattr(torch.nn, cls.__name__)(0.5))
        y = m(fastdl.ones(*shape)).numpy().reshape(shape[0] * shape[1], -1)
        assert np.all((y == 0).all(axis=1) | (y == 2.0).all(axis=1))
        m.eval()
        np.testing.assert_array_equal(m(fastdl.ones(*shape)).numpy(), np.ones(shape))
    x = fastdl.ones(4, 6, 3)
    fastdl.manual_seed(5)
    out = F.dropout1d(x, 0.5, inplace=True)
    assert out is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    with pytest.raises(ValueError, match="probability"):
        F.dropout2d(x, 1.5)
    with pytest.raises(RuntimeError, match="2D or 3D"):  # torch's type
        F.dropout1d(fastdl.ones(2, 3, 4, 5))


PAD_MODULES = [("ZeroPad1d", (1, 2), (2, 3, 5)), ("ZeroPad2d", (1, 0, 2, -1), (2, 3, 4, 5)),
               ("ZeroPad3d", 1, (1, 2, 3, 3, 2)), ("ConstantPad1d", (3, 1), (3, 4)),
               ("ConstantPad2d", 2, (3, 4, 5)), ("ConstantPad3d", (1, 0, 0, 2, 1, 1), (2, 2, 3, 4)),
               ("ReflectionPad1d", (2, 3), (2, 3, 5)), ("ReflectionPad2d", (1, 2, 3, 0), (3, 4, 5)),
               ("ReflectionPad3d", 1, (1, 2, 3, 3, 2)), ("ReplicationPad1d", (4, 1), (3, 5)),
               ("ReplicationPad2d", (2, 1, 0, 3), (1, 2, 3, 4)),
               ("ReplicationPad3d", (1, 2, 0, 1, 2, 0), (2, 3, 4, 2)),
               ("CircularPad1d", (2, 3), (2, 3, 5)), ("CircularPad2d", (1, 2, 2, 1), (2, 3, 3)),
               ("CircularPad3d", (1, 0, 2, 1, 0, 2), (1, 2, 3, 3, 2))]


@pytest.mark.parametrize("name,padding,shape", PAD_MODULES, ids=[p[0] for p in PAD_MODULES])
def test_pad_modules_match_torch(name, padding, shape):
    args = (padding, 1.5) if name.startswith("Constant") else (padding,)
    tm, fm = getattr(torch.nn, name)(*args), getattr(nn, name)(*args)
    assert repr(fm) == repr(tm)
    rng = np.random.default_rng(1)
    base = rng.standard_normal(shape[:-1] + (2 * shape[-1],))
    a = base[..., ::2]  # non-contiguous input
    x_t, x_f = _t(np.ascontiguousarray(a), True), fastdl.Tensor(a, requires_grad=True)
    y_t, y_f = tm(x_t), fm(x_f)
    np.testing.assert_allclose(y_f.detach().numpy(), y_t.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(tuple(y_t.shape))
    (y_t * _t(g)).sum().backward()
    (y_f * fastdl.Tensor(g)).sum().backward()
    np.testing.assert_allclose(x_f.grad.numpy(), x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("args,error", [  # torch's exception types
    (((1, 2, 3),), RuntimeError),             # odd length
    (((1,) * 8,), RuntimeError),              # more dims than the input has
    (((1, 1), "reflect", 2.0), RuntimeError), # value with a non-constant mode
    (((5, 0), "reflect"), RuntimeError),      # reflect pad >= size
    (((6, 0), "circular"), RuntimeError),     # wraps around more than once
    (((-3, -3),), RuntimeError),              # negative output size
    (((1, 1), "wrap"), NotImplementedError),
    (((1, 1, 1, 1, 1, 1), "replicate"), NotImplementedError),  # 3 dims of a 3D input
    ((1,), TypeError),
])
def test_pad_bad_input_raises_before_any_kernel(args, error):
    x = fastdl.randn(2, 3, 5)
    with pytest.raises(error, match=r"pad"):
        F.pad(x, *args)


def test_norm_bad_input():
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(fastdl.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(fastdl.randn(2, 3, 1))
    with pytest.raises(ValueError, match="num_features"):
        nn.InstanceNorm2d(4, affine=True)(fastdl.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="4D input"):
        nn.BatchNorm2d(3)(fastdl.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="weight must have shape"):
        F.group_norm(fastdl.randn(2, 6, 3), 3, fastdl.ones(5))


@pytest.mark.parametrize("cls,args,shape", [
    ("BatchNorm2d", (3,), (4, 3, 5, 5)), ("BatchNorm3d", (2,), (3, 2, 3, 4, 3)),
    ("GroupNorm", (2, 6), (3, 6, 4, 5)), ("InstanceNorm1d", (3,), (3, 7)),
    ("InstanceNorm2d", (3,), (2, 3, 4, 5)), ("InstanceNorm3d", (2,), (2, 2, 3, 3, 3))])
def test_norm_modules_repr_and_running_stats(cls, args, shape):
    kw = {"track_running_stats": True, "affine": True} if cls.startswith("Instance") else {}
    tm, fm = getattr(torch.nn, cls)(*args, **kw).double(), getattr(nn, cls)(*args, **kw)
    fm.to(np.float64)
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(2).standard_normal(shape) * 3 + 1
    for mode in (True, True, False):
        tm.train(mode)
        fm.train(mode)
        np.testing.assert_allclose(fm(_f(x)).detach().numpy(), tm(_t(x)).detach().numpy(),
                                   rtol=1e-10, atol=1e-12)
    for key, value in tm.state_dict().items():
        np.testing.assert_allclose(fm.state_dict()[key].numpy(), value.numpy(), rtol=1e-12)


def test_relu6_module_inplace():
    x = fastdl.Tensor(np.array([-1.0, 0.5, 7.0, 3.0]))
    y = nn.ReLU6(inplace=True)(x)
    assert y is x and np.array_equal(x.numpy(), [0.0, 0.5, 6.0, 3.0])
    assert repr(nn.ReLU6(True)) == repr(torch.nn.ReLU6(True))


def _copy_params(fm, tm):
    fm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("cls,args,kwargs,shape", [
    ("Conv1d", (3, 4, 4), dict(padding="same", dilation=2, padding_mode="reflect"), (2, 3, 11)),
    ("Conv2d", (4, 6, (3, 2)), dict(padding=(1, 2), padding_mode="circular", groups=2),
     (2, 4, 7, 6)),
    ("Conv2d", (2, 3, 4), dict(padding="same", padding_mode="replicate", bias=False), (1, 2, 5, 6)),
    ("Conv2d", (2, 3, 3), dict(padding="valid", stride=2), (2, 5, 7)),
    ("Conv3d", (2, 2, 3), dict(padding=1, padding_mode="reflect", stride=(1, 2, 1)),
     (1, 2, 4, 5, 4)),
    ("Conv2d", (3, 3, 3), dict(padding="same", padding_mode="zeros", groups=3), (2, 3, 6, 5)),
])
def test_conv_modules_padding_modes(cls, args, kwargs, shape):
    tm = getattr(torch.nn, cls)(*args, **kwargs).double()
    fm = getattr(nn, cls)(*args, **kwargs)
    assert repr(fm) == repr(tm)
    fm.to(np.float64)
    _copy_params(fm, tm)
    x = np.random.default_rng(3).standard_normal(shape)
    xt, xf = _t(x, True), _f(x, True)
    yt, yf = tm(xt), fm(xf)
    np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(4).standard_normal(tuple(yt.shape))
    (yt * _t(g)).sum().backward()
    (yf * fastdl.Tensor(g)).sum().backward()
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("cls,args,kwargs,shape,output_size", [
    ("ConvTranspose1d", (3, 2, 4), dict(stride=3, padding=1), (2, 3, 5), [14]),
    ("ConvTranspose2d", (4, 2, 3), dict(stride=2, padding=1, groups=2, dilation=2),
     (1, 4, 5, 4), (1, 2, 12, 10)),
    ("ConvTranspose3d", (2, 3, 2), dict(stride=2), (2, 4, 3, 3), (9, 6, 7)),  # unbatched
])
def test_conv_transpose_output_size(cls, args, kwargs, shape, output_size):
    tm = getattr(torch.nn, cls)(*args, **kwargs).double()
    fm = getattr(nn, cls)(*args, **kwargs)
    assert repr(fm) == repr(tm)
    fm.to(np.float64)
    _copy_params(fm, tm)
    x = np.random.default_rng(5).standard_normal(shape)
    yt = tm(_t(x), output_size=output_size)
    yf = fm(_f(x), output_size=output_size)
    np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="output size"):
        fm(_f(x), output_size=[s + 40 for s in output_size])


def test_conv_module_arguments_and_init():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding string"):
        nn.Conv1d(3, 4, 3, padding="full")
    m = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.shape == (32, 16, 3, 3) and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() > 0.5 * bound / np.sqrt(3)
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
