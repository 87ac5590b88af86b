"""The autoencoder, VAE and RealNVP examples run end to end with --quick (and save their PNGs,
or say why not when Pillow is missing)."""
import pathlib
import runpy
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    """The example's globals (``main``, ``train``) without running its ``__main__`` block."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


def test_autoencoder_example_quick(tmp_path, capsys):
    pytest.importorskip("PIL")
    ex = _load("autoencoder_digits")
    png = tmp_path / "recon.png"
    result = ex["main"](["--quick", "--noise", "masking", "--l1", "1e-4", "--png", str(png)])
    assert 0.5 < result["roc_auc"] <= 1.0 and np.isfinite(result["test_mse_normal"])
    assert png.stat().st_size > 100
    result = ex["main"](["--quick", "--model", "conv", "--kl", "0.1", "--anomaly-digit", "3"])
    assert 0.0 <= result["roc_auc"] <= 1.0
    assert "anomaly ROC-AUC" in capsys.readouterr().out


def test_vae_example_quick(tmp_path):
    pytest.importorskip("PIL")
    ex = _load("vae_digits")
    samples, interp = tmp_path / "s.png", tmp_path / "i.png"
    result = ex["main"](["--quick", "--samples", str(samples), "--interpolation", str(interp)])
    assert np.isfinite(result["test_neg_elbo"]) and result["samples"].shape == (64, 64)
    assert result["interpolation"].shape == (40, 64)
    assert samples.stat().st_size > 100 and interp.stat().st_size > 100
    result = ex["main"](["--quick", "--conditional"])
    assert result["samples"].shape == (80, 64)


def test_realnvp_example_quick(tmp_path):
    pytest.importorskip("PIL")
    ex = _load("realnvp_moons")
    png = tmp_path / "moons.png"
    result = ex["main"](["--quick", "--png", str(png)])
    assert result["test_log_likelihood"] > result["gaussian_log_likelihood"]
    assert png.stat().st_size > 100


def test_examples_skip_pngs_without_pillow(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now raises ImportError
    _load("vae_digits")["train"](epochs=1, samples_png=str(tmp_path / "s.png"), verbose=False)
    _load("realnvp_moons")["train"](steps=2, layers=2, hidden=8, png=str(tmp_path / "m.png"),
                                 verbose=False)
    out = capsys.readouterr().out
    assert "skipping" in out and "Pillow" in out
    assert not list(tmp_path.iterdir())
