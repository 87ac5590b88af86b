"""`fastdl bench cuda` and bench/gpu_check.sh where there is no GPU: they say why and exit with
status 2 instead of failing, and the report's formatting works (a GPU machine is lent rarely and
briefly; a typo found there wastes the loan)."""
import pathlib
import shutil
import subprocess

import pytest

import fastdl
from fastdl.bench import cuda as bench_cuda

ROOT = pathlib.Path(__file__).resolve().parents[1]
no_gpu = pytest.mark.skipif(fastdl.cuda.is_available(), reason="this machine has a GPU")


@no_gpu
def test_bench_without_a_gpu_exits_2_and_says_why(capsys):
    with pytest.raises(SystemExit) as exc:
        bench_cuda.main(["--quick"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "fastdl bench cuda: skipped:" in err
    assert ("built without CUDA" in err) or ("no CUDA device" in err)


@no_gpu
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="nvidia-smi exists here")
def test_gpu_check_without_a_gpu_exits_2_before_building(tmp_path):
    r = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], capture_output=True,
                       text=True, env={"OUT": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "SKIPPED: no NVIDIA GPU" in r.stdout
    assert "SKIPPED: no NVIDIA GPU" in (tmp_path / "gpu_check.md").read_text()
    assert not (tmp_path / "build.log").exists()


def test_spec_peaks_by_device_name():
    assert bench_cuda.spec_peak("NVIDIA H200") == (67.0, 4800.0)
    assert bench_cuda.spec_peak("NVIDIA H100 PCIe") == (51.2, 2000.0)
    assert bench_cuda.spec_peak("NVIDIA H100 80GB HBM3") == (67.0, 3350.0)
    assert bench_cuda.spec_peak("Some Future GPU") is None


def test_report_formats_rows_failures_and_unknown_devices():
    machine = {"device": "NVIDIA H200", "measured_fp32_tflops": 60.25, "measured_copy_gbs": 4012.0,
               "spec_fp32_tflops": 67.0, "spec_memory_gbs": 4800.0, "cuda_runtime": 13000,
               "built_for": "90", "torch": "2.13.0+cu130", "cupy": "14.0.0"}
    row = bench_cuda.Row("gemm", "4096x4096x4096", "cuBLAS", 12.5, 6.25, 11.0, 22.0, 18.3, 36.5,
                         16.4, 0.5, 3.1e-6)
    text = bench_cuda.report(machine, [row], ["gemm 1x1x1: max relative error 1 > 0.1"])
    assert "| gemm | 4096x4096x4096 | cuBLAS | 12.5 | 6.25 |" in text
    assert "60.2 TFLOP/s" in text and "67.0 TFLOP/s, 4800 GB/s" in text
    assert "3.1e-06" in text and "- gemm 1x1x1" in text
    unknown = dict(machine, spec_fp32_tflops=None, spec_memory_gbs=None)
    row.ours_pct_spec_peak = None
    text = bench_cuda.report(unknown, [row], [])
    assert "unknown device" in text and "| n/a |" in text and "Failed" not in text


def test_every_family_is_listed_for_the_cli():
    assert set(bench_cuda.FAMILIES) >= {"gemm"}
    from fastdl import cli
    assert "cuda" in cli._bench_names()
