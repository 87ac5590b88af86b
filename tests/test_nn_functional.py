"""nn.functional layers and activations: parity with torch (outputs and gradients, float32 and
float64), gradcheck and gradgradcheck in float64, bad input."""
import numpy as np
import pytest

import fastdl
from fastdl.nn import functional as F
from fastdl.nn.functional._special import erf
from fastdl.testing import gradcheck, gradgradcheck
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional

ACTIVATIONS = [
    ("relu", lambda f: f.relu),
    ("leaky_relu", lambda f: lambda x: f.leaky_relu(x, 0.07)),
    ("elu", lambda f: lambda x: f.elu(x, alpha=1.3)),
    ("gelu", lambda f: f.gelu),
    ("gelu_tanh", lambda f: lambda x: f.gelu(x, approximate="tanh")),
    ("silu", lambda f: f.silu),
    ("sigmoid", lambda f: f.sigmoid),
    ("tanh", lambda f: f.tanh),
    ("softplus", lambda f: lambda x: f.softplus(x, beta=1.7, threshold=3.0)),
    ("softmax", lambda f: lambda x: f.softmax(x, dim=1)),
    ("softmax_last", lambda f: lambda x: f.softmax(x, dim=-1)),
    ("log_softmax", lambda f: lambda x: f.log_softmax(x, dim=1)),
]


def _rand(shape, seed=0, low=-3.0, high=3.0, dtype=np.float64, requires_grad=True):
    data = np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)
    return fastdl.tensor(data, requires_grad=requires_grad)


@pytest.mark.parametrize("name,make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_matches_torch(name, make, dtype):
    check_op([(5, 7, 3)], make(TF), make(F), dtype=dtype, low=-4, high=4)


@pytest.mark.parametrize("name,make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_gradcheck_and_gradgradcheck(name, make):
    fn = make(F)
    # keep samples away from the kinks of relu/leaky_relu/elu, where differences are one-sided
    x = _rand((3, 4, 2), seed=1)
    x.data[np.abs(x.data) < 0.05] += 0.2
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_softplus_threshold_and_large_inputs():
    x = fastdl.tensor(np.array([-800.0, -30.0, 0.0, 19.0, 21.0, 800.0]), requires_grad=True)
    out = F.softplus(x)
    ref = TF.softplus(torch.tensor(x.data))
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-12)
    out.sum().backward()
    assert np.isfinite(x.grad.data).all()


def test_erf_matches_math_erf_in_double_precision():
    import math
    xs = np.concatenate([np.linspace(-7, 7, 4001), [0.0, 1e-300, -1e-8, 2.9999, 3.0, 3.0001]])
    ref = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(erf(xs), ref, rtol=1e-14, atol=1e-16)
    assert erf(xs.astype(np.float32)).dtype == np.float32


def test_inplace_activation_writes_input_and_refuses_grad():
    x = fastdl.tensor(np.array([-1.0, 2.0], dtype=np.float32))
    y = F.relu(x, inplace=True)
    assert y is x and x.tolist() == [0.0, 2.0]
    z = fastdl.tensor(np.array([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        F.leaky_relu(z, inplace=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape", [(7, 5), (3, 4, 5), (5,)])
def test_linear_matches_torch(dtype, x_shape):
    check_op([x_shape, (9, 5), (9,)], TF.linear, F.linear, dtype=dtype)
    check_op([x_shape, (9, 5)], TF.linear, F.linear, dtype=dtype)


def test_linear_uses_one_node_and_gradchecks():
    x, w, b = _rand((4, 3), 1), _rand((5, 3), 2), _rand((5,), 3)
    out = F.linear(x, w, b)
    assert out.grad_fn.name() == "LinearBackward"
    assert gradcheck(F.linear, (x, w, b))
    assert gradgradcheck(F.linear, (x, w, b))
    assert gradcheck(lambda x_, w_: F.linear(x_, w_), (_rand((2, 3, 3), 4), w))


def test_linear_skips_gradients_nobody_needs():
    x = _rand((4, 3), 1, dtype=np.float32, requires_grad=False)
    w = _rand((5, 3), 2, dtype=np.float32)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (5, 3)


def test_linear_bad_input():
    x = fastdl.randn(4, 3)
    with pytest.raises(RuntimeError, match=r"\(4x3 and 4x5\)"):  # torch's mm
        F.linear(x, fastdl.randn(5, 4))
    with pytest.raises(RuntimeError, match="expanded size of the tensor \\(5\\)"):  # addmm's
        F.linear(x, fastdl.randn(5, 3), fastdl.randn(4))
    with pytest.raises(RuntimeError, match="m1 and m2 to have the same dtype"):  # torch's mm
        F.linear(x.double(), fastdl.randn(5, 3))
    with pytest.raises(RuntimeError, match="same dtype, but got: long int != float"):
        F.linear(fastdl.tensor([[1, 2, 3]]), fastdl.randn(5, 3))
    with pytest.raises(TypeError, match="fastdl.Tensor"):
        F.linear(np.ones((4, 3), np.float32), fastdl.randn(5, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bilinear_matches_torch(dtype):
    check_op([(6, 3), (6, 4), (5, 3, 4), (5,)], TF.bilinear, F.bilinear, dtype=dtype)
    x1, x2, w = _rand((2, 3), 1), _rand((2, 2), 2), _rand((2, 3, 2), 3)
    assert gradcheck(F.bilinear, (x1, x2, w))
    with pytest.raises(RuntimeError, match="batch dimensions do not match at dim 0: got 2 and 3"):
        F.bilinear(x1, _rand((3, 2), 4), w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 7)])
def test_layer_norm_matches_torch(dtype, shape):
    norm_shape = shape[-1:]
    check_op([shape, norm_shape, norm_shape],
             lambda x, w, b: TF.layer_norm(x, norm_shape, w, b, eps=1e-4),
             lambda x, w, b: F.layer_norm(x, norm_shape, w, b, eps=1e-4), dtype=dtype)
    check_op([shape], lambda x: TF.layer_norm(x, shape[1:]), lambda x: F.layer_norm(x, shape[1:]),
             dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", ["weight", "bias", "none"])
def test_layer_norm_kernel_and_array_paths_match_torch(dtype, affine):
    """The per-row kernel (contiguous inputs) and the array version (a transposed input, an
    upstream gradient that is not contiguous) give torch's outputs and every gradient, with one
    or both of weight and bias."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((9, 6, 11)) * 2 + 1).astype(dtype)
    w = rng.uniform(0.5, 1.5, 11).astype(dtype)
    b = rng.standard_normal(11).astype(dtype)
    cot = rng.standard_normal((11, 6, 9)).astype(dtype)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    for transposed in (False, True):
        xs = np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0) if transposed else x
        fx, tx = fastdl.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
        fw = fastdl.tensor(w, requires_grad=True) if affine == "weight" else None
        fb = fastdl.tensor(b, requires_grad=True) if affine == "bias" else None
        tw = torch.tensor(w, requires_grad=True) if affine == "weight" else None
        tb = torch.tensor(b, requires_grad=True) if affine == "bias" else None
        fy = F.layer_norm(fx, (11,), fw, fb, eps=1e-3)
        ty = torch.nn.functional.layer_norm(tx, (11,), tw, tb, eps=1e-3)
        np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), **tol)
        # a cotangent laid out transposed: the upstream gradient is not C-contiguous
        (fy * fastdl.tensor(cot).permute(2, 1, 0)).sum().backward()
        (ty * torch.tensor(cot).permute(2, 1, 0)).sum().backward()
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), **tol)
        for f, t in ((fw, tw), (fb, tb)):
            if f is not None:
                np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), **tol)


def test_layer_norm_gradcheck_and_errors():
    x, w, b = _rand((3, 4), 1), _rand((4,), 2), _rand((4,), 3)
    fn = lambda x_, w_, b_: F.layer_norm(x_, (4,), w_, b_)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    with pytest.raises(RuntimeError, match=r"does not end with normalized_shape \(5,\)"):
        F.layer_norm(x, (5,))
    with pytest.raises(RuntimeError, match=r"weight must have shape \(4,\)"):
        F.layer_norm(x, (4,), _rand((3,), 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 3), (5, 3, 4)])
def test_batch_norm_training_matches_torch(dtype, shape):
    rng = np.random.default_rng(0)
    stats = {}
    for lib, fn in (("torch", TF.batch_norm), ("fastdl", F.batch_norm)):
        make = torch.tensor if lib == "torch" else fastdl.tensor
        stats[lib] = (make(rng.uniform(-1, 1, 3).astype(dtype)),
                      make(rng.uniform(0.5, 2, 3).astype(dtype)))
        rng = np.random.default_rng(0)

    def run(fn, lib):
        def call(x, w, b):
            return fn(x, *stats[lib], w, b, True, 0.3, 1e-3)
        return call

    check_op([shape, (3,), (3,)], run(TF.batch_norm, "torch"), run(F.batch_norm, "fastdl"),
             dtype=dtype)
    for t_stat, f_stat in zip(stats["torch"], stats["fastdl"]):
        np.testing.assert_allclose(f_stat.data, t_stat.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_eval_matches_torch_and_gradchecks():
    rm, rv = np.array([0.1, -0.2, 0.3]), np.array([0.5, 1.5, 2.0])

    def fast(x, w, b):
        return F.batch_norm(x, fastdl.tensor(rm), fastdl.tensor(rv), w, b, False)

    def ref(x, w, b):
        return TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, False)

    check_op([(6, 3), (3,), (3,)], ref, fast, dtype=np.float64)
    x, w, b = _rand((4, 3, 2), 1), _rand((3,), 2), _rand((3,), 3)
    train = lambda x_, w_, b_: F.batch_norm(x_, None, None, w_, b_, True)  # noqa: E731
    assert gradcheck(train, (x, w, b))
    assert gradgradcheck(train, (x, w, b))
    assert gradcheck(fast, (_rand((4, 3), 4), w, b))


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(fastdl.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(fastdl.randn(4, 3), fastdl.zeros(4), fastdl.ones(3))
    with pytest.raises(RuntimeError, match="required when training=False"):
        F.batch_norm(fastdl.randn(4, 3), None, None, training=False)


def test_embedding_matches_torch_with_padding_and_freq_scaling():
    idx = np.array([[1, 3, 3, 0], [2, 3, 1, 1]])
    for kwargs in ({}, {"padding_idx": 3}, {"scale_grad_by_freq": True},
                   {"padding_idx": -1, "scale_grad_by_freq": True}):
        check_op([(5, 4)], lambda w: TF.embedding(torch.tensor(idx), w, **kwargs),
                 lambda w: F.embedding(fastdl.tensor(idx), w, **kwargs))
    # padding_idx and scale_grad_by_freq alter the gradient on purpose: gradcheck the plain op
    fn = lambda w_: F.embedding(fastdl.tensor(idx), w_)  # noqa: E731
    assert gradcheck(fn, (_rand((5, 3), 2),))
    assert gradgradcheck(fn, (_rand((5, 3), 2),))


def test_embedding_max_norm_renormalizes_rows_like_torch():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 3, size=(6, 4)).astype(np.float32)
    idx = np.array([0, 2, 2, 5])
    t_w, f_w = torch.tensor(w.copy()), fastdl.tensor(w.copy())
    t_out = TF.embedding(torch.tensor(idx), t_w, max_norm=1.5)
    f_out = F.embedding(fastdl.tensor(idx), f_w, max_norm=1.5)
    np.testing.assert_allclose(f_out.data, t_out.numpy(), rtol=1e-5)
    np.testing.assert_allclose(f_w.data, t_w.numpy(), rtol=1e-5)


def test_embedding_bad_input():
    w = fastdl.randn(5, 3)
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(fastdl.tensor([0, 5]), w)
    with pytest.raises(TypeError, match="integer tensor"):
        F.embedding(fastdl.tensor([0.0, 1.0]), w)


def test_dropout_statistics_scaling_and_gradient():
    fastdl.manual_seed(0)
    x = fastdl.ones(200, 300, requires_grad=True)
    y = F.dropout(x, p=0.3)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)
    assert F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(x, 1.0).data.any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


def test_dropout_gradcheck_with_fixed_mask():
    x = _rand((4, 5), 1)

    def fn(x_):
        fastdl.manual_seed(3)
        return F.dropout(x_, 0.4)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
