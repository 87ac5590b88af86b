"""`fastdl bench cuda`: fastdl's CUDA kernels vs the vendor libraries on this machine's GPU.

One harness for every family (after llm.c's dev/cuda): each row is one problem, run by our kernel
(fastdl._C_cuda on cupy arrays) and by the vendor library through PyTorch on the same memory; the
two outputs are compared before anything is timed, then each is timed with CUDA events, L2 flushed
before every timed run, median of --repeats. Rates are given as % of this GPU's fp32 FMA peak
measured in the same run (a cupy kernel) and of the datasheet figure when the GPU is known.

Families: FAMILIES maps a name to a function returning its cases: GEMM vs cuBLAS, and conv / pool
vs cuDNN (fastdl.bench._cuda_convpool: ResNet layer1, stem, LeNet, depthwise, transposed conv,
max_pool2d), rnn vs cuDNN's LSTM/GRU (fastdl.bench._cuda_rnn), and attention vs torch's fused
SDPA in fp32 and FlashAttention-2 in fp16 (fastdl.bench._cuda_attention). PyTorch runs fp32
without TF32 (matmul and cuDNN), as our kernels do; cuDNN picks its algorithms by benchmarking
(cudnn.benchmark) in the warm-up call. Memory-bound rows (pooling) also
give GB/s and % of the device copy rate measured in the run.
Only a GPU run may call a CUDA kernel fast; without a GPU this exits with status 2 and says why.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from dataclasses import asdict, dataclass
from typing import Callable

from fastdl.bench.common import markdown_table

# Dense fp32 (non-tensor-core) TFLOP/s and memory GB/s from NVIDIA's datasheets, boost clocks.
# Matched against the device name in order: more specific names first.
SPEC_PEAKS = [
    ("H200", 67.0, 4800.0),
    ("H100 PCIe", 51.2, 2000.0),
    ("H100", 67.0, 3350.0),  # SXM
    ("A100", 19.5, 2039.0),  # SXM 80 GB
    ("L40S", 91.6, 864.0),
    ("L4", 30.3, 300.0),
]

GEMM_SHAPES = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096),
               (8192, 8192, 8192), (1000, 1000, 1000), (4095, 4097, 4093),
               (64, 50176, 576),    # a ResNet 3x3 conv as a lowered GEMM (64 ch, 56x56, batch 16)
               (16384, 4096, 1024),  # a transformer Linear forward (tokens x out x in)
               (4096, 1024, 16384)]  # and its weight gradient


class NoGpu(Exception):
    """Why nothing can be timed here."""


@dataclass
class Case:
    family: str
    name: str
    flops: float
    ours: Callable[[], object]
    vendor: Callable[[], object]
    vendor_name: str
    # Returns the largest error of our output against the vendor's, relative to the output's scale,
    # and the tolerance it must meet.
    check: Callable[[], tuple]
    bytes: float = 0.0  # minimum bytes moved, for memory-bound rows (0: not reported)


@dataclass
class Row:
    family: str
    case: str
    vendor: str
    ours_ms: float
    vendor_ms: float
    ours_tflops: float
    vendor_tflops: float
    ours_pct_measured_peak: float
    vendor_pct_measured_peak: float
    ours_pct_spec_peak: float | None
    speed_vs_vendor: float  # vendor time / our time: 1.0 = as fast
    max_rel_error: float
    ours_gbs: float | None = None  # memory-bound rows: bytes / time
    vendor_gbs: float | None = None
    ours_pct_copy_bw: float | None = None  # % of the device copy rate measured in the run


def spec_peak(device_name: str):
    """(fp32 TFLOP/s, GB/s) from the datasheet table, or None for an unknown device."""
    for key, tflops, gbs in SPEC_PEAKS:
        if key.lower() in device_name.lower():
            return tflops, gbs
    return None


def require_gpu():
    """(cupy, torch, fastdl._C_cuda), or NoGpu saying what is missing."""
    import fastdl
    if not fastdl.cuda.is_built():
        raise NoGpu("fastdl was built without CUDA (fastdl._C_cuda is missing): build with nvcc, "
                    "e.g. pip install . -C cmake.define.FASTDL_CUDA=ON")
    if not fastdl.cuda.is_available():
        raise NoGpu("fastdl._C_cuda sees no CUDA device (no GPU or no driver here)")
    try:
        import cupy
    except ImportError as e:
        raise NoGpu(f"cupy is not importable ({e}): our kernels take cupy arrays") from None
    try:
        import torch
    except ImportError as e:
        raise NoGpu(f"torch is not importable ({e}): the vendor libraries are reached through it") from None
    if not torch.cuda.is_available():
        raise NoGpu(f"torch {torch.__version__} has no CUDA device: install a CUDA build of PyTorch")
    from fastdl import _C_cuda
    return cupy, torch, _C_cuda


class Timer:
    """CUDA-event timing on the legacy default stream, which cupy, torch and our launches (stream
    0) all use here, with L2 flushed before each timed run so no case starts with warm operands."""

    def __init__(self, cp, repeats: int):
        self.cp = cp
        self.repeats = repeats
        l2 = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["l2CacheSize"]
        self.flush_buffer = cp.empty(max(2 * l2, 1 << 20) // 4, dtype=cp.float32)

    def median_ms(self, fn) -> float:
        cp = self.cp
        fn()  # warm-up: module loading, cuBLAS heuristics, allocator
        times = []
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        for r in range(self.repeats):
            self.flush_buffer.fill(float(r))
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, stop))
        return statistics.median(times)


_FMA_PEAK_KERNEL = r"""
extern "C" __global__ void fma_peak(float* out, int iterations, float a, float b) {
  // 8 independent chains per thread hide the FMA latency; the sum keeps them all live.
  float x0 = threadIdx.x, x1 = x0 + 1, x2 = x0 + 2, x3 = x0 + 3;
  float x4 = x0 + 4, x5 = x0 + 5, x6 = x0 + 6, x7 = x0 + 7;
  for (int i = 0; i < iterations; ++i) {
    x0 = fmaf(x0, a, b); x1 = fmaf(x1, a, b); x2 = fmaf(x2, a, b); x3 = fmaf(x3, a, b);
    x4 = fmaf(x4, a, b); x5 = fmaf(x5, a, b); x6 = fmaf(x6, a, b); x7 = fmaf(x7, a, b);
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}
"""


def measure_fp32_peak_tflops(cp, timer: Timer) -> float:
    """This GPU's fp32 FMA rate now (clocks and power limits vary from the datasheet)."""
    kernel = cp.RawKernel(_FMA_PEAK_KERNEL, "fma_peak")
    sms = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["multiProcessorCount"]
    blocks, threads, iterations = sms * 8, 256, 1 << 14
    out = cp.empty(blocks * threads, dtype=cp.float32)
    ms = timer.median_ms(lambda: kernel((blocks,), (threads,),
                                        (out, cp.int32(iterations), cp.float32(0.999), cp.float32(1e-3))))
    return 2.0 * 8 * iterations * blocks * threads / (ms * 1e-3) * 1e-12


def measure_bandwidth_gbs(cp, timer: Timer) -> float:
    """Device-memory copy rate (read + write) over 1 GiB."""
    src = cp.ones(1 << 28, dtype=cp.float32)
    dst = cp.empty_like(src)
    ms = timer.median_ms(lambda: cp.copyto(dst, src))
    return 2.0 * src.nbytes / (ms * 1e-3) * 1e-9


def gemm_cases(cp, torch, cuda_mod, shapes=GEMM_SHAPES):
    """fastdl's SGEMM vs cuBLAS (torch.matmul, fp32 without TF32) on row-major operands."""
    cases = []
    for m, n, k in shapes:
        rng = cp.random.RandomState(m * 1_000_003 + n * 1009 + k)
        a = rng.standard_normal((m, k), dtype=cp.float32)
        b = rng.standard_normal((k, n), dtype=cp.float32)
        out = cp.empty((m, n), dtype=cp.float32)
        ta, tb = torch.from_dlpack(a), torch.from_dlpack(b)
        tout = torch.empty((m, n), device=ta.device, dtype=torch.float32)

        def ours(a=a, b=b, out=out):
            cuda_mod.gemm(a, b, out)

        def vendor(ta=ta, tb=tb, tout=tout):
            torch.matmul(ta, tb, out=tout)

        def check(ours=ours, vendor=vendor, out=out, tout=tout, k=k):
            ours()
            vendor()
            want = cp.from_dlpack(tout)
            scale = float(cp.abs(want).max())
            # Both accumulate in fp32 in different orders: errors grow ~sqrt(k).
            return float(cp.abs(out - want).max()) / max(scale, 1e-30), 2e-6 * max(1.0, k ** 0.5) * 4

        cases.append(Case("gemm", f"{m}x{n}x{k}", 2.0 * m * n * k, ours, vendor, "cuBLAS", check))
    return cases


def conv_cases(cp, torch, cuda_mod):
    from fastdl.bench._cuda_convpool import conv_cases as cases
    return cases(cp, torch, cuda_mod)


def pool_cases(cp, torch, cuda_mod):
    from fastdl.bench._cuda_convpool import pool_cases as cases
    return cases(cp, torch, cuda_mod)


def rnn_cases(cp, torch, cuda_mod):
    from fastdl.bench._cuda_rnn import rnn_cases as cases
    return cases(cp, torch, cuda_mod)


def attention_cases(cp, torch, cuda_mod):
    from fastdl.bench._cuda_attention import attention_cases as cases
    return cases(cp, torch, cuda_mod)


FAMILIES = {"gemm": gemm_cases, "conv": conv_cases, "pool": pool_cases, "rnn": rnn_cases,
            "attention": attention_cases}


def run(families, repeats: int, quick: bool = False):
    """Measures every case; returns (machine dict, rows, failures)."""
    cp, torch, cuda_mod = require_gpu()
    torch.set_float32_matmul_precision("highest")  # no TF32: the same fp32 FMAs as our kernels
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    timer = Timer(cp, repeats)
    measured = measure_fp32_peak_tflops(cp, timer)
    spec = spec_peak(name)
    machine = {
        "device": name,
        "sm_count": props["multiProcessorCount"],
        "l2_bytes": props["l2CacheSize"],
        "measured_fp32_tflops": measured,
        "measured_copy_gbs": measure_bandwidth_gbs(cp, timer),
        "spec_fp32_tflops": spec[0] if spec else None,
        "spec_memory_gbs": spec[1] if spec else None,
        "cuda_runtime": cuda_mod.runtime_version,
        "built_for": cuda_mod.architectures,
        "torch": torch.__version__,
        "cupy": cp.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.current_stream().cuda_stream != 0 or cp.cuda.get_current_stream().ptr != 0:
        raise NoGpu("torch or cupy does not launch on the legacy default stream, which the timer "
                    "records on: it would miss their work")
    rows, failures = [], []
    for family in families:
        cases = FAMILIES[family](cp, torch, cuda_mod)
        if quick:
            cases = cases[:2]
        for case in cases:
            error, tolerance = case.check()
            if not error <= tolerance:
                failures.append(f"{case.family} {case.name}: max relative error {error:.3g} "
                                f"> {tolerance:.3g} against {case.vendor_name}: not timed")
                continue
            ours_ms, vendor_ms = timer.median_ms(case.ours), timer.median_ms(case.vendor)
            ours_tf, vendor_tf = case.flops / ours_ms * 1e-9, case.flops / vendor_ms * 1e-9
            row = Row(case.family, case.name, case.vendor_name, ours_ms, vendor_ms, ours_tf,
                      vendor_tf, 100 * ours_tf / measured, 100 * vendor_tf / measured,
                      100 * ours_tf / spec[0] if spec else None, vendor_ms / ours_ms, error)
            if case.bytes:
                row.ours_gbs, row.vendor_gbs = case.bytes / ours_ms * 1e-6, case.bytes / vendor_ms * 1e-6
                row.ours_pct_copy_bw = 100 * row.ours_gbs / machine["measured_copy_gbs"]
            rows.append(row)
    return machine, rows, failures


def report(machine, rows, failures) -> str:
    spec = (f"{machine['spec_fp32_tflops']:.1f} TFLOP/s, {machine['spec_memory_gbs']:.0f} GB/s"
            if machine["spec_fp32_tflops"] else "unknown device")
    lines = [f"## CUDA kernels vs vendor libraries on {machine['device']}", "",
             f"fp32 FMA peak measured {machine['measured_fp32_tflops']:.1f} TFLOP/s, device copy "
             f"{machine['measured_copy_gbs']:.0f} GB/s (datasheet: {spec}); CUDA runtime "
             f"{machine['cuda_runtime']}, built for sm_{machine['built_for']}, torch "
             f"{machine['torch']}, cupy {machine['cupy']}. Medians of CUDA-event timings, L2 "
             "flushed before each run; vendor fp32 without TF32.", ""]
    headers = ["family", "case", "vendor", "ours ms", "vendor ms", "ours TFLOP/s", "vendor TFLOP/s",
               "ours % peak", "vendor % peak", "ours % spec", "speed vs vendor", "max rel err",
               "ours GB/s", "vendor GB/s", "ours % copy"]
    table = [[r.family, r.case, r.vendor, r.ours_ms, r.vendor_ms, r.ours_tflops, r.vendor_tflops,
              r.ours_pct_measured_peak, r.vendor_pct_measured_peak,
              "n/a" if r.ours_pct_spec_peak is None else r.ours_pct_spec_peak,
              r.speed_vs_vendor, f"{r.max_rel_error:.1e}",
              *("-" if v is None else v for v in (r.ours_gbs, r.vendor_gbs, r.ours_pct_copy_bw))]
             for r in rows]
    lines.append(markdown_table(headers, table))
    if failures:
        lines += ["", "Failed validation (not timed):"] + [f"- {f}" for f in failures]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench cuda", description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES),
                        help="families to run (default: all)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="two cases per family")
    parser.add_argument("--out", help="write the table to OUT.md and the numbers to OUT.json")
    args = parser.parse_args(argv)
    try:
        machine, rows, failures = run(args.family or list(FAMILIES), args.repeats, args.quick)
    except NoGpu as e:
        print(f"fastdl bench cuda: skipped: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    text = report(machine, rows, failures)
    print(text)
    if args.out:
        with open(args.out + ".md", "w") as f:
            f.write(text)
        with open(args.out + ".json", "w") as f:
            json.dump({"machine": machine, "rows": [asdict(r) for r in rows], "failures": failures},
                      f, indent=2)
    if failures:
        raise SystemExit(1)
