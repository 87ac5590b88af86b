"""The generative examples (GANs, DDPM) run end to end with --quick and save their PNG grids
(or say why not, without Pillow)."""
import pathlib
import sys

import numpy as np
import pytest

from generative_fixtures import one_thread  # noqa: F401 (autouse pytest fixture)

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the examples import digits_judge


def _run(name, *args):
    import importlib
    module = importlib.import_module(name)
    return module.main(["--quick", *args])


@pytest.mark.parametrize("flags", [[], ["--conditional"], ["--wgan"],
                                   ["--wgan-gp", "--conditional"]])
def test_gan_example_quick(flags, tmp_path, capsys):
    result = _run("dcgan_digits", *flags, "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "untrained generator" in out and "after 20 steps" in out
    assert all(np.isfinite(v) for v in result["stats"].values())
    assert 0.0 < result["final"]["confidence"] <= 1.0
    if "--conditional" in flags:
        assert "label_accuracy" in result["final"]
    pytest.importorskip("PIL")
    assert result["saved"] and len(list(tmp_path.glob("*.png"))) == 1


def test_ddpm_example_quick(tmp_path, capsys):
    result = _run("ddpm_digits", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "DDPM (10 steps)" in out and "DDIM (3 steps" in out
    assert np.isfinite(result["final_loss"]) and result["ddim"]["seconds"] > 0
    pytest.importorskip("PIL")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["ddim_digits.png",
                                                              "ddpm_digits.png"]


def test_examples_without_pillow_say_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL raises ImportError
    result = _run("dcgan_digits", "--steps", "2", "--out", str(tmp_path))
    assert not result["saved"] and not list(tmp_path.glob("*.png"))
    assert "Pillow" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["gan", "unet", "diffusion"])
def test_model_docstring_examples_run(module):
    import doctest
    import importlib

    import fastdl
    result = doctest.testmod(importlib.import_module(f"fastdl.models.{module}"),
                             extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0, result
