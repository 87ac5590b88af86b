"""`fastdl bench gemm`: fp32 GEMM GFLOP/s of fastdl vs numpy (OpenBLAS) and PyTorch.

numpy is measured in child processes, once with this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE
as set and once with both unset, because OpenBLAS reads them when it loads. Each row also shows
% of this machine's fp32 FMA peak, measured by this run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from fastdl.bench.common import markdown_table, median_seconds, peak_gflops, settle

DEFAULT_SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
                  (32, 4096, 1024)]
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _operands(m, n, k, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return a, b, np.empty((m, n), dtype=np.float32)


def _gflops(m, n, k, seconds):
    return 2.0 * m * n * k / seconds * 1e-9


def time_fastdl(shapes, threads):
    import fastdl
    fastdl.set_num_threads(threads)
    out = {}
    for m, n, k in shapes:
        a, b, c = _operands(m, n, k)
        out[(m, n, k)] = _gflops(m, n, k, median_seconds(lambda: fastdl.ops.gemm(a, b, c)))
    return out


def time_torch(shapes, threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    out = {}
    for m, n, k in shapes:
        a, b, c = (torch.from_numpy(x) for x in _operands(m, n, k))
        settle()
        out[(m, n, k)] = _gflops(m, n, k, median_seconds(lambda: torch.mm(a, b, out=c)))
    return out


def _numpy_child(shapes, threads):
    """Runs in a child process: prints JSON with OpenBLAS's kernel name and GFLOP/s per shape."""
    from threadpoolctl import threadpool_info, threadpool_limits
    with threadpool_limits(threads):
        res = {}
        for m, n, k in shapes:
            a, b, c = _operands(m, n, k)
            settle()
            res[f"{m},{n},{k}"] = _gflops(m, n, k, median_seconds(lambda: np.matmul(a, b, out=c)))
    blas = [p for p in threadpool_info() if p.get("internal_api") in ("openblas", "mkl", "blis")]
    kernel = f"{blas[0]['internal_api']} {blas[0].get('architecture')}" if blas else "unknown"
    print(json.dumps({"kernel": kernel, "gflops": res}))


def time_numpy(shapes, threads, unset_openblas_vars: bool):
    env = dict(os.environ)
    if unset_openblas_vars:
        for var in OPENBLAS_VARS:
            env.pop(var, None)
    arg = json.dumps({"shapes": shapes, "threads": threads})
    proc = subprocess.run([sys.executable, "-m", "fastdl.bench.gemm", "--numpy-child", arg],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, f"numpy child failed: {proc.stderr.strip()[-300:]}"
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {tuple(map(int, key.split(","))): v for key, v in data["gflops"].items()}, data["kernel"]


def run(shapes, thread_counts):
    import fastdl
    rows = []
    notes = []
    env_desc = ", ".join(f"{v}={os.environ.get(v, '(unset)')}" for v in OPENBLAS_VARS)
    for threads in thread_counts:
        peak = peak_gflops(threads, "avx512" if "avx512" in fastdl._C.available_simd_paths() else "")
        ours = time_fastdl(shapes, threads)
        np_set, kernel_set = time_numpy(shapes, threads, unset_openblas_vars=False)
        np_unset, kernel_unset = time_numpy(shapes, threads, unset_openblas_vars=True)
        torch_res = time_torch(shapes, threads)
        peak = max(peak, peak_gflops(threads))  # re-measure: the clock moves during the run
        notes.append(f"{threads} thread(s): measured fp32 FMA peak {peak:.0f} GFLOP/s; numpy with "
                     f"env as set [{env_desc}] runs {kernel_set}; with both unset: {kernel_unset}")
        for shape in shapes:
            ours_g = ours[shape]
            peers = {"numpy": np_set and np_set.get(shape),
                     "numpy (vars unset)": np_unset and np_unset.get(shape),
                     "torch": torch_res and torch_res.get(shape)}
            row = [f"{shape[0]}x{shape[1]}x{shape[2]}", threads, ours_g, f"{100 * ours_g / peak:.0f}%"]
            for g in peers.values():
                row += ["-", "-"] if not g else [g, f"{ours_g / g:.2f}x"]
            rows.append(row)
    headers = ["M x N x K", "threads", "fastdl GFLOP/s", "fastdl % peak",
               "numpy GFLOP/s", "fastdl/numpy", "numpy* GFLOP/s", "fastdl/numpy*",
               "torch GFLOP/s", "fastdl/torch"]
    table = markdown_table(headers, rows)
    return table + "\n\nnumpy* = numpy with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.\n" + \
        "\n".join("- " + n for n in notes)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench gemm", description=__doc__)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--shapes", default=None,
                        help="semicolon-separated MxNxK, default: 256..2048 cubes and 32x4096x1024")
    parser.add_argument("--numpy-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.numpy_child:
        spec = json.loads(args.numpy_child)
        return _numpy_child([tuple(s) for s in spec["shapes"]], spec["threads"])
    shapes = DEFAULT_SHAPES if not args.shapes else [
        tuple(int(v) for v in s.lower().split("x")) for s in args.shapes.split(";")]
    threads = [int(t) for t in args.threads.split(",")]
    print(run(shapes, threads))


if __name__ == "__main__":
    main()
