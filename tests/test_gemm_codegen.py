"""What the compiler made of the AVX-512 micro-kernels (float and double).

A micro-kernel's accumulators and operands fill 28 of the 32 zmm registers. Inlined into a caller
with other vector values live (the packing code's permutation indices), GCC 12 spilled one B
vector to the stack and read it back for every FMA: the 2048^3 product ran 6-11% slower and every
result stayed correct, so only the generated code shows it. An FMA whose full 512-bit operand
comes from a stack slot is such a spill (a broadcast scalar, `{1to16}` for float or `{1to8}` for
double, is not).
"""
import platform
import re
import shutil
import subprocess

import pytest

from fastdl import _C

STACK_FMA = re.compile(r"vfn?madd\w+\s+(-?0x[0-9a-f]+)?\(%rsp\),%zmm\d+")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 kernels only")
@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs binutils' objdump")
def test_no_avx512_fma_reads_a_spilled_vector():
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", _C.__file__],
                             capture_output=True, text=True, check=True).stdout
    if "%zmm" not in listing:
        pytest.skip("this build has no AVX-512 kernels (the compiler could not target it)")
    assert "vfmadd231ps" in listing, "no FMA at all in the listing: is this the kernel module?"
    # The double kernels' packed form: B vectors times a broadcast A element ({1to8}).
    assert re.search(r"vfmadd231pd\s+\S*\{1to8\},%zmm\d+,%zmm\d+", listing), \
        "no zmm double FMA with a broadcast operand: are the float64 micro-kernels built?"
    spills = [line.strip() for line in listing.splitlines()
              if STACK_FMA.search(line) and "{1to16}" not in line and "{1to8}" not in line]
    assert not spills, f"{len(spills)} zmm FMAs read a stack slot, e.g. {spills[:3]}"
