"""How long fastdl's OpenMP worker threads keep spinning after a parallel kernel returns.

libgomp's workers spin ``GOMP_SPINCOUNT`` iterations (300,000 by default, ~10-15 ms of PAUSE
loops) after a parallel region and then sleep in the kernel. On a VM the sleeping worker's vCPU
halts, and waking it costs the next product milliseconds: after >= 50 ms idle a 2-thread 512^3
GEMM ran its first two calls at 52 and 87 GFLOP/s against 204 warm (OpenBLAS, whose workers
spin ~0.1-0.2 s, lost far less). So fastdl asks libgomp for a longer spin, like OpenBLAS's:
``GOMP_SPINCOUNT`` is set before ``fastdl._C`` (and with it libgomp) loads, and removed again
right after, so child processes do not inherit it. A user's own ``GOMP_SPINCOUNT`` or
``OMP_WAIT_POLICY`` is left alone, and ``FASTDL_SPIN=default`` keeps libgomp's default.
libgomp reads the setting once, when it loads: if another module loaded it first, its setting
stays.
"""
from __future__ import annotations

import os

# libgomp's default of 300,000 spins measured ~4 ms of CPU time on an AMD EPYC (13 ns a spin;
# a PAUSE is ~65 cycles there, ~140 on recent Intel cores): 6,000,000 is ~80 ms there and
# ~0.3 s on Intel, OpenBLAS's order, enough to cover a 50-60 ms pause between calls.
SPIN_COUNT = 6_000_000


class spin_env:
    """Context manager around the import of ``fastdl._C``."""

    def __enter__(self):
        self.added = False
        env = os.environ
        if ("GOMP_SPINCOUNT" in env or "OMP_WAIT_POLICY" in env
                or env.get("FASTDL_SPIN", "") == "default"):
            return self
        env["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
        self.added = True
        return self

    def __exit__(self, *exc):
        if self.added:
            os.environ.pop("GOMP_SPINCOUNT", None)
        return False
