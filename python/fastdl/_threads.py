"""Kernel thread count, shared by every fastdl kernel (CPU)."""
from fastdl import _C

_MAX_THREADS = 4096  # far above any machine's core count; the C++ side keeps an int


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in fastdl's CPU kernels (like ``torch.set_num_threads``).

    >>> n = fastdl.get_num_threads()
    >>> fastdl.set_num_threads(1)
    >>> fastdl.get_num_threads()
    1
    >>> fastdl.set_num_threads(n)  # as before
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    if n > _MAX_THREADS:
        raise ValueError(f"set_num_threads: n={n} is more threads than fastdl allows "
                         f"({_MAX_THREADS}; this machine has {_C.max_hardware_threads()} "
                         "hardware threads)")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    return _C.get_num_threads()
