"""`fastdl bench conv`: convolution forward and forward+backward, fastdl vs PyTorch (NCHW and
channels_last; onnxruntime's forward too when it is already installed), at 1 and 2 threads.

Every library runs in this process, interleaved call by call (medians of `--repeats`), and each
row shows ms, GFLOP/s and % of this machine's fp32 FMA peak measured in the same run at that
thread count. FLOPs: 2 * N * K * (C / groups) * kernel volume * output plane for the forward (a
transposed convolution counts its adjoint convolution's); forward+backward is 3x that (the input's
and the weight's gradients are each a convolution's worth; every input requires grad, bias none).
These are the direct algorithm's FLOPs for every library: a row computed with fewer (fastdl's
4x4 / stride-2 / padding-1 convolutions run Winograd F(2x2, 2x2), 9/16 of them) can show more
than 100% of the peak.
`--quick` shrinks every row (batch 2, planes / 4) so the command can run in a test.
"""
from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

from fastdl.bench.common import interleaved_seconds, markdown_table, peak_gflops

# name: (N, C, K, spatial, kernel, stride, padding, groups, transposed)
ROWS = {
    "layer1": (32, 64, 64, (56, 56), 3, 1, 1, 1, False),
    "stem": (32, 3, 64, (224, 224), 7, 2, 3, 1, False),
    "lenet": (64, 1, 32, (28, 28), 5, 1, 0, 1, False),
    "depthwise": (32, 144, 144, (56, 56), 3, 1, 1, 144, False),
    "transposed": (32, 128, 64, (16, 16), 4, 2, 1, 1, True),
}


def _quick(row):
    N, C, K, spatial, k, s, p, g, tr = row
    return (2, C, K, tuple(max(2 * k, x // 4) for x in spatial), k, s, p, g, tr)


def forward_flops(row) -> float:
    N, C, K, spatial, k, s, p, g, tr = row
    if tr:  # the adjoint convolution maps the (K-channel) output to the (C-channel) input
        plane = int(np.prod(spatial))
        return 2.0 * N * C * (K // g) * k ** len(spatial) * plane
    out = [(x + 2 * p - k) // s + 1 for x in spatial]
    return 2.0 * N * K * (C // g) * k ** len(spatial) * float(np.prod(out))


def _arrays(row, seed=0):
    N, C, K, spatial, k, s, p, g, tr = row
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C) + spatial, dtype=np.float32)
    w_shape = (C, K // g, k, k) if tr else (K, C // g, k, k)
    w = (rng.standard_normal(w_shape, dtype=np.float32) / np.sqrt(np.prod(w_shape[1:])))
    return x, w.astype(np.float32)


def _fastdl_fns(row, x, w):
    import fastdl
    from fastdl.nn import functional as F
    N, C, K, spatial, k, s, p, g, tr = row
    fx = fastdl.tensor(x, requires_grad=True)
    fw = fastdl.tensor(w, requires_grad=True)

    def fwd():
        with fastdl.no_grad():
            return (F.conv_transpose2d(fx, fw, stride=s, padding=p, groups=g) if tr
                    else F.conv2d(fx, fw, stride=s, padding=p, groups=g))

    out_shape = fwd().shape
    go = fastdl.tensor(np.random.default_rng(1).standard_normal(out_shape, dtype=np.float32))

    def fwd_bwd():
        out = (F.conv_transpose2d(fx, fw, stride=s, padding=p, groups=g) if tr
               else F.conv2d(fx, fw, stride=s, padding=p, groups=g))
        return fastdl.autograd.grad(out, [fx, fw], go)

    return fwd, fwd_bwd


def _torch_fns(row, x, w, channels_last):
    import torch
    N, C, K, spatial, k, s, p, g, tr = row
    tx = torch.tensor(x)
    tw = torch.tensor(w)
    if channels_last:
        tx = tx.contiguous(memory_format=torch.channels_last)
        tw = tw.contiguous(memory_format=torch.channels_last)
    tx.requires_grad_(True)
    tw.requires_grad_(True)
    conv = torch.nn.functional.conv_transpose2d if tr else torch.nn.functional.conv2d

    def fwd():
        with torch.no_grad():
            return conv(tx, tw, stride=s, padding=p, groups=g)

    out = fwd()
    go = torch.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape),
                                                                dtype=np.float32))
    if channels_last:
        go = go.contiguous(memory_format=torch.channels_last)

    def fwd_bwd():
        return torch.autograd.grad(conv(tx, tw, stride=s, padding=p, groups=g), [tx, tw], go)

    return fwd, fwd_bwd


def _onnxruntime_fwd(row, x, w, threads):
    """onnxruntime's forward of the same convolution (only if already installed; not a
    dependency). None when unavailable or the export fails."""
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return None
    try:
        import io
        import onnxruntime as ort
        import torch
        N, C, K, spatial, k, s, p, g, tr = row
        layer = (torch.nn.ConvTranspose2d(C, K, k, s, p, groups=g, bias=False) if tr
                 else torch.nn.Conv2d(C, K, k, s, p, groups=g, bias=False))
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(w))
        buf = io.BytesIO()
        torch.onnx.export(layer, torch.tensor(x), buf, input_names=["x"], dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        return lambda: session.run(None, {"x": x})
    except Exception:  # noqa: BLE001 - an optional peer: leave it out of the table
        return None


def _repeats_for(fn, repeats, budget=0.5, most=31):
    """At least ``repeats``, more for fast rows (about ``budget`` seconds of timed calls per
    library, at most ``most``): a median of 5 calls of a few milliseconds is at the mercy of one
    descheduled thread on a shared host."""
    fn()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    return max(repeats, min(most, int(budget / max(seconds, 1e-6))))


def measure(rows, threads_list, repeats, quick=False):
    """[(row name, threads, pass, {library: seconds}, GFLOP, peak GFLOP/s)]."""
    import torch

    import fastdl
    results = []
    before = (fastdl.get_num_threads(), torch.get_num_threads())
    try:
        for threads in threads_list:
            fastdl.set_num_threads(threads)
            torch.set_num_threads(threads)
            peak = peak_gflops(threads)
            pause = 0.25 if threads > 1 else 0.0
            for name in rows:
                row = _quick(ROWS[name]) if quick else ROWS[name]
                x, w = _arrays(row)
                f_fwd, f_both = _fastdl_fns(row, x, w)
                t_fwd, t_both = _torch_fns(row, x, w, False)
                c_fwd, c_both = _torch_fns(row, x, w, True)
                fwd = {"fastdl": f_fwd, "torch": t_fwd, "torch_cl": c_fwd}
                ort_fwd = _onnxruntime_fwd(row, x, w, threads)
                if ort_fwd is not None:
                    fwd["onnxruntime"] = ort_fwd
                gflop = forward_flops(row) * 1e-9
                reps = repeats if quick else _repeats_for(f_both, repeats)
                results.append((name, threads, "fwd", interleaved_seconds(fwd, reps, pause),
                                gflop, peak))
                both = {"fastdl": f_both, "torch": t_both, "torch_cl": c_both}
                results.append((name, threads, "fwd+bwd",
                                interleaved_seconds(both, reps, pause), 3 * gflop, peak))
    finally:
        fastdl.set_num_threads(before[0])
        torch.set_num_threads(before[1])
    return results


def table(results):
    headers = ["row", "threads", "pass", "fastdl ms", "fastdl GFLOP/s", "fastdl % peak",
               "torch ms", "torch % peak", "torch / fastdl", "torch CL ms", "torch CL / fastdl",
               "onnxruntime ms"]
    out = []
    for name, threads, kind, secs, gflop, peak in results:
        f, t, c = secs["fastdl"], secs["torch"], secs["torch_cl"]
        ort = secs.get("onnxruntime")
        out.append([name, threads, kind, f * 1e3, gflop / f, 100 * gflop / f / peak, t * 1e3,
                    100 * gflop / t / peak, t / f, c * 1e3, c / f,
                    "-" if ort is None else ort * 1e3])
    return markdown_table(headers, out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench conv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated subset of {', '.join(ROWS)}")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per library (median); fast rows take more, up to 31")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests)")
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {list(ROWS)}")
    threads = [int(t) for t in args.threads.split(",")]
    import fastdl
    from fastdl import _C
    print(f"# fastdl bench conv: float32, {_C.simd_path()} kernels, peaks measured in this run "
          f"(% peak = GFLOP/s / fp32 FMA peak at that thread count); fastdl {fastdl.__version__}")
    results = measure(rows, threads, args.repeats, args.quick)
    for threads_ in threads:
        peak = next(r[5] for r in results if r[1] == threads_)
        print(f"# peak at {threads_} thread(s): {peak:.0f} GFLOP/s")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
