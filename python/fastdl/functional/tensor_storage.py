"""Tensor.set_ and Tensor.as_subclass: a tensor re-pointed at another tensor's memory, and
an alias of a tensor as an instance of a Tensor subclass.

fastdl's storage is the array a tensor wraps, so ``set_`` honours the forms that stay inside
the source's elements: ``set_()`` (empty), ``set_(source)`` (the same memory, sizes and
strides) and ``set_(source, storage_offset, size, stride)`` over a contiguous source, with
the offset counted from the source's first element (as torch 2.13 counts it). torch grows the
storage when that view reaches past its end; fastdl cannot grow another tensor's array and
raises instead.
"""
from __future__ import annotations

from fastdl._argcheck import check_tensor_arg
from fastdl.functional._core import cpp_dtype_name


def _contiguous_strides(size):
    strides, step = [], 1
    for s in reversed(size):
        strides.append(step)
        step *= max(s, 1)
    return tuple(reversed(strides))


def _strided_view(source, storage_offset, size, stride):
    """A writable (size, stride) view of contiguous ``source``'s elements from
    ``storage_offset`` on, after torch's checks of the three."""
    from fastdl.functional._core import xp_of
    d = source._data
    size = tuple(int(s) for s in size)
    stride = _contiguous_strides(size) if stride is None else tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"unequal size length ({len(size)}) and stride length "
                           f"({len(stride)})")
    if storage_offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {storage_offset}")
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and "
                           f"strides={list(stride)}")
    if not d.flags.c_contiguous:
        raise RuntimeError("passed in tensor to be used as storage must be contiguous")
    span = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if storage_offset + span > d.size:
        raise RuntimeError(f"set_: sizes {list(size)}, strides {list(stride)} and storage offset "
                           f"{storage_offset} reach element {storage_offset + span} of a source "
                           f"of {d.size}; fastdl cannot grow another tensor's memory as torch "
                           f"grows its storage")
    flat = d.reshape(-1)[storage_offset:]
    return xp_of(d).lib.stride_tricks.as_strided(
        flat, size, tuple(s * d.itemsize for s in stride))


def set_(self, source=None, storage_offset=0, size=None, stride=None):
    """Point self at ``source``'s memory: ``set_()`` leaves self empty (shape (0,)),
    ``set_(source)`` shares source's memory, sizes and strides (writes through either show in
    the other), ``set_(source, storage_offset, size, stride)`` makes self that strided view of
    a contiguous source's elements, the offset counted from its first one. Returns self.

    >>> src = fastdl.arange(6.0)
    >>> x = fastdl.zeros(1).set_(src, 1, (2, 2), (1, 2))
    >>> x.tolist()
    [[1.0, 3.0], [2.0, 4.0]]
    >>> x[0, 0] = -1.0
    >>> src.tolist()
    [0.0, -1.0, 2.0, 3.0, 4.0, 5.0]
    """
    from fastdl.autograd.grad_mode import grad_wanted
    from fastdl.functional._core import xp_of
    from fastdl.functional.tensor_methods_more import _become, _check_not_leaf
    from fastdl.tensor import _wrap
    _check_not_leaf(self)
    if source is None:
        if size is not None or stride is not None or storage_offset:
            raise TypeError("set_(): size, stride and storage_offset need a source tensor")
        data = xp_of(self._data).empty((0,), dtype=self._data.dtype)
    else:
        check_tensor_arg(source, "set_", "source")
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"Could not set tensor of type {cpp_dtype_name(source._data.dtype)} to "
                               f"a tensor of type {cpp_dtype_name(self._data.dtype)}")
        if type(source._data) is not type(self._data):
            raise RuntimeError("set_(): source and self must be on the same device")
        if source._view is not None:
            from fastdl.autograd.op import sync_view
            sync_view(source)
        if grad_wanted(self, source):
            # torch records a node whose backward raises; fastdl refuses at once
            raise RuntimeError("derivative for set_ is not implemented: call set_ under "
                               "fastdl.no_grad() or on tensors that do not require grad")
        if size is None and stride is None and not storage_offset:
            data = source._data
        else:
            if size is None:
                raise TypeError("set_(): size is required with storage_offset or stride")
            data = _strided_view(source, int(storage_offset), size, stride)
    _become(self, _wrap(data), record=False)
    self._requires_grad, self._grad_fn = False, None
    return self


def as_subclass(self, cls):
    """An alias of self (the same memory, attached to self's autograd graph as a view) whose
    type is ``cls``, a subclass of fastdl.Tensor.

    >>> class Tagged(fastdl.Tensor):
    ...     pass
    >>> x = fastdl.ones(2)
    >>> y = x.as_subclass(Tagged)
    >>> type(y).__name__, y.add_(1).tolist(), x.tolist()
    ('Tagged', [2.0, 2.0], [2.0, 2.0])
    """
    from fastdl.tensor import Tensor
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")
    out = self.view(self.shape)  # torch's AliasBackward: gradients reach self
    if cls is not Tensor:
        try:
            out.__class__ = cls
        except TypeError as e:  # a subclass with __slots__ of its own
            raise TypeError(f"as_subclass(): {cls.__name__} adds instance slots to Tensor, so "
                            f"an existing tensor cannot become one ({e})") from None
    return out


METHODS = {"set_": set_, "as_subclass": as_subclass}
