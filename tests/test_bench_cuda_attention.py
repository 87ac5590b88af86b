"""The attention family of `fastdl bench cuda` without a GPU: its cases are built and validated
as on a GPU, with numpy for cupy, CPU PyTorch for the vendor and the CUDA emulator for
fastdl._C_cuda (small rows), so the code a lent GPU runs is exercised here."""
import numpy as np
import pytest

import fastdl
from fastdl.bench import _cuda_attention as att
from fastdl.bench import cuda as bench_cuda

torch = pytest.importorskip("torch")
emu = fastdl.cuda.emulator()
SMALL = {"L=33": (1, 2, 33, 32, False), "L=40 causal": (2, 1, 40, 64, True)}


def test_attention_cases_validate_against_torch_on_the_emulator():
    cases = att.attention_cases(np, torch, emu, SMALL)
    assert [c.name for c in cases] == ["L=33 forward", "L=33 fwd+bwd", "L=40 causal forward",
                                       "L=40 causal fwd+bwd"]
    for case in cases:
        error, tolerance = case.check()
        assert error <= tolerance and error < 1e-5, (case.name, error, tolerance)
        assert case.family == "attention" and case.vendor_name == "torch SDPA fp32"
    assert cases[1].flops == 3.5 * cases[0].flops == 3.5 * 4 * 2 * 33 * 33 * 32
    assert cases[2].flops == pytest.approx(4 * 2 * 40 * 40 * 64 * 41 / 80)
    assert "attention" in bench_cuda.FAMILIES


def test_a_wrong_kernel_fails_validation():
    class Broken:
        def __getattr__(self, name):
            fn = getattr(emu, name)

            def wrong(*args, **kw):
                fn(*args, **kw)
                args[{"attention_forward": 3, "attention_backward": 7}[name]][...] *= 1.001
            return wrong

    fwd, both = att.attention_cases(np, torch, Broken(), {"x": SMALL["L=33"]})
    for case in (fwd, both):
        error, tolerance = case.check()
        assert error > tolerance, case.name
