"""Margin, embedding and likelihood losses (functional and modules) against torch for every
reduction and option, float32 and float64, gradcheck in float64, and bad input."""
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
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(20261130)


def _signs(shape):
    return np.where(RNG.uniform(size=shape) < 0.5, -1.0, 1.0)


def _pair(array, dtype=None):
    """The same constant array as a (torch, fastdl) tensor pair."""
    a = array if dtype is None else array.astype(dtype)
    return torch.tensor(a), fastdl.tensor(a.copy())


def _f64(shape, low=-2.0, high=2.0):
    return fastdl.tensor(RNG.uniform(low, high, size=shape), requires_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [0.0, 0.7])
def test_margin_ranking_loss_matches_torch(reduction, dtype, margin):
    t_y, f_y = _pair(_signs((7,)), dtype)
    check_op([(7,), (7,)],
             lambda a, b: TF.margin_ranking_loss(a, b, t_y, margin=margin, reduction=reduction),
             lambda a, b: F.margin_ranking_loss(a, b, f_y, margin=margin, reduction=reduction),
             dtype=dtype)
    # the target differentiable too, as in torch
    check_op([(3, 5), (3, 5), (3, 5)],
             lambda a, b, y: TF.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction),
             lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction),
             dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_hinge_embedding_loss_matches_torch(reduction, dtype, margin):
    t_y, f_y = _pair(_signs((4, 5)), dtype)
    check_op([(4, 5)],
             lambda x: TF.hinge_embedding_loss(x, t_y, margin=margin, reduction=reduction),
             lambda x: F.hinge_embedding_loss(x, f_y, margin=margin, reduction=reduction),
             dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_margin_loss_matches_torch(reduction, dtype):
    t_y, f_y = _pair(_signs((3, 7)), dtype)
    check_op([(3, 7)], lambda x: TF.soft_margin_loss(x, t_y, reduction=reduction),
             lambda x: F.soft_margin_loss(x, f_y, reduction=reduction), dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_matches_torch(reduction, dtype, weighted):
    t_y, f_y = _pair((RNG.uniform(size=(5, 3)) < 0.5).astype(dtype))
    t_w, f_w = _pair(RNG.uniform(0.5, 2, (3,)), dtype) if weighted else (None, None)
    check_op([(5, 3)], lambda x: TF.multilabel_soft_margin_loss(x, t_y, t_w, reduction=reduction),
             lambda x: F.multilabel_soft_margin_loss(x, f_y, f_w, reduction=reduction),
             dtype=dtype, low=-30, high=30)  # large logits: the log-sigmoid must stay exact


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 6), (5,)])
def test_multilabel_margin_loss_matches_torch(reduction, dtype, shape):
    classes = shape[-1]
    rows = np.full((int(np.prod(shape[:-1])), classes), -1, dtype=np.int64)
    for row, count in zip(rows, [2, 0, classes, 3][:len(rows)] if len(shape) == 2 else [3]):
        row[:count] = RNG.choice(classes, count, replace=False)
    rows[0, 2] = rows[0, 0]  # a class listed twice counts twice (torch's loop)
    rows[0, 4] = 1  # entries after the first -1 are ignored
    t_y, f_y = _pair(rows.reshape(shape))
    check_op([shape], lambda x: TF.multilabel_margin_loss(x, t_y, reduction=reduction),
             lambda x: F.multilabel_margin_loss(x, f_y, reduction=reduction), dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [0.0, -0.3, 0.4])
def test_cosine_embedding_loss_matches_torch(reduction, dtype, margin):
    t_y, f_y = _pair(_signs((6,)), dtype)
    check_op([(6, 5), (6, 5)],
             lambda a, b: TF.cosine_embedding_loss(a, b, t_y, margin=margin, reduction=reduction),
             lambda a, b: F.cosine_embedding_loss(a, b, f_y, margin=margin, reduction=reduction),
             dtype=dtype)
    t_y1, f_y1 = _pair(np.asarray(-1.0), dtype)  # one pair of vectors, a 0-D target
    check_op([(5,), (5,)],
             lambda a, b: TF.cosine_embedding_loss(a, b, t_y1, margin=margin, reduction=reduction),
             lambda a, b: F.cosine_embedding_loss(a, b, f_y1, margin=margin, reduction=reduction),
             dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p,swap,eps", [(2.0, False, 1e-6), (1.0, True, 1e-6),
                                        (3.0, True, 0.1), (2.0, True, 0.0)])
def test_triplet_margin_loss_matches_torch(reduction, dtype, p, swap, eps):
    kwargs = dict(margin=0.8, p=p, eps=eps, swap=swap, reduction=reduction)
    check_op([(5, 4), (5, 4), (5, 4)], lambda a, q, n: TF.triplet_margin_loss(a, q, n, **kwargs),
             lambda a, q, n: F.triplet_margin_loss(a, q, n, **kwargs), dtype=dtype)
    module = nn.TripletMarginLoss(**kwargs)
    torch_module = torch.nn.TripletMarginLoss(**kwargs)
    check_op([(4,), (4,), (4,)], torch_module, module, dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss_matches_torch(reduction, swap):
    def torch_distance(x1, x2):
        return 1.0 - TF.cosine_similarity(x1, x2, dim=-1, eps=1e-8)

    def fastdl_distance(x1, x2):  # the same cosine distance from fastdl ops
        dot = (x1 * x2).sum(-1)
        norms = fastdl.clamp(x1.norm(dim=-1) * x2.norm(dim=-1), min=1e-8)
        return 1.0 - dot / norms

    kwargs = dict(margin=0.5, swap=swap, reduction=reduction)
    for torch_fn, fast_fn in ((torch_distance, fastdl_distance), (None, None)):
        check_op([(6, 3), (6, 3), (6, 3)],
                 lambda a, q, n: TF.triplet_margin_with_distance_loss(
                     a, q, n, distance_function=torch_fn, **kwargs),
                 lambda a, q, n: F.triplet_margin_with_distance_loss(
                     a, q, n, distance_function=fast_fn, **kwargs), dtype=np.float64)
    check_op([(6, 3), (6, 3), (6, 3)],
             torch.nn.TripletMarginWithDistanceLoss(distance_function=torch_distance, **kwargs),
             nn.TripletMarginWithDistanceLoss(distance_function=fastdl_distance, **kwargs))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True),
                                            (False, True)])
def test_poisson_nll_loss_matches_torch(reduction, dtype, log_input, full):
    kwargs = dict(log_input=log_input, full=full, eps=1e-3, reduction=reduction)
    counts = RNG.poisson(2.0, (4, 5)).astype(dtype)  # 0s and 1s (masked Stirling term) too
    t_y, f_y = _pair(counts)
    low = -1.0 if log_input else 0.1
    check_op([(4, 5)], lambda x: TF.poisson_nll_loss(x, t_y, **kwargs),
             lambda x: F.poisson_nll_loss(x, f_y, **kwargs), dtype=dtype, low=low, high=2.0)
    # a differentiable (positive) target
    check_op([(4, 5), (4, 5)], lambda x, y: torch.nn.PoissonNLLLoss(**kwargs)(x, y),
             lambda x, y: nn.PoissonNLLLoss(**kwargs)(x, y), dtype=dtype, low=0.2, high=3.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(3, 4), (3,), (3, 1), (1, 4)])
def test_gaussian_nll_loss_matches_torch(reduction, dtype, full, var_shape):
    var = RNG.uniform(0.1, 2.0, var_shape)
    var.flat[0] = 1e-9  # below eps: clamped for the value, the gradient passes unchanged
    kwargs = dict(full=full, eps=1e-4, reduction=reduction)
    check_op([(3, 4), (3, 4), var_shape],
             lambda x, y, v: TF.gaussian_nll_loss(x, y, v, **kwargs),
             lambda x, y, v: F.gaussian_nll_loss(x, y, v, **kwargs), dtype=dtype,
             vals=[RNG.uniform(-2, 2, (3, 4)), RNG.uniform(-2, 2, (3, 4)), var])
    check_op([(3, 4), (3, 4)], lambda x, y: torch.nn.GaussianNLLLoss(**kwargs)(x, y, 0.5),
             lambda x, y: nn.GaussianNLLLoss(**kwargs)(x, y, 0.5), dtype=dtype)


def test_modules_match_torch():
    y = _signs((5, 3))
    t_y, f_y = _pair(y)
    cases = [("MarginRankingLoss", dict(margin=0.2), 2), ("HingeEmbeddingLoss", dict(margin=2.0), 1),
             ("SoftMarginLoss", dict(reduction="sum"), 1)]
    for name, kwargs, inputs in cases:
        check_op([(5, 3)] * inputs,
                 lambda *xs: getattr(torch.nn, name)(**kwargs)(*xs, t_y),
                 lambda *xs: getattr(nn, name)(**kwargs)(*xs, f_y), dtype=np.float64)
    t_w, f_w = _pair(RNG.uniform(0.5, 2.0, (3,)))
    t_labels, f_labels = _pair((y > 0).astype(np.float64))
    check_op([(5, 3)], lambda x: torch.nn.MultiLabelSoftMarginLoss(t_w)(x, t_labels),
             lambda x: nn.MultiLabelSoftMarginLoss(f_w)(x, f_labels), dtype=np.float64)
    t_c, f_c = _pair(y[:, 0])
    check_op([(5, 3), (5, 3)], lambda a, b: torch.nn.CosineEmbeddingLoss(0.1)(a, b, t_c),
             lambda a, b: nn.CosineEmbeddingLoss(0.1)(a, b, f_c), dtype=np.float64)
    t_idx, f_idx = _pair(np.array([[2, 0, -1], [1, -1, 0]]))
    check_op([(2, 3)], lambda x: torch.nn.MultiLabelMarginLoss()(x, t_idx),
             lambda x: nn.MultiLabelMarginLoss()(x, f_idx), dtype=np.float64)


# ---- gradcheck in float64 (inputs kept away from the hinges' kinks) ----

def _away_from_zero(t, width=0.1):
    """Move entries within ``width`` of 0 out of it (the kinks of the hinge terms)."""
    d = t.data
    d[np.abs(d) < width] += 2 * width
    return t


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_gradcheck(reduction):
    a, b, c = _f64((4, 3)), _f64((4, 3)), _f64((4, 3))
    y = fastdl.tensor(_signs((4,)))
    y2 = fastdl.tensor(_signs((4, 3)))
    labels = fastdl.tensor((RNG.uniform(size=(4, 3)) < 0.5).astype(np.float64))
    weight = fastdl.tensor(RNG.uniform(0.5, 2.0, (3,)))
    idx = fastdl.tensor(np.array([[2, 0, -1], [1, -1, 0], [0, 1, 2], [-1, 0, 0]]))
    r = dict(reduction=reduction)
    cases = [
        (lambda x: F.hinge_embedding_loss(x, y2, margin=0.0, **r), (_away_from_zero(a),)),
        (lambda x: F.soft_margin_loss(x, y2, **r), (a,)),
        (lambda x: F.multilabel_soft_margin_loss(x, labels, weight, **r), (a,)),
        (lambda x: F.cosine_embedding_loss(x, b, y, margin=-0.5, **r), (a,)),
        (lambda x1, x2: F.cosine_embedding_loss(x1, x2, y, margin=-0.5, **r), (a, b)),
        (lambda x1, x2, x3: F.triplet_margin_loss(x1, x2, x3, margin=5.0, p=3, swap=True, **r),
         (a, b, c)),
        (lambda x1, x2, x3: F.triplet_margin_with_distance_loss(x1, x2, x3, margin=5.0, **r),
         (a, b, c)),
        (lambda x, t: F.poisson_nll_loss(x, t, log_input=False, full=True, **r),
         (_f64((3, 4), 0.5, 3.0), _f64((3, 4), 1.5, 4.0))),
        (lambda x, t: F.poisson_nll_loss(x, t, **r), (a, _f64((4, 3), 0.0, 3.0))),
        (lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True, **r),
         (a, b, _f64((4, 1), 0.5, 2.0))),
    ]
    for fn, inputs in cases:
        assert gradcheck(fn, inputs)
        assert gradgradcheck(fn, inputs)
    # piecewise linear: first derivatives only; input1 placed so that the hinge's argument
    # -y (x1 - x2) + margin is h, 0.2 to 1 away from the kink either side
    h = RNG.choice([-1.0, 1.0], (4, 3)) * RNG.uniform(0.2, 1.0, (4, 3))
    x1 = fastdl.tensor(b.data + (0.3 - h) * y2.data, requires_grad=True)
    assert gradcheck(lambda t1, t2: F.margin_ranking_loss(t1, t2, y2, margin=0.3, **r), (x1, b))
    scores = fastdl.tensor(np.array([[0.0, 2.0, 0.7], [3.1, 0.4, -1.0], [1.0, 1.5, 0.6],
                                     [0.2, -0.9, 0.8]]), requires_grad=True)
    assert gradcheck(lambda x: F.multilabel_margin_loss(x, idx, **r), (scores,))


# ---- bad input: torch's exception types ----

def test_bad_input_raises_like_torch():
    x, y = fastdl.randn(3, 4), fastdl.randn(3, 4)
    with pytest.raises(RuntimeError, match="same dimension"):
        F.margin_ranking_loss(x, y, fastdl.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.soft_margin_loss(x, y, reduction="avg")
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(x, y, y, margin=0.0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.triplet_margin_loss(x, y, fastdl.randn(4))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.triplet_margin_with_distance_loss(x, y, y, reduction="avg")
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D"):
        F.cosine_embedding_loss(fastdl.randn(3, 4, 2), fastdl.randn(3, 4, 2), fastdl.ones(3))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multilabel_margin_loss(x, fastdl.tensor(np.zeros((3, 3), dtype=np.int64)))
    with pytest.raises(RuntimeError, match="out of range"):
        F.multilabel_margin_loss(x, fastdl.tensor(np.full((3, 4), 4, dtype=np.int64)))
    with pytest.raises(RuntimeError, match="int64"):
        F.multilabel_margin_loss(x, y)
    with pytest.raises(ValueError, match="not a valid value"):
        F.poisson_nll_loss(x, y, reduction="avg")
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, y, fastdl.full((3, 4), -1.0))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, y, -1.0)
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(x, y, fastdl.ones(3, 2))
    with pytest.raises(ValueError, match="not valid"):
        F.gaussian_nll_loss(x, y, fastdl.ones(3, 4), reduction="avg")
    with pytest.raises(RuntimeError, match="mean"):  # torch: an integer loss has no mean
        F.hinge_embedding_loss(fastdl.tensor(np.arange(3)), fastdl.ones(3))


def test_multilabel_soft_margin_loss_keeps_a_float_targets_dtype():
    """common_nn's MultiLabelSoftMarginLoss_no_batch_dim_*: float64 input, float32 target. torch's
    formula computes 1 - target in the target's precision and promotes the products (a float32
    input with a float64 target gives a float64 loss); fastdl cast the target to the input's
    dtype first."""
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    for x_dtype, t_dtype in ((np.float64, np.float32), (np.float32, np.float64)):
        ours = F.multilabel_soft_margin_loss(fastdl.tensor(x.astype(x_dtype)),
                                             fastdl.tensor(t.astype(t_dtype)), reduction="none")
        theirs = torch.nn.functional.multilabel_soft_margin_loss(
            torch.from_numpy(x.astype(x_dtype)), torch.from_numpy(t.astype(t_dtype)),
            reduction="none")
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        rtol = 1e-12 if x_dtype == np.float64 else 1e-6  # float32 logsigmoid rounds differently
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol)
