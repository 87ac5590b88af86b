"""``Embedding``: a lookup table of vectors."""
from __future__ import annotations

import numpy as np

from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.modules.module import Module
from fastdl.nn.parameter import Parameter
from fastdl.tensor import Tensor, as_dtype, get_default_dtype


def table_padding_idx(name, padding_idx, num_embeddings):
    """``padding_idx`` checked against the table's size, negative ones counted from the end."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{name}: padding_idx {padding_idx} must be within num_embeddings "
                         f"{num_embeddings}")
    return padding_idx % num_embeddings


def init_table(module, name, _weight, dtype, requires_grad=True):
    """``module.weight``: the given (num_embeddings, embedding_dim) table, or a new one of
    ``dtype`` initialized by ``module.reset_parameters()``."""
    shape = (module.num_embeddings, module.embedding_dim)
    if _weight is None:
        dt = as_dtype(dtype or get_default_dtype())
        module.weight = Parameter(np.empty(shape, dtype=dt), requires_grad=requires_grad)
        module.reset_parameters()
        return
    data = _weight._data if isinstance(_weight, Tensor) else np.asarray(_weight)
    if tuple(data.shape) != shape:
        raise ValueError(f"{name}: _weight shape {tuple(data.shape)} does not match {shape}")
    module.weight = Parameter(data, requires_grad=requires_grad)


class Embedding(Module):
    """Row ``i`` of ``weight`` (num_embeddings, embedding_dim) for each index ``i``; initialized
    N(0, 1) with the ``padding_idx`` row zeroed, as in torch.

    Shape: input (*) int64 indices; output (*, embedding_dim).

    >>> m = fastdl.nn.Embedding(10, 3, padding_idx=0)
    >>> m(fastdl.tensor([[1, 2], [3, 9]])).shape
    (2, 2, 3)
    >>> m(fastdl.tensor([0])).tolist()
    [[0.0, 0.0, 0.0]]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight=None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        padding_idx = table_padding_idx("Embedding", padding_idx, num_embeddings)
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        init_table(self, "Embedding", _weight, dtype, requires_grad=not _freeze)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False):
        data = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(data.shape)}")
        return cls(data.shape[0], data.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=data.copy(), _freeze=freeze)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            text += ", sparse=True"
        return text
