"""Indexing: ``x[key]`` (basic and advanced), gather/scatter_add, index_select, masked_fill."""
from __future__ import annotations

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.op import defop
from fastdl.functional._core import (Tensor, _wrap, grad_for, norm_dim, sum_to, torch_dtype_name,
                                     xp_of, zeros_like)
from fastdl.functional.index_keys import (array_key, check_masked_fill_path, check_masks,
                                            torch_broadcast_error)
from fastdl.tensor import int64

_BASIC = (int, slice, type(None), type(Ellipsis))


_PLAIN_TYPES = frozenset(_BASIC)  # exact types: a bool key takes the full path


def _array_key(key, shape=None):
    """``key`` as an array key; given the indexed shape, torch's mask-shape check too."""
    # ints, slices, None and Ellipsis index alike in numpy and torch: nothing to translate or
    # check (x[0], x[:, 1:3] are most keys; the checks below cost ~1 us a call)
    if type(key) in _PLAIN_TYPES or type(key) is tuple and all(
            type(k) in _PLAIN_TYPES for k in key):
        return key
    key = array_key(key)
    if shape is not None:
        check_masks(tuple(shape), key)
    return key


def _scatters(key) -> bool:
    """Whether an index can select an element more than once (integer arrays/lists): then the
    backward must accumulate with add.at instead of assigning."""
    items = key if isinstance(key, tuple) else (key,)
    for k in items:
        if isinstance(k, (_BASIC, np.integer)) and not isinstance(k, bool):
            continue
        if isinstance(k, bool):
            continue
        dt = getattr(k, "dtype", None)
        if dt is None:
            dt = np.asarray(k).dtype
        if dt != np.bool_:
            return True
    return False


def _add_at(target, key, values):
    if type(target) is np.ndarray:
        np.add.at(target, key, values)
    else:
        import cupyx
        cupyx.scatter_add(target, key, values)


def _index_put_zeros_forward(g, shape, key, accumulate):
    out = xp_of(g).zeros(shape, dtype=g.dtype)
    if accumulate:
        _add_at(out, key, g)
    else:
        out[key] = g
    return out


index_put_zeros_op = defop("index_put_zeros", forward=_index_put_zeros_forward,
                           backward=lambda ctx, gg: (getitem_op.apply((gg,), ctx.args[1]),))


def _getitem_forward(d, key):
    try:
        out = d[key]
    except IndexError as e:
        raise torch_broadcast_error(e) or IndexError(
            f"index {key!r} is invalid for a tensor of shape {tuple(d.shape)}: {e}") from None
    if not isinstance(out, np.ndarray) and type(out).__module__ == "numpy":
        # an integer for every dim gives numpy a scalar copy; with a trailing Ellipsis it is a
        # 0-d view of the element, which x[i, j].zero_() must write through (torch's semantics)
        out = d[(key if isinstance(key, tuple) else (key,)) + (Ellipsis,)]
    return out


def _getitem_backward(ctx, g):
    shape = ctx.inputs[0]._data.shape
    key = ctx.args[0]
    return (index_put_zeros_op.apply((g,), shape, key, _scatters(key)),)


getitem_op = defop("getitem", forward=_getitem_forward, backward=_getitem_backward, view=True)


def getitem(input, key):
    return getitem_op.apply((input,), _array_key(key, input._data.shape))


def _zero_region_forward(g, key):
    out = g.copy()
    out[key] = 0
    return out


zero_region_op = defop("zero_region", forward=_zero_region_forward,
                       backward=lambda ctx, gg: (zero_region_op.apply((gg,), ctx.args[0]),))


def _assign(target, key, v):
    try:
        target[key] = v
    except IndexError as e:
        raise torch_broadcast_error(e) or e from None
    except (ValueError, TypeError) as e:  # numpy's shape complaints, as torch's RuntimeError
        raise RuntimeError(f"setitem: shape mismatch: value of shape {list(v.shape)} cannot be "
                           f"written to the indexed region ({e})") from None


def _setitem_forward(d, v, key):
    out = d.copy()
    _assign(out, key, v)
    return out


def _setitem_inplace(d, v, key):
    _assign(d, key, v)


def _setitem_backward(ctx, g):
    target, value = ctx.inputs
    key = ctx.args[0]
    region = getitem_op.apply((g,), key)
    g_value = sum_to(region, _value_shape(region, value))
    if g_value._data.ndim < value._data.ndim:  # the leading 1s numpy let the value carry
        g_value = g_value.reshape(value._data.shape)
    return zero_region_op.apply((g,), key), grad_for(g_value, value)


def _value_shape(region, value):
    """The shape to sum the region's gradient to: value's shape without its leading 1s beyond
    the region's rank (numpy lets ``x[k] = v`` drop them)."""
    vs = value._data.shape
    while len(vs) > region._data.ndim and vs[0] == 1:
        vs = vs[1:]
    return vs


setitem_op = defop("setitem", forward=_setitem_forward, backward=_setitem_backward,
                   inplace=_setitem_inplace)


def setitem(target, key, value):
    """``target[key] = value`` in place: recorded (torch's index_put) when a gradient is wanted."""
    if not isinstance(value, Tensor):
        if type(value) in (int, float, bool):
            value = _wrap(xp_of(target._data).asarray(value, dtype=target._data.dtype))
        else:
            value = _wrap(xp_of(target._data).asarray(value))
    check_masked_fill_path(target._data.shape, key, value._data.size)
    setitem_op.apply_inplace(target, (value,), _array_key(key, target._data.shape))


def _copy_forward(d, src):
    return xp_of(d).broadcast_to(src, d.shape).astype(d.dtype)


def _copy_inplace(d, src):
    d[...] = src


def _copy_backward(ctx, g):
    target, src = ctx.inputs
    return zeros_like(g), grad_for(g, src)


copy_op = defop("copy", forward=_copy_forward, backward=_copy_backward, inplace=_copy_inplace)
fill_op = defop("fill", forward=lambda d, v: xp_of(d).full_like(d, v),
                backward=lambda ctx, g: (zeros_like(g),),
                inplace=lambda d, v: d.fill(v))


# the kernel whose name torch's dtype message carries, where it is not the function's own
_INDEX_CHECKED_BY = {"scatter_add": "scatter", "scatter_reduce": "scatter",
                     "take_along_dim": "gather"}


def _check_index(index, fn):
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): index must be a Tensor, got {type(index).__name__}")
    if index._data.dtype in (np.int64, np.int32):
        return
    if fn == "index_select":  # checked even when empty, in its own words
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if index._data.size:
        raise RuntimeError(f"{_INDEX_CHECKED_BY.get(fn, fn)}(): Expected dtype int32/int64 for "
                           f"index")


def _as_1d(t):
    """A 0-d tensor as a 1-element 1-d tensor: torch's dim ops treat scalars as 1-d."""
    return t.reshape((1,)) if t._data.ndim == 0 else t


def _full_index(index_data, dim):
    """Index arrays addressing ``x[i0, ..., index[i0,...], ...]`` for every position of index."""
    xp = xp_of(index_data)
    grids = list(xp.indices(index_data.shape, sparse=True))
    grids[dim] = index_data
    return tuple(grids)


def _gather_forward(d, ax, idx):
    if idx.size == 0:
        return xp_of(d).empty(idx.shape, dtype=d.dtype)
    return d[_full_index(idx, ax)]


def _gather_backward(ctx, g):
    (x,) = ctx.inputs
    ax, idx = ctx.args
    zeros = _wrap(xp_of(g._data).zeros(x._data.shape, dtype=g._data.dtype))
    if idx.size == 0:  # nothing was selected
        return (zeros,)
    return (scatter_add_op.apply((zeros, g), ax, idx),)


gather_op = defop("gather", forward=_gather_forward, backward=_gather_backward)


def gather(input, dim, index):
    _check_index(index, "gather")
    d = input._data
    idx = index._data
    if d.ndim == 0 or idx.ndim == 0:
        return gather(_as_1d(input), dim, _as_1d(index)).reshape(idx.shape)
    ax = norm_dim(dim, d.ndim)
    if idx.size:
        if idx.ndim != d.ndim:
            raise RuntimeError(f"gather(): index has {idx.ndim} dims but input has {d.ndim} "
                               f"(shapes {tuple(idx.shape)} and {tuple(d.shape)})")
        for i, (si, sd) in enumerate(zip(idx.shape, d.shape)):
            if i != ax and si > sd:
                raise RuntimeError(f"gather(): size of index {tuple(idx.shape)} exceeds input "
                                   f"{tuple(d.shape)} in dimension {i}")
        if idx.min() < 0 or idx.max() >= d.shape[ax]:
            raise IndexError(f"gather(): index out of range for dimension {ax} of size "
                             f"{d.shape[ax]}")
    return gather_op.apply((input,), ax, idx)


def take_along_dim(input, indices, dim=None):
    """``gather`` after broadcasting input and indices against each other except along ``dim``;
    negative indices count from the end. ``dim=None`` indexes the flattened input.

    Shape: the broadcast shape of input and indices.

    >>> x = fastdl.tensor([[10, 30, 20], [60, 40, 50]])
    >>> fastdl.take_along_dim(x, x.argsort(dim=1), dim=1).tolist()
    [[10, 20, 30], [40, 50, 60]]
    """
    # with dim=None torch gathers from the flattened input, without its Long check
    if dim is not None and isinstance(indices, Tensor) and indices._data.dtype != np.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{torch_dtype_name(indices._data.dtype)}")
    _check_index(indices, "take_along_dim")
    if dim is None:
        return _take_along(input.reshape(-1), indices.reshape(-1), 0)
    return _take_along(input, indices, dim)


def _take_along(input, indices, dim):
    d, idx = input._data, indices._data
    if d.ndim != idx.ndim:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of "
                           f"dimensions, got shapes {tuple(d.shape)} and {tuple(idx.shape)}")
    if d.ndim == 0:
        return gather(input, 0, indices)
    ax = norm_dim(dim, d.ndim)
    try:
        batch = np.broadcast_shapes(d.shape[:ax] + (1,) + d.shape[ax + 1:],
                                    idx.shape[:ax] + (1,) + idx.shape[ax + 1:])
    except ValueError:
        raise RuntimeError(f"take_along_dim(): shapes {tuple(d.shape)} and {tuple(idx.shape)} "
                           f"do not broadcast outside dim {ax}") from None
    n = d.shape[ax]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take_along_dim(): index out of range for dimension {ax} of size {n}")
    idx = xp_of(idx).where(idx < 0, idx + n, idx)
    x_shape = batch[:ax] + (n,) + batch[ax + 1:]
    i_shape = batch[:ax] + (idx.shape[ax],) + batch[ax + 1:]
    from fastdl.functional.shape import expand
    x = input if d.shape == x_shape else expand(input, *x_shape)
    return gather(x, ax, _wrap(xp_of(idx).broadcast_to(idx, i_shape)))


def _scatter_add_forward(d, src, ax, idx):
    out = d.copy()
    _add_at(out, _full_index(idx, ax), src.astype(d.dtype, copy=False))
    return out


def _scatter_add_backward(ctx, g):
    ax, idx = ctx.args
    return g, gather_op.apply((g,), ax, idx)


scatter_add_op = defop("scatter_add", forward=_scatter_add_forward,
                       backward=_scatter_add_backward)


@autocast_op("scatter_add")
def scatter_add(input, dim, index, src):
    """``out = input.clone(); out[..., index[i], ...] += src[i]`` along ``dim`` (accumulating).

    Shape: index and src alike; the result has input's shape.

    >>> x = fastdl.zeros(3, dtype=fastdl.int64)
    >>> fastdl.scatter_add(x, 0, fastdl.tensor([0, 2, 0]), fastdl.tensor([1, 2, 3])).tolist()
    [4, 0, 2]
    """
    from fastdl.functional.scattering import check_scatter_args, src_like_index
    if input._data.ndim == 0:
        return scatter_add(_as_1d(input), dim, _as_1d(index), _as_1d(src)).reshape(())
    # torch's checks: numpy would wrap a negative index into a silent write at the far end
    ax, idx = check_scatter_args("scatter_add", input, dim, index, src)
    if idx.size == 0:
        from fastdl.functional.scattering import nothing_scattered
        return nothing_scattered(input, src)
    return scatter_add_op.apply((input, src_like_index(src, idx)), ax, idx)


def index_select(input, dim, index):
    _check_index(index, "index_select")
    if input._data.ndim == 0:
        if index._data.size != 1:
            raise IndexError(f"index_select(): Index to scalar can have only 1 value, got "
                             f"{index._data.size} value(s)")
        return index_select(_as_1d(input), dim, index).reshape(())
    ax = norm_dim(dim, input._data.ndim)
    if index._data.ndim > 1:
        raise IndexError(f"index_select(): index must be 0-d or 1-d, got shape "
                         f"{tuple(index._data.shape)}")
    idx = index._data.reshape(-1)
    size = input._data.shape[ax]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"index_select(): index {bad} is out of range for dimension {ax} of "
                         f"size {size} (input shape {tuple(input._data.shape)}; negative indices "
                         "are not wrapped, as in torch)")
    return getitem(input, (slice(None),) * ax + (idx,))


def masked_fill(input, mask, value):
    from fastdl.functional.arithmetic import where
    m = mask._data if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) != np.bool_:
        raise TypeError(f"masked_fill only supports boolean masks, got {getattr(m, 'dtype', type(m))}")
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, got "
                               f"shape {tuple(value._data.shape)}")
        if not value._requires_grad:
            value = value._data.item()
    try:
        out = where(_wrap(m), value, input)
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {tuple(m.shape)} and input of shape "
                           f"{tuple(input._data.shape)} do not broadcast") from None
    if out._data.dtype != input._data.dtype:
        out = out.to(input._data.dtype)
    return out


def masked_select(input, mask):
    from fastdl.functional.shape import expand
    m = mask._data if isinstance(mask, Tensor) else mask
    shape = np.broadcast_shapes(input._data.shape, m.shape)
    x = expand(input, *shape) if input._data.shape != shape else input
    return getitem(x, np.broadcast_to(m, shape))


def nonzero(input, as_tuple=False):
    d = input._data
    xp = xp_of(d)
    if d.ndim == 0:  # torch: a 0-d tensor has one (empty) index per non-zero, like a 1-d one
        count = int(bool(d))
        if as_tuple:
            return (_wrap(xp.zeros(count, dtype=int64)),)
        return _wrap(xp.zeros((count, 0), dtype=int64))
    idx = d.nonzero()
    if as_tuple:
        return tuple(_wrap(i.astype(int64)) for i in idx)
    return _wrap(xp.stack(idx, axis=1).astype(int64))


def one_hot(tensor, num_classes=-1):
    d = tensor._data
    if d.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensors, got {d.dtype}")
    n = int(d.max()) + 1 if num_classes == -1 else num_classes
    if d.size and (d.min() < 0 or d.max() >= n):
        raise RuntimeError(f"one_hot: class values must be in [0, {n}), got range "
                           f"[{int(d.min())}, {int(d.max())}]")
    xp = xp_of(d)
    return _wrap((d[..., None] == xp.arange(n)).astype(int64))
