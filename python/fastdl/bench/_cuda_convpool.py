"""The conv and pool families of `fastdl bench cuda`: fastdl's CUDA kernels (fastdl._C_cuda on
cupy arrays) vs cuDNN through PyTorch on the same memory, NCHW fp32 (TF32 off), on the problems of
`fastdl bench conv` / `fastdl bench pool` (issue 10): ResNet layer1, the ResNet stem, LeNet,
depthwise 3x3, a transposed conv, max_pool2d 2x2/s2.

Each convolution gives three rows (forward, backward-data, backward-weight; cuDNN's through
aten.convolution_backward with one output each), the transposed one its forward, the pool forward
with indices and backward. The harness (fastdl.bench.cuda.run) validates every row against the
vendor before timing it. FLOPs: 2 * N * K * (C / groups) * kernel volume * output plane per conv
pass; pools are memory-bound, so their rows carry bytes moved (inputs read once, outputs written
once) for GB/s.

The case builders take (cp, torch, kernels) so a test can run them with numpy, CPU torch and the
emulator in their places (tests/test_bench_cuda.py).
"""
from __future__ import annotations

import math

from fastdl.bench.conv import ROWS

# The rows of `fastdl bench conv` (CPU), the same problems on the GPU:
# name: (N, C, K, spatial, kernel, stride, padding, groups, transposed)
CONV_ROWS = dict(ROWS)
# name: (N, C, spatial, kernel, stride)
POOL_ROWS = {"max_pool2d 2x2/s2": (32, 64, (112, 112), 2, 2)}


def _case_type():
    from fastdl.bench.cuda import Case
    return Case


def _randn(cp, seed, shape, scale=1.0):
    rng = cp.random.RandomState(seed)
    return (rng.standard_normal(shape) * scale).astype(cp.float32)


def _rel_error(cp, ours, want):
    want = cp.asarray(want)
    scale = float(cp.abs(want).max()) if want.size else 0.0
    return float(cp.abs(cp.asarray(ours) - want).max()) / max(scale, 1e-30) if want.size else 0.0


def _conv_tolerance(terms):
    # fp32 sums of `terms` products in different orders: errors grow ~sqrt(terms).
    return 2e-6 * max(1.0, math.sqrt(terms)) * 4


def conv_cases(cp, torch, kernels, rows=None):
    """Forward, backward-data and backward-weight of each conv row (the transposed row: forward)."""
    cases = []
    for i, (name, row) in enumerate((rows or CONV_ROWS).items()):
        cases += _conv_row_cases(cp, torch, kernels, i, name, *row)
    return cases


def _conv_row_cases(cp, torch, kernels, i, name, n, c, k, spatial, ks, s, p, g, transposed):
    Case = _case_type()
    F = torch.nn.functional
    d = len(spatial)
    stride, pad, dil = [s] * d, [p] * d, [1] * d
    kvol = ks ** d
    x = _randn(cp, 10 * i + 1, (n, c) + spatial)
    tx = torch.from_dlpack(x)
    if transposed:
        w = _randn(cp, 10 * i + 2, (c, k // g) + (ks,) * d, 1 / math.sqrt(k // g * kvol))
        o = tuple((size - 1) * s - 2 * p + ks for size in spatial)
        out = cp.empty((n, k) + o, dtype=cp.float32)
        tw = torch.from_dlpack(w)
        conv_t = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[d]

        def ours():
            kernels.conv_backward_input(x, w, out, stride, pad, dil, g)

        def vendor():
            return conv_t(tx, tw, None, stride, pad, 0, g, dil)

        def check():
            ours()
            return _rel_error(cp, out, cp.from_dlpack(vendor())), _conv_tolerance(c * kvol)

        flops = 2.0 * n * c * (k // g) * kvol * math.prod(spatial)
        return [Case("conv", f"{name} forward", flops, ours, vendor, "cuDNN", check)]

    w = _randn(cp, 10 * i + 2, (k, c // g) + (ks,) * d, 1 / math.sqrt(c // g * kvol))
    o = tuple((size + 2 * p - ks) // s + 1 for size in spatial)
    go = _randn(cp, 10 * i + 3, (n, k) + o)
    out = cp.empty((n, k) + o, dtype=cp.float32)
    gx = cp.empty(x.shape, dtype=cp.float32)
    gw = cp.empty(w.shape, dtype=cp.float32)
    tw, tgo = torch.from_dlpack(w), torch.from_dlpack(go)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[d]

    def vendor_bwd(mask):
        return torch.ops.aten.convolution_backward(tgo, tx, tw, None, stride, pad, dil, False,
                                                   [0] * d, g, mask)

    passes = [
        ("forward", c // g * kvol, out,
         lambda: kernels.conv_forward(x, w, None, out, stride, pad, dil, g),
         lambda: conv(tx, tw, None, stride, pad, dil, g)),
        ("backward-data", k // g * kvol, gx,
         lambda: kernels.conv_backward_input(go, w, gx, stride, pad, dil, g),
         lambda: vendor_bwd([True, False, False])[0]),
        ("backward-weight", n * math.prod(o), gw,
         lambda: kernels.conv_backward_weight(x, go, gw, stride, pad, dil, g),
         lambda: vendor_bwd([False, True, False])[1]),
    ]
    flops = 2.0 * n * k * (c // g) * kvol * math.prod(o)
    cases = []
    for what, terms, result, ours, vendor in passes:
        def check(ours=ours, vendor=vendor, result=result, terms=terms):
            ours()
            return _rel_error(cp, result, cp.from_dlpack(vendor())), _conv_tolerance(terms)

        cases.append(Case("conv", f"{name} {what}", flops, ours, vendor, "cuDNN", check))
    return cases


def pool_cases(cp, torch, kernels, rows=None):
    """max_pool2d forward (with indices) and backward: values and indices must match exactly."""
    cases = []
    for i, (name, row) in enumerate((rows or POOL_ROWS).items()):
        cases += _pool_row_cases(cp, torch, kernels, i, name, *row)
    return cases


def _pool_row_cases(cp, torch, kernels, i, name, n, c, spatial, ks, s):
    Case = _case_type()
    o = tuple((size - ks) // s + 1 for size in spatial)
    window = ([ks] * 2, [s] * 2, [0, 0], [1, 1])
    x = _randn(cp, 100 + i, (n, c) + spatial)
    go = _randn(cp, 200 + i, (n, c) + o)
    out = cp.empty((n, c) + o, dtype=cp.float32)
    idx = cp.empty((n, c) + o, dtype=cp.int64)
    gx = cp.empty(x.shape, dtype=cp.float32)
    tx, tgo, tidx = torch.from_dlpack(x), torch.from_dlpack(go), torch.from_dlpack(idx)
    outputs = n * c * math.prod(o)

    def ours_fwd():
        kernels.max_pool_forward(x, out, idx, *window)

    def vendor_fwd():
        return torch.nn.functional.max_pool2d(tx, ks, s, return_indices=True)

    def check_fwd():
        ours_fwd()
        v, vi = vendor_fwd()
        same_idx = bool((idx == cp.from_dlpack(vi)).all())
        return (_rel_error(cp, out, cp.from_dlpack(v)) if same_idx else 1.0), 0.0

    def ours_bwd():
        kernels.max_pool_backward(go, idx, gx)

    def vendor_bwd():
        return torch.ops.aten.max_pool2d_with_indices_backward(tgo, tx, *window, False, tidx)

    def check_bwd():
        ours_fwd()  # the indices both backwards read
        ours_bwd()
        return _rel_error(cp, gx, cp.from_dlpack(vendor_bwd())), 1e-6

    item = x.dtype.itemsize
    moved = x.nbytes + outputs * (item + 8)  # forward: x in, out and indices out; backward: back
    return [Case("pool", f"{name} forward", float(outputs * ks * ks), ours_fwd, vendor_fwd,
                 "cuDNN/ATen", check_fwd, bytes=moved),
            Case("pool", f"{name} backward", float(outputs), ours_bwd, vendor_bwd, "ATen",
                 check_bwd, bytes=moved)]
