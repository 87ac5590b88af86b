"""``interpolate(..., antialias=True)``: torch's anti-aliased bilinear and bicubic resampling.

ATen (``_upsample_bilinear2d_aa`` / ``_upsample_bicubic2d_aa``) resamples each spatial dim on
its own, width first, with per-output-pixel weights of a triangle or Keys cubic (a = -0.5)
filter stretched by the downsampling factor and normalized over the taps inside the input (as
PIL does). Those weights form an (out, in) matrix per dim, so the resampling is two matmuls
with constant matrices: fastdl's GEMM does the work and matmul's backward gives the gradients
(and their own derivatives). An input with a NaN or inf is resampled tap by tap instead, which
keeps the non-finite values in the outputs whose windows hold them, as torch's loops do. The
weights repeat ATen's arithmetic in the input's dtype, float32 roundings included, so results
agree with torch to float rounding of the sums.
"""
from __future__ import annotations

import numpy as np

from fastdl import backend
from fastdl.functional.arithmetic import where
from fastdl.functional.indexing import index_select
from fastdl.functional.linalg import matmul
from fastdl.nn.functional._checks import check_tensor
from fastdl.tensor import _wrap

__all__ = ["resample_aa", "upsample_bilinear2d_aa", "upsample_bicubic2d_aa"]

_CUBIC_A = -0.5  # Keys' cubic, PIL's choice for its anti-aliased filter (not -0.75 as without)


def _triangle(x, f):
    x = np.abs(x)
    # ATen's 1.0 - x is a double expression rounded to scalar_t on return
    return np.where(x < 1.0, (1.0 - x.astype(np.float64)).astype(f), f(0))


def _fma(a, b, c, f):
    """a * b + c rounded once, as the fused multiply-adds the compiler makes of ATen's filter
    polynomials in its AVX2/AVX512 kernels (their weights differ from unfused ones in the last
    bit). float32: the product is exact in float64. float64: Dekker's exact product and the
    rounding error of the sum, added back before the final rounding."""
    if f is np.float32:
        return (a.astype(np.float64) * b + c).astype(f)
    p = a * b
    split = 134217729.0  # 2**27 + 1 cuts a double into two halves with exact products
    ah = a * split - (a * split - a)
    bh = b * split - (b * split - b)
    p_err = ((ah * bh - p) + ah * (b - bh) + (a - ah) * bh) + (a - ah) * (b - bh)
    s = p + c
    t = s - p
    return s + (((p - (s - t)) + (c - t)) + p_err)


def _keys_cubic(x, f):
    x, a = np.abs(x), f(_CUBIC_A)
    near = _fma(_fma(a + f(2), x, -(a + f(3)), f) * x, x, f(1), f)
    far = _fma(_fma(_fma(a, x, -f(5) * a, f), x, f(8) * a, f), x, -f(4) * a, f)
    return np.where(x < 1.0, near, np.where(x < 2.0, far, f(0))).astype(f)


# mode -> (filter, its support in input pixels at scale 1: half of ATen's interp_size)
_FILTERS = {"bilinear": (_triangle, 1.0), "bicubic": (_keys_cubic, 2.0)}


def _scale(in_size, out_size, align_corners, scale, f):
    """ATen's area_pixel_compute_scale<scalar_t> (input pixels per output pixel)."""
    if align_corners:
        return f(in_size - 1) / f(out_size - 1) if out_size > 1 else f(0)
    if scale is not None and scale > 0:
        return f(1.0 / scale)
    return f(in_size) / f(out_size)


def aa_taps(in_size, out_size, mode, align_corners, scale=None, dtype=np.float32):
    """(index, w, inside): each output pixel's taps as ATen's
    _compute_indices_min_size_weights_aa gives them for one dim, (out_size, taps) each,
    computed with its scalar_t (``dtype``) roundings; ``scale`` is the user's scale factor
    (output / input) or None. Taps past a pixel's window (``inside`` False) have weight 0 and
    repeat its first input index."""
    f = np.dtype(dtype).type
    filt, half = _FILTERS[mode]
    s = _scale(in_size, out_size, align_corners, scale, f)
    # the filter widens by the downsampling factor; upsampling keeps it at one input pixel
    support = f(half * float(s)) if s >= 1.0 else f(half)
    invscale = f(1.0 / float(s)) if s >= 1.0 else f(1)
    taps = int(np.ceil(support)) * 2 + 1
    center = (float(s) * (np.arange(out_size) + 0.5)).astype(f)
    # int64 truncation of a double, as ATen's static_cast (center - support rounds in scalar_t)
    lo = np.maximum(((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    hi = np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), in_size)
    count = np.clip(hi - lo, 0, taps)
    index = lo[:, None] + np.arange(taps)
    inside = np.arange(taps) < count[:, None]
    # (j + xmin) - center is an int64 - scalar_t subtraction; + 0.5 and * invscale in double
    arg = ((index.astype(f) - center[:, None]).astype(np.float64) + 0.5) * float(invscale)
    w = np.where(inside, filt(arg.astype(f), f), f(0))
    total = np.zeros(out_size, f)
    for j in range(taps):  # ATen's sequential sum (numpy's would be pairwise)
        total = total + w[:, j]
    w = np.where(total[:, None] != 0, w / np.where(total != 0, total, f(1))[:, None], w)
    return np.where(inside, index, np.minimum(lo, in_size - 1)[:, None]), w, inside


def aa_weights(in_size, out_size, mode, align_corners, scale=None, dtype=np.float32):
    """The (out_size, in_size) matrix of ``aa_taps``' weights."""
    index, w, _ = aa_taps(in_size, out_size, mode, align_corners, scale, dtype)
    matrix = np.zeros((out_size, in_size), w.dtype)
    rows = np.broadcast_to(np.arange(out_size)[:, None], index.shape)
    np.add.at(matrix, (rows, index), w)  # padding taps add 0 to a pixel's own first tap
    return matrix


def _resample_taps(x, axis, index, w, inside, xp):
    """One dim resampled tap by tap (gathered input pixels times their weights, summed over each
    output's window only): a NaN or inf stays in the outputs whose window holds it, as in ATen's
    loops (the matrix product would spread it along the whole dim, 0 * inf being NaN)."""
    n_out, taps = index.shape
    picked = index_select(x, axis, _wrap(xp.asarray(index.reshape(-1))))
    shape = list(x._data.shape)
    shape[axis:axis + 1] = [n_out, taps]
    if axis != x._data.ndim - 1:
        w, inside = w[:, :, None], inside[:, :, None]
    terms = picked.reshape(shape) * _wrap(xp.asarray(w))
    return where(_wrap(xp.asarray(inside)), terms, 0.0).sum(axis + 1)


def resample_aa(input, out_size, mode, align_corners, scales=(None, None)):
    """Anti-aliased resampling of (N, C, H, W) ``input`` to ``out_size`` (oh, ow)."""
    x = input._data
    xp = backend.array_module(x)
    finite = bool(xp.isfinite(x).all())
    out = input
    # width first, as ATen; a dim whose size does not change is left as it is (ATen skips it
    # whatever the scale, and its weights would be the identity anyway only without a scale)
    for axis in (3, 2):
        n_in, n_out = x.shape[axis], int(out_size[axis - 2])
        if n_in == n_out:
            continue
        if not finite:
            taps = aa_taps(n_in, n_out, mode, align_corners, scales[axis - 2], x.dtype)
            out = _resample_taps(out, axis, *taps, xp)
            continue
        m = aa_weights(n_in, n_out, mode, align_corners, scales[axis - 2], x.dtype)
        if axis == 3:
            out = matmul(out, _wrap(xp.asarray(np.ascontiguousarray(m.T))))
        else:
            out = matmul(_wrap(xp.asarray(m)), out)
    return out if out is not input else input.clone()


def _aten_aa(mode):
    def op(input, output_size, align_corners, scales_h=None, scales_w=None, *,
           scale_factors=None):
        check_tensor(input, op.__name__)
        if input.ndim != 4 or input._data.dtype not in backend.KERNEL_DTYPES:
            raise RuntimeError(f"{op.__name__}: expected a float32 or float64 4-D input, got "
                               f"{input._data.dtype} of shape {tuple(input.shape)}")
        if (output_size is None) == (scale_factors is None):
            raise ValueError(f"{op.__name__}: give exactly one of output_size and "
                             "scale_factors")
        if output_size is None:
            scales_h, scales_w = (float(s) for s in scale_factors)
            output_size = [int(n * s) for n, s in zip(input.shape[2:], (scales_h, scales_w))]
        if len(output_size) != 2 or min(output_size) <= 0 or min(input.shape[1:]) <= 0:
            raise RuntimeError(f"{op.__name__}: input and output sizes should be greater than "
                               f"0, got input {tuple(input.shape)}, output size "
                               f"{list(output_size)}")
        return resample_aa(input, output_size, mode, bool(align_corners), (scales_h, scales_w))
    op.__name__ = f"upsample_{mode}2d_aa"
    op.__doc__ = (f"ATen's _upsample_{mode}2d_aa(input, output_size, align_corners, scales_h, "
                  "scales_w), or its .vec overload (output_size None, scale_factors).")
    return op


upsample_bilinear2d_aa = _aten_aa("bilinear")
upsample_bicubic2d_aa = _aten_aa("bicubic")
