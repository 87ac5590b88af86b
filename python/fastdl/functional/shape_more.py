"""torch's remaining shape functions, composed from the registered shape and indexing ops
(atleast_*, the *stack family, meshgrid, broadcast_tensors, select and the *_scatter
functions, ravel, fliplr/flipud, tril/triu_indices ...): views where torch's are views (they are
built from reshape/expand/getitem, which are views), and the gradients come from those ops.
"""
from __future__ import annotations

import numpy as np

from fastdl.functional._core import Tensor, _wrap, expand, norm_dim
from fastdl._argcheck import check_tensor_arg, check_tensor_element
from fastdl.functional.indexing import getitem, nonzero
from fastdl.functional.shape import cat, clone, flip, narrow, reshape, split
from fastdl.tensor import as_dtype, int64


def _tensor_list(tensors, fn):
    """``f(a, b)``, ``f([a, b])`` and ``f((a, b))`` all as a list of tensors (torch's rule)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        check_tensor_element(t, i)
    return list(tensors)


# ---- at least n dims ----
def _atleast(fn, pad, tensors):
    many = len(tensors) != 1 or isinstance(tensors[0], (list, tuple))
    out = tuple(reshape(t, pad(t._data.shape)) if len(t._data.shape) < 3 and
                pad(t._data.shape) != t._data.shape else t
                for t in _tensor_list(tensors, fn))
    return out if many else out[0]


def atleast_1d(*tensors):
    """Each tensor with at least one dim (a 0-d one as shape (1,)); a view. One tensor in, one
    out; several (or a list) in, a tuple out.

    >>> fastdl.atleast_1d(fastdl.tensor(3.0)).shape
    (1,)
    """
    return _atleast("atleast_1d", lambda s: s if len(s) >= 1 else (1,), tensors)


def atleast_2d(*tensors):
    """Each tensor with at least two dims: 0-d -> (1, 1), (n,) -> (1, n); a view.

    >>> fastdl.atleast_2d(fastdl.ones(3)).shape
    (1, 3)
    """
    return _atleast("atleast_2d", lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s,
                    tensors)


def _pad_to_3d(shape):
    if len(shape) == 0:
        return (1, 1, 1)
    if len(shape) == 1:
        return (1, shape[0], 1)
    return shape + (1,) if len(shape) == 2 else shape


def atleast_3d(*tensors):
    """Each tensor with at least three dims: 0-d -> (1, 1, 1), (n,) -> (1, n, 1),
    (m, n) -> (m, n, 1) (numpy's rule); a view.

    >>> fastdl.atleast_3d(fastdl.ones(2, 3)).shape
    (2, 3, 1)
    """
    return _atleast("atleast_3d", _pad_to_3d, tensors)


# ---- stacking ----
def _sequence(tensors, fn):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{fn}(): argument 'tensors' must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{fn} expects a non-empty TensorList")
    return _tensor_list(tuple(tensors), fn)


def hstack(tensors):
    """The tensors joined column-wise: along dim 0 for 1-D ones, else dim 1 (0-d ones count as
    (1,)).

    >>> fastdl.hstack([fastdl.tensor([1, 2]), fastdl.tensor([3])]).tolist()
    [1, 2, 3]
    """
    ts = atleast_1d(_sequence(tensors, "hstack"))
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1)


def vstack(tensors):
    """The tensors joined row-wise (along dim 0 after atleast_2d).

    >>> fastdl.vstack([fastdl.tensor([1, 2]), fastdl.tensor([3, 4])]).tolist()
    [[1, 2], [3, 4]]
    """
    return cat(atleast_2d(_sequence(tensors, "vstack")), 0)


row_stack = vstack


def dstack(tensors):
    """The tensors joined depth-wise (along dim 2 after atleast_3d).

    >>> fastdl.dstack([fastdl.ones(2), fastdl.zeros(2)]).shape
    (1, 2, 2)
    """
    return cat(atleast_3d(_sequence(tensors, "dstack")), 2)


def column_stack(tensors):
    """0-d and 1-D tensors as columns (shape (n, 1)), joined with the 2-D+ ones along dim 1.

    >>> fastdl.column_stack([fastdl.tensor([1, 2]), fastdl.tensor([3, 4])]).tolist()
    [[1, 3], [2, 4]]
    """
    ts = _sequence(tensors, "column_stack")
    return cat([reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in ts], 1)


# ---- grids and broadcasting ----
def broadcast_shapes(*shapes):
    """The shape that tensors of ``shapes`` broadcast to (ints count as 1-D shapes).

    >>> fastdl.broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    as_tuples = [(int(s),) if isinstance(s, (int, np.integer)) else tuple(int(n) for n in s)
                 for s in shapes]
    if any(n < 0 for s in as_tuples for n in s):
        raise ValueError("Attempting to broadcast a dimension with negative length!")
    try:
        return tuple(np.broadcast_shapes(*as_tuples))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape "
                           f"({as_tuples})") from None


def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape (views, as torch's).

    >>> [t.shape for t in fastdl.broadcast_tensors(fastdl.ones(2, 1), fastdl.ones(3))]
    [(2, 3), (2, 3)]
    """
    ts = _tensor_list(tensors, "broadcast_tensors")
    shape = broadcast_shapes(*[t._data.shape for t in ts])
    return tuple(expand(t, shape) for t in ts)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 1-D (or 0-d) tensors: with ``indexing='ij'`` output i varies along
    dim i; ``'xy'`` (numpy's default) swaps the roles of the first two. Views (expands).

    Shape: each output (len(t0), len(t1), ...), the first two swapped for 'xy'.

    >>> x, y = fastdl.meshgrid(fastdl.tensor([1, 2]), fastdl.tensor([3, 4, 5]), indexing="ij")
    >>> x.shape, y[0].tolist()
    ((2, 3), [3, 4, 5])
    """
    ts = _tensor_list(tensors, "meshgrid")
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in ts:
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {tuple(t._data.shape)}")
        if t._data.dtype != ts[0]._data.dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:  # the 'ij' grid of (t1, t0, ...) with its first two dims swapped back
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t._data.size for t in ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = shape[i]
        grids.append(expand(reshape(t, tuple(view)), shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


# ---- selecting and scattering back ----
def select(input, dim, index):
    """The slice at ``index`` along ``dim``, a view without that dim (``x[:, i]`` for dim 1).

    >>> fastdl.arange(6).reshape(2, 3).select(1, -1).tolist()
    [2, 5]
    """
    check_tensor_arg(input, "select")
    d = input._data
    if d.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    ax = norm_dim(dim, d.ndim)
    size = d.shape[ax]
    i = int(index)
    if not -size <= i < size:
        raise IndexError(f"select(): index {i} out of range for tensor of size "
                         f"{list(d.shape)} at dimension {ax}")
    return getitem(input, (slice(None),) * ax + (i + size if i < 0 else i,))


def _scatter_into(fn, input, src, key):
    """A copy of input with ``src`` written at ``key``; src must have the region's exact shape
    (torch does not broadcast here). Differentiable in both through setitem."""
    check_tensor_arg(input, fn)
    check_tensor_arg(src, fn, "src", 2)
    region = input._data[key]
    if tuple(region.shape) != tuple(src._data.shape):
        raise RuntimeError(f"{fn}(): expected src to have a size equal to the slice of self. "
                           f"src size = {list(src._data.shape)}, slice size = "
                           f"{list(region.shape)}")
    out = clone(input)
    out[key] = src.to(input._data.dtype)
    return out


def select_scatter(input, src, dim, index):
    """input with its ``select(dim, index)`` slice replaced by src (a copy).

    >>> fastdl.select_scatter(fastdl.zeros(2, 2), fastdl.ones(2), 0, 1).tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    """
    select(check_tensor_arg(input, "select_scatter"), dim, index)  # torch's checks of dim and index
    ax = norm_dim(dim, input._data.ndim)
    i = int(index) % input._data.shape[ax]
    return _scatter_into("select_scatter", input, src, (slice(None),) * ax + (i,))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with the slice ``start:end:step`` along ``dim`` replaced by src (a copy).

    >>> fastdl.slice_scatter(fastdl.zeros(4), fastdl.ones(2), start=1, end=3).tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    check_tensor_arg(input, "slice_scatter")
    if int(step) <= 0:
        raise RuntimeError("slice step must be positive")
    ax = norm_dim(dim, input._data.ndim)
    key = (slice(None),) * ax + (slice(start, end, int(step)),)
    return _scatter_into("slice_scatter", input, src, key)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """input with its ``diagonal(offset, dim1, dim2)`` replaced by src (a copy).

    >>> fastdl.diagonal_scatter(fastdl.zeros(2, 2), fastdl.ones(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    from fastdl.functional.everyday import diagonal
    check_tensor_arg(input, "diagonal_scatter")
    check_tensor_arg(src, "diagonal_scatter", "src", 2)
    region = diagonal(input, offset, dim1, dim2)
    if region._data.shape != src._data.shape:
        raise RuntimeError(f"diagonal_scatter(): expected src to have a size equal to the "
                           f"diagonal of self. src size = {list(src._data.shape)}, diagonal "
                           f"size = {list(region._data.shape)}")
    out = clone(input)
    diagonal(out, offset, dim1, dim2).copy_(src)  # the diagonal is a writable view
    return out


def diagflat(input, offset=0):
    """The square matrix with input (flattened) on its ``offset`` diagonal.

    >>> fastdl.diagflat(fastdl.tensor([[1, 2]])).tolist()
    [[1, 0], [0, 2]]
    """
    from fastdl.functional.everyday import diag
    return diag(reshape(check_tensor_arg(input, "diagflat"), (-1,)), offset)


def ravel(input):
    """input flattened to 1-D (a view when input is contiguous, else a copy).

    >>> fastdl.ones(2, 3).ravel().shape
    (6,)
    """
    return reshape(check_tensor_arg(input, "ravel"), (-1,))


def fliplr(input):
    """input reversed along dim 1 (a copy, as torch's).

    >>> fastdl.fliplr(fastdl.tensor([[1, 2]])).tolist()
    [[2, 1]]
    """
    if check_tensor_arg(input, "fliplr")._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):
    """input reversed along dim 0 (a copy, as torch's).

    >>> fastdl.flipud(fastdl.tensor([1, 2])).tolist()
    [2, 1]
    """
    if check_tensor_arg(input, "flipud")._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def msort(input):
    """input sorted along dim 0 (values only).

    >>> fastdl.msort(fastdl.tensor([[3, 1], [2, 4]])).tolist()
    [[2, 1], [3, 4]]
    """
    from fastdl.functional.everyday import sort
    return sort(check_tensor_arg(input, "msort"), 0)[0]


def argwhere(input):
    """The indices of input's non-zero elements, one row each (nonzero).

    Shape: (count, input.ndim).

    >>> fastdl.argwhere(fastdl.tensor([[0, 1], [1, 0]])).tolist()
    [[0, 1], [1, 0]]
    """
    return nonzero(check_tensor_arg(input, "argwhere"))


def numel(input):
    """The number of elements of input.

    >>> fastdl.numel(fastdl.ones(2, 3))
    6
    """
    return int(check_tensor_arg(input, "numel")._data.size)


def is_same_size(input, other):
    """Whether the two tensors have the same shape.

    >>> fastdl.ones(2).is_same_size(fastdl.zeros(2))
    True
    """
    return check_tensor_arg(input, "is_same_size")._data.shape == check_tensor_arg(
        other, "is_same_size", "other", 2)._data.shape


def narrow_copy(input, dim, start, length):
    """narrow, as a new tensor (torch.narrow_copy).

    >>> fastdl.narrow_copy(fastdl.arange(5), 0, 1, 2).tolist()
    [1, 2]
    """
    return clone(narrow(check_tensor_arg(input, "narrow_copy"), dim, start, length))


def split_with_sizes(input, split_sizes, dim=0):
    """input split along ``dim`` into parts of the given sizes, which must sum to its size
    there (views).

    >>> [t.tolist() for t in fastdl.arange(3).split_with_sizes([1, 2])]
    [[0], [1, 2]]
    """
    check_tensor_arg(input, "split_with_sizes")
    if isinstance(split_sizes, (int, np.integer)):
        raise TypeError("split_with_sizes(): argument 'split_sizes' must be a sequence of ints")
    if any(int(s) < 0 for s in split_sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                           f"entries, but got split_sizes={list(split_sizes)}")
    return split(input, [int(s) for s in split_sizes], dim)


def sum_to_size(input, *size):
    """input summed down to ``size``, which input's shape must broadcast from (dims of size 1
    in size are summed, leading extra dims too). Like torch, integer and bool inputs come out
    as int64 when anything is summed.

    >>> fastdl.ones(2, 3).sum_to_size(1, 3).tolist()
    [[2.0, 2.0, 2.0]]
    """
    from fastdl.functional.reductions import sum as sum_
    check_tensor_arg(input, "sum_to_size")
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = size[0]
    size = tuple(int(s) for s in size)
    shape = input._data.shape
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(size)):
        raise RuntimeError(f"size {list(size)} is not expandable to size {list(shape)}.")
    if not size:  # torch's sum_to sums everything for an empty size, even a 0-d input
        return sum_(input)
    summed = [i for i in range(len(shape)) if i < lead or (size[i - lead] == 1 and shape[i] != 1)]
    return reshape(sum_(input, summed, keepdim=True), size) if summed else input


def _triangle_indices(which, row, col, offset, dtype, device):
    from fastdl.creation import _xp
    row, col, offset = int(row), int(col), int(offset)
    if row < 0 or col < 0:
        raise RuntimeError(f"row must be non-negative, got {row}" if row < 0 else
                           f"col must be non-negative, got {col}")
    rows, cols = (np.tril_indices if which == "tril" else np.triu_indices)(row, offset, col)
    dt = as_dtype(int64 if dtype is None else dtype)
    return _wrap(_xp(device).asarray(np.stack([rows, cols]).astype(dt).reshape(2, -1)))


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (row, column) indices of the lower triangle of a row x col matrix, below the
    ``offset`` diagonal included, in row-major order.

    Shape: (2, count).

    >>> fastdl.tril_indices(2, 2).tolist()
    [[0, 1, 1], [0, 0, 1]]
    """
    return _triangle_indices("tril", row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (row, column) indices of the upper triangle of a row x col matrix, above the
    ``offset`` diagonal included, in row-major order.

    Shape: (2, count).

    >>> fastdl.triu_indices(2, 2).tolist()
    [[0, 0, 1], [0, 1, 1]]
    """
    return _triangle_indices("triu", row, col, offset, dtype, device)


def unravel_index(indices, shape):
    """The coordinates of flat ``indices`` in a tensor of ``shape`` (one int64 tensor per dim,
    each shaped like indices). Indices out of range wrap around (-1 is the last element), as
    torch's do.

    >>> [t.tolist() for t in fastdl.unravel_index(fastdl.tensor([4, 1]), (2, 3))]
    [[1, 0], [1, 1]]
    """
    if isinstance(indices, (int, np.integer)) and not isinstance(indices, bool):
        indices = _wrap(np.asarray(int(indices), dtype=int64))
    check_tensor_arg(indices, "unravel_index", "indices")
    d = indices._data
    if d.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {d.dtype}")
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise RuntimeError("'shape' cannot have negative values, but got "
                           f"{tuple(shape)}")
    flat = d.astype(int64)  # floor division and modulo: out-of-range indices wrap, as torch's
    coords, rest = [], flat
    for size in reversed(shape):
        coords.append(rest % size)
        rest = rest // size
    return tuple(_wrap(c.astype(int64)) for c in reversed(coords))


# ---- in-place shape changes (t_, transpose_, squeeze_ ...) ----
def _reshape_in_place(self, fn, new_view):
    """Give ``self`` the shape of ``new_view(self)`` (a view op) in place, as torch's t_ and
    friends: self then holds the view's array, history and version counter. A view stays a view
    of its base; other tensors simply take the view's history (torch's results of t_ on a
    non-view have no base either)."""
    from fastdl.autograd.grad_mode import state
    if state.enabled and self._requires_grad and self._grad_fn is None:
        raise RuntimeError(f"{fn}: a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    # the view is taken from an alias holding self's current state: the recorded node keeps
    # that alias (with the old shape) as its input, while self takes the new shape
    from fastdl.autograd.graph import version_counter
    alias = _wrap(self._data)
    alias._requires_grad, alias._grad_fn = self._requires_grad, self._grad_fn
    alias._vc = version_counter(self)
    if self._view is not None:
        alias._view = self._view
    out = new_view(alias)
    if out is alias:
        return self
    was_view = self._view is not None
    self._data = out._data
    self._grad_fn = out._grad_fn
    self._requires_grad = out._requires_grad
    if was_view:
        self._view = out._view
        self._vc = out._vc
    return self


def t_(self):
    """t in place: a 2-D tensor becomes its transpose. Returns self.

    >>> fastdl.ones(2, 3).t_().shape
    (3, 2)
    """
    from fastdl.functional.shape import t
    return _reshape_in_place(self, "t_", t)


def transpose_(self, dim0, dim1):
    """transpose in place (swapaxes_ and swapdims_ are other names). Returns self.

    >>> fastdl.ones(2, 3, 4).transpose_(0, 2).shape
    (4, 3, 2)
    """
    from fastdl.functional.shape import transpose
    return _reshape_in_place(self, "transpose_", lambda x: transpose(x, dim0, dim1))


def squeeze_(self, dim=None):
    """squeeze in place. Returns self.

    >>> fastdl.ones(1, 2, 1).squeeze_().shape
    (2,)
    """
    from fastdl.functional.shape import squeeze
    return _reshape_in_place(self, "squeeze_", lambda x: squeeze(x, dim))


def unsqueeze_(self, dim):
    """unsqueeze in place. Returns self.

    >>> fastdl.ones(2).unsqueeze_(0).shape
    (1, 2)
    """
    from fastdl.functional.shape import unsqueeze
    return _reshape_in_place(self, "unsqueeze_", lambda x: unsqueeze(x, dim))
