"""Gradient clipping against torch.nn.utils."""
import numpy as np
import pytest

from fastdl.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm
from fastdl.tensor import Tensor

torch = pytest.importorskip("torch")

SHAPES = [(5, 3), (7,), (2, 3, 4)]


def _params(scale, seed=0, missing_grad=None):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        data = rng.standard_normal(shape).astype(np.float32)
        grad = (scale * rng.standard_normal(shape)).astype(np.float32)
        p, q = Tensor(data.copy(), requires_grad=True), torch.tensor(data.copy(), requires_grad=True)
        if i != missing_grad:
            p.grad, q.grad = Tensor(grad.copy()), torch.from_numpy(grad.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf"), 0.5])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    ours, theirs = _params(scale, missing_grad=1)
    total = clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    total_torch = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, Tensor) and total.shape == ()
    assert total.item() == pytest.approx(total_torch.item(), rel=1e-5)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_result_has_max_norm():
    ours, _ = _params(100.0)
    clip_grad_norm_(ours, max_norm=2.0)
    joint = np.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in ours))
    assert joint == pytest.approx(2.0, rel=1e-5)


def test_clip_grad_norm_single_tensor_and_no_grads():
    ours, theirs = _params(5.0)
    total = clip_grad_norm_(ours[0], 1.0)
    total_torch = torch.nn.utils.clip_grad_norm_(theirs[0], 1.0)
    assert total.item() == pytest.approx(total_torch.item(), rel=1e-5)
    bare = Tensor(np.ones(3, np.float32), requires_grad=True)
    assert clip_grad_norm_([bare], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    ours, _ = _params(1.0)
    ours[0].grad.data[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="total norm"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with np.errstate(invalid="ignore"):  # inf * 0 in the clipped gradient, as in torch
        assert np.isinf(clip_grad_norm_(ours, 1.0).item())


def test_get_total_norm():
    ours, theirs = _params(1.0)
    total = get_total_norm([p.grad for p in ours], norm_type=3.0)
    expected = torch.nn.utils.get_total_norm([q.grad for q in theirs], norm_type=3.0)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 5])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _params(2.0, missing_grad=2)
    clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad.data, q.grad.numpy())


def test_bad_arguments():
    ours, _ = _params(1.0)
    with pytest.raises(TypeError, match="max_norm"):
        clip_grad_norm_(ours, "1.0")
    with pytest.raises(TypeError, match="norm_type"):
        clip_grad_norm_(ours, 1.0, norm_type="two")
    with pytest.raises(TypeError, match="clip_value"):
        clip_grad_value_(ours, None)
    with pytest.raises(TypeError, match="item 1 is a ndarray"):
        clip_grad_norm_([ours[0], np.ones(3)], 1.0)
