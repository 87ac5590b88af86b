"""`fastdl bench gemm`: GEMM GFLOP/s of fastdl vs numpy (OpenBLAS) and PyTorch (MKL), in float32
(sgemm) and/or float64 (dgemm; `--dtype float64` or `--dtype both`).

The three run in this process, interleaved call by call (medians of `--repeats`), so that noise
from other processes hits them alike. Where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, numpy is
also measured in a child process with both unset (OpenBLAS reads them when it loads). Each row
shows % of this machine's sustained FMA peak for that dtype and % of what fastdl's micro-kernel
alone reaches on these cores (operands in L1/L2; on a shared host neighbours can hold it far below
the FMA peak), both measured by this run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from fastdl.bench.common import (interleaved_seconds, markdown_table, microkernel_gflops,
                                 peak_gflops)

DEFAULT_SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
                  (32, 4096, 1024)]
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


DTYPES = ("float32", "float64")


def _operands(m, n, k, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=dtype)
    b = rng.standard_normal((k, n), dtype=dtype)
    return a, b, np.empty((m, n), dtype=dtype)


def _gflops(shape, seconds):
    m, n, k = shape
    return 2.0 * m * n * k / seconds * 1e-9


def _pause(threads: int) -> float:
    """Seconds to wait before each timed call: worker threads that keep spinning after a call
    (and steal the other core from the next library) exist only with >1 thread."""
    return 0.25 if threads > 1 else 0.0


def _blas_kernel() -> str:
    from threadpoolctl import threadpool_info
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return f"{blas[0]['internal_api']} {blas[0].get('architecture')}" if blas else "unknown"


def measure_in_process(shapes, threads, repeats, dtype="float32"):
    """{shape: {library: GFLOP/s}} for fastdl, numpy and (when installed) torch, in dtype."""
    import fastdl
    from threadpoolctl import threadpool_limits
    try:
        import torch
    except ImportError:
        torch = None
    fastdl.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    results = {}
    with threadpool_limits(threads, user_api="blas"):
        for shape in shapes:
            a, b, c = _operands(*shape, dtype)
            fns = {"fastdl": lambda: fastdl.ops.gemm(a, b, c),
                   "numpy": lambda: np.matmul(a, b, out=c)}
            if torch is not None:
                ta, tb, tc = (torch.from_numpy(x) for x in (a, b, c))
                fns["torch"] = lambda: torch.mm(ta, tb, out=tc)
            secs = interleaved_seconds(fns, repeats, pause=_pause(threads))
            results[shape] = {name: _gflops(shape, s) for name, s in secs.items()}
    return results


def _numpy_child(shapes, threads, repeats, dtype="float32"):
    """Child process (OpenBLAS variables unset): numpy alone; prints JSON."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(threads, user_api="blas"):
        res = {}
        for shape in shapes:
            a, b, c = _operands(*shape, dtype)
            secs = interleaved_seconds({"numpy": lambda: np.matmul(a, b, out=c)}, repeats,
                                       pause=_pause(threads))
            res[",".join(map(str, shape))] = _gflops(shape, secs["numpy"])
    print(json.dumps({"kernel": _blas_kernel(), "gflops": res}))


def measure_numpy_vars_unset(shapes, threads, repeats, dtype="float32"):
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    spec = json.dumps({"shapes": shapes, "threads": threads, "repeats": repeats, "dtype": dtype})
    proc = subprocess.run([sys.executable, "-m", "fastdl.bench.gemm", "--numpy-child", spec],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"numpy child process failed: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {tuple(map(int, key.split(","))): v for key, v in data["gflops"].items()}, data["kernel"]


def percent(value, reference):
    """``value`` as % of a measured ``reference`` (a peak). On a shared host the reference can be
    measured in a busier moment than the row: above 100% the cell is marked with ``*`` (and the
    table says why) instead of silently claiming more than the machine can do."""
    pct = 100 * value / reference
    return f"{pct:.0f}%*" if pct > 100.5 else f"{pct:.0f}%"


def run(shapes, thread_counts, repeats, dtypes=("float32",)) -> str:
    import fastdl
    vars_set = {v: os.environ[v] for v in OPENBLAS_VARS if v in os.environ}
    isa = fastdl._C.simd_path()
    rows, notes = [], []
    peer_names = None
    for dtype in dtypes:
        short = {"float32": "fp32", "float64": "fp64"}[dtype]
        for threads in thread_counts:
            peak_before = peak_gflops(threads, isa, dtype)
            kernel_before = microkernel_gflops(threads, isa, dtype)
            res = measure_in_process(shapes, threads, repeats, dtype)
            unset, unset_kernel = (measure_numpy_vars_unset(shapes, threads, repeats, dtype)
                                   if vars_set else (None, None))
            # Measured again after the rows: a neighbour that was busy during the first
            # measurement would otherwise leave a peak too low for every row.
            peak = max(peak_before, peak_gflops(threads, isa, dtype))
            kernel_alone = max(kernel_before, microkernel_gflops(threads, isa, dtype))
            notes.append(f"{short}, {threads} thread(s): sustained {isa} {short} FMA peak "
                         f"{peak:.0f} GFLOP/s; fastdl's {short} micro-kernel alone "
                         f"{kernel_alone:.0f} GFLOP/s ({percent(kernel_alone, peak)} of peak; "
                         f"each the higher of a median of bursts before and after the rows)")
            for shape in shapes:
                peers = {k: v for k, v in res[shape].items() if k != "fastdl"}
                if unset is not None:
                    peers["numpy (OpenBLAS vars unset)"] = unset[shape]
                peer_names = list(peers)
                ours = res[shape]["fastdl"]
                row = ["x".join(map(str, shape)), short, threads, ours,
                       percent(ours, peak), percent(ours, kernel_alone)]
                for g in peers.values():
                    row += [g, f"{ours / g:.2f}x"]
                rows.append(row)
    headers = ["M x N x K", "dtype", "threads", "fastdl GFLOP/s", "fastdl % of peak",
               "fastdl % of micro-kernel"]
    for name in peer_names:
        headers += [f"{name} GFLOP/s", f"fastdl / {name}"]
    notes.append(f"numpy runs {_blas_kernel()} with "
                 + (", ".join(f"{k}={v}" for k, v in vars_set.items()) if vars_set
                    else "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE not set (OpenBLAS picks its own kernel)")
                 + (f"; with both unset it runs {unset_kernel}" if vars_set else ""))
    notes.append(f"medians of {repeats} interleaved calls (at >1 thread: a 0.25 s pause for "
                 f"OpenBLAS's spinning workers, then one untimed call, before each timed call); fastdl SIMD path {isa}")
    table = markdown_table(headers, rows)
    if "%*" in table or any("%*" in n for n in notes):
        notes.append("*: above 100% of a rate measured in this run. The peak and micro-kernel "
                     "rates are medians of bursts measured before and after the rows; another "
                     "process on these shared cores held them down then more than during the "
                     "marked row, so that reference is too low (rerun in a quieter minute)")
    return table + "\n\n" + "\n".join("- " + n for n in notes)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench gemm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--shapes", default=None,
                        help="comma-separated MxNxK (default: 256..2048 cubes and 32x4096x1024)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--dtype", default="float32", choices=DTYPES + ("both",),
                        help="element type: float32 (sgemm), float64 (dgemm) or both")
    parser.add_argument("--numpy-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import threadpoolctl  # noqa: F401  (the `bench` extra; fail before minutes of measuring)
    if args.numpy_child:
        spec = json.loads(args.numpy_child)
        return _numpy_child([tuple(s) for s in spec["shapes"]], spec["threads"], spec["repeats"],
                            spec.get("dtype", "float32"))
    shapes = DEFAULT_SHAPES if not args.shapes else [
        tuple(int(v) for v in s.lower().split("x")) for s in args.shapes.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    dtypes = DTYPES if args.dtype == "both" else (args.dtype,)
    print(run(shapes, threads, args.repeats, dtypes))


if __name__ == "__main__":
    main()
