"""index_add, index_copy and index_fill: scatter_add/scatter along one dim, with the index
spread over the other dims, after torch's checks (each op has its own shape rules: index_add
and index_reduce want source shaped exactly like input except at dim; index_copy also takes
a 0-d source or input as one element)."""
from __future__ import annotations

from fastdl.amp._dispatch import autocast_op
from fastdl.functional import arithmetic as A
from fastdl.functional._core import Tensor, _wrap, norm_dim, torch_dtype_name, xp_of
from fastdl._argcheck import check_tensor_arg
from fastdl.functional.indexing import masked_fill, scatter_add
from fastdl.functional.scattering import scatter
from fastdl.tensor import int64


def _index_vector(fn, index, dtypes=("int32", "int64")):
    """index's entries as a flat int64 array, after torch's checks: a 1-D (or 0-d) tensor of
    one of ``dtypes``."""
    check_tensor_arg(index, fn, "index", 3)
    idx = index._data
    if idx.ndim > 1:
        raise IndexError(f"{fn}_(): Index is supposed to be a vector, but got dim: {idx.ndim} "
                         f"with size: {list(idx.shape)}")
    if idx.dtype.name not in dtypes:
        if dtypes == ("int64",):  # index_copy's own wording
            raise RuntimeError(f"{fn}_(): Expected a long tensor for index, but got "
                               f"{torch_dtype_name(idx.dtype)}")
        raise RuntimeError(f"{fn}_(): Expected dtype {'/'.join(dtypes)} for index but got: "
                           f"{torch_dtype_name(idx.dtype)}")
    return idx.reshape(-1).astype(int64)


def _spread(fn, d, ax, idx, check_bounds=True, error=IndexError):
    """idx (entries in [0, size) at ax; a 0-d input has size 1 there) broadcast over input's
    other dims, as the scatter index: input's shape with len(idx) at ax."""
    size = d.shape[ax] if d.ndim else 1
    if check_bounds and idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        bad = int(idx[(idx < 0) | (idx >= size)][0])
        raise error(f"{fn}(): index {bad} is out of bounds for dimension {ax} with size {size}")
    shape = list(d.shape) if d.ndim else [1]
    shape[ax] = idx.size
    view = [1] * len(shape)
    view[ax] = idx.size
    return _wrap(xp_of(d).ascontiguousarray(xp_of(d).broadcast_to(idx.reshape(view), shape)))


def _index_along(fn, input, dim, index):
    """(axis, index spread over input's slices) for index_fill."""
    d = input._data
    ax = norm_dim(dim, d.ndim)
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): index must be a Tensor, got {type(index).__name__}")
    if index._data.dtype != int64:  # torch's index_fill takes int64 alone
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    idx = index._data
    if idx.ndim > 1:
        raise IndexError(f"{fn}(): index should have at most one dimension, got {idx.ndim}")
    return ax, _spread(fn, d, ax, idx.reshape(-1).astype(int64))


def _check_add_shapes(fn, d, s, ax, n):
    """index_add/index_reduce: source has input's shape (0-d for a 0-d input) except that
    its size at dim is len(index)."""
    if ax != 0 and ax >= s.ndim:
        raise RuntimeError(f"{fn}_(): Indexing dim {ax} is out of bounds of the source tensor "
                           f"with dim {s.ndim}")
    if s.ndim == 0 and n != 1:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if n != (s.shape[ax] if s.ndim else 1):
        raise RuntimeError(f"{fn}_(): Number of indices ({n}) should be equal to "
                           f"source.size(dim): ({s.shape[ax]}), for dim: {ax}")
    if s.ndim != d.ndim or any(a != b for i, (a, b) in enumerate(zip(d.shape, s.shape))
                               if i != ax):
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(d.shape)} "
                           f"source.shape = {list(s.shape)}")


def _check_copy_shapes(d, s, ax, n):
    """index_copy: a 0-d source is one slice (with one index); a 0-d input takes a source of
    any length 1-D; otherwise source has input's shape with len(index) at dim."""
    if s.ndim == 0 and n != 1:
        raise IndexError(f"index_copy_(): When source is scalar, index should have one element "
                         f"(got {n})")
    if s.ndim != d.ndim and s.ndim and d.ndim:
        raise IndexError("index_copy_(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality ({s.ndim}), "
                         f"destination dimensionality ({d.ndim})")
    mine = [n for i, n in enumerate(d.shape) if i != ax]
    theirs = [n for i, n in enumerate(s.shape) if i != ax]
    if mine != theirs:
        raise RuntimeError("index_copy_(): Source/destination tensor must have same slice "
                           f"shapes. Destination slice shape: {mine} at dimension {ax} and "
                           f"source slice shape: {theirs} at dimension 0.")
    if s.ndim and n != s.shape[ax]:
        raise IndexError(f"index_copy_(): Number of indices ({n}) should be equal to "
                         f"source.size(dim) ({s.shape[ax]})")


def _index_source(fn, input, dim, index, source):
    """(axis, spread index, source shaped like it) for index_add, index_copy and
    index_reduce, after torch's checks of each."""
    check_tensor_arg(input, fn)
    check_tensor_arg(source, fn, "source", 4)
    d, s = input._data, source._data
    ax = norm_dim(dim, d.ndim)
    if fn == "index_copy":
        idx = _index_vector(fn, index, ("int64",))
        _check_copy_shapes(d, s, ax, idx.size)
    else:
        idx = _index_vector(fn, index)
        _check_add_shapes(fn, d, s, ax, idx.size)
    if s.dtype != d.dtype:
        raise RuntimeError(f"{fn}_(): self ({d.dtype}) and source ({s.dtype}) must have the "
                           "same scalar type")
    # torch's index_add/index_copy kernels skip an empty input of 2+ dims before any index
    # check (index_reduce checks every index); index_add's kernel for 2+ dims raises
    # RuntimeError for an index out of range, the others IndexError
    spread = _spread(fn, d, ax, idx, fn == "index_reduce" or d.ndim < 2 or d.size > 0,
                     RuntimeError if fn == "index_add" and d.ndim > 1 else IndexError)
    return ax, spread, source.reshape(spread._data.shape)


def _on_1d(input, fn):
    """Run fn on a 0-d input as a 1-element 1-D one (torch treats 0-d as size 1 at dim 0)."""
    return fn(input.reshape(1)).reshape(()) if input._data.ndim == 0 else fn(input)


def index_add(input, dim, index, source, *, alpha=1):
    """``out = input.clone(); out[..., index[i], ...] += alpha * source[..., i, ...]`` along
    ``dim`` (repeated indices accumulate).

    Shape: source has input's shape with len(index) at dim; the result has input's shape.

    >>> fastdl.index_add(fastdl.zeros(3, 2), 0, fastdl.tensor([0, 2, 0]), fastdl.ones(3, 2)).tolist()
    [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    """
    ax, spread, source = _index_source("index_add", input, dim, index, source)
    if alpha != 1:
        source = A.mul(source, alpha)
    return _on_1d(input, lambda x: scatter_add(x, ax, spread, source))


@autocast_op("index_copy")
def index_copy(input, dim, index, source):
    """``out = input.clone(); out[..., index[i], ...] = source[..., i, ...]`` along ``dim``
    (with a repeated index, which copy wins is unspecified, as in torch).

    Shape: source has input's shape with len(index) at dim (or is 0-d, for one index); the
    result has input's shape.

    >>> fastdl.index_copy(fastdl.zeros(2, 3), 1, fastdl.tensor([2, 0]),
    ...                   fastdl.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[2.0, 0.0, 1.0], [4.0, 0.0, 3.0]]
    """
    ax, spread, source = _index_source("index_copy", input, dim, index, source)
    return _on_1d(input, lambda x: scatter(x, ax, spread, source))


def index_fill(input, dim, index, value):
    """input with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-d
    tensor, which is differentiable).

    Shape: input's.

    >>> fastdl.index_fill(fastdl.zeros(2, 3), 1, fastdl.tensor([0, 2]), -1.0).tolist()
    [[-1.0, 0.0, -1.0], [-1.0, 0.0, -1.0]]
    """
    check_tensor_arg(input, "index_fill")
    ax, spread = _index_along("index_fill", input, dim, index)
    d = input._data
    selected = xp_of(d).zeros(d.shape[ax] if d.ndim else 1, dtype=bool)
    selected[spread._data.reshape(-1)] = True
    view = [1] * max(d.ndim, 1)
    view[ax] = selected.size
    mask = _wrap(selected.reshape(view) if d.ndim else selected.reshape(()))
    return masked_fill(input, mask, value)
