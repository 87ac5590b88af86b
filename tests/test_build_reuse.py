"""A second `pip install` reuses the first one's objects (issue #9: the README's second command
compiled everything again). pip builds each time in a new isolated environment, so nanobind sits
at a new path; the build must not depend on that path."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _configure(build, nanobind_parent):
    env = dict(os.environ, PYTHONPATH=str(nanobind_parent))
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja",
                    f"-DPython_EXECUTABLE={sys.executable}", "-DFASTDL_CUDA=OFF",
                    "-DCMAKE_BUILD_TYPE=Release"], env=env, check=True, capture_output=True,
                   timeout=600)
    # what decides a recompile: each object's inputs and its flags, includes and defines
    keep = ("build ", "  FLAGS = ", "  INCLUDES = ", "  DEFINES = ")
    return "\n".join(line for line in (build / "build.ninja").read_text().splitlines()
                     if line.startswith(keep) and (not line.startswith("build ") or ".o:" in line))


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None,
                    reason="needs cmake and ninja")
def test_build_commands_do_not_depend_on_where_nanobind_is(tmp_path):
    nanobind = pytest.importorskip("nanobind")
    package = pathlib.Path(nanobind.__file__).parent
    first, second = tmp_path / "env1", tmp_path / "env2"
    shutil.copytree(package, first / "nanobind")
    build = tmp_path / "build"
    ninja_1 = _configure(build, first)
    shutil.rmtree(first)  # pip deletes its isolated environment after the build
    shutil.copytree(package, second / "nanobind")
    ninja_2 = _configure(build, second)
    assert str(first) not in ninja_1 and str(second) not in ninja_2
    assert ninja_1 == ninja_2  # same commands, same (timestamp-kept) inputs: nothing recompiles
    out = subprocess.run(["ninja", "-C", str(build), "-n"], capture_output=True, text=True,
                         check=True).stdout
    assert "nanobind" in out  # nothing was built yet: the dry run lists everything


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None
                    or shutil.which("ccache") is None, reason="needs cmake, ninja and ccache")
def test_compiles_go_through_a_cache_that_outlives_a_cleared_build(tmp_path, monkeypatch):
    # scikit-build-core clears CMakeCache.txt and CMakeFiles/ (the objects) when pip's isolated
    # environment changes, i.e. on every `pip install`; the compiler cache lives beside them.
    pytest.importorskip("nanobind")
    monkeypatch.delenv("CCACHE_DIR", raising=False)
    build = tmp_path / "build"
    env = {k: v for k, v in os.environ.items() if k != "CCACHE_DIR"}
    base = ["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja",
            f"-DPython_EXECUTABLE={sys.executable}", "-DFASTDL_CUDA=OFF"]
    subprocess.run(base, env=env, check=True, capture_output=True, timeout=600)
    ninja = (build / "build.ninja").read_text()
    assert f"CCACHE_DIR={build / 'ccache'}" in ninja and "ccache" in ninja
    shutil.rmtree(build)
    subprocess.run(base + ["-DFASTDL_CCACHE=OFF"], env=env, check=True, capture_output=True,
                   timeout=600)
    assert "ccache" not in (build / "build.ninja").read_text()
