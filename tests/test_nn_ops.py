"""nn.functional ops declared with defop: gradcheck and gradgradcheck in float64 for every op
(with respect to every differentiable argument), and the in-place activations' recording."""
import numpy as np
import pytest

import fastdl
from fastdl.nn import functional as F
from fastdl.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _t(shape, seed, low=-2.0, high=2.0, requires_grad=True):
    data = np.random.default_rng(seed).uniform(low, high, size=shape)
    return fastdl.tensor(data, requires_grad=requires_grad)


def _away_from(x, points, margin=0.08):
    for p in points:
        x.data[np.abs(x.data - p) < margin] += 2 * margin


def _idx(values):
    return fastdl.tensor(np.array(values))


W4 = fastdl.tensor(np.array([0.5, 1.0, 2.0, 1.5]))


def _pair(seed=1):
    x, t = _t((3, 4), seed), _t((3, 4), seed + 1)
    _away_from(x, [], 0)
    d = x.data - t.data
    x.data[np.abs(d) < 0.08] += 0.2  # away from the kinks of l1/huber/smooth_l1
    x.data[np.abs(np.abs(x.data - t.data) - 0.7) < 0.08] += 0.2
    return x, t


CASES = {
    # name: (function, inputs factory)
    "mse_loss": (lambda x, t: F.mse_loss(x, t), _pair),
    "mse_loss_none": (lambda x, t: F.mse_loss(x, t, reduction="none"), _pair),
    "l1_loss_sum": (lambda x, t: F.l1_loss(x, t, reduction="sum"), _pair),
    "huber_loss": (lambda x, t: F.huber_loss(x, t, delta=0.7), _pair),
    "smooth_l1_loss": (lambda x, t: F.smooth_l1_loss(x, t, beta=0.7, reduction="none"), _pair),
    "binary_cross_entropy": (
        lambda x, t: F.binary_cross_entropy(x, t, weight=W4),
        lambda: (_t((3, 4), 1, 0.1, 0.9), _t((3, 4), 2, 0.0, 1.0))),
    "bce_with_logits": (
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight=W4, pos_weight=W4 * 2.0),
        lambda: (_t((3, 4), 1), _t((3, 4), 2, 0.0, 1.0))),
    "bce_with_logits_plain": (
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
        lambda: (_t((3, 4), 1), _t((3, 4), 2, 0.0, 1.0))),
    "kl_div": (lambda x, t: F.kl_div(x, t, reduction="batchmean"),
               lambda: (_t((3, 4), 1, -3, 0), _t((3, 4), 2, 0.05, 1.0))),
    "kl_div_log_target": (lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
                          lambda: (_t((3, 4), 1, -3, 0), _t((3, 4), 2, -3, 0))),
    "cross_entropy": (
        lambda x: F.cross_entropy(x, _idx([0, 3, 1, -100, 2]), weight=W4, ignore_index=-100,
                                  label_smoothing=0.2),
        lambda: (_t((5, 4), 1),)),
    "cross_entropy_4d": (
        lambda x: F.cross_entropy(x, _idx([[[0, 3]], [[2, 1]]]), reduction="none"),
        lambda: (_t((2, 4, 1, 2), 1),)),
    "cross_entropy_probs": (
        lambda x, t: F.cross_entropy(x, t, weight=W4, label_smoothing=0.1),
        lambda: (_t((3, 4), 1), _t((3, 4), 2, 0.0, 1.0))),
    "nll_loss": (lambda x: F.nll_loss(x, _idx([0, 3, 1, 1]), weight=W4, reduction="sum"),
                 lambda: (_t((4, 4), 1),)),
    "multi_margin_p1": (lambda x: F.multi_margin_loss(x, _idx([0, 3, 1]), weight=W4),
                        lambda: (_t((3, 4), 1),)),
    "multi_margin_p2": (lambda x: F.multi_margin_loss(x, _idx([0, 3, 1]), p=2, margin=0.7,
                                                      reduction="none"),
                        lambda: (_t((3, 4), 1),)),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (2, 3), w, b),
                   lambda: (_t((4, 2, 3), 1), _t((2, 3), 2), _t((2, 3), 3))),
    "layer_norm_plain": (lambda x: F.layer_norm(x, 5), lambda: (_t((3, 5), 1),)),
    "layer_norm_exact_shape": (lambda x, w: F.layer_norm(x, (6,), w),
                               lambda: (_t((6,), 1), _t((6,), 2))),
    "batch_norm_train": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda: (_t((4, 3, 2), 1), _t((3,), 2), _t((3,), 3))),
    "batch_norm_train_no_affine": (
        lambda x: F.batch_norm(x, None, None, training=True),
        lambda: (_t((5, 2), 1),)),
    "batch_norm_eval": (
        lambda x, w, b: F.batch_norm(x, fastdl.tensor(np.array([0.1, -0.2, 0.3])),
                                     fastdl.tensor(np.array([1.5, 0.5, 2.0])), w, b),
        lambda: (_t((4, 3, 2), 1), _t((3,), 2), _t((3,), 3))),
    "embedding": (lambda w: F.embedding(_idx([[0, 2], [2, 3]]), w), lambda: (_t((4, 3), 1),)),
    "embedding_scaled": (lambda w: F.embedding(_idx([[0, 2], [2, 3]]), w, padding_idx=3,
                                               scale_grad_by_freq=True),
                         lambda: (_t((4, 3), 1),)),
}
# padding_idx and scale_grad_by_freq change the gradient on purpose (as torch): no gradcheck,
# but the first derivative's own derivative is still checked
NOT_THE_TRUE_GRADIENT = {"embedding_scaled"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_and_gradgradcheck(name):
    fn, make = CASES[name]
    inputs = make()
    if name not in NOT_THE_TRUE_GRADIENT:
        assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


INPLACE = [
    ("relu", lambda f, x: f.relu(x, inplace=True)),
    ("leaky_relu", lambda f, x: f.leaky_relu(x, 0.2, inplace=True)),
    ("elu", lambda f, x: f.elu(x, alpha=0.7, inplace=True)),
    ("silu", lambda f, x: f.silu(x, inplace=True)),
]


@pytest.mark.parametrize("name,call", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_on_a_non_leaf_is_recorded_like_torch(name, call):
    data = np.random.default_rng(0).uniform(-2, 2, (4, 5))
    w = np.random.default_rng(1).uniform(-1, 1, (4, 5))
    x = fastdl.tensor(data, requires_grad=True)
    y = x * 2.0
    out = call(F, y)
    assert out is y and y.grad_fn is not None
    (out * fastdl.tensor(w)).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    ty = tx * 2.0
    t_out = call(TF, ty)
    (t_out * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name,call", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_on_a_leaf_that_requires_grad_raises_and_works_without_grad(name, call):
    x = fastdl.tensor(np.array([-1.0, 0.5]), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        call(F, x)
    with fastdl.no_grad():
        assert call(F, x) is x
    assert x.data[0] != -1.0 and x.data[1] != 0.0


def test_inplace_then_reading_the_overwritten_input_raises():
    x = fastdl.tensor(np.array([-1.0, 0.5]), requires_grad=True)
    y = x * 1.0
    z = F.gelu(y)  # saves y
    F.leaky_relu(y, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_no_composed_twins_remain():
    import importlib
    with pytest.raises(ImportError):
        importlib.import_module("fastdl.nn.functional._fused")
    from fastdl.functional import _core
    assert not hasattr(_core, "record")
