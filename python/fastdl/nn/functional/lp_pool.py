"""Power-average pooling ``lp_pool1d/2d/3d``: (sum over the window of x^p)^(1/p), built on the
average and max pools as torch builds it (so gradients, and their values where x^p sums to 0,
are torch's)."""
from __future__ import annotations

import math

from fastdl.functional import arithmetic as A
from fastdl.nn.functional import pooling as P


def _lp_pool(d, input, norm_type, kernel_size, stride, ceil_mode):
    max_pool = (P.max_pool1d, P.max_pool2d, P.max_pool3d)[d - 1]
    avg_pool = (P.avg_pool1d, P.avg_pool2d, P.avg_pool3d)[d - 1]
    if norm_type == math.inf:
        return max_pool(A.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool(-A.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    window = math.prod(P._ntuple(kernel_size, d, f"lp_pool{d}d", "kernel_size"))
    out = avg_pool(input ** norm_type, kernel_size, stride, 0, ceil_mode)
    # sign(out) * relu(|out|) is out itself with torch's zero gradient where out is 0
    return (A.sign(out) * A.relu(A.abs(out)) * window) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """(sum of x^p over each window of ``kernel_size``)^(1/p); p = inf is the max of |x|."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """(sum of x^p over each kernel_size window)^(1/p); p = inf is the max of |x|."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """(sum of x^p over each kernel_size window)^(1/p); p = inf is the max of |x|."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
