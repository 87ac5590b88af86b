"""``DistributedSampler``: each rank of a data-parallel job reads its own share of a dataset
(``torch.utils.data.distributed.DistributedSampler``'s partition)."""
from __future__ import annotations

import math

import numpy as np

from fastdl.data.sampler import Sampler, _require_bool


class DistributedSampler(Sampler):
    """Rank ``rank``'s indices out of ``num_replicas`` equal shares of ``dataset``.

    Each epoch orders the indices (a permutation seeded by ``seed + epoch`` when ``shuffle``, the
    same on every rank; else ``0..n-1``), then pads them by repeating from the start until they
    split evenly (or, with ``drop_last``, cuts the tail), and gives rank r every
    ``num_replicas``-th index starting at r -- torch's assignment. The permutation itself comes
    from numpy, so its order differs from torch's for the same seed. Call ``set_epoch`` before
    each epoch for a new order. ``num_replicas`` and ``rank`` default to
    ``fastdl.distributed``'s world size and rank; given both, MPI is not needed.

    >>> list(fastdl.data.DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
    [1, 3, 0]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from fastdl import distributed
            if not distributed.is_available():
                raise RuntimeError("Requires distributed package to be available (pip install "
                                   '"fastdl[mpi]"), or pass num_replicas and rank')
            if num_replicas is None:
                num_replicas = distributed.get_world_size()
            if rank is None:
                rank = distributed.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        _require_bool("shuffle", shuffle)
        _require_bool("drop_last", drop_last)
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if drop_last and len(dataset) % num_replicas != 0:
            # split the largest evenly divisible part, so that no rank gets a padded index
            self.num_samples = math.ceil((len(dataset) - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(len(dataset) / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _index_array(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.drop_last:
            indices = indices[:self.total_size]
        elif self.total_size > n:
            indices = np.resize(indices, self.total_size)  # repeats from the start, as torch
        return indices[self.rank:self.total_size:self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the shuffle's seed: call it before each epoch, with the same value
        on every rank."""
        self.epoch = epoch
