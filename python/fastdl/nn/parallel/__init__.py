"""``fastdl.nn.parallel``: ``DistributedDataParallel`` (one replica per MPI rank)."""
from fastdl.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
