"""The Tensor contract the nn/optim layers rely on."""
import numpy as np
import pytest

import fastdl


def test_data_grad_requires_grad_contract():
    p = fastdl.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    assert isinstance(p.data, np.ndarray) and p.shape == (2, 3) and p.dtype == np.float32
    assert p.ndim == 2 and p.numel() == 6 and p.device == "cpu" and p.is_leaf
    loss = (p * p).sum()
    loss.backward()
    np.testing.assert_allclose(p.grad.numpy(), 2 * p.data)
    with fastdl.no_grad():
        p.data -= 0.5 * p.grad.data  # how optimizers step
    np.testing.assert_allclose(p.data, np.arange(6).reshape(2, 3) * 0.0)
    p.grad = None
    assert p.grad is None


def test_item_numpy_detach():
    x = fastdl.tensor(3.5, requires_grad=True)
    assert x.item() == 3.5
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    d = x.detach()
    assert not d.requires_grad and d.numpy() is x.data


def test_no_grad_stops_recording():
    x = fastdl.ones(3, requires_grad=True)
    with fastdl.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert fastdl.is_grad_enabled()
