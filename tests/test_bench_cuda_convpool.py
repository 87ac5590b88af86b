"""The conv and pool families of `fastdl bench cuda` without a GPU: their cases are built and
validated exactly as on a GPU, with numpy standing in for cupy, CPU PyTorch for the vendor
libraries and the CUDA emulator for fastdl._C_cuda (small rows), so the code a lent GPU runs is
exercised here; and the report shows the memory-bound rows' GB/s."""
import numpy as np
import pytest

import fastdl
from fastdl.bench import _cuda_convpool as convpool
from fastdl.bench import cuda as bench_cuda

torch = pytest.importorskip("torch")
emu = fastdl.cuda.emulator()

SMALL_CONV = {
    "layer1-like 3x3": (2, 6, 5, (9, 9), 3, 1, 1, 1, False),
    "stem-like 7x7/s2": (1, 3, 4, (13, 13), 7, 2, 3, 1, False),
    "depthwise 3x3": (2, 5, 5, (9, 9), 3, 1, 1, 5, False),
    "transposed 4x4/s2": (2, 6, 4, (5, 5), 4, 2, 1, 1, True),
}
SMALL_POOL = {"max_pool2d 2x2/s2": (2, 3, (12, 10), 2, 2)}


def test_conv_cases_validate_against_torch_on_the_emulator():
    cases = convpool.conv_cases(np, torch, emu, SMALL_CONV)
    assert [c.name for c in cases][:3] == ["layer1-like 3x3 forward",
                                          "layer1-like 3x3 backward-data",
                                          "layer1-like 3x3 backward-weight"]
    assert len(cases) == 3 * 3 + 1
    for case in cases:
        error, tolerance = case.check()
        assert error <= tolerance, (case.name, error, tolerance)
        assert error < 1e-5, case.name
        case.ours()
        assert case.vendor() is not None
        assert case.flops > 0 and case.family == "conv" and case.vendor_name == "cuDNN"


def test_pool_cases_validate_against_torch_on_the_emulator():
    cases = convpool.pool_cases(np, torch, emu, SMALL_POOL)
    assert [c.name for c in cases] == ["max_pool2d 2x2/s2 forward", "max_pool2d 2x2/s2 backward"]
    for case in cases:
        error, tolerance = case.check()
        assert error <= tolerance and error == 0.0, case.name
        # x (2*3*12*10 floats) in; out (2*3*6*5 floats) and int64 indices out.
        assert case.bytes == 4 * 720 + 180 * 12


def test_a_wrong_kernel_fails_validation():
    class Broken:
        def __getattr__(self, name):
            fn = getattr(emu, name)

            def wrong(*args, **kw):
                fn(*args, **kw)
                args[{"conv_forward": 3, "max_pool_forward": 1}[name]][...] *= 1.001
            return wrong

    conv = convpool.conv_cases(np, torch, Broken(), {"c": SMALL_CONV["layer1-like 3x3"]})[0]
    error, tolerance = conv.check()
    assert error > tolerance
    pool = convpool.pool_cases(np, torch, Broken(), SMALL_POOL)[0]
    error, tolerance = pool.check()
    assert error > tolerance


def test_families_and_report_with_bandwidth_columns():
    assert {"gemm", "conv", "pool"} <= set(bench_cuda.FAMILIES)
    machine = {"device": "NVIDIA H200", "measured_fp32_tflops": 60.0, "measured_copy_gbs": 4000.0,
               "spec_fp32_tflops": 67.0, "spec_memory_gbs": 4800.0, "cuda_runtime": 13000,
               "built_for": "90", "torch": "2.13.0+cu130", "cupy": "14.0.0"}
    row = bench_cuda.Row("pool", "max_pool2d 2x2/s2 forward", "cuDNN/ATen", 0.5, 0.25, 0.1, 0.2,
                         0.2, 0.4, 0.15, 0.5, 0.0, ours_gbs=1234.5, vendor_gbs=2469.0,
                         ours_pct_copy_bw=30.9)
    text = bench_cuda.report(machine, [row], [])
    assert "| ours GB/s | vendor GB/s | ours % copy |" in text
    assert "| 0.0e+00 | 1234 | 2469 | 30.9 |" in text
    gemm_row = bench_cuda.Row("gemm", "512x512x512", "cuBLAS", 1, 1, 1, 1, 1, 1, 1, 1, 1e-7)
    assert "| - | - | - |" in bench_cuda.report(machine, [gemm_row], [])
