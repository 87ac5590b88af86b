"""as_strided and Tensor.new_empty_strided: tensors over explicit element strides.

numpy views have byte strides over one allocation, so as_strided reads the memory of input's
allocation (its storage, in torch's words) when input is a numpy view of a C-contiguous array,
and input's own memory when input is contiguous otherwise; the storage offset counts elements
from that storage's start, as torch's. Limits, documented: the result is a read-only view
(numpy cannot share writes safely through overlapping strides), and when a gradient is
recorded it is a copy gathered with ``take`` (torch's as_strided backward sums over the input
elements each result element aliases, which take's backward does too); such a result may only
read elements of input itself.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.grad_mode import grad_wanted
from fastdl.functional._core import _wrap, xp_of
from fastdl._argcheck import check_tensor_arg
from fastdl.functional.composites import take


def _storage_of(d):
    """(storage as a flat array, input's offset into it in elements)."""
    root = d
    while isinstance(root.base, np.ndarray):
        root = root.base
    if (type(d) is np.ndarray and root is not d and root.flags.c_contiguous
            and root.dtype == d.dtype):
        flat = root.reshape(-1)
        return flat, (d.__array_interface__["data"][0] - flat.__array_interface__["data"][0]) \
            // d.itemsize
    if d.flags.c_contiguous:
        return d.reshape(-1), 0
    raise RuntimeError("as_strided: input is a non-contiguous view fastdl cannot place in a "
                       "storage; call .contiguous() first")


def _positions(size, stride, offset, xp):
    """The storage position of every element of a (size, stride, offset) tensor."""
    pos = xp.full(size, offset, dtype=np.int64)
    for ax, (n, s) in enumerate(zip(size, stride)):
        view = [1] * len(size)
        view[ax] = n
        pos = pos + (xp.arange(n, dtype=np.int64) * s).reshape(view)
    return pos


def as_strided(input, size, stride, storage_offset=None):
    """A tensor of shape ``size`` whose element i reads storage position
    ``storage_offset + sum(i[k] * stride[k])`` (element strides; the offset defaults to
    input's own). See the module docstring for what differs from torch.

    >>> fastdl.as_strided(fastdl.arange(6), (2, 2), (1, 2)).tolist()
    [[0, 2], [1, 3]]
    """
    check_tensor_arg(input, "as_strided")
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: {len(size)} sizes, "
                           f"{len(stride)} strides")
    if any(s < 0 for s in stride):
        raise RuntimeError("as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    d = input._data
    storage, own_offset = _storage_of(d)
    offset = own_offset if storage_offset is None else int(storage_offset)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    needed = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if needed > storage.size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset}, and itemsize {d.itemsize} requiring a storage "
                           f"size of {needed * d.itemsize} are out of bounds for storage of "
                           f"size {storage.size * d.itemsize}")
    if grad_wanted(input):
        xp = xp_of(d)
        # which input element (if any) sits at each storage position
        owner = xp.full(storage.size, -1, dtype=np.int64)
        owner[_positions(d.shape, [s // d.itemsize for s in d.strides], own_offset, xp)
              .reshape(-1)] = xp.arange(d.size, dtype=np.int64)
        picks = owner[_positions(size, stride, offset, xp)]
        if picks.size and int(picks.min()) < 0:
            raise RuntimeError("as_strided: with a gradient, the result may only read "
                               "elements of input itself")
        return take(input, _wrap(picks))
    view = np.lib.stride_tricks.as_strided(
        storage[offset:] if storage.size else storage, size,
        [s * d.itemsize for s in stride], writeable=False) if type(d) is np.ndarray else \
        xp_of(d).lib.stride_tricks.as_strided(storage[offset:], size,
                                              [s * d.itemsize for s in stride])
    out = _wrap(view)
    out._vc = input.detach()._vc  # the same memory: in-place writes to input show through
    return out


def new_empty_strided(self, size, stride, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of shape ``size`` laid out with element strides ``stride``
    (self's dtype and device unless given).

    >>> x = fastdl.ones(1).new_empty_strided((2, 3), (1, 2))
    >>> x.shape, x.stride()
    ((2, 3), (1, 2))
    """
    from fastdl.creation import _finish, _xp
    from fastdl.tensor import as_dtype
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size + stride):
        raise RuntimeError(f"new_empty_strided: invalid sizes {list(size)} / strides "
                           f"{list(stride)}")
    dt = as_dtype(dtype) if dtype is not None else self._data.dtype
    xp = _xp(device or self.device)
    n = 0 if 0 in size else 1 + sum((k - 1) * s for k, s in zip(size, stride))
    storage = xp.empty(n, dtype=dt)
    strided = xp.lib.stride_tricks.as_strided(storage, size, [s * dt.itemsize for s in stride])
    return _finish(strided, requires_grad)
