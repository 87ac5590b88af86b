"""Datasets and a batching loader (PyTorch's ``torch.utils.data`` names and semantics)."""
from __future__ import annotations

import numpy as np

from fastdl import backend


def _tensor_type():
    from fastdl.tensor import Tensor
    return Tensor


class Dataset:
    """Map-style dataset: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Rows of equally long tensors (or arrays): item ``i`` is ``tuple(t[i] for t in tensors)``."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        Tensor = _tensor_type()
        wrapped = []
        for t in tensors:
            if not isinstance(t, Tensor):
                t = Tensor(np.asarray(t))
            if t.ndim == 0:
                raise ValueError("TensorDataset: tensors must have at least one dimension, "
                                 "got a scalar")
            wrapped.append(t)
        sizes = [t.shape[0] for t in wrapped]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in wrapped)
            raise ValueError(f"TensorDataset: size mismatch between tensors (first dimensions "
                             f"differ): shapes {shapes}")
        self.tensors = tuple(wrapped)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _batch(self, indices):
        """All rows at ``indices`` in one fancy-index per tensor (the loader's fast path)."""
        Tensor = _tensor_type()
        return tuple(Tensor(t.data[indices]) for t in self.tensors)


def default_collate(items):
    """Stack a list of samples into a batch, recursing into tuples, lists and dicts."""
    Tensor = _tensor_type()
    first = items[0]
    if isinstance(first, Tensor):
        arrays = [item.data for item in items]
        return Tensor(backend.array_module(*arrays).stack(arrays))
    if isinstance(first, (np.ndarray, np.generic, int, float, bool)):
        return Tensor(np.stack([np.asarray(item) for item in items]))
    if isinstance(first, dict):
        return {key: default_collate([item[key] for item in items]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(item) != len(first) for item in items):
            raise ValueError("default_collate: samples in a batch have different lengths")
        columns = [default_collate(list(column)) for column in zip(*items)]
        return columns if isinstance(first, list) else tuple(columns)
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    ``shuffle`` draws a new order each epoch from ``generator`` (a ``numpy.random.Generator``)
    or, without one, from fastdl's global generator (seeded by ``fastdl.manual_seed``).
    A ``TensorDataset`` with the default collate is batched by one fancy index per tensor
    instead of stacking single rows.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn=None, generator=None):
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer))
                                       or isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, "
                             f"got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.generator is not None:
            return self.generator.permutation(n)
        from fastdl import random as fastdl_random
        return fastdl_random.generator().permutation(n)

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for index in order:
                yield self.dataset[int(index)]
            return
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        collate = self.collate_fn or default_collate
        for start in range(0, len(order), self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            if fast:
                yield self.dataset._batch(indices)
            else:
                yield collate([self.dataset[int(i)] for i in indices])

    def __len__(self):
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)
