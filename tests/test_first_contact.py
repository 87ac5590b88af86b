"""What a new user meets first (issue #9): the `fastdl` command's help and version, a bench
without its extra, `fastdl info`'s CUDA architectures, FASTDL_SIMD typos, percentages of a
measured peak, and help(fastdl)."""
import os
import subprocess
import sys

import pytest

import fastdl
from fastdl import cli


def _fastdl(*args, env=None):
    return subprocess.run([sys.executable, "-m", "fastdl.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_bench_name_help_is_the_bench_help():
    out = _fastdl("bench", "gemm", "-h")
    assert out.returncode == 0
    assert out.stdout.startswith("usage: fastdl bench gemm")
    assert "--dtype" in out.stdout and "--shapes" in out.stdout


def test_version_flag():
    out = _fastdl("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fastdl {fastdl.__version__}"


def test_help_lists_commands():
    out = _fastdl("--help")
    assert out.returncode == 0 and "info" in out.stdout and "bench" in out.stdout
    assert "--version" in out.stdout


def test_bench_without_its_extra_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import raises ModuleNotFoundError
    rc = cli.main(["bench", "gemm", "--shapes", "8x8x8", "--threads", "1", "--repeats", "1"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "threadpoolctl" in err and "fastdl[bench]" in err


def test_info_lists_cuda_architectures():
    d = fastdl.info(print_out=False)
    assert "cuda_architectures" in d
    if d["cuda_built"]:
        assert d["cuda_architectures"] and all(a.isdigit() for a in d["cuda_architectures"])
    else:
        assert d["cuda_architectures"] == []
    assert "cuda_architectures" in _fastdl("info").stdout


def test_bogus_simd_env_warns_with_the_valid_values():
    env = dict(os.environ, FASTDL_SIMD="bogus")
    out = subprocess.run([sys.executable, "-c", "import fastdl; print(fastdl._C.simd_path())"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0
    assert "FASTDL_SIMD='bogus'" in out.stderr
    assert "avx512, avx2, scalar" in out.stderr
    assert out.stdout.strip() == fastdl._C.available_simd_paths()[0]


def test_valid_simd_env_does_not_warn():
    env = dict(os.environ, FASTDL_SIMD="scalar")
    out = subprocess.run([sys.executable, "-W", "error", "-c", "import fastdl"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and "FASTDL_SIMD" not in out.stderr


def test_percent_of_peak_never_exceeds_100_silently(monkeypatch):
    from fastdl.bench import gemm
    assert gemm.percent(50, 100) == "50%"
    assert gemm.percent(140, 100) == "140%*"
    # a peak measured in a busy moment (here: absurdly low) marks the rows and says why
    monkeypatch.setattr(gemm, "peak_gflops", lambda *a, **k: 1e-3)
    monkeypatch.setattr(gemm, "microkernel_gflops", lambda *a, **k: 1e-3)
    out = gemm.run([(16, 16, 16)], [1], 1)
    row = next(line for line in out.splitlines() if line.startswith("| 16x16x16"))
    cells = [c.strip() for c in row.split("|")]
    assert any(c.endswith("%*") for c in cells)
    assert "*: above 100%" in out


def test_help_fastdl_lists_the_public_api():
    for name in ("Tensor", "tensor", "zeros", "randn", "float32", "no_grad", "manual_seed",
                 "matmul", "cat", "save", "load", "nn", "optim", "data", "is_tensor",
                 "Generator", "inference_mode", "einsum", "sort", "topk"):
        assert name in fastdl.__all__, name
    for name in fastdl.__all__:
        assert hasattr(fastdl, name), name
