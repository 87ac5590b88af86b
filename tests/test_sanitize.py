"""The sanitizer build (.ci/sanitize.sh: AddressSanitizer + UndefinedBehaviorSanitizer) must report
a memory bug in a CUDA kernel run by the emulator, on a fiber stack, with the kernel's source line,
and abort. Each bug runs in a child process, which inherits the sanitizer runtime (LD_PRELOAD) and
options. In an ordinary build these tests skip: there the bugs are plain undefined behaviour."""
import os
import subprocess
import sys

import pytest

import fastdl

emu = fastdl.cuda.emulator()

pytestmark = pytest.mark.skipif(not emu.sanitizers, reason="needs the sanitizer build (.ci/sanitize.sh)")


def run_bug(kind):
    code = ("import numpy as np, fastdl\n"
            f"fastdl.cuda.emulator().memory_bug_for_test({kind!r}, np.ones(37, np.float32))\n"
            "print('survived')\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=os.environ, timeout=120)


def test_out_of_bounds_read_in_a_kernel_is_reported():
    r = run_bug("out_of_bounds_read")
    assert r.returncode != 0 and "survived" not in r.stdout, r.stderr[-3000:]
    assert "AddressSanitizer: heap-buffer-overflow" in r.stderr, r.stderr[-3000:]
    assert "selftest_kernels.cu" in r.stderr, r.stderr[-3000:]  # the report names the kernel


def test_misaligned_vector_load_in_a_kernel_is_reported():
    r = run_bug("misaligned_float4_load")
    assert r.returncode != 0 and "survived" not in r.stdout, r.stderr[-3000:]
    assert "misaligned address" in r.stderr and "float4" in r.stderr, r.stderr[-3000:]
    assert "selftest_kernels.cu" in r.stderr, r.stderr[-3000:]
