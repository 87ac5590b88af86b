"""Datasets and a batching loader (PyTorch's ``torch.utils.data`` names and semantics)."""
from __future__ import annotations

import collections
import concurrent.futures
import itertools
import threading

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


class Subset(Dataset):
    """The items of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, (list, tuple, np.ndarray)):
            return [self.dataset[self.indices[int(i)]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other; ``cumulative_sizes[i]`` is where dataset i ends."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
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


def _numpy_generator(generator):
    """A numpy Generator from a ``fastdl.Generator``, a numpy one, or None (the global one)."""
    from fastdl import random as fastdl_random
    if generator is None:
        return fastdl_random.generator()
    if isinstance(generator, fastdl_random.Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a fastdl.Generator (or a numpy Generator), got "
                    f"{type(generator).__name__}")


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset`` s of the given lengths (ints
    summing to ``len(dataset)``, or fractions summing to 1: floors, then the remainder one by
    one to the first subsets, as torch does).

    >>> train, val = fastdl.utils.data.random_split(range(10), [0.8, 0.2])
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


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a loader's worker: ``id``, ``num_workers``,
    ``seed`` and ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_local = threading.local()


def get_worker_info():
    """The ``WorkerInfo`` of the calling DataLoader worker, or None in the main thread."""
    return getattr(_worker_local, "info", None)


class _WorkerPool:
    """``num_workers`` threads that build batches ahead of the consumer (the kernels and numpy
    release the GIL, so loading overlaps with training); each runs ``worker_init_fn(id)`` once."""

    def __init__(self, loader):
        self.loader = loader
        self.next_id = itertools.count()
        self.base_seed = int(_numpy_generator(loader.generator).integers(0, 2 ** 62))
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=loader.num_workers, thread_name_prefix="fastdl-dataloader",
            initializer=self._init_worker)

    def _init_worker(self):
        wid = next(self.next_id)
        _worker_local.info = WorkerInfo(wid, self.loader.num_workers, self.base_seed + wid,
                                        self.loader.dataset)
        if self.loader.worker_init_fn is not None:
            self.loader.worker_init_fn(wid)

    def submit(self, fn, *args):
        return self.executor.submit(fn, *args)

    def shutdown(self):
        self.executor.shutdown(wait=True, cancel_futures=True)


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples (``torch.utils.data``'s
    DataLoader).

    ``shuffle`` draws a new order each epoch from ``generator`` (a ``fastdl.Generator`` or a
    ``numpy.random.Generator``) or, without one, from fastdl's global generator (seeded by
    ``fastdl.manual_seed``). A ``TensorDataset`` with the default collate is batched by one
    fancy index per tensor instead of stacking single rows.

    ``num_workers > 0`` builds batches in that many worker threads, up to ``prefetch_factor``
    batches per worker ahead of the consumer, in order; each worker calls
    ``worker_init_fn(worker_id)`` once and sees ``fastdl.utils.data.get_worker_info()``; with
    ``persistent_workers`` the threads live across epochs. (Threads, not processes: fastdl's
    kernels and numpy's copies release the GIL, and nothing needs pickling.) ``pin_memory`` is
    accepted; CPU batches are already in host memory and cupy copies them when moved.

    >>> loader = fastdl.utils.data.DataLoader(dataset, batch_size=32, shuffle=True,
    ...                                       num_workers=2)
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = ""):
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer))
                                       or isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, "
                             f"got {batch_size!r}")
        if (not isinstance(num_workers, (int, np.integer)) or isinstance(num_workers, bool)
                or num_workers < 0):
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got "
                             f"{num_workers!r}")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0 (it counts "
                             "batches per worker)")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int)
                                            or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor must be a positive int, got "
                             f"{prefetch_factor!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout!r}")
        if sampler is not None or batch_sampler is not None:
            raise NotImplementedError("DataLoader: sampler/batch_sampler are not supported; "
                                      "use shuffle=, generator= or a Subset")
        if generator is not None:
            _numpy_generator(generator)  # type check now, not at the first epoch
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = bool(persistent_workers)
        self._pool = None

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return _numpy_generator(self.generator).permutation(n)

    def _tasks(self):
        """What each step yields, as (function, argument) pairs, in order."""
        order = self._order()
        if self.batch_size is None:
            for index in order:
                yield self.dataset.__getitem__, int(index)
            return
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        collate = self.collate_fn or default_collate
        for start in range(0, len(order), self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            if fast:
                yield self.dataset._batch, indices
            else:
                yield (lambda idx: collate([self.dataset[int(i)] for i in idx])), indices

    def __iter__(self):
        if self.num_workers == 0:
            for fn, arg in self._tasks():
                yield fn(arg)
            return
        pool = self._pool or _WorkerPool(self)
        if self.persistent_workers:
            self._pool = pool
        ahead = collections.deque()
        tasks = self._tasks()
        try:
            for fn, arg in itertools.islice(tasks, self.num_workers * self.prefetch_factor):
                ahead.append(pool.submit(fn, arg))
            while ahead:
                future = ahead.popleft()
                try:
                    batch = future.result(timeout=self.timeout or None)
                except concurrent.futures.TimeoutError:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} s waiting "
                                       "for a worker's batch") from None
                for fn, arg in itertools.islice(tasks, 1):
                    ahead.append(pool.submit(fn, arg))
                yield batch
        finally:
            for future in ahead:
                future.cancel()
            if not self.persistent_workers:
                pool.shutdown()

    def __len__(self):
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.executor.shutdown(wait=False, cancel_futures=True)
