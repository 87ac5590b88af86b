"""Shapes and helpers shared by the emulator tests (test_cuda_conv_pool.py) and the GPU tests
(test_cuda_conv_pool_device.py) of the CUDA conv and pool kernels: odd sizes around the 64x64x16
tiles, groups, stride 2, dilation 2, rank 1 and 3, batch 1."""
from __future__ import annotations

import numpy as np


def assert_close(got, want, terms, dtype, msg=""):
    """Error bound for sums of `terms` products of O(1) values in `dtype`."""
    want = np.asarray(want)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    eps = 2e-6 if dtype == np.float32 else 4e-15
    np.testing.assert_allclose(got, want, rtol=10 * eps, atol=eps * max(1.0, np.sqrt(terms)) * scale,
                               err_msg=msg)


def rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# (name, N, C, K, input size, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    ("depthwise_13x13_s2_d2", 2, 5, 5, (13, 13), (3, 3), (2, 2), (1, 1), (2, 2), 5),
    ("depthwise_x2_batch1", 1, 5, 10, (13, 13), (3, 3), (2, 2), (2, 2), (2, 2), 5),
    ("grouped_rect", 2, 10, 15, (13, 13), (3, 2), (2, 1), (1, 0), (2, 1), 5),
    ("dense_K70_batch1", 1, 6, 70, (13, 13), (3, 3), (1, 1), (1, 1), (1, 1), 1),
    ("stem_7x7_s2", 1, 3, 8, (13, 13), (7, 7), (2, 2), (3, 3), (1, 1), 1),
    ("pointwise", 2, 7, 9, (5, 13), (1, 1), (1, 1), (0, 0), (1, 1), 1),
    ("conv1d_groups2", 3, 4, 6, (17,), (5,), (3,), (2,), (2,), 2),
    ("conv3d", 1, 3, 4, (5, 6, 7), (2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 1), 1),
    ("conv3d_depthwise", 2, 3, 3, (4, 5, 6), (3, 3, 3), (2, 1, 2), (1, 1, 1), (1, 2, 1), 3),
]


# Backward-input (and so the transposed conv's forward) by stride phases: strides 2 to 4, phases
# without valid taps (stride > kernel, dilation sharing a factor with the stride), padding larger
# and smaller than the kernel, sizes not divisible by the stride, more than 8 phases (launched in
# batches), C / groups = 1, 2, 3, 5 (the few-channel kernel) and 9, 70 (the implicit GEMM, 70 over
# two row tiles), K from 1 to 70. Same fields as CONV_CASES.
BACKWARD_INPUT_CASES = [
    ("1d_s3_pad_over_kernel", 2, 2, 3, (20,), (2,), (3,), (3,), (1,), 1),
    ("1d_cg1_K1_s2", 2, 1, 1, (9,), (3,), (2,), (0,), (1,), 1),
    ("2d_s2_d2", 2, 3, 4, (11, 12), (3, 3), (2, 2), (1, 2), (2, 2), 1),
    ("2d_s2_cg5_groups2", 1, 10, 4, (9, 10), (4, 3), (2, 2), (1, 0), (1, 1), 2),
    ("2d_s2_cg3_groups2", 2, 6, 4, (12, 11), (3, 3), (2, 2), (1, 1), (1, 1), 2),
    ("2d_stem_K70", 1, 3, 70, (13, 13), (7, 7), (2, 2), (3, 3), (1, 1), 1),
    ("2d_s3_cg9", 1, 9, 5, (10, 11), (5, 4), (3, 2), (2, 1), (1, 1), 1),
    ("2d_s2_cg70", 1, 70, 8, (9, 9), (3, 3), (2, 2), (1, 1), (1, 1), 1),
    ("3d_s2_cg2_groups3", 1, 6, 3, (5, 6, 7), (3, 2, 3), (2, 2, 3), (1, 0, 2), (1, 2, 1), 3),
    ("3d_s4_64_phases", 1, 2, 3, (8, 9, 10), (3, 4, 5), (4, 4, 4), (1, 2, 0), (1, 1, 1), 1),
]


def conv_out_size(size, ker, stride, pad, dil):
    return tuple((i + 2 * p - d * (k - 1) - 1) // s + 1 for i, k, s, p, d in zip(size, ker, stride, pad, dil))


def conv_problem(case, seed=0):
    name, n, c, k, size, ker, stride, pad, dil, groups = case
    rng = np.random.default_rng([seed, len(name), n, c, k])
    x = rand(rng, (n, c) + size)
    w = rand(rng, (k, c // groups) + ker)
    b = rand(rng, (k,))
    out = conv_out_size(size, ker, stride, pad, dil)
    go = rand(rng, (n, k) + out)
    args = (list(stride), list(pad), list(dil), groups)
    return x, w, b, go, args


def algos(case):
    c, groups = case[2], case[9]
    return ("auto", "implicit_gemm") if c // groups == 1 else ("auto",)


# (name, N, C, input size, kernel, stride, padding, dilation, ceil_mode)
MAX_POOL_CASES = [
    ("2d_3x3_s2_p1_d2_ceil", 2, 5, (13, 13), (3, 3), (2, 2), (1, 1), (2, 2), True),
    ("2d_2x2_s2", 1, 3, (13, 12), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ("2d_rect_overlap", 2, 2, (9, 11), (3, 2), (1, 2), (1, 1), (1, 2), True),
    ("1d", 3, 4, (17,), (4,), (3,), (2,), (2,), True),
    ("3d", 1, 2, (5, 6, 7), (2, 3, 2), (2, 2, 1), (1, 1, 0), (1, 1, 2), False),
]


def pool_out_size(size, ker, stride, pad, dil, ceil_mode):
    out = []
    for i, k, s, p, d in zip(size, ker, stride, pad, dil):
        span = i + 2 * p - d * (k - 1) - 1
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= i + p:  # torch: the last window starts inside
            o -= 1
        out.append(o)
    return tuple(out)


AVG_POOL_CASES = [
    ("2d_3x3_s2_p1_ceil", 2, 5, (13, 13), (3, 3), (2, 2), (1, 1), True),
    ("2d_rect", 1, 3, (9, 10), (2, 3), (2, 1), (1, 1), False),
    ("1d", 3, 2, (17,), (4,), (3,), (2,), True),
    ("3d", 1, 2, (5, 6, 7), (3, 2, 3), (2, 2, 2), (1, 0, 1), True),
]


# (mode, spatial input size, output size, align_corners, scales: 0 = from the sizes)
INTERP_CASES = [
    ("nearest", (13, 13), (29, 6), False, (0, 0)),
    ("nearest", (13, 13), (26, 26), False, (0, 0)),
    ("nearest", (13, 13), (29, 7), False, (2.3, 0.6)),
    ("nearest-exact", (13, 13), (29, 7), False, (2.3, 0.6)),
    ("nearest-exact", (13,), (5,), False, (0,)),
    ("nearest", (4, 5, 6), (7, 5, 3), False, (0, 0, 0)),
    ("linear", (13,), (30,), False, (0,)),
    ("linear", (13,), (30,), True, (0,)),
    ("linear", (13, 13), (29, 6), False, (0, 0)),
    ("linear", (13, 13), (29, 7), False, (2.3, 0.6)),
    ("linear", (13, 13), (29, 6), True, (0, 0)),
    ("linear", (13, 13), (13, 20), False, (0, 0)),
    ("linear", (4, 5, 6), (7, 5, 3), False, (0, 0, 0)),
    ("linear", (4, 5, 6), (7, 9, 3), True, (0, 0, 0)),
    ("cubic", (13, 13), (29, 6), False, (0, 0)),
    ("cubic", (13, 13), (29, 6), True, (0, 0)),
    ("cubic", (13, 13), (29, 7), False, (2.3, 0.6)),
    ("cubic", (6, 7), (6, 16), False, (0, 0)),
    ("cubic", (6, 7), (6, 7), False, (1.1, 1.05)),  # same size, yet torch resamples
    ("linear", (6, 7), (6, 7), False, (1.1, 1.05)),  # same size: torch copies
]
