"""Python overhead per op: fastdl vs PyTorch on tiny tensors, 1 thread (`fastdl bench overhead`).

At these sizes the arithmetic takes a microsecond or less, so the times measure what each library
spends around the kernel: argument handling, dispatch, allocating the result, recording the
autograd graph. The ratio column is fastdl / torch (goal: <= 2).
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import pstats
import statistics
from typing import Callable

import numpy as np

from fastdl.bench.common import markdown_table, median_seconds

BATCH, IN_FEATURES, HIDDEN, CLASSES = 32, 64, 128, 10


def _one_thread():
    """Both libraries (and numpy's BLAS) on one thread, so only overhead differs."""
    import fastdl

    stack = contextlib.ExitStack()
    previous = fastdl.get_num_threads()
    fastdl.set_num_threads(1)
    stack.callback(fastdl.set_num_threads, previous)
    try:
        from threadpoolctl import threadpool_limits

        stack.enter_context(threadpool_limits(1))
    except ImportError:
        pass
    return stack


def _cases(lib, rng) -> dict[str, Callable[[], object]]:
    """The benchmark cases written once against the PyTorch API, which fastdl mirrors;
    ``lib`` is the ``fastdl`` or the ``torch`` module."""
    nn, F = lib.nn, lib.nn.functional
    x_np = rng.standard_normal((BATCH, IN_FEATURES)).astype(np.float32)
    x, y = lib.tensor(x_np), lib.tensor(rng.integers(0, CLASSES, BATCH))
    lib.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(IN_FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    linear = nn.Linear(IN_FEATURES, HIDDEN)
    tiny_linear, tiny_x = nn.Linear(8, 8), lib.tensor(x_np[:1, :8].copy())
    adam = lib.optim.Adam(mlp.parameters(), lr=1e-3)
    a = lib.tensor(rng.standard_normal((BATCH, HIDDEN)).astype(np.float32), requires_grad=True)
    b = lib.tensor(rng.standard_normal((BATCH, HIDDEN)).astype(np.float32), requires_grad=True)
    a_const, b_const = a.detach(), b.detach()

    def mlp_fwd_bwd():
        mlp.zero_grad()
        F.cross_entropy(mlp(x), y).backward()

    mlp_fwd_bwd()  # gradients exist for the optimizer case

    def tiny_chain_backward():
        (a * b + a).sum().backward()

    def no_grad(fn):
        def run():
            with lib.no_grad():
                return fn()
        return run

    return {
        "MLP 64-128-10 fwd+bwd (batch 32)": mlp_fwd_bwd,
        "MLP forward, no_grad": no_grad(lambda: mlp(x)),
        "Linear(64, 128) forward": lambda: linear(x),
        "Linear(64, 128) forward, no_grad": no_grad(lambda: linear(x)),
        "Linear(8, 8) forward, batch 1 (pure overhead)": lambda: tiny_linear(tiny_x),
        "a + b (grad recorded)": lambda: a + b,
        "a * b (grad recorded)": lambda: a * b,
        "a + b (no grad)": lambda: a_const + b_const,
        "a * 2.0 (no grad)": lambda: a_const * 2.0,
        "exp(a) (grad recorded)": lambda: lib.exp(a),
        "relu(a) (grad recorded)": lambda: F.relu(a),
        "a.sum() (grad recorded)": lambda: a.sum(),
        "(a * b + a).sum().backward()": tiny_chain_backward,
        "Adam.step() on the MLP": adam.step,
    }


def _fastdl_cases(rng) -> dict[str, Callable[[], object]]:
    import fastdl
    return _cases(fastdl, rng)


def _torch_cases(rng) -> dict[str, Callable[[], object]] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return _cases(torch, rng)


def run(min_time: float = 0.2) -> list[tuple[str, float, float | None]]:
    """(case, fastdl µs, torch µs or None) for every case, medians at 1 thread."""
    rows = []
    with _one_thread():
        ours = _fastdl_cases(np.random.default_rng(0))
        theirs = _torch_cases(np.random.default_rng(0))
        for name, fn in ours.items():
            ours_us = median_seconds(fn, warmup=20, min_reps=50, min_time=min_time,
                                     max_reps=100000) * 1e6
            theirs_us = None
            if theirs is not None:
                theirs_us = median_seconds(theirs[name], warmup=20, min_reps=50,
                                           min_time=min_time, max_reps=100000) * 1e6
            rows.append((name, ours_us, theirs_us))
    return rows


def profile_mlp(repeats: int = 300, top: int = 25) -> str:
    """cProfile of the fastdl MLP forward+backward: where the Python time goes."""
    with _one_thread():
        step = _fastdl_cases(np.random.default_rng(0))["MLP 64-128-10 fwd+bwd (batch 32)"]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(repeats):
            step()
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    return out.getvalue()


def format_rows(rows) -> str:
    table = []
    ratios = []
    for name, ours_us, theirs_us in rows:
        if theirs_us is None:
            table.append((name, ours_us, "n/a", "n/a"))
            continue
        ratio = ours_us / theirs_us
        ratios.append(ratio)
        table.append((name, ours_us, theirs_us, ratio))
    text = markdown_table(["case (1 thread)", "fastdl µs", "torch µs", "fastdl / torch"], table)
    if ratios:
        geomean = math.exp(statistics.fmean(math.log(r) for r in ratios))
        text += (f"\n\ngeometric mean of fastdl/torch: {geomean:.2f}   "
                 f"worst: {max(ratios):.2f}   (goal: <= 2)")
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="fastdl bench overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds to spend timing each case per library (default 0.2)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of fastdl's MLP forward+backward")
    args = parser.parse_args(argv)
    if args.min_time <= 0:
        parser.error(f"--min-time must be positive, got {args.min_time}")
    print(f"## Python overhead: fastdl vs torch, 1 thread, float32 "
          f"(MLP {IN_FEATURES}-{HIDDEN}-{CLASSES}, batch {BATCH}; elementwise on "
          f"{BATCH}x{HIDDEN})\n")
    print(format_rows(run(args.min_time)))
    if args.profile:
        print("\n### cProfile: fastdl MLP forward+backward, 300 steps, by own time\n")
        print("```\n" + profile_mlp() + "```")


if __name__ == "__main__":
    main()
