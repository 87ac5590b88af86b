"""Every loss against torch with mixed dtypes: float32/float64/int64/bool for the input, the
target and the extra tensors (weights, variances, the second input), every reduction: the
result's dtype, its values to a few ulps of that dtype, the gradients of every float tensor
torch differentiates, and torch's exception type where torch refuses the combination."""
import zlib

import numpy as np
import pytest

import fastdl
from fastdl.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# torch's own broadcast and kl_div 'mean' warnings, and NaN/inf from exp overflow, are
# checked in test_losses.py; here only the results count
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

DTYPES = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "bool": np.bool_}
REDUCTIONS = ["none", "mean", "sum"]
SHAPE = (3, 4)


def _values(kind, rng, shape):
    """Arrays of the given kind: 'real' any reals, 'prob' in (0, 1), 'logp' log-probabilities,
    'sign' 1 or -1, 'bin' 0 or 1, 'pos' positive, 'count' small non-negative integers."""
    if kind == "real":
        return rng.uniform(-2, 2, shape)
    if kind == "prob":
        return rng.uniform(0.05, 0.95, shape)
    if kind == "logp":
        return np.log(rng.uniform(0.05, 0.95, shape))
    if kind == "sign":
        return np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0)
    if kind == "bin":
        return (rng.uniform(size=shape) < 0.5).astype(np.float64)
    if kind == "pos":
        return rng.uniform(0.5, 2, shape)
    return rng.integers(0, 4, shape).astype(np.float64)


def _cast(array, dtype):
    """``array`` in ``dtype``: integer dtypes take rounded values, bool nonzero ones."""
    if dtype is np.bool_:
        return array != 0
    if np.dtype(dtype).kind == "i":
        return np.round(array).astype(dtype)
    return array.astype(dtype)


# name: (torch fn, fastdl fn, [(value kind, shape)] per tensor argument, keyword arguments);
# the functions take the tensors positionally and ``reduction``
_PAIR = [("real", SHAPE), ("real", SHAPE)]
CASES = {
    "l1_loss": (TF.l1_loss, F.l1_loss, _PAIR, {}),
    "mse_loss": (TF.mse_loss, F.mse_loss, _PAIR, {}),
    "smooth_l1_loss": (TF.smooth_l1_loss, F.smooth_l1_loss, _PAIR, {"beta": 0.7}),
    "huber_loss": (TF.huber_loss, F.huber_loss, _PAIR, {"delta": 0.7}),
    "soft_margin_loss": (TF.soft_margin_loss, F.soft_margin_loss,
                         [("real", SHAPE), ("sign", SHAPE)], {}),
    "hinge_embedding_loss": (TF.hinge_embedding_loss, F.hinge_embedding_loss,
                             [("real", SHAPE), ("sign", SHAPE)], {}),
    "kl_div": (TF.kl_div, F.kl_div, [("logp", SHAPE), ("prob", SHAPE)], {}),
    "kl_div_log_target": (TF.kl_div, F.kl_div, [("logp", SHAPE), ("logp", SHAPE)],
                          {"log_target": True}),
    "poisson_nll_loss": (TF.poisson_nll_loss, F.poisson_nll_loss,
                         [("real", SHAPE), ("count", SHAPE)], {}),
    "poisson_nll_loss_full": (TF.poisson_nll_loss, F.poisson_nll_loss,
                              [("pos", SHAPE), ("count", SHAPE)],
                              {"log_input": False, "full": True}),
    "gaussian_nll_loss": (TF.gaussian_nll_loss, F.gaussian_nll_loss,
                          [("real", SHAPE), ("real", SHAPE), ("pos", SHAPE)], {}),
    "binary_cross_entropy": (TF.binary_cross_entropy, F.binary_cross_entropy,
                             [("prob", SHAPE), ("bin", SHAPE), ("pos", (4,))], {}),
    "binary_cross_entropy_with_logits": (
        TF.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
        [("real", SHAPE), ("prob", SHAPE), ("pos", (4,))], {}),
    "bce_with_logits_pos_weight": (
        lambda x, t, pw, reduction: TF.binary_cross_entropy_with_logits(
            x, t, reduction=reduction, pos_weight=pw),
        lambda x, t, pw, reduction: F.binary_cross_entropy_with_logits(
            x, t, reduction=reduction, pos_weight=pw),
        [("real", SHAPE), ("bin", SHAPE), ("pos", (4,))], {}),
    "multilabel_soft_margin_loss": (TF.multilabel_soft_margin_loss,
                                    F.multilabel_soft_margin_loss,
                                    [("real", SHAPE), ("bin", SHAPE), ("pos", (4,))], {}),
    "margin_ranking_loss": (TF.margin_ranking_loss, F.margin_ranking_loss,
                            [("real", (5,)), ("real", (5,)), ("sign", (5,))], {"margin": 0.3}),
    "cosine_embedding_loss": (TF.cosine_embedding_loss, F.cosine_embedding_loss,
                              [("real", SHAPE), ("real", SHAPE), ("sign", (3,))],
                              {"margin": 0.2}),
    "triplet_margin_loss": (TF.triplet_margin_loss, F.triplet_margin_loss,
                            [("real", SHAPE)] * 3, {}),
    "triplet_margin_with_distance_loss": (TF.triplet_margin_with_distance_loss,
                                          F.triplet_margin_with_distance_loss,
                                          [("real", SHAPE)] * 3, {}),
    "cross_entropy_probs": (TF.cross_entropy, F.cross_entropy,
                            [("real", SHAPE), ("prob", SHAPE), ("pos", (4,))],
                            {"label_smoothing": 0.1}),
    "cross_entropy_index": (TF.cross_entropy, F.cross_entropy,
                            [("real", SHAPE), ("count", (3,)), ("pos", (4,))],
                            {"label_smoothing": 0.1}),
    "nll_loss": (TF.nll_loss, F.nll_loss, [("logp", SHAPE), ("count", (3,)), ("pos", (4,))], {}),
    "multi_margin_loss": (lambda x, t, w, reduction: TF.multi_margin_loss(
                              x, t, weight=w, reduction=reduction),
                          lambda x, t, w, reduction: F.multi_margin_loss(
                              x, t, weight=w, reduction=reduction),
                          [("real", SHAPE), ("count", (3,)), ("pos", (4,))], {}),
    "multilabel_margin_loss": (TF.multilabel_margin_loss, F.multilabel_margin_loss,
                               [("real", SHAPE), ("count", SHAPE)], {}),
}


# tensors torch refuses to differentiate (weights, soft_margin_loss's target): no requires_grad
NO_GRAD = {"soft_margin_loss": {1}, "binary_cross_entropy": {2},
           "binary_cross_entropy_with_logits": {2}, "bce_with_logits_pos_weight": {2},
           "cross_entropy_probs": {2}, "cross_entropy_index": {2}, "nll_loss": {2},
           "multi_margin_loss": {2}}


def _dtype_combos(n):
    """The same-dtype float combinations and every combination that mixes dtypes in one slot
    at a time (the others float32), which covers each mixed pair without the full product."""
    combos = {("f32",) * n, ("f64",) * n}
    for slot in range(n):
        for other in DTYPES:
            for base in ("f32", "f64"):
                combos.add(tuple(other if i == slot else base for i in range(n)))
    return sorted(combos)


# where every argument has the input's shape, also with 0-d arguments (all of them, the first,
# the others): torch's promotion lets a 0-d tensor yield to a dimensioned one of its category
LAYOUTS = {"full": lambda n: [SHAPE] * n, "all0d": lambda n: [()] * n,
           "first0d": lambda n: [()] + [SHAPE] * (n - 1),
           "rest0d": lambda n: [SHAPE] + [()] * (n - 1)}
PARAMS = [(name, combo, layout) for name, (_, _, specs, _) in CASES.items()
          for layout in (LAYOUTS if all(s == SHAPE for _, s in specs) else ["full"])
          for combo in _dtype_combos(len(specs))]


def _run(fn, tensors, reduction, kwargs, lib):
    """(result or the exception raised, gradients of the float tensors or the exception)."""
    try:
        out = fn(*tensors, reduction=reduction, **kwargs)
    except Exception as error:  # compared with torch's below
        return error, None
    diff = [t for t in tensors if t.requires_grad]
    if not diff:
        return out, []
    seed = np.random.default_rng(5).uniform(0.5, 1.5, tuple(out.shape))
    try:
        if lib == "torch":
            return out, torch.autograd.grad(out, diff, torch.tensor(seed, dtype=out.dtype),
                                            allow_unused=True)
        return out, fastdl.autograd.grad(out, diff, fastdl.tensor(seed.astype(out.dtype)),
                                         allow_unused=True)
    except Exception as error:
        return out, error


def _close(expected, actual, what, low_eps):
    """Equal dtypes and shapes, values within a few ulps of the result's dtype plus a few of
    the least precise float among the arguments (a float32 exp or log inside a float64 result
    may round differently from torch's by one float32 ulp)."""
    expected = expected.detach().numpy()
    actual = actual.detach().numpy()
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, torch {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, torch {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0)))
    if expected.dtype.kind != "f":  # an integer loss (hinge_embedding_loss of integers)
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    atol = (8 * np.finfo(expected.dtype).eps + 4 * low_eps) * scale
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, err_msg=what)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,combo,layout", PARAMS,
                         ids=[f"{n}-{'-'.join(c)}-{lay}" for n, c, lay in PARAMS])
def test_loss_dtype_parity(name, combo, layout, reduction):
    torch_fn, fastdl_fn, specs, kwargs = CASES[name]
    rng = np.random.default_rng(zlib.crc32(repr((name, combo, layout)).encode()))
    shapes = [s for _, s in specs] if layout == "full" else LAYOUTS[layout](len(specs))
    arrays = [_cast(np.asarray(_values(kind, rng, shape)), DTYPES[d])
              for (kind, _), shape, d in zip(specs, shapes, combo)]
    grad = [a.dtype.kind == "f" and i not in NO_GRAD.get(name, ()) for i, a in enumerate(arrays)]
    t_in = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grad)]
    f_in = [fastdl.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad)]
    expected, t_grads = _run(torch_fn, t_in, reduction, kwargs, "torch")
    actual, f_grads = _run(fastdl_fn, f_in, reduction, kwargs, "fastdl")
    if isinstance(expected, Exception):
        got = "returned" if isinstance(actual, fastdl.Tensor) else repr(actual)
        assert isinstance(actual, type(expected)), f"torch raised {expected!r}, fastdl {got}"
        return
    if isinstance(actual, Exception):
        raise AssertionError(f"torch returned {expected.dtype}, fastdl raised {actual!r}")
    # an integer or bool argument goes through float32 (torch's default dtype) in exp or log
    low_eps = max(np.finfo(a.dtype if a.dtype.kind == "f" else np.float32).eps for a in arrays)
    if layout in ("first0d", "rest0d"):  # a 0-d argument's gradient sums 12 rounded terms
        low_eps *= 4
    _close(expected, actual, "value", low_eps)
    if isinstance(t_grads, Exception):
        # torch's backward kernels of some losses (huber_loss) refuse a target of another
        # float dtype after the forward accepted it; fastdl gives the gradients
        return
    assert not isinstance(f_grads, Exception), f"fastdl's backward raised {f_grads!r}"
    for i, (g_t, g_f) in enumerate(zip(t_grads, f_grads)):
        if g_t is None:
            assert g_f is None or not np.any(g_f.numpy()), f"grad {i}: torch gives none"
        else:
            assert g_f is not None, f"grad {i}: torch gives one, fastdl none"
            _close(g_t, g_f, f"grad {i}", low_eps)


# the modules hand their tensors (weights included) to the functionals unchanged
MODULE_CASES = [("HuberLoss", {}, "real"), ("SoftMarginLoss", {}, "sign"),
                ("BCEWithLogitsLoss", {"pos_weight": np.float64}, "prob"),
                ("BCEWithLogitsLoss", {"weight": np.int64}, "prob"), ("KLDivLoss", {}, "prob"),
                ("PoissonNLLLoss", {}, "count"),
                ("CrossEntropyLoss", {"weight": np.float64}, "prob"),
                ("MultiLabelSoftMarginLoss", {"weight": np.float64}, "bin"),
                ("MSELoss", {}, "real")]


@pytest.mark.parametrize("name,weights,target_kind", MODULE_CASES)
def test_loss_modules_pass_dtypes_through(name, weights, target_kind):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = _values("logp" if name == "KLDivLoss" else "real", rng, SHAPE).astype(np.float32)
    t = _values(target_kind, rng, SHAPE)  # float64
    kw = {k: _cast(_values("pos", rng, (4,)), d) for k, d in weights.items()}
    expected = getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kw.items()})(
        torch.tensor(x), torch.tensor(t))
    actual = getattr(fastdl.nn, name)(**{k: fastdl.tensor(v) for k, v in kw.items()})(
        fastdl.tensor(x), fastdl.tensor(t))
    _close(expected, actual, "value", np.finfo(np.float32).eps)


# Python numbers for the scalar arguments (ints where floats are usual), a Python float var,
# and 0-d weights/targets: f(fn, tensor_constructor, x, t) for torch's and fastdl's functions
_SIGNS = np.array([1.0, -1.0, -1.0, 1.0], dtype=np.float32)
NUMBER_CASES = {
    "gaussian_float_var": ("gaussian_nll_loss", lambda f, T, x, t: f(T(x), T(t), 0.5)),
    "gaussian_int_var": ("gaussian_nll_loss", lambda f, T, x, t: f(T(x), T(t), 1)),
    "gaussian_int_eps": ("gaussian_nll_loss", lambda f, T, x, t: f(T(x), T(t), T(t), eps=1)),
    "huber_int_delta": ("huber_loss", lambda f, T, x, t: f(T(x), T(t), delta=1)),
    "smooth_l1_int_beta": ("smooth_l1_loss", lambda f, T, x, t: f(T(x), T(t), beta=1)),
    "smooth_l1_beta_0": ("smooth_l1_loss", lambda f, T, x, t: f(T(x), T(t), beta=0)),
    "ranking_int_margin": ("margin_ranking_loss",
                           lambda f, T, x, t: f(T(x[0]), T(t[0]), T(_SIGNS), margin=1)),
    "hinge_int_margin": ("hinge_embedding_loss",
                         lambda f, T, x, t: f(T(x), T(np.resize(_SIGNS, x.shape)), margin=2)),
    "ce_int_smoothing": ("cross_entropy", lambda f, T, x, t: f(T(x), T(np.array([0, 1, 2])),
                                                             label_smoothing=1)),
    "poisson_int_eps": ("poisson_nll_loss",
                        lambda f, T, x, t: f(T(x), T(t), eps=1, log_input=False)),
    "triplet_int_margin_p": ("triplet_margin_loss",
                             lambda f, T, x, t: f(T(x), T(t), T(t * 2), margin=2, p=1)),
    "multi_margin_int": ("multi_margin_loss",
                         lambda f, T, x, t: f(T(x), T(np.array([0, 1, 2])), margin=2, p=2)),
    "bce_0d_weight": ("binary_cross_entropy",
                      lambda f, T, x, t: f(T(t), T(t.round()), weight=T(np.float64(2.0)))),
    "bce_logits_0d_pos_weight": ("binary_cross_entropy_with_logits",
                                 lambda f, T, x, t: f(T(x), T(t), pos_weight=T(np.array(2.0)))),
    "bce_logits_0d_target": ("binary_cross_entropy_with_logits",
                             lambda f, T, x, t: f(T(x), T(np.float64(0.3)))),
    "cosine_0d_target": ("cosine_embedding_loss",
                         lambda f, T, x, t: f(T(x[0]), T(t[0]), T(np.float64(-1)), margin=0.1)),
    "nll_0d_target": ("nll_loss", lambda f, T, x, t: f(T(x[0]), T(np.int64(2)))),
    "multilabel_soft_0d_weight": ("multilabel_soft_margin_loss", lambda f, T, x, t: f(
        T(x), T(t.round()), weight=T(np.float64(2)))),
}


@pytest.mark.parametrize("case", NUMBER_CASES)
def test_loss_number_arguments(case):
    name, build = NUMBER_CASES[case]
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    x = rng.uniform(-2, 2, SHAPE).astype(np.float32)
    t = rng.uniform(0.1, 0.9, SHAPE).astype(np.float32)
    try:
        expected = build(getattr(TF, name), torch.tensor, x, t)
    except Exception as error:
        with pytest.raises(type(error)):
            build(getattr(F, name), fastdl.tensor, x, t)
        return
    _close(expected, build(getattr(F, name), fastdl.tensor, x, t), "value",
           np.finfo(np.float32).eps)
