"""fastdl.nn.init: PyTorch's gains and fan computations, and the distributions drawn."""
import math

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import init


def _param(*shape, dtype=np.float64):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("shape", [(5, 3), (7, 4, 3), (6, 2, 3, 5), (1, 9)])
def test_fans_and_gains_match_torch(shape):
    torch = pytest.importorskip("torch")
    t = torch.empty(shape)
    assert init._calculate_fan_in_and_fan_out(_param(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(t)
    for mode in ("fan_in", "fan_out"):
        assert init._calculate_correct_fan(_param(*shape), mode) == \
            torch.nn.init._calculate_correct_fan(t, mode)
    for name, param in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
                        ("conv2d", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param))


def test_bad_arguments():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(_param(3, 4), mode="fan_middle")
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(fastdl.tensor([1, 2, 3]))


def test_uniform_families_bounds_and_spread():
    gen = np.random.default_rng(0)
    w = _param(400, 300)
    cases = [
        (lambda: init.uniform_(w, -0.3, 0.5, generator=gen), -0.3, 0.5),
        (lambda: init.xavier_uniform_(w, gain=2.0, generator=gen),
         -2.0 * math.sqrt(6 / 700), 2.0 * math.sqrt(6 / 700)),
        (lambda: init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen),
         -1 / math.sqrt(300), 1 / math.sqrt(300)),
        (lambda: init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu", generator=gen),
         -math.sqrt(6 / 400), math.sqrt(6 / 400)),
    ]
    for fill, low, high in cases:
        data = fill().data
        assert low <= data.min() < low + 0.01 * (high - low)
        assert high - 0.01 * (high - low) < data.max() <= high
        assert data.std() == pytest.approx((high - low) / math.sqrt(12), rel=0.01)


def test_normal_families_spread():
    gen = np.random.default_rng(1)
    w = _param(500, 200)
    cases = [(lambda: init.normal_(w, 0.5, 2.0, generator=gen), 0.5, 2.0),
             (lambda: init.xavier_normal_(w, generator=gen), 0.0, math.sqrt(2 / 700)),
             (lambda: init.kaiming_normal_(w, nonlinearity="relu", generator=gen), 0.0,
              math.sqrt(2 / 200))]
    for fill, mean, std in cases:
        data = fill().data
        assert data.mean() == pytest.approx(mean, abs=0.01 * std + 1e-3)
        assert data.std() == pytest.approx(std, rel=0.01)


def test_constant_like_fills():
    w = _param(3, 4, dtype=np.float32)
    assert (init.ones_(w).data == 1).all() and w.dtype == np.float32
    assert (init.zeros_(w).data == 0).all()
    assert (init.constant_(w, 2.5).data == 2.5).all()
    np.testing.assert_array_equal(init.eye_(w).data, np.eye(3, 4))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 4)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = init.orthogonal_(_param(*shape), gain=1.5, generator=np.random.default_rng(0))
    flat = w.data.reshape(shape[0], -1) / 1.5
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-12)


def test_global_generator_follows_manual_seed_and_init_is_not_recorded():
    w = nn.Parameter(np.zeros((3, 3), dtype=np.float32))
    fastdl.manual_seed(7)
    first = init.normal_(w).data.copy()
    fastdl.manual_seed(7)
    np.testing.assert_array_equal(init.normal_(w).data, first)
    assert w.grad_fn is None and w.requires_grad


def test_linear_default_init_matches_torch_distribution():
    fastdl.manual_seed(0)
    layer = nn.Linear(250, 400)
    bound = 1 / math.sqrt(250)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.95 * bound
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
