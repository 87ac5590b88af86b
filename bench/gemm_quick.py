"""Quick GEMM timing: fastdl vs numpy (OpenBLAS) vs torch, as % of the AVX-512 FMA peak measured in
the same process. Medians of several runs; sleeps before peer calls (OpenBLAS threads spin).

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


def median_time(fn, repeats: int, pause: float = 0.0) -> float:
    fn()
    times = []
    for _ in range(repeats):
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sizes", nargs="+", default=["1024", "2048", "32x4096x1024"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--peers", nargs="*", default=["numpy", "torch"])
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    torch = None
    if "torch" in args.peers:
        try:
            import torch
        except ImportError:
            pass
    rng = np.random.default_rng(0)
    print(f"{'thr':>3} {'m x n x k':>16} {'peak':>6} {'fastdl':>14} {'numpy':>14} {'torch':>14}")
    for threads in args.threads:
        fastdl.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for size in args.sizes:
            m, n, k = parse_size(size)
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), np.float32)
            flops = 2.0 * m * n * k
            peak = _C.measure_peak_gflops("avx512", threads, 0.3)
            cells = []
            t = median_time(lambda: ops.gemm(a, b, c), args.repeats)
            cells.append(flops / t * 1e-9)
            if "numpy" in args.peers:
                with threadpool_limits(threads):
                    t = median_time(lambda: np.matmul(a, b, out=c), args.repeats, pause=0.25)
                cells.append(flops / t * 1e-9)
            else:
                cells.append(float("nan"))
            if torch is not None:
                ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
                t = median_time(lambda: torch.matmul(ta, tb, out=tc), args.repeats, pause=0.25)
                cells.append(flops / t * 1e-9)
            else:
                cells.append(float("nan"))
            txt = " ".join(f"{g:6.1f} ({g / peak:4.0%})" for g in cells)
            print(f"{threads:>3} {f'{m}x{n}x{k}':>16} {peak:6.1f} {txt}", flush=True)


if __name__ == "__main__":
    main()
