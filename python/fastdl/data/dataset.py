"""Datasets (PyTorch's ``torch.utils.data`` names and semantics): map-style ``Dataset`` s
indexed by the loader, ``IterableDataset`` s it iterates, and their combinations."""
from __future__ import annotations

import numpy as np

from fastdl.data.sampler import _numpy_generator


def _tensor_type():
    from fastdl.tensor import Tensor
    return Tensor


class Dataset:
    """Map-style dataset: subclasses define ``__getitem__`` and ``__len__`` (and may define
    ``__getitems__(indices)``, a list of samples, which the loader then calls once per batch);
    ``a + b`` is ``ConcatDataset([a, b])``.

    >>> class Squares(fastdl.data.Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, index):
    ...         return index * index
    >>> [batch.tolist() for batch in fastdl.data.DataLoader(Squares(), batch_size=3)]
    [[0, 1, 4], [9]]
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (and ``__len__`` when they know it).
    A DataLoader takes its samples in order, with no sampler; with ``num_workers > 0`` each
    worker runs its own ``iter(dataset)`` (split the stream with ``get_worker_info()``, as in
    torch) and the loader takes their batches in turn. ``a + b`` is ``ChainDataset([a, b])``.

    >>> class Count(fastdl.data.IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(5))
    >>> [batch.tolist() for batch in fastdl.data.DataLoader(Count(), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it has "
                        f"no __getitem__")

    def __len__(self):
        # a TypeError, as len() of an object without __len__ (torch's IterableDataset has none)
        raise TypeError(f"{type(self).__name__} is an IterableDataset without a __len__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Rows of equally long tensors (or arrays): item ``i`` is ``tuple(t[i] for t in tensors)``.

    >>> ds = fastdl.data.TensorDataset(fastdl.arange(6).reshape(3, 2), [7, 8, 9])
    >>> x, y = ds[1]; x.tolist(), y.item(), len(ds)
    ([2, 3], 8, 3)
    """

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
        """``default_collate`` of the rows at ``indices`` (an int array), by one fancy index
        per tensor instead of stacking single rows: the loader's fast path. A list, as
        ``default_collate`` makes of tuples."""
        Tensor = _tensor_type()
        return [Tensor(t.data[indices]) for t in self.tensors]


class Subset(Dataset):
    """The items of ``dataset`` at ``indices`` (in that order).

    >>> sub = fastdl.data.Subset("abcde", [4, 0])
    >>> len(sub), sub[0], sub[1]
    (2, 'e', 'a')
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, (list, tuple, np.ndarray)):
            return [self.dataset[self.indices[int(i)]] for i in index]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        """The samples at ``indices`` (positions in this subset), through the dataset's own
        ``__getitems__`` when it has one."""
        inner = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self):
        return len(self.indices)


class StackDataset(Dataset):
    """Datasets of one length side by side (torch 2.13): item i is the tuple of their items i
    (datasets given by position) or the dict of them by name (given as keywords).

    >>> pairs = fastdl.data.StackDataset("abc", [1, 2, 3])
    >>> len(pairs), pairs[1]
    (3, ('b', 2))
    >>> fastdl.data.StackDataset(letter="ab", number=[7, 8])[0]
    {'letter': 'a', 'number': 7}
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        self.datasets = args if args else kwargs
        members = list(args if args else kwargs.values())
        self._length = len(members[0])
        if any(self._length != len(dataset) for dataset in members):
            raise ValueError("Size mismatch between datasets")

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: dataset[index] for k, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices):
        """The samples at ``indices``, each member dataset read through its own
        ``__getitems__`` when it has one."""
        named = (self.datasets.items() if isinstance(self.datasets, dict)
                 else enumerate(self.datasets))
        columns = {key: _items_of(dataset, indices) for key, dataset in named}
        if isinstance(self.datasets, dict):
            return [{key: column[i] for key, column in columns.items()}
                    for i in range(len(indices))]
        return [tuple(column[i] for column in columns.values()) for i in range(len(indices))]

    def __len__(self):
        return self._length


def _items_of(dataset, indices):
    if not callable(getattr(dataset, "__getitems__", None)):
        return [dataset[i] for i in indices]
    items = dataset.__getitems__(indices)
    if len(items) != len(indices):
        raise ValueError(f"Nested dataset's output size mismatch. Expected {len(indices)}, "
                         f"got {len(items)}")
    return items


class ConcatDataset(Dataset):
    """Several datasets one after the other; ``cumulative_sizes[i]`` is where dataset i ends.

    >>> both = fastdl.data.ConcatDataset(["ab", "cde"])
    >>> len(both), both.cumulative_sizes, both[2], both[-1]
    (5, [2, 5], 'c', 'e')
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise TypeError("ConcatDataset does not support IterableDataset (ChainDataset "
                            "chains them)")
        self.cumulative_sizes, total = [], 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError(f"ConcatDataset: index {index} out of range for length {n}")
            index += n
        if not 0 <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Several ``IterableDataset`` s one after the other, streamed.

    >>> class Count(fastdl.data.IterableDataset):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n))
    ...     def __len__(self):
    ...         return self.n
    >>> chain = fastdl.data.ChainDataset([Count(2), Count(3)])
    >>> list(chain), len(chain)
    ([0, 1, 0, 1, 2], 5)
    """

    def __init__(self, datasets):
        self.datasets = datasets

    def _checked(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            yield d

    def __iter__(self):
        for d in self._checked():
            yield from d

    def __len__(self):
        return sum(len(d) for d in self._checked())


def _array_batcher(dataset):
    """A function from an int array of indices to ``default_collate`` of those samples, built
    from whole-array indexing, for a ``TensorDataset`` and ``Subset`` s of one (how
    ``random_split`` leaves it); None for other datasets. The loader's fast path."""
    if type(dataset) is TensorDataset:  # a subclass may change __getitem__
        return dataset._batch
    if type(dataset) is Subset:
        inner = _array_batcher(dataset.dataset)
        if inner is not None:
            positions = np.asarray(dataset.indices, dtype=np.int64)
            return lambda indices: inner(positions[indices])
    return None


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset`` s of the given lengths (ints
    summing to ``len(dataset)``, or fractions summing to 1: floors, then the remainder one by
    one to the first subsets, as torch does).

    >>> train, val = fastdl.utils.data.random_split(range(10), [0.8, 0.2])
    >>> len(train), len(val)
    (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        if any(not 0 <= x <= 1 for x in lengths):
            raise ValueError(f"random_split: fractions must be in [0, 1], got {lengths}")
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0
           for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} must be non-negative ints summing to "
                         f"the dataset's length {n} (or fractions summing to 1)")
    order = _numpy_generator(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start:start + length].tolist()))
        start += length
    return out
