"""``EmbeddingBag``: sums, means or maxima of bags of embedding vectors."""
from __future__ import annotations

import numpy as np

from fastdl.nn import functional as F
from fastdl.nn.modules.module import Module
from fastdl.nn.modules.sparse import Embedding, init_table, table_padding_idx
from fastdl.tensor import Tensor


class EmbeddingBag(Module):
    """Per bag, the sum/mean/max of the rows of ``weight`` (num_embeddings, embedding_dim) at
    its indices; initialized N(0, 1) with the ``padding_idx`` row zeroed, as in torch.

    Shape: input (B, L) indices, or 1-D indices with ``offsets`` (bag starts); output
    (bags, embedding_dim).

    >>> bag = fastdl.nn.EmbeddingBag(10, 3, mode="sum")
    >>> bag(fastdl.tensor([1, 2, 4, 5, 4]), fastdl.tensor([0, 2])).shape
    (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight=None, include_last_offset: bool = False,
                 padding_idx=None, device=None, dtype=None):
        super().__init__()
        padding_idx = table_padding_idx("EmbeddingBag", padding_idx, num_embeddings)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.mode, self.sparse = scale_grad_by_freq, mode, sparse
        self.include_last_offset, self.padding_idx = include_last_offset, padding_idx
        init_table(self, "EmbeddingBag", _weight, dtype)
        if device is not None:
            self.to(device)

    reset_parameters = Embedding.reset_parameters  # N(0, 1), the padding row zeroed

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx=None):
        data = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(data.shape)}")
        bag = cls(data.shape[0], data.shape[1], max_norm, norm_type, scale_grad_by_freq, mode,
                  sparse, data.copy(), include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings!r}, {self.embedding_dim!r}"  # torch formats reprs here
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx!r}"
        return text
