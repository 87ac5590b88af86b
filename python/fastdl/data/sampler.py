"""Samplers: the order in which a DataLoader visits a map-style dataset (``torch.utils.data``'s
``Sampler`` family, drawing from ``fastdl.Generator`` s instead of torch's)."""
from __future__ import annotations

import itertools

import numpy as np


def _numpy_generator(generator):
    """A numpy Generator from a ``fastdl.Generator``, a numpy one, or None (the global one, looked
    up now: ``fastdl.manual_seed`` replaces it)."""
    from fastdl import random as fastdl_random
    if generator is None:
        return fastdl_random.generator()
    if isinstance(generator, fastdl_random.Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a fastdl.Generator (or a numpy Generator), got "
                    f"{type(generator).__name__}")


def _is_count(value):
    """An int (numpy's too) that is not a bool: what torch accepts as a size or a count."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _require_positive_count(name, value):
    if not _is_count(value) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")


def _require_bool(name, value, error=ValueError):
    """torch's check of a flag (a TypeError in some places, a ValueError in others)."""
    if not isinstance(value, bool):
        raise error(f"{name} should be a boolean value, but got {name}={value}")


class Sampler:
    """Base class of samplers: ``__iter__`` yields dataset indices (or, for a batch sampler,
    lists of them); ``__len__``, when defined, says how many.

    >>> class Backwards(fastdl.data.Sampler):
    ...     def __init__(self, data_source):
    ...         self.data_source = data_source
    ...     def __iter__(self):
    ...         return iter(range(len(self.data_source) - 1, -1, -1))
    ...     def __len__(self):
    ...         return len(self.data_source)
    >>> list(Backwards("abc"))
    [2, 1, 0]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def _index_array(self):
        """This epoch's indices as one int64 array, drawn exactly as ``__iter__`` would draw
        them; None where only ``__iter__`` knows them. The loader batches the array by slicing
        instead of taking indices one by one in Python."""
        return None


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, always in that order.

    >>> list(fastdl.data.SequentialSampler(range(4)))
    [0, 1, 2, 3]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)

    def _index_array(self):
        return np.arange(len(self.data_source), dtype=np.int64)


class RandomSampler(Sampler):
    """Indices of ``data_source`` in a random order: a new permutation each epoch (several, cut
    to ``num_samples``, when ``num_samples`` exceeds the dataset's length) or, with
    ``replacement=True``, ``num_samples`` independent uniform draws. ``generator`` is a
    ``fastdl.Generator`` (or a numpy one); without one the global generator, seeded by
    ``fastdl.manual_seed``, draws.

    >>> g = fastdl.Generator().manual_seed(0)
    >>> sorted(fastdl.data.RandomSampler(range(5), generator=g))
    [0, 1, 2, 3, 4]
    >>> len(fastdl.data.RandomSampler(range(5), replacement=True, num_samples=12))
    12
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _require_bool("replacement", replacement, TypeError)
        _require_positive_count("num_samples", self.num_samples)
        if generator is not None:
            _numpy_generator(generator)  # type check now, not at the first epoch

    @property
    def num_samples(self) -> int:
        """How many indices an epoch yields (the dataset's length unless given)."""
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self):
        # a generator function: the draw happens at the first index, as torch's does
        yield from self._index_array().tolist()

    def __len__(self):
        return self.num_samples

    def _index_array(self):
        n, count = len(self.data_source), int(self.num_samples)
        rng = _numpy_generator(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=count, dtype=np.int64)
        whole, rest = divmod(count, n)
        permutations = [rng.permutation(n) for _ in range(whole)]
        permutations.append(rng.permutation(n)[:rest])
        return np.concatenate(permutations).astype(np.int64, copy=False)


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a new random order each epoch (without replacement).

    >>> g = fastdl.Generator().manual_seed(0)
    >>> sorted(fastdl.data.SubsetRandomSampler([10, 20, 30], generator=g))
    [10, 20, 30]
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator
        if generator is not None:
            _numpy_generator(generator)

    def __iter__(self):
        for position in _numpy_generator(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[position]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices of ``weights`` (``0 .. len(weights) - 1``), each drawn with
    probability proportional to its weight; without ``replacement`` an index is drawn at most
    once (and, as in torch, those of weight zero come last, once all others are drawn).

    >>> g = fastdl.Generator().manual_seed(0)
    >>> list(fastdl.data.WeightedRandomSampler([0.0, 1.0, 0.0], 4, generator=g))
    [1, 1, 1, 1]
    >>> sorted(fastdl.data.WeightedRandomSampler([1, 2, 3], 3, replacement=False, generator=g))
    [0, 1, 2]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        _require_positive_count("num_samples", num_samples)
        _require_bool("replacement", replacement)
        weights = getattr(weights, "data", weights)  # a Tensor's array
        if hasattr(weights, "get"):  # a cupy array: the draws happen on the host
            weights = weights.get()
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights.shape)}")
        # torch finds these only when it draws (a RuntimeError from multinomial); here the
        # constructor says so, before a training loop starts
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("WeightedRandomSampler: weights must be finite and non-negative")
        if weights.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must have a positive sum")
        if not replacement and num_samples > len(weights):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                             f"replacement from {len(weights)} weights")
        if generator is not None:
            _numpy_generator(generator)
        self.weights = weights
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        yield from self._index_array().tolist()

    def __len__(self):
        return self.num_samples

    def _index_array(self):
        probabilities = self.weights / self.weights.sum()
        rng = _numpy_generator(self.generator)
        nonzero = int(np.count_nonzero(probabilities))
        if self.replacement or self.num_samples <= nonzero:
            drawn = rng.choice(len(probabilities), size=self.num_samples,
                               replace=self.replacement, p=probabilities)
            return drawn.astype(np.int64, copy=False)
        # as torch: once every index of non-zero weight is drawn, the zero-weight ones follow
        weighted = rng.choice(len(probabilities), size=nonzero, replace=False, p=probabilities)
        unweighted = rng.permutation(np.flatnonzero(probabilities == 0))
        rest = unweighted[:self.num_samples - nonzero]
        return np.concatenate([weighted, rest]).astype(np.int64, copy=False)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` (any iterable of indices) into lists of
    ``batch_size``; the last, shorter one is dropped when ``drop_last``.

    >>> list(fastdl.data.BatchSampler(fastdl.data.SequentialSampler(range(7)), 3, False))
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> list(fastdl.data.BatchSampler(range(7), batch_size=3, drop_last=True))
    [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        _require_positive_count("batch_size", batch_size)
        _require_bool("drop_last", drop_last)
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        for batch in self._index_batches():
            yield batch.tolist() if isinstance(batch, np.ndarray) else batch

    def _index_batches(self):
        """The batches as int64 arrays when the sampler can give its indices as one array (the
        same indices ``__iter__`` yields as lists), else as lists."""
        indices = self.sampler._index_array() if isinstance(self.sampler, Sampler) else None
        if indices is not None:
            stop = len(indices) - len(indices) % self.batch_size if self.drop_last else len(indices)
            for start in range(0, stop, self.batch_size):
                yield indices[start:start + self.batch_size]
            return
        source = iter(self.sampler)
        while True:
            batch = list(itertools.islice(source, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)
