"""``DataLoader``: batches from a dataset through samplers, collation and worker threads
(``torch.utils.data.DataLoader``'s arguments, checks and semantics)."""
from __future__ import annotations

import collections
import concurrent.futures
import itertools
import queue
import threading

import numpy as np

from fastdl.data.collate import default_collate, default_convert
from fastdl.data.dataset import IterableDataset, _array_batcher
from fastdl.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                 _is_count, _numpy_generator)


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a loader's worker: ``id``, ``num_workers``,
    ``seed`` and ``dataset``.

    >>> fastdl.data.WorkerInfo(id=0, num_workers=2, seed=7, dataset=None)
    WorkerInfo(id=0, num_workers=2, seed=7)
    """

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_local = threading.local()


def get_worker_info():
    """The ``WorkerInfo`` of the calling DataLoader worker, or None outside the workers.

    >>> print(fastdl.data.get_worker_info())
    None
    """
    return getattr(_worker_local, "info", None)


class _WorkerPool:
    """``num_workers`` threads that build batches ahead of the consumer (the kernels and numpy
    release the GIL, so loading overlaps with training); each runs ``worker_init_fn(id)`` once."""

    def __init__(self, loader, base_seed):
        self.loader = loader
        self.next_id = itertools.count()
        self.base_seed = base_seed
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


_STREAM_END = object()  # a worker's last message: its pass over the dataset is done


class _StreamWorkers:
    """For an ``IterableDataset``: one thread per worker, each making its own pass over the
    dataset (as each of torch's worker processes iterates its own copy) into a queue of at
    most ``prefetch_factor`` batches; batches are taken from the workers in turn, skipping those
    that have finished, which is the order torch yields them in."""

    def __init__(self, loader, base_seed):
        self.loader = loader
        self.stopping = threading.Event()
        count = loader.num_workers
        self.queues = [queue.Queue(maxsize=loader.prefetch_factor) for _ in range(count)]
        self.threads = [threading.Thread(target=self._work, args=(wid, base_seed + wid),
                                         name=f"fastdl-dataloader-{wid}", daemon=True)
                        for wid in range(count)]
        for thread in self.threads:
            thread.start()

    def _work(self, wid, seed):
        _worker_local.info = WorkerInfo(wid, self.loader.num_workers, seed, self.loader.dataset)
        try:
            if self.loader.worker_init_fn is not None:
                self.loader.worker_init_fn(wid)
            for batch in self.loader._stream_batches():
                if not self._send(wid, (batch, None)):
                    return
            self._send(wid, _STREAM_END)
        except BaseException as error:  # re-raised by the consumer
            self._send(wid, (None, error))

    def _send(self, wid, message):
        """Queue ``message`` unless the consumer has gone (then False: stop working)."""
        while not self.stopping.is_set():
            try:
                self.queues[wid].put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        running = list(range(len(self.threads)))
        while running:
            for wid in list(running):
                try:
                    message = self.queues[wid].get(timeout=self.loader.timeout or None)
                except queue.Empty:
                    raise RuntimeError(f"DataLoader timed out after {self.loader.timeout} s "
                                       f"waiting for worker {wid}'s batch") from None
                if message is _STREAM_END:
                    running.remove(wid)
                    continue
                batch, error = message
                if error is not None:
                    raise error
                yield batch

    def shutdown(self):
        # workers notice at their next batch; one inside a slow __iter__ finishes that first
        self.stopping.set()


class _InfiniteConstantSampler(Sampler):
    """The sampler of a loader over an IterableDataset (as torch's): None forever, since the
    dataset, not an index, decides what comes next."""

    def __iter__(self):
        return itertools.repeat(None)


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples (``torch.utils.data``'s
    DataLoader, with its arguments and checks).

    A map-style dataset is visited in the order of ``sampler`` (default: ``SequentialSampler``,
    or ``RandomSampler(dataset, generator=generator)`` with ``shuffle=True``), grouped by
    ``batch_sampler`` (default: ``BatchSampler(sampler, batch_size, drop_last)``), and each
    batch's samples go through ``collate_fn`` (default: ``default_collate``). With
    ``batch_size=None`` there is no batching: each sample goes through ``collate_fn`` (default:
    ``default_convert``). An ``IterableDataset`` is iterated instead (no sampler, no shuffle).
    A ``TensorDataset`` (or a ``Subset`` of one) with the default collate is batched by one
    fancy index per tensor instead of stacking single rows.

    Randomness comes from ``generator`` (a ``fastdl.Generator`` or a ``numpy.random.Generator``)
    or, without one, from fastdl's global generator (seeded by ``fastdl.manual_seed``); each
    epoch first draws the workers' base seed, then the sampler's order, so the order does not
    depend on ``num_workers``.

    ``num_workers > 0`` builds batches in that many worker threads, up to ``prefetch_factor``
    batches per worker ahead of the consumer, in order; each worker calls
    ``worker_init_fn(worker_id)`` once and sees ``fastdl.utils.data.get_worker_info()``; with
    ``persistent_workers`` the threads live across epochs (for a map-style dataset). (Threads,
    not processes: fastdl's kernels and numpy's copies release the GIL, and nothing needs
    pickling; so ``multiprocessing_context`` is accepted and unused.) ``pin_memory`` is
    accepted; CPU batches are already in host memory and cupy copies them when moved.

    >>> ds = fastdl.data.TensorDataset(fastdl.arange(10))
    >>> loader = fastdl.data.DataLoader(ds, batch_size=4, drop_last=True)
    >>> len(loader), [batch[0].tolist() for batch in loader]
    (2, [[0, 1, 2, 3], [4, 5, 6, 7]])
    >>> g = fastdl.Generator().manual_seed(0)
    >>> shuffled = fastdl.data.DataLoader(ds, batch_size=5, shuffle=True, generator=g)
    >>> sorted(v for batch in shuffled for v in batch[0].tolist())
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """

    # torch forbids changing these after construction: the samplers were built from them
    _FROZEN = frozenset({"batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                         "persistent_workers"})

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True):
        if not _is_count(num_workers) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             f"disable multiprocessing (got num_workers={num_workers!r})")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        # torch allows 0, and then no batch is ever requested: a hang, so a positive count here
        if prefetch_factor is not None and (not _is_count(prefetch_factor)
                                            or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor option should be a positive int, got "
                             f"{prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError("multiprocessing_context can only be used with multi-process "
                             f"loading (num_workers > 0), but got num_workers={num_workers}")
        if generator is not None:
            _numpy_generator(generator)  # type check now, not at the first epoch

        if isinstance(dataset, IterableDataset):
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # checks both

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order  # batches always come in order; out of order is never needed
        self.persistent_workers = bool(persistent_workers)
        self._pool = None
        self._initialized = True

    def __setattr__(self, name, value):
        if name in self._FROZEN and getattr(self, "_initialized", False):
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} "
                             "is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        """What yields one step's indices: the batch sampler, or the sampler without batching."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fetch_batch(self, indices):
        """``collate_fn`` of the samples at ``indices`` (an int array or a sampler's list)."""
        if isinstance(indices, np.ndarray):
            if self.collate_fn is default_collate:
                batcher = _array_batcher(self.dataset)
                if batcher is not None:
                    return batcher(indices)
            indices = indices.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            samples = getitems(indices)
        else:
            samples = [self.dataset[index] for index in indices]
        return self.collate_fn(samples)

    def _fetch_one(self, index):
        return self.collate_fn(self.dataset[index])

    def _map_tasks(self):
        """What each step of an epoch over a map-style dataset yields, as (function, argument)
        pairs, in order; the sampler runs here, in the consuming thread."""
        if not self._auto_collation:
            for index in self.sampler:
                yield self._fetch_one, index
            return
        if type(self.batch_sampler) is BatchSampler:
            batches = self.batch_sampler._index_batches()  # int arrays where it can
        else:
            batches = iter(self.batch_sampler)
        for indices in batches:
            yield self._fetch_batch, indices

    def _stream_batches(self):
        """One pass over an IterableDataset, batched and collated (in a worker, or here)."""
        samples = iter(self.dataset)
        if not self._auto_collation:
            for sample in samples:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(samples, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)

    def __iter__(self):
        # drawn every epoch, workers or not (as torch does), so that the sampler's draws that
        # follow do not depend on num_workers
        base_seed = int(_numpy_generator(self.generator).integers(0, 2 ** 62))
        if isinstance(self.dataset, IterableDataset):
            if self.num_workers == 0:
                yield from self._stream_batches()
                return
            workers = _StreamWorkers(self, base_seed)
            try:
                yield from workers
            finally:
                workers.shutdown()
            return
        if self.num_workers == 0:
            for fn, arg in self._map_tasks():
                yield fn(arg)
            return
        pool = self._pool or _WorkerPool(self, base_seed)
        if self.persistent_workers:
            self._pool = pool
        ahead = collections.deque()
        tasks = self._map_tasks()
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
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)  # a TypeError when the stream has no length, as torch
            if self.batch_size is None:
                return length
            if self.drop_last:
                return length // self.batch_size
            return -(-length // self.batch_size)
        return len(self._index_sampler)

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.executor.shutdown(wait=False, cancel_futures=True)
