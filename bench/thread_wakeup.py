"""First calls after an idle pause: GFLOP/s of calls 1, 2, 3 of a product after `--idle` ms of
sleep, for fastdl and numpy (OpenBLAS), medians over `--rounds` rounds (issue #9: after >= 50 ms
idle, 2-thread products needed two calls to return to speed).

    python bench/thread_wakeup.py --threads 2 --size 512 --idle 60 --rounds 15
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def measure(fn, flops, idle_s, rounds, calls=3):
    fn()
    per_call = [[] for _ in range(calls)]
    for _ in range(rounds):
        time.sleep(idle_s)
        for i in range(calls):
            t0 = time.perf_counter()
            fn()
            per_call[i].append(flops / (time.perf_counter() - t0) * 1e-9)
    return [statistics.median(v) for v in per_call]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--idle", type=float, default=60, help="ms of sleep before each round")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--only", choices=["fastdl", "numpy", "both"], default="both")
    args = p.parse_args(argv)
    import fastdl
    from threadpoolctl import threadpool_limits
    n = args.size
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    c = np.empty((n, n), np.float32)
    flops = 2.0 * n ** 3
    fastdl.set_num_threads(args.threads)
    rows = []
    with threadpool_limits(args.threads, user_api="blas"):
        if args.only in ("fastdl", "both"):
            rows.append(("fastdl", measure(lambda: fastdl.ops.gemm(a, b, c), flops,
                                           args.idle / 1e3, args.rounds)))
        if args.only in ("numpy", "both"):
            time.sleep(0.3)
            rows.append(("numpy", measure(lambda: np.matmul(a, b, out=c), flops,
                                          args.idle / 1e3, args.rounds)))
    print(f"{n}^3, {args.threads} threads, {args.idle:.0f} ms idle before each round, medians "
          f"of {args.rounds} rounds (GFLOP/s of calls 1, 2, 3)")
    for name, v in rows:
        print(f"  {name:7s} " + "  ".join(f"{x:6.1f}" for x in v))


if __name__ == "__main__":
    main()
