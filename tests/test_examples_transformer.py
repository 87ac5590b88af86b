"""The Transformer examples (ViT on digits, character GPT, sequence reversal) run end to end with
--quick."""
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

from helpers import one_thread  # noqa: F401 (a fixture)

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
pytestmark = pytest.mark.usefixtures("one_thread")


def _run(name, capsys):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    result = module.main(["--quick"])
    return result, capsys.readouterr().out


def test_vit_digits_quick(capsys):
    result, out = _run("vit_digits", capsys)
    assert 0.0 <= result["test_accuracy"] <= 1.0 and "test accuracy" in out


def test_char_gpt_quick(capsys):
    result, out = _run("char_gpt", capsys)
    assert result["steps"] == 20 and np.isfinite(result["heldout_loss"])
    assert result["train_loss"] < 5.0  # about ln(vocabulary ~ 90) = 4.5 at the start
    # 40 characters: past the context of 32, so a second KV-cached chunk continues the first
    assert result["sample"].startswith("The ") and len(result["sample"]) == 44
    assert "KV-cached" in out


def test_seq2seq_reverse_quick(capsys):
    result, _ = _run("seq2seq_reverse", capsys)
    assert 0.0 <= result["exact_match"] <= 1.0 and np.isfinite(result["final_loss"])
