"""`fastdl bench rnn`: recurrent layers, fastdl vs PyTorch (oneDNN's LSTM/GRU on CPU), in one run.

Cases (float32): LSTM and GRU with input 256, hidden 512, T = 128 steps, batch 32, one layer;
the same at batch 1 (latency); a 2-layer bidirectional LSTM. Each is timed forward (no autograd
recording) and forward + backward (sum of the output, every parameter and the input gradient), at
each thread count, interleaved call by call with PyTorch (medians of `--repeats`, a pause before
each timed call at >1 thread so neither library's spinning workers steal the other's cores).

FLOPs counted: forward 2 * T * B * G * H * (in + H) per layer and direction (G = 4 for LSTM, 3
for GRU: the input projection and the recurrent product; gate arithmetic not counted), fwd+bwd 3x
that (input gradient, recurrent gradient, weight gradients). "% peak" is against this machine's
sustained FMA rate measured in this run at that thread count.

--cpu-time (1 thread only): each call timed by its CPU time (minimum over the interleaved
repeats) and "% peak" against fastdl's 512^3 GEMM by CPU time: on a shared, busy machine other
processes take wall time from a call but hardly its CPU time.
"""
from __future__ import annotations

import argparse
import platform

import numpy as np

from fastdl.bench.common import interleaved_seconds, markdown_table, peak_gflops

FULL = dict(T=128, I=256, H=512)
QUICK = dict(T=8, I=16, H=32)


def _cases(quick):
    d = QUICK if quick else FULL
    big, small = (4, 1) if quick else (32, 1)
    return [("LSTM", 1, False, big, d), ("GRU", 1, False, big, d), ("LSTM", 1, False, small, d),
            ("GRU", 1, False, small, d), ("LSTM", 2, True, big, d)]


def _flops(mode, layers, bidir, B, d):
    G = 4 if mode == "LSTM" else 3
    dirs = 2 if bidir else 1
    total = 0.0
    for layer in range(layers):
        inp = d["I"] if layer == 0 else d["H"] * dirs
        total += dirs * 2.0 * d["T"] * B * G * d["H"] * (inp + d["H"])
    return total


def _models(mode, layers, bidir, B, d, seed=0):
    import torch

    import fastdl
    torch.manual_seed(seed)
    tm = getattr(torch.nn, mode)(d["I"], d["H"], layers, bidirectional=bidir)
    fm = getattr(fastdl.nn, mode)(d["I"], d["H"], layers, bidirectional=bidir)
    fm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal((d["T"], B, d["I"])).astype(np.float32)
    return tm, fm, x


def _callables(tm, fm, x):
    import torch

    import fastdl
    tx, fx = torch.tensor(x), fastdl.tensor(x)
    txg, fxg = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)

    def t_fwd():
        with torch.no_grad():
            tm(tx)

    def f_fwd():
        with fastdl.no_grad():
            fm(fx)

    def t_fb():
        out, _ = tm(txg)
        out.sum().backward()

    def f_fb():
        out, _ = fm(fxg)
        out.sum().backward()

    return {"fwd": (f_fwd, t_fwd), "fwd+bwd": (f_fb, t_fb)}


def check_agreement(tm, fm, x):
    """fastdl's forward output matches torch's (float32 tolerance) before anything is timed."""
    import torch

    import fastdl
    with torch.no_grad():
        t_out = tm(torch.tensor(x))[0].numpy()
    with fastdl.no_grad():
        f_out = fm(fastdl.tensor(x))[0].numpy()
    err = float(np.max(np.abs(f_out - t_out)))
    if err > 1e-3:
        raise AssertionError(f"fastdl and torch disagree (max abs difference {err})")
    return err


def run(threads_list, repeats, quick=False, progress=None, cpu_time=False):
    import torch

    import fastdl
    from fastdl.bench.attention import _gemm_cpu_gflops, cpu_seconds
    if cpu_time and list(threads_list) != [1]:
        raise ValueError("--cpu-time measures 1 thread only (at more, every thread's CPU time "
                         f"adds up), got threads {list(threads_list)}")
    rows = []
    peaks = {}
    for threads in threads_list:
        fastdl.set_num_threads(threads)
        torch.set_num_threads(threads)
        peaks[threads] = _gemm_cpu_gflops() if cpu_time else peak_gflops(threads)
        pause = 0.25 if threads > 1 else 0.0
        for mode, layers, bidir, B, d in _cases(quick):
            tm, fm, x = _models(mode, layers, bidir, B, d)
            check_agreement(tm, fm, x)
            name = f"{mode}{' 2-layer bidir' if layers > 1 else ''} B={B}"
            fl = _flops(mode, layers, bidir, B, d)
            for kind, (f_fn, t_fn) in _callables(tm, fm, x).items():
                fns = {"fastdl": f_fn, "torch": t_fn}
                secs = (cpu_seconds(fns, repeats) if cpu_time
                        else interleaved_seconds(fns, repeats, pause))
                work = fl * (3 if kind == "fwd+bwd" else 1)
                pct = {k: work / v * 1e-9 / peaks[threads] * 100 for k, v in secs.items()}
                rows.append([name, threads, kind, secs["fastdl"] * 1e3, secs["torch"] * 1e3,
                             secs["torch"] / secs["fastdl"], pct["fastdl"], pct["torch"]])
                if progress is not None:
                    progress(f"  {name}, {threads} thread(s), {kind}: fastdl "
                             f"{rows[-1][3]:.1f} ms, torch {rows[-1][4]:.1f} ms "
                             f"({rows[-1][5]:.2f}x)")
    dims = QUICK if quick else FULL
    head = (f"CPU: {platform.processor() or platform.machine()}, fastdl SIMD "
            f"{fastdl._C.simd_path()}, torch {torch.__version__}; T={dims['T']}, "
            f"input {dims['I']}, hidden {dims['H']}, float32; "
            + ("CPU time (min of repeats), peak = fastdl GEMM 512^3 by CPU time: " if cpu_time
               else "wall clock (medians), ")
            + "peak GFLOP/s measured now: "
            + ", ".join(f"{t} thread{'s' if t > 1 else ''} {p:.0f}" for t, p in peaks.items()))
    table = markdown_table(["case", "threads", "pass", "fastdl ms", "torch ms",
                            "speedup (torch/fastdl)", "fastdl % peak", "torch % peak"], rows)
    return head + "\n\n" + table, rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench rnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and 2 repeats (a smoke test of the harness)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by CPU time (1 thread only; for a busy shared machine)")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    if args.cpu_time and threads != [1]:
        parser.error("--cpu-time measures 1 thread only: add --threads 1")
    import sys
    text, _ = run(threads, 2 if args.quick else args.repeats, args.quick,
                  progress=lambda line: print(line, file=sys.stderr, flush=True),
                  cpu_time=args.cpu_time)
    print(text)


if __name__ == "__main__":
    main()
