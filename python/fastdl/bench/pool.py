"""Pooling and upsampling: fastdl vs PyTorch (NCHW and channels_last) vs a numpy copy of the
input (`fastdl bench pool`).

These ops do almost no arithmetic: their floor is the memory traffic. Each row gives ms, the
GB/s of the minimal traffic (input read once, output written once; with fwd+bwd also the
indices, the upstream gradient and the input gradient) and that as a % of the read bandwidth
measured in this run on as many threads; the copy column is one numpy ``x.copy()`` of the
input (numpy copies on one thread), the target for max_pool2d's forward being <= 1.25x of it.
Calls are interleaved with pauses (``fastdl.bench.common.interleaved_seconds``), medians.
"""
from __future__ import annotations

import argparse
import contextlib

import numpy as np

import fastdl
from fastdl import _C
from fastdl.bench.common import interleaved_seconds, markdown_table
from fastdl.nn import functional as F

# name -> (input shape, quick input shape, fastdl/torch call taking (F, x), output shape of x)
CASES = {
    "max_pool2d 2x2/s2": ((32, 64, 112, 112), (2, 4, 16, 16),
                          lambda F, x: F.max_pool2d(x, 2)),
    "avg_pool2d 3x3/s2 p1": ((32, 64, 112, 112), (2, 4, 16, 16),
                             lambda F, x: F.avg_pool2d(x, 3, 2, 1)),
    "adaptive_avg_pool2d 1x1": ((32, 512, 7, 7), (2, 8, 7, 7),
                                lambda F, x: F.adaptive_avg_pool2d(x, 1)),
    "bilinear x2": ((32, 64, 56, 56), (2, 4, 8, 8),
                    lambda F, x: F.interpolate(x, scale_factor=2, mode="bilinear",
                                               align_corners=False)),
}


def _traffic_bytes(name, x_shape, out_shape, backward):
    """Minimal bytes moved: x read and out written (+ int64 indices for a max pool that keeps
    them); backward reads the upstream gradient (+ indices) and writes x's gradient."""
    nx, no = int(np.prod(x_shape)), int(np.prod(out_shape))
    item = 4
    if not backward:
        return (nx + no) * item
    idx = 8 * no if name.startswith("max_pool") else 0
    return (nx + no) * item + idx + no * item + idx + nx * item


@contextlib.contextmanager
def _threads(n):
    import torch
    before_f, before_t = fastdl.get_num_threads(), torch.get_num_threads()
    fastdl.set_num_threads(n)
    torch.set_num_threads(n)
    try:
        yield
    finally:
        fastdl.set_num_threads(before_f)
        torch.set_num_threads(before_t)


def _callables(name, shape, backward, seed=0):
    """{column: callable} for one case: fastdl, torch NCHW, torch channels_last, numpy copy."""
    import torch
    fn = CASES[name][2]
    x_np = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    fx = fastdl.Tensor(x_np, requires_grad=backward)
    tx = torch.tensor(x_np, requires_grad=backward)
    tx_cl = tx.detach().contiguous(memory_format=torch.channels_last).requires_grad_(backward)
    out_shape = tuple(fn(torch.nn.functional, tx.detach()).shape)
    g_np = np.ones(out_shape, np.float32)
    fg, tg = fastdl.Tensor(g_np), torch.tensor(g_np)
    tg_cl = tg.contiguous(memory_format=torch.channels_last)

    def run_fastdl():
        if not backward:
            with fastdl.no_grad():
                return fn(F, fx)
        fx.grad = None
        fn(F, fx).backward(fg)

    def torch_runner(x, g):
        def run():
            if not backward:
                with torch.no_grad():
                    return fn(torch.nn.functional, x)
            x.grad = None
            fn(torch.nn.functional, x).backward(g)
        return run

    calls = {"fastdl": run_fastdl, "torch": torch_runner(tx, tg),
             "torch CL": torch_runner(tx_cl, tg_cl), "copy": lambda: x_np.copy()}
    return calls, out_shape


def run(threads=(1, 2), quick=False, repeats=5, cases=None):
    """Rows of the table (one per case, pass and thread count)."""
    rows = []
    bandwidth = {}
    for n in threads:
        bandwidth[n] = _C.measure_read_bandwidth_gbs(n, 0.05 if quick else 0.3)
    for name in cases or CASES:
        full, small, _ = CASES[name]
        shape = small if quick else full
        for backward in (False, True):
            calls, out_shape = _callables(name, shape, backward)
            traffic = _traffic_bytes(name, shape, out_shape, backward)
            for n in threads:
                with _threads(n):
                    t = interleaved_seconds(calls, repeats=repeats, pause=0 if quick else 0.25)
                gbs = traffic / t["fastdl"] * 1e-9
                rows.append({"case": name, "pass": "fwd+bwd" if backward else "fwd",
                             "threads": n, "shape": "x".join(map(str, shape)),
                             "fastdl_ms": t["fastdl"] * 1e3, "gbs": gbs,
                             "pct_bw": 100 * gbs / bandwidth[n],
                             "torch_ms": t["torch"] * 1e3, "torch_cl_ms": t["torch CL"] * 1e3,
                             "copy_ms": t["copy"] * 1e3,
                             "vs_copy": t["fastdl"] / t["copy"],
                             "torch_speedup": t["torch"] / t["fastdl"],
                             "torch_cl_speedup": t["torch CL"] / t["fastdl"]})
    return rows, bandwidth


HEADERS = ["case", "pass", "thr", "fastdl ms", "GB/s", "% BW", "torch ms", "torch CL ms",
           "copy ms", "fastdl/copy", "torch/fastdl", "torch CL/fastdl"]


def format_rows(rows):
    return markdown_table(HEADERS, [[r["case"], r["pass"], r["threads"], r["fastdl_ms"],
                                     r["gbs"], r["pct_bw"], r["torch_ms"], r["torch_cl_ms"],
                                     r["copy_ms"], r["vs_copy"], r["torch_speedup"],
                                     r["torch_cl_speedup"]] for r in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench pool", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no pauses (a smoke "
                                                             "test of the harness, not a "
                                                             "measurement)")
    parser.add_argument("--cases", default=None,
                        help="comma-separated subset of: " + ", ".join(CASES))
    args = parser.parse_args(argv)
    threads = tuple(int(t) for t in args.threads.split(","))
    cases = args.cases.split(",") if args.cases else None
    if cases:
        unknown = set(cases) - set(CASES)
        if unknown:
            parser.error(f"unknown cases {sorted(unknown)}; choose from {list(CASES)}")
    rows, bandwidth = run(threads, args.quick, args.repeats, cases)
    info = ", ".join(f"{n} thread{'s' if n > 1 else ''}: {bw:.1f} GB/s"
                     for n, bw in bandwidth.items())
    print(f"fastdl {_C.__version__} ({_C.simd_path()}); read bandwidth measured now: {info}")
    print(f"shapes: " + "; ".join(f"{name}: {'x'.join(map(str, CASES[name][1 if args.quick else 0]))}"
                                  for name in cases or CASES))
    print(format_rows(rows))
    return rows


if __name__ == "__main__":
    main()
