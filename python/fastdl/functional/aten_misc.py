"""torch's ATen-level names users meet: ``constant_pad_nd``, ``nonzero_static``,
``empty_permuted``, ``unsafe_split`` / ``unsafe_chunk`` (split / chunk: fastdl's views are
always safe) and the in-place ``resize_`` / ``resize_as_``.
"""
from __future__ import annotations

import operator

import numpy as np

from fastdl._argcheck import check_tensor_arg
from fastdl.functional._core import xp_of
from fastdl.functional.shape import chunk, split
from fastdl.functional.shape_more import split_with_sizes


def constant_pad_nd(input, pad, value=0):
    """``nn.functional.pad(input, pad, "constant", value)``: ``pad`` lists (left, right)
    pairs from the last dim back; negative values crop.

    >>> fastdl.constant_pad_nd(fastdl.ones(1, 2), (1, 0), 5.0).tolist()
    [[5.0, 1.0, 1.0]]
    """
    from fastdl.nn.functional.padding import pad as pad_fn
    return pad_fn(check_tensor_arg(input, "constant_pad_nd"), pad, "constant", value)


def nonzero_static(input, *, size, fill_value=-1):
    """nonzero(input) with exactly ``size`` rows: truncated, or padded with rows of
    ``fill_value`` (int64, shape (size, input.ndim)).

    >>> fastdl.nonzero_static(fastdl.tensor([0, 3, 0, 4]), size=3).tolist()
    [[1], [3], [-1]]
    """
    from fastdl.functional.indexing import nonzero
    from fastdl.functional.shape import cat
    from fastdl.creation import full
    check_tensor_arg(input, "nonzero_static")
    size = operator.index(size)
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    found = nonzero(input)
    if found.shape[0] >= size:
        return found[:size]
    padding = full((size - found.shape[0], input.ndim), fill_value, dtype=np.int64,
                   device=input.device)
    return cat([found, padding])


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """An uninitialised tensor of shape ``size`` whose dims lie in memory in the order
    ``physical_layout`` (outermost first): ``empty_permuted((2, 3), (1, 0))`` is laid out
    column-major.

    >>> fastdl.empty_permuted((2, 3, 4), (2, 0, 1)).stride()
    (3, 1, 6)
    """
    from fastdl.creation import _dt, _finish, _size, _xp
    size = _size((size,))
    order = [operator.index(d) for d in physical_layout]
    n = len(size)
    if len(order) != n:
        raise RuntimeError("Number of dimensions in size does not match the length of the "
                           "physical_layout")
    for d in order:
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {d})")
    order = [d % n for d in order]
    if len(set(order)) != n:
        raise RuntimeError("Duplicate dim not allowed")
    array = _xp(device).empty([size[d] for d in order], dtype=_dt(dtype))
    return _finish(array.transpose(np.argsort(order)), requires_grad)


def unsafe_split(input, split_size, dim=0):
    """split with an int ``split_size`` (torch's unsafe_split skips view tracking; fastdl's
    split is the same operation).

    >>> [t.tolist() for t in fastdl.unsafe_split(fastdl.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    """
    if isinstance(split_size, bool) or not isinstance(split_size, (int, np.integer)):
        raise TypeError(f"unsafe_split(): argument 'split_size' (position 2) must be int, not "
                        f"{type(split_size).__name__}")
    return split(check_tensor_arg(input, "unsafe_split"), split_size, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    """split_with_sizes under torch's unsafe_ name (the same split into parts of the given
    sizes, which must add up to the size of ``dim``).

    >>> [t.tolist() for t in fastdl.unsafe_split_with_sizes(fastdl.arange(5), [1, 4])]
    [[0], [1, 2, 3, 4]]
    """
    return split_with_sizes(check_tensor_arg(input, "unsafe_split_with_sizes"), split_sizes, dim)


def unsafe_chunk(input, chunks, dim=0):
    """chunk under torch's unsafe_ name (the same split into ``chunks`` near-equal parts).

    >>> [t.tolist() for t in fastdl.unsafe_chunk(fastdl.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    """
    return chunk(check_tensor_arg(input, "unsafe_chunk"), chunks, dim)


def resize_(self, *sizes, memory_format=None):
    """Give self the shape ``sizes`` in place, keeping its elements in memory order: the
    first ones survive a shrink, a growth appends uninitialised ones. The result always has
    memory of its own (a view stops sharing its base's, where torch's may keep sharing it).
    Tensors that require grad cannot be resized (torch's rule). Returns self.

    >>> x = fastdl.arange(6)
    >>> x.resize_(2, 2).tolist()
    [[0, 1], [2, 3]]
    """
    from fastdl.autograd.graph import version_counter
    from fastdl.creation import _size
    shape = _size(sizes)
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    old = self._data.ravel(order="K")  # memory order, as torch's storage keeps it
    new = xp_of(old).empty(shape, dtype=old.dtype)
    keep = min(old.size, new.size)
    new.reshape(-1)[:keep] = old[:keep]
    version_counter(self).value += 1  # tensors saved for a backward see the change
    self._data = new
    if self._view is not None:  # the new array is self's own: no longer its base's view
        self._view, self._vc = None, None
    return self


def resize_as_(self, the_template, memory_format=None):
    """resize_ to the shape of ``the_template``. Returns self.

    >>> fastdl.zeros(4).resize_as_(fastdl.ones(2, 2)).shape
    (2, 2)
    """
    return resize_(self, *the_template.shape, memory_format=memory_format)


__all__ = ["constant_pad_nd", "empty_permuted", "nonzero_static", "resize_as_", "unsafe_chunk",
           "unsafe_split_with_sizes",
           "unsafe_split"]
METHODS = {"unsafe_split": unsafe_split, "unsafe_chunk": unsafe_chunk,
           "unsafe_split_with_sizes": unsafe_split_with_sizes, "resize_": resize_,
           "resize_as_": resize_as_}
