"""Edge behaviours checked against torch: logcumsumexp's gradient at infinite inputs and its
dtypes, batch_norm with eps=0, capturable optimizers on CPU parameters, lazy norms given
float64 input."""
import warnings

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


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_logcumsumexp_cupy_loop_matches_accumulate(axis):
    """The slice-by-slice forward cupy arrays take, run on numpy."""
    from fastdl.functional.reductions import _running_logaddexp
    a = np.random.default_rng(2).standard_normal((3, 4, 5)) * 3
    a[0, 1, 2], a[1, 2, 3], a[2, 0, 0] = INF, -INF, float("nan")
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(_running_logaddexp(a, axis),
                                      np.logaddexp.accumulate(a, axis=axis))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_logcumsumexp_refuses_non_float(dtype):
    with pytest.raises(NotImplementedError) as theirs:
        torch.logcumsumexp(torch.tensor([1, 0], dtype=getattr(torch, dtype)), 0)
    with pytest.raises(NotImplementedError) as ours:
        fastdl.logcumsumexp(fastdl.tensor([1, 0], dtype=getattr(fastdl, dtype)), 0)
    assert str(ours.value) == str(theirs.value)


# ---- batch_norm with eps = 0 -------------------------------------------------------------
_BN_X = np.array([[[1.0, 1.0], [2.0, 5.0]], [[1.0, 1.0], [-1.0, 0.5]], [[1.0, 1.0], [3.0, 4.5]]])


def _bn_calls(L, x, eps, training):
    """ATen's batch-statistics entry points, each with (running stats, weight) of its own."""
    def stats():
        return L.zeros(2, dtype=x.dtype), L.ones(2, dtype=x.dtype)
    w = L.tensor([1.5, -2.0], dtype=x.dtype)
    rm, rv = stats()
    yield "batch_norm", L.batch_norm(x, w, None, rm, rv, training, 0.1, eps, False), (rm, rv)
    rm, rv = stats()
    out = L.native_batch_norm(x, w, None, rm, rv, training, 0.1, eps)
    yield "native_batch_norm", out, (rm, rv)
    rm, rv = stats()
    yield "instance_norm", L.instance_norm(x, w, None, rm, rv, training, 0.1, eps, False), \
        (rm, rv)
    rm, rv = stats()
    yield "F.instance_norm", L.nn.functional.instance_norm(
        x, rm, rv, w, None, use_input_stats=training, eps=eps), (rm, rv)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("eps", [0.0, -0.5, 1e-5])
def test_aten_batch_norm_takes_any_eps(dtype, training, eps):
    """ATen's batch_norm (and instance_norm, built on it) refuses no eps: with eps = 0 its
    InvStd is 0 for a constant channel (output 0, not NaN), a negative eps gives NaN where
    var + eps < 0. Only nn.functional.batch_norm checks eps."""
    ours = list(_bn_calls(fastdl, fastdl.tensor(_BN_X, dtype=getattr(fastdl, dtype)), eps,
                          training))
    theirs = list(_bn_calls(torch, torch.tensor(_BN_X, dtype=getattr(torch, dtype)), eps,
                            training))
    for (name, out, stats), (_, tout, tstats) in zip(ours, theirs):
        out, tout = (out, tout) if isinstance(out, tuple) else ((out,), (tout,))
        for a, b in zip(out + stats, tout + tstats):
            assert a.shape == tuple(b.shape), name
            _assert_same(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("entry", ["batch_norm", "instance_norm"])
def test_batch_norm_eps_zero_gradients(entry):
    """The constant channel's invstd is 0: its input and weight take zero gradient."""
    def run(L):
        x = L.tensor(_BN_X, requires_grad=True)
        w = L.tensor([1.5, -2.0], dtype=x.dtype, requires_grad=True)
        b = L.tensor([0.5, 0.25], dtype=x.dtype, requires_grad=True)
        fn = getattr(L, entry)
        y = fn(x, w, b, None, None, True, 0.1, 0.0, False)
        y.backward(L.tensor(np.arange(12.0).reshape(3, 2, 2) - 5))
        return y, x.grad, w.grad, b.grad
    for a, b in zip(run(fastdl), run(torch)):
        _assert_same(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("entry", ["batch_norm", "instance_norm"])
def test_batch_norm_eps_zero_double_backward(entry):
    """The second derivative through a constant channel is 0 too (not NaN from rsqrt(0))."""
    def run(L):
        x = L.tensor(_BN_X, requires_grad=True)
        w = L.tensor([1.5, -2.0], dtype=x.dtype, requires_grad=True)
        y = getattr(L, entry)(x, w, None, None, None, True, 0.1, 0.0, False)
        cot = L.tensor(np.arange(12.0).reshape(3, 2, 2) - 5)
        gx, gw = L.autograd.grad((y * cot).sum(), (x, w), create_graph=True)
        return L.autograd.grad((gx ** 2).sum() + (gw ** 2).sum(), (x, w))
    for a, b in zip(run(fastdl), run(torch)):
        _assert_same(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("training, eps, message", [
    (True, 0.0, "batch_norm eps must be positive during training, but got 0.0"),
    (True, -1.0, "batch_norm eps must be positive during training, but got -1.0"),
    (False, -1.0, "batch_norm eps must be non-negative, but got -1.0")])
def test_functional_batch_norm_still_checks_eps(training, eps, message):
    for L in (torch, fastdl):
        with pytest.raises(ValueError, match=message):
            L.nn.functional.batch_norm(L.tensor(_BN_X), L.zeros(2, dtype=L.float64),
                                       L.ones(2, dtype=L.float64), training=training, eps=eps)


# ---- capturable optimizers on CPU parameters ------------------------------------------------
_CAPTURABLE = ["Adam", "AdamW", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD",
               "Rprop"]


def _capturable_step(L, name, **kw):
    p = L.nn.Parameter(L.ones(2))
    q = L.nn.Parameter(L.ones(2))
    opt = getattr(L.optim, name)([{"params": [q], "capturable": False},
                                  {"params": [p]}], capturable=True, **kw)
    p.grad, q.grad = L.ones(2), L.ones(2)
    with pytest.raises(AssertionError) as info:
        opt.step()
    return str(info.value), q.detach().numpy().copy(), p.detach().numpy().copy()


@pytest.mark.parametrize("foreach", [None, False, True])
@pytest.mark.parametrize("name", _CAPTURABLE)
def test_capturable_step_refuses_cpu_parameters(name, foreach):
    """torch asserts at the step (its message depends on the optimizer and on foreach); the
    group before the capturable one has already stepped, the capturable one has not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's foreach-on-CPU notes are not what is checked
        ours = _capturable_step(fastdl, name, foreach=foreach)
        theirs = _capturable_step(torch, name, foreach=foreach)
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert (ours[1] != 1).all()


@pytest.mark.parametrize("name", _CAPTURABLE)
def test_capturable_without_gradients_steps_nothing(name):
    for L in (torch, fastdl):
        p = L.nn.Parameter(L.ones(2))
        getattr(L.optim, name)([p], capturable=True).step()
        assert p.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_capturable_fused_steps_on_cpu(name):
    out = []
    for L in (torch, fastdl):
        p = L.nn.Parameter(L.ones(2))
        opt = getattr(L.optim, name)([p], capturable=True, fused=True)
        p.grad = L.tensor([1.0, -2.0])
        opt.step()
        out.append(p.detach().numpy().copy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6)


# ---- lazy norms given float64 input ---------------------------------------------------------
def _lazy_outcome(L, name, factory_dtype, input_dtype, affine):
    kw = {"affine": affine} | ({"dtype": getattr(L, factory_dtype)} if factory_dtype else {})
    m = getattr(L.nn, name)(**kw)
    x = L.tensor(np.random.default_rng(1).standard_normal((4, 3, 5, 2)[:int(name[-2]) + 2]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # InstanceNorm's num_features note
            y = m(x.to(getattr(L, input_dtype)))
    except Exception as e:  # noqa: BLE001  (the outcome compared is the exception)
        return type(e).__name__, str(e)
    return str(y.dtype).split(".")[-1], {k: str(v.dtype).split(".")[-1]
                                         for k, v in m.state_dict().items()}


@pytest.mark.parametrize("name", ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyInstanceNorm1d",
                                  "LazyInstanceNorm2d"])
@pytest.mark.parametrize("factory_dtype, input_dtype", [
    (None, "float64"), (None, "float16"), ("float64", "float64"), ("float64", "float32")])
@pytest.mark.parametrize("affine", [True, False])
def test_lazy_norms_materialize_in_the_factory_dtype(name, factory_dtype, input_dtype, affine):
    """The lazy parameters take the factory dtype (float32 by default), not the input's: a
    float64 input then fails as the non-lazy module's would (torch's 'mixed dtype' error),
    except where nothing is materialized (InstanceNorm without affine)."""
    assert _lazy_outcome(fastdl, name, factory_dtype, input_dtype, affine) == \
        _lazy_outcome(torch, name, factory_dtype, input_dtype, affine)


# ---- convolution dtype mismatches (the lazy convolutions' float64 case) -----------------------
_F64_COMBOS = [(x, w, b) for x in ("float32", "float64") for w in ("float32", "float64")
               for b in ("float32", "float64", None) if not (x == w and b in (x, None))]


@pytest.mark.parametrize("fn, wshape", [("conv1d", (2, 3, 3)), ("conv2d", (2, 3, 3, 3)),
                                        ("conv_transpose1d", (3, 2, 3)),
                                        ("conv_transpose2d", (3, 2, 3, 3))])
@pytest.mark.parametrize("dtypes", _F64_COMBOS)
def test_conv_dtype_mismatch_as_torch(fn, wshape, dtypes):
    """torch's RuntimeErrors (bias checked against input first; the transposed ones take a
    bias of another dtype, added in input's dtype, its gradient in its own)."""
    def run(L):
        xd, wd, bd = (None if d is None else getattr(L, d) for d in dtypes)
        x = L.ones((1, 3) + (5,) * (len(wshape) - 2), dtype=xd)
        w = L.tensor(np.linspace(-1, 1, int(np.prod(wshape))).reshape(wshape), dtype=wd)
        b = None if bd is None else L.tensor([0.5, -0.25], dtype=bd, requires_grad=True)
        try:
            y = getattr(L.nn.functional, fn)(x, w, b)
        except Exception as e:  # noqa: BLE001  (the outcome compared is the exception)
            return type(e).__name__, str(e)
        y.sum().backward()
        return y, b.grad
    ours, theirs = run(fastdl), run(torch)
    if isinstance(theirs[0], str):
        assert ours == theirs
        return
    for a, t in zip(ours, theirs):
        assert str(a.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        _assert_same(a, t, rtol=1e-6)
