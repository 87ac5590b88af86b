"""The autograd engine pauses Python's cyclic garbage collector during a backward (engine.py,
run_backward) on the grounds that a training step leaves no reference cycles behind: checked here
on a small CNN and an LSTM step (forward, loss, backward, optimizer step), and that the
collector's state is restored, also after an error and when the user had disabled it."""
import gc

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F


def _steps(model, x, y, n=3):
    opt = fastdl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for _ in range(n):
        out = model(x)
        out = out[0][-1] if isinstance(out, tuple) else out
        loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_training_steps_leave_no_reference_cycles(kind):
    rng = np.random.default_rng(0)
    if kind == "cnn":
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                              nn.MaxPool2d(3, 2, 1), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
        x = fastdl.tensor(rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
    else:
        model = nn.LSTM(6, 5, 2, bidirectional=False)
        x = fastdl.tensor(rng.standard_normal((7, 4, 6)).astype(np.float32))
    y = fastdl.tensor(rng.integers(0, 5, 4))
    _steps(model, x, y, 1)
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        _steps(model, x, y)
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()


def test_backward_restores_the_collector_state():
    x = fastdl.tensor(np.ones(3), requires_grad=True)
    assert gc.isenabled()
    (x * x).sum().backward()
    assert gc.isenabled()
    gc.disable()
    try:
        (x * x).sum().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError):
        (x * x).sum().backward(fastdl.tensor(np.ones(2)))  # wrong shape of the root gradient
    assert gc.isenabled()
