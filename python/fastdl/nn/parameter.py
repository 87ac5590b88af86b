"""``Parameter``: a Tensor that a Module registers as trainable state."""
from __future__ import annotations

import numpy as np

from fastdl import _tensor_copy
from fastdl.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` by default. Assigning one as a Module attribute
    registers it in ``parameters()`` and ``state_dict()``. The array is shared, not copied."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            data = data._data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __reduce_ex__ = _tensor_copy.parameter_reduce_ex
    __deepcopy__ = _tensor_copy.parameter_deepcopy


class _BufferMeta(type):
    # torch's rule: any Tensor carrying the buffer flag is a Buffer (Buffer(...) returns one)
    def __instancecheck__(cls, instance):
        if cls is Buffer and isinstance(instance, Tensor) and \
                getattr(instance, "_is_buffer", False):
            return True
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """A Tensor marked as module state that is not a parameter (torch.nn.Buffer, torch >= 2.5).

    Assigning one as a Module attribute registers it as a buffer; ``persistent=False`` keeps it
    out of ``state_dict()``. As in torch, ``Buffer(t)`` returns a plain Tensor sharing ``t``'s
    memory (detached, keeping ``t.requires_grad``) that carries the flag: ``isinstance(x,
    Buffer)`` is True for it.

    >>> import fastdl
    >>> m = fastdl.nn.Module()
    >>> m.steps = fastdl.nn.Buffer(fastdl.zeros(1))
    >>> m.cache = fastdl.nn.Buffer(fastdl.ones(2), persistent=False)
    >>> [name for name, _ in m.named_buffers()], list(m.state_dict())
    (['steps', 'cache'], ['steps'])
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = Tensor(np.empty((0,), dtype=np.float32))
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t
