"""scatter and scatter_reduce: write or reduce ``src`` into a copy of ``input`` at ``index``
along ``dim``, with torch's semantics (scatter_add, the plain sum, lives in indexing.py).

The registered ops, each backward written with registered ops (so double backward works):

==============  =======================================  =======================================
op              forward                                  backward
==============  =======================================  =======================================
scatter         out[idx] = src (the last write wins)     self: scatter_fill(g, 0)
                                                         src: gather(g); 0 where overwritten
scatter_fill    out[idx] = value                         scatter_fill(g, 0)
scatter_reduce  out[idx] = reduce(self?, src, ...)       torch's scatter_reduce_backward, see
                reduce: sum, prod, mean, amax, amin      _scatter_reduce_backward
==============  =======================================  =======================================

Duplicate indices: the elements of ``index`` are applied one after the other in its C (row-major)
order. So ``scatter`` keeps the value written last, and a float sum or product rounds as that
sequential loop does, on every run and device. numpy arrays run the loop as ``ufunc.at``; cupy
arrays, whose atomics would make the order (and float sums) vary, take ``_reduce_in_rounds``,
which applies the values in the same order and gives the same bits.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.autograd.op import defop
from fastdl.functional._core import Tensor, _wrap, norm_dim, xp_of
from fastdl.functional.indexing import (_as_1d, _check_index, _gather_forward, gather_op, getitem,
                                       masked_fill)

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
# how a reduction folds one more value into an output element (mean: a sum, divided at the end)
_COMBINE = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
            "amin": np.minimum}


# ---- the array-level machinery -------------------------------------------------------------
def _flat_targets(idx, ax, shape):
    """For every element of ``idx`` (C order), the flat position in a C-contiguous array of
    ``shape`` it addresses: its own coordinates, with ``idx``'s value as coordinate ``ax``."""
    xp = xp_of(idx)
    strides = np.cumprod((tuple(shape[1:]) + (1,))[::-1])[::-1]
    targets = idx.astype(np.int64) * int(strides[ax])
    for i, n in enumerate(idx.shape):
        if i != ax:
            coord = xp.arange(n, dtype=np.int64).reshape((n,) + (1,) * (idx.ndim - i - 1))
            targets = targets + coord * int(strides[i])
    return targets.reshape(-1)


def _reduce_into(flat, targets, values, combine):
    """``flat[targets[k]] = combine(flat[targets[k]], values[k])`` for k = 0, 1, ... in order;
    ``combine=None`` assigns."""
    if type(flat) is np.ndarray and combine is not None:
        combine.at(flat, targets, values)
    else:
        _reduce_in_rounds(flat, targets, values, combine)


def _reduce_in_rounds(flat, targets, values, combine):
    """``_reduce_into`` with whole-array operations only (any array module, no atomics): a
    stable sort groups the writes to each target, keeping their order; round r applies every
    target's r-th write at once, and within a round the targets are distinct."""
    xp = xp_of(targets)
    n = targets.size
    if n == 0:
        return
    order = xp.argsort(targets, kind="stable")
    grouped = targets[order]
    starts = xp.ones(n, dtype=bool)
    starts[1:] = grouped[1:] != grouped[:-1]
    group_start = xp.flatnonzero(starts)[xp.cumsum(starts) - 1]
    rank = xp.arange(n) - group_start  # the write's position among its target's writes
    for r in range(int(rank.max()) + 1):
        pick = order[rank == r]
        t = targets[pick]
        flat[t] = values[pick] if combine is None else combine(flat[t], values[pick])


def _last_writes(targets, size):
    """A bool mask over ``targets``: True for the last write to each target (the one scatter
    keeps), or None when no target is written twice."""
    xp = xp_of(targets)
    order = xp.arange(targets.size, dtype=np.int64)
    last = xp.full(size, -1, dtype=np.int64)
    _reduce_into(last, targets, order, np.maximum)
    keep = last[targets] == order
    return None if bool(keep.all()) else keep


def _identity(reduce, dtype):
    """What an output element starts from when ``include_self=False``."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _counts(targets, shape, include_self, dtype):
    """How many values each output element averages (1 where it averages none: it keeps self)."""
    xp = xp_of(targets)
    n = xp.bincount(targets, minlength=int(np.prod(shape))) + int(include_self)
    return xp.maximum(n, 1).astype(dtype).reshape(shape)


def _scatter_forward(d, src, ax, idx):
    out = d.copy()
    flat = out.reshape(-1)
    targets = _flat_targets(idx, ax, d.shape)
    values = src.reshape(-1)
    keep = _last_writes(targets, flat.size)
    if keep is not None:
        targets, values = targets[keep], values[keep]
    flat[targets] = values
    return out


def _scatter_fill_forward(d, ax, idx, value):
    out = d.copy()
    out.reshape(-1)[_flat_targets(idx, ax, d.shape)] = value
    return out


def _scatter_reduce_forward(d, src, ax, idx, reduce, include_self):
    out = d.copy()
    flat = out.reshape(-1)
    targets = _flat_targets(idx, ax, d.shape)
    if not include_self:
        flat[targets] = _identity(reduce, d.dtype)
    _reduce_into(flat, targets, src.reshape(-1), _COMBINE[reduce])
    if reduce == "mean":
        n = _counts(targets, d.shape, include_self, d.dtype)
        if d.dtype.kind == "f":
            out /= n
        else:  # torch's integer mean rounds down
            out //= n
    return out


# ---- backward formulas ---------------------------------------------------------------------
def _scatter_backward(ctx, g):
    ax, idx = ctx.args
    wants_self, wants_src = ctx.edges
    g_self = None if wants_self is None else scatter_fill_op.apply((g,), ax, idx, 0)
    g_src = None
    if wants_src is not None:
        g_src = gather_op.apply((g,), ax, idx)
        keep = _last_writes(_flat_targets(idx, ax, g._data.shape), g._data.size)
        if keep is not None:  # an overwritten src element never reaches the output
            g_src = masked_fill(g_src, _wrap(~keep.reshape(idx.shape)), 0.0)
    return g_self, g_src


def _scatter_reduce_backward(ctx, g):
    """torch's scatter_reduce_backward (FunctionsManual.cpp), with one correction for amax and
    amin with include_self=False: an input element that the reduction left out but that
    happens to equal the result does not take a share of the gradient (torch divides the
    gradient among it too, then drops its share, so the gradient sums to less than 1)."""
    x, src = ctx.inputs
    ax, idx, reduce, include_self = ctx.args
    shape, dtype = x._data.shape, x._data.dtype
    if reduce in ("sum", "mean"):
        g_self = g if reduce == "sum" else \
            g / _wrap(_counts(_flat_targets(idx, ax, shape), shape, include_self, dtype))
        g_src = None if ctx.edges[1] is None else gather_op.apply((g_self,), ax, idx)
    elif reduce in ("amax", "amin"):
        g_self, g_src = _extremum_backward(ctx, g)
    else:
        g_self, g_src = _prod_backward(ctx, g)
    if not include_self and g_self is not None and reduce not in ("amax", "amin"):
        g_self = scatter_fill_op.apply((g_self,), ax, idx, 0)  # (amax/amin did it already)
    return g_self, g_src


def _extremum_backward(ctx, g):
    """The gradient goes to the elements equal to the result, shared evenly among ties (where
    the result is NaN nothing equals it, and every element gets 0)."""
    x, src = ctx.inputs
    ax, idx, _, include_self = ctx.args
    out = ctx.output._data
    xp, dtype = xp_of(g._data), g._data.dtype
    targets = _flat_targets(idx, ax, out.shape)
    self_wins = x._data == out
    if not include_self:
        self_wins.reshape(-1)[targets] = False
    src_wins = src._data == _gather_forward(out, ax, idx)
    winners = self_wins.astype(dtype)
    _reduce_into(winners.reshape(-1), targets, src_wins.astype(dtype).reshape(-1), np.add)
    share = g / _wrap(xp.maximum(winners, 1))
    wants_self, wants_src = ctx.edges
    return (None if wants_self is None else share * _wrap(self_wins.astype(dtype)),
            None if wants_src is None else
            gather_op.apply((share,), ax, idx) * _wrap(src_wins.astype(dtype)))


def _prod_backward(ctx, g):
    """d out / d element = the product of the other factors. Where an element is 0, out / it
    cannot give that, so the product is recomputed with the zero replaced by 1 (a src element
    that is one of several zeros in its product has gradient 0, as out / 1 = 0 says)."""
    from fastdl.functional.arithmetic import where
    x, src = ctx.inputs
    ax, idx, reduce, include_self = ctx.args
    wants_self, wants_src = ctx.edges
    g_self = g_src = None
    if wants_self is not None:
        ones_for_zeros = masked_fill(x, _wrap(x._data == 0), 1.0)
        without_self = scatter_reduce_op.apply((ones_for_zeros, src), ax, idx, reduce,
                                               include_self)
        g_self = g * without_self / ones_for_zeros
    if wants_src is not None:
        src_zero = src._data == 0
        targets = _flat_targets(idx, ax, x._data.shape)
        zeros_per_target = xp_of(src_zero).zeros(x._data.shape, dtype=np.int64)
        _reduce_into(zeros_per_target.reshape(-1), targets,
                     src_zero.astype(np.int64).reshape(-1), np.add)
        if _grad_state.enabled and bool((zeros_per_target > 1).any()):
            # out / 1 = 0 is the right first derivative there, but its own derivative is not
            raise RuntimeError(
                "scatter_reduce(): double backward (create_graph=True) is unsupported for src "
                "when more than one zero in src is reduced into one position (torch refuses "
                "it too)")
        lone_zero = _wrap(src_zero & (_gather_forward(zeros_per_target, ax, idx) == 1))
        without_lone_zero = scatter_reduce_op.apply((x, masked_fill(src, lone_zero, 1.0)), ax,
                                                    idx, reduce, include_self)
        g_src = where(lone_zero, gather_op.apply((g * without_lone_zero,), ax, idx),
                      gather_op.apply((g * ctx.output,), ax, idx) /
                      masked_fill(src, _wrap(src_zero), 1.0))
    return g_self, g_src


scatter_op = defop("scatter", forward=_scatter_forward, backward=_scatter_backward)
scatter_fill_op = defop("scatter_fill", forward=_scatter_fill_forward,
                        backward=lambda ctx, g: (scatter_fill_op.apply((g,), *ctx.args[:2], 0),))
scatter_reduce_op = defop("scatter_reduce", forward=_scatter_reduce_forward,
                          backward=_scatter_reduce_backward, saves=(0, 1), saves_output=True)


def nothing_scattered(input, src):
    """The result of a scatter with an empty index: a copy of input that still depends on a
    tensor src (as torch's does), so src gets a zero gradient rather than none."""
    out = input.clone()
    if isinstance(src, Tensor) and src.requires_grad and _grad_state.enabled:
        from fastdl.functional.arithmetic import where
        never = _wrap(xp_of(input._data).zeros((), dtype=bool))
        out = where(never, src.sum().to(input._data.dtype), out)  # forward: out's values
    return out


# ---- argument checks (torch's rules and messages) ------------------------------------------
def check_scatter_args(fn, input, dim, index, src=None):
    """Validate a scatter-family call; returns ``(ax, index array)``. ``input``, ``index`` and
    ``src`` must already be at least 1-d (torch treats 0-d as 1-d here)."""
    _check_index(index, fn)
    d, idx = input._data, index._data
    ax = norm_dim(dim, d.ndim)
    if idx.size == 0:  # nothing to write: torch checks no shapes either
        return ax, idx
    if idx.ndim != d.ndim:
        raise RuntimeError(f"{fn}(): Index tensor must have the same number of dimensions as "
                           f"self tensor (index {tuple(idx.shape)}, self {tuple(d.shape)})")
    if src is not None:
        s = src._data
        if s.ndim != idx.ndim:
            raise RuntimeError(f"{fn}(): Index tensor must have the same number of dimensions "
                               f"as src tensor (index {tuple(idx.shape)}, src {tuple(s.shape)})")
        if s.dtype != d.dtype:
            raise RuntimeError(f"{fn}(): Expected self.dtype to be equal to src.dtype, got "
                               f"{d.dtype} and {s.dtype}")
    too_big = any(i != ax and n > d.shape[i] for i, n in enumerate(idx.shape)) or (
        src is not None and any(n > m for n, m in zip(idx.shape, src._data.shape)))
    if too_big:
        raise RuntimeError(f"{fn}(): Expected index {list(idx.shape)} to be no larger than self "
                           f"{list(d.shape)} apart from dimension {ax}" + (
                               "" if src is None else
                               f" and to be no larger size than src {list(src._data.shape)}"))
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= d.shape[ax]:
        raise RuntimeError(f"{fn}(): index {lo if lo < 0 else hi} is out of bounds for "
                           f"dimension {ax} with size {d.shape[ax]}")
    return ax, idx


def src_like_index(src, idx):
    """src cut to index's shape (it may be larger: the rest is not read, and gets gradient 0)."""
    if src._data.shape == idx.shape:
        return src
    return getitem(src, tuple(slice(0, n) for n in idx.shape))


def _is_number(v):
    return isinstance(v, (bool, int, float, np.number))


# ---- public functions ----------------------------------------------------------------------
def scatter(input, dim, index, src=None, value=None, reduce=None):
    """``out = input.clone(); out[..., index[i], ...] = src[i]`` along ``dim`` (torch.scatter).

    ``src`` is a tensor of input's dtype, or a number (then it is ``value``, written
    everywhere index points). ``reduce="add"`` or ``"multiply"`` accumulates instead of
    writing (like ``scatter_add`` and ``scatter_reduce(..., "prod")``; unlike torch, these are
    differentiable). A position that index names twice keeps the value written last in index's
    C order (torch leaves that undefined); the overwritten src element gets gradient 0.

    Shape: index has input's number of dims, no larger than src anywhere nor than input
    outside ``dim``; the result has input's shape. index is int64 (or int32).

    >>> x = fastdl.zeros(2, 4)
    >>> fastdl.scatter(x, 1, fastdl.tensor([[3, 0], [1, 2]]), fastdl.tensor([[1.0, 2.0],
    ...                                                                       [3.0, 4.0]]))
    tensor([[2., 0., 0., 1.],
            [0., 3., 4., 0.]])
    >>> fastdl.zeros(3).scatter(0, fastdl.tensor([2]), 5.0).tolist()
    [0.0, 0.0, 5.0]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"scatter(): input must be a Tensor, got {type(input).__name__}")
    if src is not None and value is not None:
        raise TypeError("scatter(): pass src (a tensor) or value (a number), not both")
    if _is_number(src):
        src, value = None, src
    if src is None and value is None:
        raise TypeError("scatter(): missing src (a tensor) or value (a number)")
    if src is not None and not isinstance(src, Tensor):
        raise TypeError(f"scatter(): src must be a Tensor or a number, got {type(src).__name__}")
    if value is not None and not _is_number(value):
        raise TypeError(f"scatter(): value must be a number, got {type(value).__name__}")
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"scatter(): reduce argument must be either 'add' or 'multiply', got "
                         f"{reduce!r}")
    if input._data.ndim == 0:
        return scatter(_as_1d(input), dim, _as_1d(index), None if src is None else _as_1d(src),
                       value, reduce).reshape(())
    ax, idx = check_scatter_args("scatter", input, dim, index, src)
    if idx.size == 0:
        return nothing_scattered(input, src)
    if src is None and reduce is None:
        return scatter_fill_op.apply((input,), ax, idx, value)
    if src is None:  # a number to accumulate: the src tensor it stands for, a constant
        src = _wrap(xp_of(idx).full(idx.shape, value, dtype=input._data.dtype))
    src = src_like_index(src, idx)
    if reduce is None:
        return scatter_op.apply((input, src), ax, idx)
    if reduce == "add":
        from fastdl.functional.indexing import scatter_add_op
        return scatter_add_op.apply((input, src), ax, idx)
    return scatter_reduce_op.apply((input, src), ax, idx, "prod", True)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce the src values that index sends to each position of ``dim`` into a copy of input:
    ``reduce`` is "sum", "prod", "mean", "amax" or "amin"; with ``include_self=False`` input's
    own value at a position that receives some src value takes no part (torch.scatter_reduce).

    Values meeting at one position are combined in index's C order (deterministic, also on
    GPUs). Gradients follow torch's: amax/amin share the gradient evenly among tied elements;
    integer "mean" rounds down.

    Shape: as scatter's; the result has input's shape.

    >>> x = fastdl.tensor([1.0, 2.0, 3.0])
    >>> i = fastdl.tensor([0, 0, 2, 2])
    >>> s = fastdl.tensor([4.0, 5.0, 6.0, 7.0])
    >>> x.scatter_reduce(0, i, s, "amax").tolist()
    [5.0, 2.0, 7.0]
    >>> x.scatter_reduce(0, i, s, "mean", include_self=False).tolist()
    [4.5, 2.0, 6.5]
    """
    if not isinstance(input, Tensor) or not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): input and src must be Tensors, got "
                        f"{type(input).__name__} and {type(src).__name__}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"scatter_reduce(): reduce must be one of {', '.join(REDUCTIONS)}, got "
                         f"{reduce!r}")
    if reduce == "mean" and input._data.dtype.kind == "b":
        raise TypeError("scatter_reduce(): reduce='mean' needs a number dtype, got bool")
    if input._data.ndim == 0:
        return scatter_reduce(_as_1d(input), dim, _as_1d(index), _as_1d(src), reduce,
                              include_self=include_self).reshape(())
    ax, idx = check_scatter_args("scatter_reduce", input, dim, index, src)
    if idx.size == 0:
        return nothing_scattered(input, src)
    return scatter_reduce_op.apply((input, src_like_index(src, idx)), ax, idx, reduce,
                                   bool(include_self))
