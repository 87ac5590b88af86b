"""``segment_reduce``: torch.segment_reduce, reducing consecutive runs (segments) of ``data``
along ``axis``, composed of ``scatter_reduce`` so that it is differentiable.

Each element is scattered into its segment's slot; elements that no segment covers (``unsafe``
lengths that sum to less than the axis size, or offsets that skip some) go to one extra slot
that is dropped at the end, so they get no gradient, as in torch."""
from __future__ import annotations

import numpy as np

from fastdl._argcheck import check_tensor_arg
from fastdl.tensor import _wrap

__all__ = ["segment_reduce"]

_REDUCTIONS = {"sum": "sum", "mean": "sum", "prod": "prod", "max": "amax", "amax": "amax",
               "min": "amin", "amin": "amin"}
_EMPTY = {"sum": 0.0, "mean": float("nan"), "prod": 1.0, "amax": -float("inf"),
          "amin": float("inf")}


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0,
                   unsafe=False, initial=None):
    """Reduce (``"sum"``, ``"mean"``, ``"max"``, ``"min"`` or ``"prod"``) consecutive
    segments of ``data`` along ``axis``, given their ``lengths`` (shape
    ``data.shape[:axis] + (segments,)``) or their ``offsets`` (one more entry, cumulative).
    ``initial`` starts every segment's accumulation and is the value of an empty segment
    (without it an empty segment gives 0, nan, -inf, inf or 1); ``mean`` divides by the
    segment's length only. Unless ``unsafe``, lengths must be non-negative and sum to
    ``data.shape[axis]``.

    >>> x = fastdl.tensor([1.0, 3.0, 2.0, 5.0, 4.0])
    >>> fastdl.segment_reduce(x, "max", lengths=fastdl.tensor([2, 0, 3])).tolist()
    [3.0, -inf, 5.0]
    >>> fastdl.segment_reduce(x, "mean", offsets=fastdl.tensor([0, 2, 5]), initial=7).tolist()
    [5.5, 6.0]
    """
    from fastdl.functional.arithmetic import where
    check_tensor_arg(data, "segment_reduce")
    op = _check_reduce(reduce)
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if not np.issubdtype(data._data.dtype, np.floating):
        raise NotImplementedError(f'"_segment_reduce_cpu" not implemented for {data.dtype}')
    axis, starts, ends = _segments(data, lengths, offsets, axis, unsafe)
    seg, counts = _segment_ids(starts, ends, data.shape[axis])
    rest = (1,) * (data.ndim - axis - 1)
    index = _on(data, np.ascontiguousarray(
        np.broadcast_to(seg.reshape(seg.shape + rest), data.shape)))
    slots = starts.shape[-1] + 1
    fill = _EMPTY[op if reduce != "mean" else "mean"] if initial is None else float(initial)
    base_fill = 0.0 if reduce == "mean" else fill
    base = _full(data, axis, slots, base_fill)
    with np.errstate(invalid="ignore"):  # NaN data propagates, as in torch
        out = base.scatter_reduce(axis, index, data, op, include_self=op in ("sum", "prod"))
    if op in ("amax", "amin"):
        out = _extremum(data, axis, index, out, op, initial)
    out = out.narrow(axis, 0, slots - 1)
    if reduce == "mean":
        count = _on(data, counts.reshape(counts.shape + rest).astype(data._data.dtype))
        total = out if initial is None else out + float(initial)
        out = where(count > 0, total / count.clamp(min=1), fill)
    return out


def _check_reduce(reduce):
    if reduce not in _REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                           f"got {reduce}")
    return _REDUCTIONS[reduce]


def _extremum(data, axis, index, out, op, initial):
    """``initial`` enters after the scatter so that it never shares the gradient (torch gives
    the tied data elements all of it). Where a segment's result is NaN, torch shares the
    gradient among its NaN elements, which ``scatter_reduce`` would give none."""
    from fastdl.functional.arithmetic import where
    if initial is not None:
        beaten = out < initial if op == "amax" else out > initial
        out = where(beaten, float(initial), out)
    nan = data.isnan()
    if bool(nan.any()):
        nans = _full(data, axis, out.shape[axis], 0.0).scatter_reduce(
            axis, index, nan.to(data.dtype), "sum")
        share = where(nan, data, 0.0) / nans.gather(axis, index).clamp(min=1)
        out = where(nans > 0, _full(data, axis, out.shape[axis], 0.0).scatter_reduce(
            axis, index, share, "sum"), out)
    return out


def _segments(data, lengths, offsets, axis, unsafe):
    """Each segment's [start, end) along ``axis``, as int64 arrays of shape
    ``data.shape[:axis] + (segments,)``, with torch's checks."""
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    if lengths is not None and offsets is not None:
        raise RuntimeError("segment_reduce(): pass lengths or offsets, not both")
    given = lengths if lengths is not None else offsets
    name = "lengths" if lengths is not None else "offsets"
    check_tensor_arg(given, "segment_reduce")
    if not np.issubdtype(given._data.dtype, np.integer) or given.ndim == 0:
        raise RuntimeError(f"segment_reduce(): {name} must be an integer tensor with at "
                           f"least one dimension, got {given.dtype} of shape "
                           f"{tuple(given.shape)}")
    axis = _wrap_axis(axis, data.ndim)
    if axis != given.ndim - 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of "
                           f"{name} but got {axis}.")
    if tuple(given.shape[:-1]) != tuple(data.shape[:axis]):
        raise RuntimeError(f"segment_reduce(): {name} of shape {tuple(given.shape)} does not "
                           f"match data of shape {tuple(data.shape)} before axis {axis}")
    bounds = given.cpu().numpy().astype(np.int64)
    if lengths is not None:
        if not unsafe and bounds.size and bounds.min() < 0:
            raise RuntimeError("lengths contains negative value!")
        if not unsafe and (bounds.sum(-1) != data.shape[axis]).any():
            raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to "
                               "sum to data.size(lengths.dim()-1) when !unsafe.")
        bounds = np.concatenate([np.zeros(bounds.shape[:-1] + (1,), np.int64),
                                 np.cumsum(bounds, -1)], -1)
    elif bounds.shape[-1] == 0:
        raise RuntimeError("segment_reduce(): offsets needs at least one entry")
    starts, ends = bounds[..., :-1], bounds[..., 1:]
    if (ends < starts).any() or (bounds < 0).any():
        raise RuntimeError("Expected segment_length >= 0 to be true, but got false.")
    return axis, starts, ends


def _segment_ids(starts, ends, size):
    """Each position's segment along the axis (shape ``starts.shape[:-1] + (size,)``; the
    extra slot ``segments`` where none covers it) and each segment's element count."""
    pos = np.arange(size)[:, None]
    seg = (ends[..., None, :] <= pos).sum(-1)
    segments = starts.shape[-1]
    covered = seg < segments
    first = np.take_along_axis(starts, np.minimum(seg, max(segments - 1, 0)), -1) \
        if segments else np.zeros_like(seg)
    seg = np.where(covered & (first <= pos[:, 0]), seg, segments)
    return seg, np.minimum(ends, size) - np.minimum(starts, size)


def _wrap_axis(axis, ndim):
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {axis})")
    return axis % max(ndim, 1)


def _on(data, array):
    """A constant tensor on ``data``'s device."""
    from fastdl.functional._core import xp_of
    return _wrap(xp_of(data._data).asarray(array))


def _full(data, axis, slots, value):
    from fastdl import full
    shape = tuple(data.shape[:axis]) + (slots,) + tuple(data.shape[axis + 1:])
    return full(shape, value, dtype=data.dtype, device=data.device)
