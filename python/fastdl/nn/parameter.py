"""``Parameter``: a Tensor that a Module registers as trainable state."""
from __future__ import annotations

import numpy as np

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

    def __reduce_ex__(self, protocol):
        return (Parameter, (self.numpy(force=True), self._requires_grad))
