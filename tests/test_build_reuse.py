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
