"""Fractional max pooling (Graham, 2014): torch's fractional_max_pool2d/3d.

Each (batch, channel) plane gets pseudo-random window starts from its ``_random_samples`` entry,
with torch's CPU formula (``generate_intervals``, computed in the input's precision so float32
starts agree with torch's to the integer). The argmax within each window is found in numpy with
torch's tie and NaN rules, and the output is then a differentiable gather at those indices
(``pool_gather``, whose backward scatters the gradient back): the same indices serve
``return_indices`` and the backward, as torch's."""
from __future__ import annotations

import operator

import numpy as np

from fastdl import backend
from fastdl.autograd.grad_mode import no_grad
from fastdl.nn.functional._checks import check_tensor
from fastdl.nn.functional.pooling import _unbatch, pool_gather_op
from fastdl.functional.shape import unsqueeze
from fastdl.tensor import _wrap

__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]

_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}
# the entry of a plane's sample each spatial dim reads (torch: 2-D samples are (w, h))
_SAMPLE_SLOT = {2: (1, 0), 3: (0, 1, 2)}


def _ints(value, d, fn, name):
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            value = tuple(value) * d
        if len(value) != d:
            plural = "tuple of Ints" if d == 2 else "tuple of three Ints"
            raise RuntimeError(f"{fn}: {name} must either be a single Int or {plural}")
        return tuple(operator.index(v) for v in value)
    return (operator.index(value),) * d


def _intervals(samples, in_size, out_size, pool, xp):
    """Window starts (N, C, out_size) from samples (N, C): torch's generate_intervals."""
    seq = xp.empty(samples.shape + (out_size,), dtype=np.int64)
    if out_size > 1:
        dt = samples.dtype.type
        alpha = dt(in_size - pool) / dt(out_size - 1)
        i = xp.arange(out_size - 1, dtype=samples.dtype)
        # C++ static_cast<int> truncates toward zero, as astype does
        seq[..., :-1] = (((i + samples[..., None]) * alpha).astype(np.int64)
                         - (samples * alpha).astype(np.int64)[..., None])
    if out_size > 0:
        seq[..., -1] = in_size - pool
    return seq


def _argmax_indices(x, samples, kernel, out_size, xp):
    """Flat per-plane indices (N, C, *out_size) of each window's maximum."""
    d = len(kernel)
    in_size = x.shape[2:]
    n, c = x.shape[:2]
    flat = xp.zeros((n, c) + tuple(out_size) + tuple(kernel), dtype=np.int64)
    stride = 1
    for j in range(d - 1, -1, -1):
        starts = _intervals(samples[..., _SAMPLE_SLOT[d][j]], in_size[j], out_size[j],
                            kernel[j], xp)
        pos = starts[..., None] + xp.arange(kernel[j])  # (N, C, out_j, k_j)
        # broadcast over (N, C, *out_size, *kernel): out_j and k_j at their own dims
        pos = pos.reshape((n, c) + (1,) * j + (out_size[j],) + (1,) * (d - 1 - j)
                          + (1,) * j + (kernel[j],) + (1,) * (d - 1 - j))
        flat = flat + pos * stride
        stride *= in_size[j]
    k = int(np.prod(kernel))
    flat = flat.reshape((n, c) + tuple(out_size) + (k,))
    plane = x.reshape(n, c, int(np.prod(in_size)))
    vals = xp.take_along_axis(plane, flat.reshape(n, c, int(np.prod(out_size)) * k),
                              axis=2).reshape(flat.shape)
    nan = xp.isnan(vals)
    # torch scans the window in order keeping the first maximum, but every NaN replaces the
    # running maximum, so the last NaN wins
    best = xp.argmax(xp.where(nan, -np.inf, vals), axis=-1)
    last_nan = k - 1 - xp.argmax(nan[..., ::-1], axis=-1)
    best = xp.where(nan.any(axis=-1), last_nan, best)
    return xp.take_along_axis(flat, best[..., None], axis=-1)[..., 0]


def _fractional(d, input, kernel_size, output_size, output_ratio, random_samples):
    fn = f"fractional_max_pool{d}d"
    check_tensor(input, fn)
    x = input._data
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fn} requires specifying either an output_size or an output_ratio")
    if x.ndim < d + 1 and (output_size is None or random_samples is None):
        # torch reads the channel count (or the sizes) by negative index before any check
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(x.ndim, 1)}, {max(x.ndim, 1) - 1}], but got {-(d + 1)})")
    if output_size is None:
        if d == 2 and not isinstance(output_ratio, (tuple, list)):
            # torch's functional 2-D form takes len() of the ratio before _pair (its module
            # passes a pair), so a lone number fails there
            raise TypeError(f"object of type '{type(output_ratio).__name__}' has no len()")
        if d == 2 and len(output_ratio) > 2:
            raise ValueError(f"{fn} requires output_ratio to either be a single Int or tuple "
                             "of Ints.")
        ratio = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else \
            (output_ratio,) * d
        if len(ratio) != d:
            raise IndexError("tuple index out of range")
        output_size = [int(x.shape[x.ndim - d + j] * ratio[j]) for j in range(d)]
    kernel = _ints(kernel_size, d, fn, "kernel_size")
    out_size = _ints(output_size, d, fn, "output_size")
    where = fn if d == 2 else "fractional_max_pool3d_out"
    if x.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{where}(): Expected {d + 1}D or {d + 2}D tensor, but got: "
                           f"{list(x.shape)}")
    for j in range(x.ndim - d - 1, x.ndim):
        if x.shape[j] == 0:
            raise RuntimeError(f"{where}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{list(x.shape)} with dimension {j} being "
                               "empty.")
    if x.dtype not in backend.KERNEL_DTYPES:
        raise TypeError(f"{fn}(): input must be float32 or float64, got {x.dtype}")
    if any(k <= 0 for k in kernel):
        # torch reads an empty window as -inf at its start; a window of nothing is a mistake
        raise RuntimeError(f"{fn}(): kernel_size must be greater than zero, got {kernel}")
    if any(o < 0 for o in out_size):
        raise RuntimeError(f"{fn}(): output_size must be non-negative, got {out_size}")
    in_size = x.shape[-d:]
    for name, o, k, i in zip(_DIM_NAMES[d], out_size, kernel, in_size):
        # torch's bounds: 2-D allows the last window to end at the edge, 3-D stops one short
        if (o + k - 1 > i) if d == 2 else (o + k - 1 >= i):
            raise RuntimeError(f"{where}(): pool {name} {k} too large relative to input "
                               f"{name} {i}")
    batched = x.ndim == d + 2
    xb = input if batched else unsqueeze(input, 0)
    n, c = xb._data.shape[:2]
    if random_samples is None:
        from fastdl.creation import rand
        random_samples = rand(n, c, d, dtype=input.dtype)
    check_tensor(random_samples, fn, "_random_samples")
    s = random_samples._data
    if s.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {s.ndim}")
    if s.shape[2] != d:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {d}; got {s.shape[2]}.")
    if s.shape[1] != c:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if s.shape[0] < n:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if s.dtype != x.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    xp = backend.array_module(x)
    with no_grad():
        indices = _argmax_indices(xp.ascontiguousarray(xb._data), s[:n], kernel, out_size, xp)
    out = pool_gather_op.apply((xb,), indices, tuple(in_size))
    return _unbatch(out, not batched), _wrap(indices if batched else indices[0])


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """:func:`fractional_max_pool2d` returning ``(output, indices)`` whatever ``return_indices``.

    >>> import fastdl
    >>> import fastdl.nn.functional as F
    >>> x = fastdl.arange(16.0).reshape(1, 1, 4, 4)
    >>> s = fastdl.tensor([[[0.5, 0.5]]])
    >>> out, idx = F.fractional_max_pool2d_with_indices(x, 2, output_size=2, _random_samples=s)
    >>> out.tolist(), idx.tolist()
    ([[[[5.0, 7.0], [13.0, 15.0]]]], [[[[5, 7], [13, 15]]]])
    """
    return _fractional(2, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling over (N, C, H, W) or (C, H, W): windows of ``kernel_size`` at
    pseudo-random starts giving ``output_size`` (or ``output_ratio`` of the input size).

    ``_random_samples`` (N, C, 2) in [0, 1), in the input's dtype, fixes the starts (torch's
    layout: entry 0 for the width, 1 for the height); without it they are drawn from fastdl's
    generator. With ``return_indices`` also the flat per-plane argmax indices.

    >>> import fastdl
    >>> import fastdl.nn.functional as F
    >>> x = fastdl.arange(25.0).reshape(1, 1, 5, 5)
    >>> F.fractional_max_pool2d(x, 2, output_size=(2, 2),
    ...                         _random_samples=fastdl.tensor([[[0.2, 0.2]]])).tolist()
    [[[[6.0, 9.0], [21.0, 24.0]]]]
    """
    out, indices = _fractional(2, input, kernel_size, output_size, output_ratio,
                               _random_samples)
    return (out, indices) if return_indices else out


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """:func:`fractional_max_pool3d` returning ``(output, indices)`` whatever ``return_indices``.

    >>> import fastdl
    >>> import fastdl.nn.functional as F
    >>> x = fastdl.arange(27.0).reshape(1, 1, 3, 3, 3)
    >>> s = fastdl.tensor([[[0.5, 0.5, 0.5]]])
    >>> out, idx = F.fractional_max_pool3d_with_indices(x, 2, output_size=1, _random_samples=s)
    >>> out.tolist(), idx.tolist()
    ([[[[[26.0]]]]], [[[[[26]]]]])
    """
    return _fractional(3, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling over (N, C, T, H, W) or (C, T, H, W); ``_random_samples`` is
    (N, C, 3) with entries for time, height, width. See :func:`fractional_max_pool2d`.

    >>> import fastdl
    >>> import fastdl.nn.functional as F
    >>> x = fastdl.arange(64.0).reshape(1, 1, 4, 4, 4)
    >>> F.fractional_max_pool3d(x, 2, output_size=2,
    ...                         _random_samples=fastdl.tensor([[[0.1, 0.1, 0.1]]])).shape
    (1, 1, 2, 2, 2)
    """
    out, indices = _fractional(3, input, kernel_size, output_size, output_ratio,
                               _random_samples)
    return (out, indices) if return_indices else out
