"""examples/cnn_digits.py reaches 97% on the digits' test split; `fastdl bench resnet18
--quick` runs and prints its table (the norm kernels it uses: tests/test_norm_kernels.py)."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import fastdl

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "cnn_digits.py")


@pytest.fixture
def one_thread():
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(1)  # small convolutions: a second thread only adds noise here
    yield
    fastdl.set_num_threads(before)


def test_cnn_digits_example_reaches_97_percent(one_thread, capsys):
    pytest.importorskip("tqdm")
    spec = importlib.util.spec_from_file_location("cnn_digits", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.train(progress=False)
    assert result["test_accuracy"] >= 0.97, result
    assert len(result["history"]) == 12
    out = capsys.readouterr().out
    assert "epoch 12/12" in out and "test acc" in out and "test accuracy" in out
    # the metrics are per epoch and the loss comes down
    losses = [h["train_loss"] for h in result["history"]]
    assert losses[-1] < 0.25 * losses[0]


def test_bench_resnet18_quick_prints_its_table(capsys):
    pytest.importorskip("torch")
    from fastdl import cli
    cli.main(["bench", "resnet18", "--quick", "--threads", "1", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "fastdl bench resnet18" in out and "2x3x32x32" in out
    header = next(line for line in out.splitlines() if line.startswith("| threads"))
    assert "torch / fastdl" in header
    row = next(line for line in out.splitlines() if line.startswith("| 1 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) > 0 and float(cells[2]) > 0  # fastdl ms, torch ms


def test_bench_step_flops_count_the_convolutions():
    from fastdl import models
    from fastdl.bench.resnet import forward_flops
    # torchvision's ResNet-18 at 224x224: 1.81 GMACs per image (3.64 GFLOP)
    gflop = forward_flops(models.resnet18(), fastdl.randn(1, 3, 224, 224)) * 1e-9
    assert 3.6 < gflop < 3.7, gflop
