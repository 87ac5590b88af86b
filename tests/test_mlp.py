"""fastdl.models.MLP: structure, parity with an equivalent torch model, and the digits example
reaching >= 96% test accuracy in seconds."""
import importlib.util
import os

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.models import MLP

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "mlp_digits.py")


def test_mlp_structure_and_names():
    model = MLP(64, [32, 16], 10, activation="gelu", dropout=0.2)
    names = [name for name, _ in model.named_children()]
    assert names == ["fc0", "act0", "drop0", "fc1", "act1", "drop1", "fc2"]
    assert isinstance(model.act1, nn.GELU)
    assert [p.shape for p in model.parameters()] == [(32, 64), (32,), (16, 32), (16,), (10, 16),
                                                      (10,)]
    assert MLP(3, 5, 2, activation=nn.Tanh).fc1.weight.shape == (2, 5)
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(3, 5, 2, activation="swish3")
    with pytest.raises(TypeError, match="not an instance"):
        MLP(3, 5, 2, activation=nn.ReLU())
    with pytest.raises(ValueError, match="hidden widths"):
        MLP(3, [5, 0], 2)


def test_mlp_matches_torch_forward_and_backward():
    torch = pytest.importorskip("torch")
    fastdl.manual_seed(0)
    model = MLP(7, [9, 5], 3, activation="silu")
    ref = torch.nn.Sequential(torch.nn.Linear(7, 9), torch.nn.SiLU(), torch.nn.Linear(9, 5),
                              torch.nn.SiLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for p_ref, p in zip(ref.parameters(), model.parameters()):
            p_ref.copy_(torch.tensor(p.data))
    x = np.random.default_rng(1).standard_normal((11, 7)).astype(np.float32)
    target = np.random.default_rng(2).integers(0, 3, 11)
    loss = nn.CrossEntropyLoss()(model(fastdl.tensor(x)), fastdl.tensor(target))
    loss_ref = torch.nn.CrossEntropyLoss()(ref(torch.tensor(x)), torch.tensor(target))
    np.testing.assert_allclose(loss.item(), loss_ref.item(), rtol=1e-5)
    loss.backward()
    loss_ref.backward()
    for p_ref, p in zip(ref.parameters(), model.parameters()):
        np.testing.assert_allclose(p.grad.data, p_ref.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_digits_example_reaches_96_percent_in_seconds():
    spec = importlib.util.spec_from_file_location("mlp_digits", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.train(verbose=False)
    assert result["test_accuracy"] >= 0.96, result
    assert result["seconds"] < 30, result  # ~1.5 s on 2 shared cores; generous for CI noise
    again = example.train(verbose=False)  # fixed seed: the run is reproducible
    assert again["test_accuracy"] == result["test_accuracy"]
