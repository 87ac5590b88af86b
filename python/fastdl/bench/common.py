"""Shared benchmark plumbing: robust timing, machine peaks, markdown tables."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Sequence

from fastdl import _C


def median_seconds(fn: Callable[[], object], *, warmup: int = 2, min_reps: int = 5,
                   min_time: float = 0.3, max_reps: int = 200) -> float:
    """Median wall time of ``fn()`` after warm-up (medians resist the shared machine's noise)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_seconds(fns: dict, repeats: int = 7, pause: float = 0.25) -> dict:
    """Time each callable ``repeats`` times, alternating between them, so interference from other
    processes on shared cores hits every library alike. Before each timed call: a pause (another
    library's threads may keep spinning after it returns) and one untimed call of the same
    callable (after an idle pause this VM's cores and worker threads take milliseconds to come
    back to speed: measured 88 vs 140 GFLOP/s for a 2-thread 1024^3 GEMM). Returns
    {name: median seconds}."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if pause:
                time.sleep(pause)
                fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def peak_gflops(threads: int, isa: str = "", dtype: str = "float32") -> float:
    """Sustained FMA rate (fp32 or fp64) of this machine now (median of bursts after a warm-up)."""
    return _C.measure_peak_gflops(isa, threads, 0.3, dtype)


def microkernel_gflops(threads: int, isa: str = "", dtype: str = "float32") -> float:
    """Rate of fastdl's GEMM micro-kernel alone (operands in L1/L2, no packing, no C traffic) for
    dtype, measured now: the most the GEMM can reach on these cores at the moment. On a shared
    host it falls well below the FMA peak when neighbours take the cores' load and cache
    bandwidth."""
    return _C.measure_microkernel_gflops(isa, threads, 0.3, dtype)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


class both_libraries_at:
    """``with both_libraries_at(threads):`` fastdl and torch at ``threads`` threads inside the
    block, their previous counts restored after."""

    def __init__(self, threads: int):
        self.threads = threads

    def __enter__(self):
        import torch

        import fastdl
        self.before = (fastdl.get_num_threads(), torch.get_num_threads())
        fastdl.set_num_threads(self.threads)
        torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        import torch

        import fastdl
        fastdl.set_num_threads(self.before[0])
        torch.set_num_threads(self.before[1])


def cprofile_text(fn: Callable[[], object], calls: int = 3, top: int = 20) -> str:
    """``fn`` called once, then ``calls`` times under cProfile: the ``top`` functions by time of
    their own, as pstats prints them."""
    import cProfile
    import io
    import pstats
    fn()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()
