"""Kernel thread count, shared by every fastdl kernel (CPU)."""
from fastdl import _C


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in fastdl's CPU kernels (like ``torch.set_num_threads``)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    return _C.get_num_threads()
