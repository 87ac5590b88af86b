"""Indexing: ``x[key]`` (basic and advanced), gather/scatter_add, index_select, masked_fill."""
from __future__ import annotations

import numpy as np

from fastdl.functional._core import Tensor, _wrap, norm_dim, record, xp_of
from fastdl.tensor import int64

_BASIC = (int, slice, type(None), type(Ellipsis))


def _key_item(k):
    if isinstance(k, Tensor):
        d = k._data
        if d.ndim == 0 and d.dtype.kind in "iu":
            return int(d)
        return d
    return k


def _array_key(key):
    """``key`` with tensors replaced by their arrays (numpy/cupy indexing semantics apply)."""
    if isinstance(key, tuple):
        return tuple(_key_item(k) for k in key)
    return _key_item(key)


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


def index_put_zeros(g, shape, key, accumulate):
    """A zero tensor of ``shape`` with ``g`` written (or added) at ``key``: the gradient of
    ``x[key]``. Differentiable: its own backward is ``getitem``."""
    xp = xp_of(g._data)
    out = xp.zeros(shape, dtype=g._data.dtype)
    if accumulate:
        _add_at(out, key, g._data)
    else:
        out[key] = g._data

    def index_put_backward(gg):
        return (getitem(gg, key),)

    return record(out, index_put_backward, (g,))


def getitem(input, key):
    k = _array_key(key)
    d = input._data
    try:
        out = d[k]
    except IndexError as e:
        raise IndexError(f"index {key!r} is invalid for a tensor of shape {tuple(d.shape)}: {e}") \
            from None
    if not isinstance(out, np.ndarray) and type(out).__module__ == "numpy":
        out = np.asarray(out)
    shape = d.shape
    accumulate = _scatters(k)

    def getitem_backward(g):
        return (index_put_zeros(g, shape, k, accumulate),)

    return record(out, getitem_backward, (input,))


def _check_index(index, fn):
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): index must be a Tensor, got {type(index).__name__}")
    if index._data.dtype not in (np.int64, np.int32) and index._data.size:
        raise RuntimeError(f"{fn}(): Expected dtype int32/int64 for index, got "
                           f"{index._data.dtype}")


def _as_1d(t):
    """A 0-d tensor as a 1-element 1-d tensor: torch's dim ops treat scalars as 1-d."""
    return t.reshape((1,)) if t._data.ndim == 0 else t


def _full_index(index_data, dim):
    """Index arrays addressing ``x[i0, ..., index[i0,...], ...]`` for every position of index."""
    xp = xp_of(index_data)
    grids = list(xp.indices(index_data.shape, sparse=True))
    grids[dim] = index_data
    return tuple(grids)


def gather(input, dim, index):
    _check_index(index, "gather")
    d = input._data
    idx = index._data
    if d.ndim == 0 or idx.ndim == 0:
        return gather(_as_1d(input), dim, _as_1d(index)).reshape(idx.shape)
    ax = norm_dim(dim, d.ndim)
    if idx.size == 0:
        return _empty_like_index(input, idx)
    if idx.ndim != d.ndim:
        raise RuntimeError(f"gather(): index has {idx.ndim} dims but input has {d.ndim} "
                           f"(shapes {tuple(idx.shape)} and {tuple(d.shape)})")
    for i, (si, sd) in enumerate(zip(idx.shape, d.shape)):
        if i != ax and si > sd:
            raise RuntimeError(f"gather(): size of index {tuple(idx.shape)} exceeds input "
                               f"{tuple(d.shape)} in dimension {i}")
    if idx.min() < 0 or idx.max() >= d.shape[ax]:
        raise IndexError(f"gather(): index out of range for dimension {ax} of size {d.shape[ax]}")
    full = _full_index(idx, ax)
    out = d[full]
    shape = d.shape

    def gather_backward(g):
        return (scatter_add(_wrap(xp_of(g._data).zeros(shape, dtype=g._data.dtype)), ax,
                            index, g),)

    return record(out, gather_backward, (input,))


def _empty_like_index(input, idx):
    """The result of gathering with an empty index: nothing selected, zero gradient."""
    d = input._data
    shape = d.shape

    def empty_gather_backward(g):
        return (_wrap(xp_of(d).zeros(shape, dtype=d.dtype)),)

    return record(xp_of(d).empty(idx.shape, dtype=d.dtype), empty_gather_backward, (input,))


def take_along_dim(input, indices, dim=None):
    """``gather`` after broadcasting input and indices against each other except along ``dim``;
    negative indices count from the end. ``dim=None`` indexes the flattened input."""
    _check_index(indices, "take_along_dim")
    if dim is None:
        return take_along_dim(input.reshape(-1), indices.reshape(-1), 0)
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


def scatter_add(input, dim, index, src):
    """``out = input.clone(); out[..., index[i], ...] += src[i]`` along ``dim`` (accumulating)."""
    _check_index(index, "scatter_add")
    d = input._data
    if src._data.dtype != d.dtype:
        raise RuntimeError(f"scatter_add(): Expected self.dtype to be equal to src.dtype, got "
                           f"{d.dtype} and {src._data.dtype}")
    if d.ndim == 0:
        return scatter_add(_as_1d(input), dim, _as_1d(index), _as_1d(src)).reshape(())
    ax = norm_dim(dim, d.ndim)
    idx = index._data
    if src._data.shape != idx.shape:
        src = getitem(src, tuple(slice(0, s) for s in idx.shape))
    out = d.copy()
    _add_at(out, _full_index(idx, ax), src._data.astype(d.dtype, copy=False))

    def scatter_add_backward(g):
        return (g, gather(g, ax, index))

    return record(out, scatter_add_backward, (input, src))


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
    return getitem(input, (slice(None),) * ax + (index._data.reshape(-1),))


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
