"""Quick GEMM timing: fastdl vs numpy (OpenBLAS) vs torch, as % of the AVX-512 FMA peak measured in
the same process. Runs of the libraries alternate (the cores are shared, interference is
intermittent), best and median reported; a pause precedes every call (OpenBLAS threads spin).

    PYTHONPATH=python python bench/gemm_quick.py [--threads 1 2] [--sizes 1024 2048 32x4096x1024]
    (run numpy's SkylakeX kernel: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastdl
from fastdl import _C, ops


def parse_size(s: str):
    parts = [int(x) for x in s.split("x")]
    return tuple(parts * 3) if len(parts) == 1 else tuple(parts)


def interleaved_times(fns: dict, repeats: int, pause: float) -> dict:
    """Time each callable `repeats` times, alternating between them so that interference from
    other processes on the shared cores hits all of them alike. Returns {name: [seconds]}."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(pause)  # OpenBLAS's threads spin for a while after returning
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sizes", nargs="+", default=["1024", "2048", "32x4096x1024"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--peers", nargs="*", default=["numpy", "torch"], choices=["numpy", "torch"])
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    torch = None
    if "torch" in args.peers:
        try:
            import torch
        except ImportError:
            pass
    rng = np.random.default_rng(0)
    print("GFLOP/s as best (median) of interleaved runs; % of the AVX-512 FMA peak measured just before")
    print(f"{'thr':>3} {'m x n x k':>16} {'peak':>6} " + " ".join(f"{x:>20}" for x in ["fastdl"] + args.peers))
    for threads in args.threads:
        fastdl.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for size in args.sizes:
            m, n, k = parse_size(size)
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), np.float32)
            fns = {"fastdl": lambda: ops.gemm(a, b, c)}
            if "numpy" in args.peers:
                fns["numpy"] = lambda: np.matmul(a, b, out=c)
            if torch is not None:
                ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
                fns["torch"] = lambda: torch.matmul(ta, tb, out=tc)
            peak = _C.measure_peak_gflops("avx512", threads, 0.3)
            with threadpool_limits(threads):
                times = interleaved_times(fns, args.repeats, pause=0.25)
            flops = 2.0 * m * n * k
            cells = []
            for name in fns:
                best, med = flops / min(times[name]) * 1e-9, flops / np.median(times[name]) * 1e-9
                cells.append(f"{best:6.1f} {best / peak:4.0%} ({med:5.1f})")
            print(f"{threads:>3} {f'{m}x{n}x{k}':>16} {peak:6.1f} " + " ".join(f"{x:>20}" for x in cells), flush=True)


if __name__ == "__main__":
    main()
