"""Losses (functional and modules) against torch for every reduction, gradcheck in float64,
and bad input."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F
from fastdl.testing import gradcheck, gradgradcheck
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = ["none", "mean", "sum"]
RNG = np.random.default_rng(42)


def _both(fn_name, *args, **kwargs):
    """(torch function, fastdl function) applying the same extra args."""
    return (lambda *xs: getattr(TF, fn_name)(*xs, *args, **kwargs),
            lambda *xs: getattr(F, fn_name)(*xs, *args, **kwargs))


def _f64(shape, low=-2.0, high=2.0, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).uniform(low, high, size=shape)
    return fastdl.tensor(data, requires_grad=requires_grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", [("mse_loss", {}), ("l1_loss", {}),
                                         ("huber_loss", {"delta": 0.7}),
                                         ("smooth_l1_loss", {"beta": 0.6}),
                                         ("smooth_l1_loss", {"beta": 0.0})])
def test_regression_losses_match_torch(name, kwargs, reduction, dtype):
    ref, fast = _both(name, reduction=reduction, **kwargs)
    # both input and target differentiable
    check_op([(5, 3, 2), (5, 3, 2)], ref, fast, dtype=dtype)
    # target constant
    target = RNG.uniform(-2, 2, (5, 3, 2)).astype(dtype)
    check_op([(5, 3, 2)], lambda x: ref(x, torch.tensor(target)),
             lambda x: fast(x, fastdl.tensor(target)), dtype=dtype)


@pytest.mark.parametrize("name,kwargs", [("mse_loss", {}), ("l1_loss", {}),
                                         ("huber_loss", {"delta": 0.7}),
                                         ("smooth_l1_loss", {"beta": 0.6})])
def test_regression_losses_gradcheck(name, kwargs):
    x = _f64((3, 4), seed=1)
    t = _f64((3, 4), seed=2, requires_grad=False)
    # away from the kinks |x - t| in {0, delta, beta}
    d = x.data - t.data
    x.data[np.abs(np.abs(d) - 0.65) < 0.1] += 0.3
    for reduction in REDUCTIONS:
        fn = lambda x_: getattr(F, name)(x_, t, reduction=reduction, **kwargs)  # noqa: E731
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))
    fn2 = lambda x_, t_: getattr(F, name)(x_, t_, **kwargs)  # noqa: E731
    assert gradcheck(fn2, (x, _f64((3, 4), seed=3)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, dtype, weighted):
    target = RNG.uniform(0, 1, (6, 4)).astype(dtype)
    weight = RNG.uniform(0.5, 2, (4,)).astype(dtype) if weighted else None

    def ref(p):
        return TF.binary_cross_entropy(p, torch.tensor(target), reduction=reduction,
                                       weight=None if weight is None else torch.tensor(weight))

    def fast(p):
        return F.binary_cross_entropy(p, fastdl.tensor(target), reduction=reduction,
                                      weight=None if weight is None else fastdl.tensor(weight))

    check_op([(6, 4)], ref, fast, dtype=dtype, low=0.02, high=0.98)


def test_binary_cross_entropy_clamps_log_and_gradchecks():
    p = fastdl.tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    t = fastdl.tensor(np.array([1.0, 0.0, 1.0]))
    ref = TF.binary_cross_entropy(torch.tensor(p.data), torch.tensor(t.data), reduction="none")
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, reduction="none").data, ref.numpy())
    x = _f64((3, 4), 0.1, 0.9, seed=1)
    t2 = _f64((3, 4), 0, 1, seed=2, requires_grad=False)
    assert gradcheck(lambda x_: F.binary_cross_entropy(x_, t2), (x,))
    assert gradgradcheck(lambda x_: F.binary_cross_entropy(x_, t2), (x,))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(fastdl.tensor([1.5]), fastdl.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_matches_torch(reduction, dtype, weighted, pos_weighted):
    target = RNG.uniform(0, 1, (5, 3)).astype(dtype)
    weight = RNG.uniform(0.5, 2, (5, 1)).astype(dtype) if weighted else None
    pos_weight = RNG.uniform(0.5, 3, (3,)).astype(dtype) if pos_weighted else None

    def call(lib, fn):
        def f(x, t=None):
            wrap = torch.tensor if lib is torch else fastdl.tensor
            return fn(x, wrap(target) if t is None else t, reduction=reduction,
                      weight=None if weight is None else wrap(weight),
                      pos_weight=None if pos_weight is None else wrap(pos_weight))
        return f

    ref = call(torch, TF.binary_cross_entropy_with_logits)
    fast = call(fastdl, F.binary_cross_entropy_with_logits)
    check_op([(5, 3)], ref, fast, dtype=dtype, low=-30, high=30)
    check_op([(5, 3), (5, 3)], ref, fast, dtype=dtype, low=0, high=1)


def test_bce_with_logits_gradcheck():
    x = _f64((3, 4), seed=1)
    t = _f64((3, 4), 0, 1, seed=2, requires_grad=False)
    pw = fastdl.tensor(np.array([0.5, 1.0, 2.0, 3.0]))
    fn = lambda x_: F.binary_cross_entropy_with_logits(x_, t, pos_weight=pw)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's notice, not ours
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_div_matches_torch(reduction, log_target, dtype):
    logits = RNG.normal(size=(4, 5))
    target = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    target[0, 2] = 0.0  # t = 0 contributes 0
    if log_target:
        target = np.log(target + 1e-3)
    target = target.astype(dtype)
    ref = lambda x: TF.kl_div(x, torch.tensor(target), reduction=reduction,  # noqa: E731
                              log_target=log_target)
    fast = lambda x: F.kl_div(x, fastdl.tensor(target), reduction=reduction,  # noqa: E731
                              log_target=log_target)
    check_op([(4, 5)], ref, fast, dtype=dtype, low=-3, high=0)
    x = _f64((4, 5), -3, 0, seed=1)
    assert gradcheck(fast if dtype == np.float64 else
                     (lambda x_: F.kl_div(x_, fastdl.tensor(target.astype(np.float64)),
                                          reduction=reduction, log_target=log_target)), (x,))


def _class_inputs(shape, classes, ignore=None, seed=0):
    rng = np.random.default_rng(seed)
    batch_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, classes, size=batch_shape)
    if ignore is not None and target.ndim:
        target.reshape(-1)[::3] = ignore
    return target


CLASS_SHAPES = [(7, 5), (4, 3, 2, 3), (5,)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", CLASS_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("ignore", [None, 1])
def test_cross_entropy_class_indices_match_torch(reduction, shape, weighted, smoothing, ignore):
    classes = shape[1] if len(shape) > 1 else shape[0]
    target = _class_inputs(shape, classes, ignore)
    weight = RNG.uniform(0.5, 2, classes).astype(np.float32) if weighted else None
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    if ignore is not None:
        kwargs["ignore_index"] = ignore

    def ref(x):
        return TF.cross_entropy(x, torch.tensor(target), None if weight is None else
                                torch.tensor(weight), **kwargs)

    def fast(x):
        return F.cross_entropy(x, fastdl.tensor(target), None if weight is None else
                               fastdl.tensor(weight), **kwargs)

    check_op([shape], ref, fast, low=-4, high=4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", CLASS_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, shape, weighted):
    classes = shape[1] if len(shape) > 1 else shape[0]
    target = _class_inputs(shape, classes, ignore=2)
    weight = RNG.uniform(0.5, 2, classes).astype(np.float32) if weighted else None
    check_op([shape],
             lambda x: TF.nll_loss(x, torch.tensor(target), None if weight is None else
                                   torch.tensor(weight), ignore_index=2, reduction=reduction),
             lambda x: F.nll_loss(x, fastdl.tensor(target), None if weight is None else
                                  fastdl.tensor(weight), ignore_index=2, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probabilities_match_torch(reduction, shape, weighted, smoothing):
    p = RNG.uniform(0, 1, shape)
    p = (p / p.sum(1, keepdims=True)).astype(np.float32)
    weight = RNG.uniform(0.5, 2, shape[1]).astype(np.float32) if weighted else None
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)

    def ref(x, t=None):
        return TF.cross_entropy(x, torch.tensor(p) if t is None else t, None if weight is None
                                else torch.tensor(weight), **kwargs)

    def fast(x, t=None):
        return F.cross_entropy(x, fastdl.tensor(p) if t is None else t, None if weight is None
                               else fastdl.tensor(weight), **kwargs)

    check_op([shape], ref, fast)
    check_op([shape, shape], ref, fast, low=0, high=1)  # target differentiable too


def test_cross_entropy_is_stable_for_huge_logits():
    x = fastdl.tensor(np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 1.0]], dtype=np.float32),
                      requires_grad=True)
    loss = F.cross_entropy(x, fastdl.tensor([1, 1]))
    ref = TF.cross_entropy(torch.tensor(x.data), torch.tensor([1, 1]))
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    loss.backward()
    assert np.isfinite(x.grad.data).all()


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.1, "ignore_index": 0},
                                    {"reduction": "sum"}, {"reduction": "none"}])
def test_cross_entropy_and_nll_gradcheck(kwargs):
    x = _f64((4, 3, 2), seed=1)
    t = fastdl.tensor(np.array([[0, 2], [1, 1], [2, 0], [0, 1]]))
    w = fastdl.tensor(np.array([0.5, 2.0, 1.5]))
    fn = lambda x_: F.cross_entropy(x_, t, w, **kwargs)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    nll_kwargs = {k: v for k, v in kwargs.items() if k != "label_smoothing"}
    nll = lambda x_: F.nll_loss(x_, t, w, **nll_kwargs)  # noqa: E731
    assert gradcheck(nll, (x,))
    assert gradgradcheck(nll, (x,))
    probs = fastdl.tensor(np.random.default_rng(1).dirichlet(np.ones(3), size=(4, 2))
                          .transpose(0, 2, 1).copy())
    assert gradcheck(lambda x_, p_: F.cross_entropy(x_, p_, label_smoothing=0.1),
                     (x, probs.requires_grad_()))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 4), (5,)])
def test_multi_margin_loss_matches_torch(reduction, p, weighted, shape):
    classes = shape[-1]
    target = _class_inputs(shape, classes)
    weight = RNG.uniform(0.5, 2, classes).astype(np.float32) if weighted else None
    check_op([shape],
             lambda x: TF.multi_margin_loss(x, torch.tensor(target), p=p, margin=0.8,
                                            weight=None if weight is None else
                                            torch.tensor(weight), reduction=reduction),
             lambda x: F.multi_margin_loss(x, fastdl.tensor(target), p=p, margin=0.8,
                                           weight=None if weight is None else
                                           fastdl.tensor(weight), reduction=reduction),
             low=-1, high=1)


def test_multi_margin_loss_gradcheck():
    x = _f64((4, 3), seed=1)
    t = fastdl.tensor(np.array([0, 2, 1, 1]))
    for p in (1, 2):
        fn = lambda x_: F.multi_margin_loss(x_, t, p=p)  # noqa: E731
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


def test_loss_bad_input_names_the_problem():
    x = fastdl.randn(4, 3)
    with pytest.raises(ValueError,
                       match=r"target shape \(4, 2\) does not broadcast with input shape \(4, 3\)"):
        F.mse_loss(x, fastdl.randn(4, 2))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"batch_size \(4\) to match target batch_size \(3\)"):
        F.cross_entropy(x, fastdl.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, fastdl.tensor([0, 1, 2, 3]))
    with pytest.raises(RuntimeError, match="integer tensor"):
        F.nll_loss(x, fastdl.tensor([0.0, 1.0, 2.0, 1.0]).reshape(2, 2))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, fastdl.tensor([0, 1, 2, 0]), weight=fastdl.ones(4))
    with pytest.raises(NotImplementedError, match="\"mse_cpu\" not implemented for 'Long'"):
        F.mse_loss(fastdl.tensor([1, 2]), fastdl.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="same dtype"):  # torch's kernel takes one dtype
        F.binary_cross_entropy(x.sigmoid(), x.sigmoid().double())


def test_regression_losses_broadcast_and_promote_as_torch():
    """torch broadcasts a target of another shape (warning: usually a (N, 1) vs (N,) mistake)
    and promotes another float dtype or an integer target."""
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((5, 1)), rng.standard_normal(5)
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        fx = fastdl.tensor(x.astype(np.float32)).requires_grad_()
        tx = torch.tensor(x.astype(np.float32), requires_grad=True)
        with pytest.warns(UserWarning, match="target size"):
            ours = getattr(F, name)(fx, fastdl.tensor(t))
        with pytest.warns(UserWarning):
            theirs = getattr(TF, name)(tx, torch.tensor(t))
        # huber_loss's kernel writes into a tensor like the input
        assert ours.dtype == (fastdl.float32 if name == "huber_loss" else fastdl.float64)
        assert str(theirs.dtype) == f"torch.{ours.dtype}"
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-6)
        ours.backward()  # (torch's own backward fails here: "Found dtype Double")
        x64 = torch.tensor(x.astype(np.float32).astype(np.float64), requires_grad=True)
        with pytest.warns(UserWarning):
            getattr(TF, name)(x64, torch.tensor(t)).backward()
        assert fx.grad.dtype == fastdl.float32
        np.testing.assert_allclose(fx.grad.numpy(), x64.grad.numpy(), rtol=1e-5)
    ints = np.array([1, 2, 3, 4, 5])
    np.testing.assert_allclose(
        F.mse_loss(fastdl.tensor(x[:, 0].astype(np.float32)), fastdl.tensor(ints)).item(),
        TF.mse_loss(torch.tensor(x[:, 0].astype(np.float32)), torch.tensor(ints)).item(),
        rtol=1e-6)


def test_loss_modules_match_functional_and_legacy_args():
    x = fastdl.randn(5, 3, requires_grad=True)
    t = fastdl.tensor([0, 2, 1, 1, 0])
    w = fastdl.tensor(np.array([1.0, 2.0, 0.5], dtype=np.float32))
    ce = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, reduction="sum")
    np.testing.assert_allclose(ce(x, t).data, F.cross_entropy(x, t, w, reduction="sum",
                                                              label_smoothing=0.1).data)
    assert "weight" in dict(ce.named_buffers())
    y = fastdl.randn(5, 3)
    pairs = [(nn.MSELoss(), F.mse_loss), (nn.L1Loss(reduction="none"),
                                          lambda a, b: F.l1_loss(a, b, reduction="none")),
             (nn.HuberLoss(delta=0.5), lambda a, b: F.huber_loss(a, b, delta=0.5)),
             (nn.SmoothL1Loss(beta=0.5), lambda a, b: F.smooth_l1_loss(a, b, beta=0.5)),
             (nn.KLDivLoss(reduction="batchmean"),
              lambda a, b: F.kl_div(a, b, reduction="batchmean")),
             (nn.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits)]
    for module, fn in pairs:
        np.testing.assert_allclose(module(x, y.sigmoid()).data, fn(x, y.sigmoid()).data)
    np.testing.assert_allclose(nn.NLLLoss()(x, t).data, F.nll_loss(x, t).data)
    np.testing.assert_allclose(nn.MultiMarginLoss(p=2)(x, t).data,
                               F.multi_margin_loss(x, t, p=2).data)
    np.testing.assert_allclose(nn.BCELoss()(x.sigmoid(), y.sigmoid()).data,
                               F.binary_cross_entropy(x.sigmoid(), y.sigmoid()).data)
    with pytest.warns(UserWarning, match="deprecated"):
        legacy = nn.MSELoss(size_average=False)
    assert legacy.reduction == "sum"


@pytest.mark.parametrize("size_average, reduce", [(False, None), (None, False), (True, True),
                                                  (False, True), (True, False)])
def test_legacy_reduction_warning_names_the_reduction_as_torch(size_average, reduce):
    """common_nn's BCEWithLogitsLoss_legacy_enum (reduce=False): torch's warning says which
    reduction= replaces the flags."""
    x, y = fastdl.zeros(2), fastdl.ones(2)
    with pytest.warns(UserWarning) as ours:
        fastdl_loss = F.binary_cross_entropy_with_logits(x, y, size_average=size_average,
                                                         reduce=reduce)
    with pytest.warns(UserWarning) as theirs:
        torch_loss = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.zeros(2), torch.ones(2), size_average=size_average, reduce=reduce)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    np.testing.assert_allclose(fastdl_loss.numpy(), torch_loss.numpy(), rtol=1e-6)
    with pytest.warns(UserWarning) as ours_module:
        module = nn.MSELoss(size_average=size_average, reduce=reduce)
    assert [str(w.message) for w in ours_module] == [str(w.message) for w in theirs]
    with pytest.warns(UserWarning):
        expected = torch.nn.MSELoss(size_average=size_average, reduce=reduce).reduction
    assert module.reduction == expected


@pytest.mark.parametrize("integral", ["input", "target"])
def test_kl_div_refuses_integer_tensors_as_torch(integral):
    """torch's kl_div (unlike l1/mse) takes no integer or bool tensor; fastdl cast an integer
    target to the input's dtype."""
    for values in ([1, 0, 2], [True, False, True]):
        ints, floats = np.array(values), np.array([0.1, -0.5, 0.3])
        args = (ints, floats) if integral == "input" else (floats, ints)
        with pytest.raises(RuntimeError, match="kl_div: Integral inputs not supported.") as ours:
            F.kl_div(*(fastdl.tensor(a) for a in args), reduction="none")
        with pytest.raises(RuntimeError) as theirs:
            torch.nn.functional.kl_div(*(torch.tensor(a) for a in args), reduction="none")
        assert str(ours.value) == str(theirs.value)


def test_kl_div_non_tensor_arguments_are_type_errors():
    """kl_div reads both dtypes before its regression-pair checks: the Tensor checks come
    first (a list gave an AttributeError)."""
    import fastdl.nn.functional as F
    with pytest.raises(TypeError, match="must be a fastdl.Tensor"):
        F.kl_div([[1.0, 2.0]], 2)
    with pytest.raises(TypeError, match="target"):
        F.kl_div(fastdl.zeros(2), [0.5, 0.5])
