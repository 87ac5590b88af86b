"""fastdl.as_strided_scatter (not in the OpInfo conformance run: torch's input gradient is
wrong there) and argument handling of the other functional/aten_more.py names."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")

CASES = [((1,), (), (), 0), ((3, 3), (2, 2), (1, 2), 1), ((3, 3), (2, 2), (2, 1), 0),
         ((16,), (2, 2, 2, 2), (8, 4, 2, 1), 0), ((16,), (2, 1, 1, 2), (1, 2, 4, 8), 0)]


@pytest.mark.parametrize("shape, size, stride, offset", CASES)
def test_as_strided_scatter_values_and_gradients(shape, size, stride, offset):
    rng = np.random.default_rng(0)
    x, src = rng.standard_normal(shape), rng.standard_normal(size)
    out = fastdl.as_strided_scatter(fastdl.tensor(x), fastdl.tensor(src), size, stride, offset)
    want = torch.as_strided_scatter(torch.tensor(x), torch.tensor(src), size, stride, offset)
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    # the exact gradients: input's where nothing is written, src's read back from the view
    fx, fs = fastdl.tensor(x, requires_grad=True), fastdl.tensor(src, requires_grad=True)
    g = rng.standard_normal(shape)
    fastdl.as_strided_scatter(fx, fs, size, stride, offset).backward(fastdl.tensor(g))
    written = torch.as_strided_scatter(torch.zeros(shape), torch.ones(size), size, stride,
                                       offset).numpy() == 1
    np.testing.assert_array_equal(fx.grad.numpy(), np.where(written, 0.0, g))
    np.testing.assert_array_equal(fs.grad.numpy(), torch.tensor(g).as_strided(
        size, stride, offset).numpy())
    assert gradcheck(lambda a, b: fastdl.as_strided_scatter(a, b, size, stride, offset),
                     [fx.detach().requires_grad_(), fs.detach().requires_grad_()])


def test_as_strided_scatter_errors():
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 64"):
        fastdl.as_strided_scatter(fastdl.zeros(4, 4), fastdl.zeros(2, 2), [2, 2], [200, 200], 0)
    with pytest.raises(RuntimeError, match="src to have a size equal"):
        fastdl.as_strided_scatter(fastdl.zeros(4), fastdl.zeros(3), [2], [1])


def test_grid_sampler_modes_are_integers():
    x, grid = fastdl.zeros(1, 1, 2, 2), fastdl.zeros(1, 1, 1, 2)
    with pytest.raises(ValueError, match="0, 1 or 2"):
        fastdl.grid_sampler_2d(x, grid, 3, 0, False)
    with pytest.raises(RuntimeError, match="5-D input"):
        fastdl.grid_sampler_3d(x, grid, 0, 0, False)


def test_chunk_cat_and_softmax_backward_data_against_torch():
    tensors = [np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(2, 2)]
    out = fastdl._chunk_cat([fastdl.tensor(t) for t in tensors], 1, 2)
    want = torch._chunk_cat([torch.tensor(t) for t in tensors], 1, 2)
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    with pytest.raises(RuntimeError, match="non-negative dim"):
        fastdl._chunk_cat([fastdl.zeros(2, 2), fastdl.zeros(2)], -1, 2)
    y = torch.softmax(torch.randn(3, 4, dtype=torch.float64), 1)
    g = torch.randn(3, 4, dtype=torch.float64)
    np.testing.assert_allclose(
        fastdl._softmax_backward_data(fastdl.tensor(g.numpy()), fastdl.tensor(y.numpy()), 1,
                                      fastdl.float64).numpy(),
        torch._softmax_backward_data(g, y, 1, torch.float64).numpy(), rtol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_safe_softmax_fully_masked_slices_give_zero_values_and_gradients(dim):
    rng = np.random.default_rng(dim + 5)
    x = rng.standard_normal((3, 5, 4))
    x[rng.random(x.shape) < 0.3] = -np.inf
    other = [d for d in range(3) if d != dim % 3]
    x[tuple(1 if d == other[0] else 2 if d == other[1] else slice(None) for d in range(3))] = \
        -np.inf  # one slice along dim entirely -inf
    g = rng.standard_normal(x.shape)
    fx, tx = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = fastdl._safe_softmax(fx, dim)
    want = torch.ops.aten._safe_softmax(tx, dim)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-12,
                               atol=1e-15)
    out.backward(fastdl.tensor(g))
    want.backward(torch.tensor(g))
    assert np.isfinite(fx.grad.numpy()).all()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert fastdl._safe_softmax(fastdl.tensor(x.astype(np.float32)), dim,
                                dtype=fastdl.float64).dtype == fastdl.float64
    finite = fastdl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: fastdl._safe_softmax(t, 1), (finite,))
