"""The recurrent examples run end to end at tiny settings."""
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_char_lm_example_trains_and_samples():
    ex = _load("char_lm")
    result = ex.train(minutes=0.03, hidden=32, seq=20, batch=4, verbose=False)
    assert result["steps"] >= 1 and np.isfinite(result["final_loss"])
    assert result["sample"].startswith("The ") and len(result["sample"]) == 304


def test_forecast_example_runs():
    pytest.importorskip("statsmodels")
    ex = _load("forecast_sunspots")
    result = ex.run(window=12, epochs=5, hidden=8, verbose=False)
    assert np.isfinite(result["mae"]) and result["naive_mae"] > 0
