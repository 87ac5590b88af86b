"""torch's remaining indexed writes, composed from the registered indexing ops: index_put
(setitem, or index_put_zeros + add when accumulating), put (index_put on the flattened
tensor), index_reduce (scatter_reduce with the index spread over the slices, as index_add
uses scatter_add) and fill_diagonal_ (masked_fill_). The in-place forms copy the result into
self (the tensor.py ``_inplace_composite`` rule: torch's dtype and shape checks, a clone while
recording)."""
from __future__ import annotations

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.functional import arithmetic as A
from fastdl.functional._core import Tensor, _wrap, expand, torch_dtype_name, xp_of
from fastdl._argcheck import check_tensor_arg
from fastdl.functional.index_slices import _index_source, _on_1d
from fastdl.functional.index_keys import check_index_dtype, check_masked_fill_path
from fastdl.functional.indexing import _array_key, index_put_zeros_op
from fastdl.functional.scattering import scatter_reduce
from fastdl.functional.shape import clone, reshape
from fastdl.tensor import _inplace_composite


def _index_key(fn, input, indices):
    """torch's ``indices`` (a sequence of integer/bool tensors; torch's Python API takes no
    None there either) as an array key, after its checks."""
    if isinstance(indices, Tensor) or not isinstance(indices, (list, tuple)):
        raise TypeError(f"{fn}(): argument 'indices' must be tuple of Tensors")
    key = []
    for n, i in enumerate(indices):
        if not isinstance(i, Tensor):
            raise TypeError(f"expected Tensor as element {n} in argument 1, but got "
                            f"{type(i).__name__}")
        check_index_dtype(i._data)
        key.append(i)
    if len(key) > max(input._data.ndim, 1):
        raise IndexError(f"too many indices for tensor of dimension {input._data.ndim} "
                         f"(got {len(key)})")
    return _array_key(tuple(key), input._data.shape)


def _region_shape(fn, input, key):
    try:
        return input._data[key].shape
    except IndexError as e:
        raise IndexError(f"{fn}(): {e}") from None


@autocast_op("index_put")
def index_put(input, indices, values, accumulate=False):
    """A copy of input with ``input[indices] = values`` (``+=`` with accumulate, where repeated
    indices add up; without, which of the repeated writes wins is unspecified, as in torch).
    values broadcast to the indexed region and must have input's dtype.

    >>> fastdl.index_put(fastdl.zeros(3), (fastdl.tensor([0, 0, 2]),), fastdl.ones(3),
    ...                  accumulate=True).tolist()
    [2.0, 0.0, 1.0]
    """
    check_tensor_arg(input, "index_put")
    check_tensor_arg(values, "index_put", "values", 3)
    if values._data.dtype != input._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{input._data.dtype} for the destination and "
                           f"{values._data.dtype} for the source.")
    if not accumulate:
        check_masked_fill_path(input._data.shape, tuple(indices), values._data.size)
    key = _index_key("index_put", input, indices)
    region = _region_shape("index_put", input, key)
    try:
        values = expand(values, np.broadcast_shapes(values._data.shape, region))
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values._data.shape)} "
                           f"cannot be broadcast to indexing result of shape "
                           f"{list(region)}") from None
    if tuple(values._data.shape) != tuple(region):
        values = reshape(values, region)  # leading 1s beyond the region's rank
    if accumulate:
        added = index_put_zeros_op.apply((values,), input._data.shape, key, True)
        return A.add(input, added)
    out = clone(input)
    out[key] = values
    return out


def index_put_(self, indices, values, accumulate=False):
    """index_put in place. Returns self.

    >>> fastdl.zeros(3).index_put_((fastdl.tensor([1]),), fastdl.tensor(5.0)).tolist()
    [0.0, 5.0, 0.0]
    """
    return _inplace_composite(self, "index_put",
                              lambda x: index_put(x, indices, values, accumulate))


def put(input, index, source, accumulate=False):
    """A copy of input with the elements at ``index`` (into input flattened; negative counts
    from the end) set to source's (added with accumulate).

    Shape: input's; index and source have the same number of elements.

    >>> fastdl.put(fastdl.zeros(2, 2), fastdl.tensor([3, -4]), fastdl.tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 1.0]]
    """
    check_tensor_arg(input, "put")
    check_tensor_arg(source, "put", "source", 3)
    if not isinstance(index, Tensor):
        raise TypeError(f"put_(): index must be a Tensor, got {type(index).__name__}")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got "
                           f"{torch_dtype_name(index._data.dtype)}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {input._data.dtype} and source.dtype = "
                           f"{source._data.dtype}")
    if index._data.size != source._data.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source._data.size}, "
                           f"index.numel() = {index._data.size}")
    n = input._data.size
    idx = index._data
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"out of range: tried to access an index outside [{-n}, {n - 1}] on a "
                         f"tensor of {n} elements.")
    flat = index_put(reshape(input, (-1,)), (reshape(index, (-1,)),), reshape(source, (-1,)),
                     accumulate)
    return reshape(flat, input._data.shape)


def put_(self, index, source, accumulate=False):
    """put in place. Returns self.

    >>> fastdl.zeros(3).put_(fastdl.tensor([2]), fastdl.tensor([7.0])).tolist()
    [0.0, 0.0, 7.0]
    """
    return _inplace_composite(self, "put", lambda x: put(x, index, source, accumulate))


_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """input with the slices of source reduced into the slices ``index`` names along ``dim``
    (``reduce``: prod, mean, amax, amin), input's own values taking part unless
    ``include_self=False``; slices no index names are input's.

    Shape: source has input's shape with len(index) at dim; the result has input's.

    >>> fastdl.index_reduce(fastdl.full((3,), 2.0), 0, fastdl.tensor([0, 0, 2]),
    ...                     fastdl.tensor([3.0, 4.0, 5.0]), "prod").tolist()
    [24.0, 2.0, 10.0]
    """
    if reduce not in _INDEX_REDUCTIONS:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    ax, spread, source = _index_source("index_reduce", input, dim, index, source)
    return _on_1d(input, lambda x: scatter_reduce(x, ax, spread, source, reduce,
                                                  include_self=include_self))


def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
    """index_reduce in place. Returns self.

    >>> fastdl.ones(2).index_reduce_(0, fastdl.tensor([1]), fastdl.tensor([3.0]), "amax").tolist()
    [1.0, 3.0]
    """
    return _inplace_composite(self, "index_reduce", lambda x: index_reduce(
        x, dim, index, source, reduce, include_self=include_self))


def fill_diagonal_(self, fill_value, wrap=False):
    """self's main diagonal (``self[i, i, ...]``) set to fill_value; for a tall matrix,
    ``wrap=True`` restarts the diagonal every ncols + 1 rows (numpy's fill_diagonal). Returns
    self.

    >>> fastdl.zeros(2, 3).fill_diagonal_(1.0).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    d = self._data
    if d.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if d.ndim > 2 and len(set(d.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(d.size, dtype=bool)
    if d.ndim == 2:
        step = d.shape[1] + 1
        end = None if wrap or d.shape[0] <= d.shape[1] else d.shape[1] * d.shape[1]
    else:
        step = int(np.sum(np.cumprod(d.shape[:-1]))) + 1
        end = None
    mask[:end:step] = True
    return self.masked_fill_(_wrap(xp_of(d).asarray(mask.reshape(d.shape))), fill_value)
