"""``torch.nn.attention``: choosing the kernel of ``scaled_dot_product_attention``.

fastdl has one attention kernel family (``fastdl.nn.functional.attention``: flash-style tiles
with an online softmax, on the CPU and in CUDA, and the composed ops for dropout), so
``sdpa_kernel`` decides only *whether* a call may run, by torch's flags:

- on the CPU, torch runs with ``MATH`` or ``FLASH_ATTENTION`` enabled; so does fastdl. With
  neither (``EFFICIENT_ATTENTION``, ``CUDNN_ATTENTION``, ``OVERRIDEABLE`` or ``ERROR`` alone,
  or an empty list) the call raises torch's "No viable backend" RuntimeError;
- on a GPU, any of ``MATH``, ``FLASH_ATTENTION``, ``EFFICIENT_ATTENTION`` and
  ``CUDNN_ATTENTION`` lets fastdl's CUDA kernel run (it stands in for each of them);
- torch's CPU flash kernel also refuses inputs that are not 4-D, value dims that differ from
  the query's, and dropout ("No available kernel") when it is the only one enabled; fastdl's
  kernel takes all of these, so they run. Code that runs under torch runs the same here.

``set_priority`` is recorded as in torch; with one kernel family there is nothing to order.
The flags are process-wide, as torch's are.
"""
from __future__ import annotations

import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.Enum):
    """The backends of scaled dot product attention (torch's members and values).

    >>> from fastdl.nn.attention import SDPBackend
    >>> SDPBackend.MATH, int(SDPBackend.FLASH_ATTENTION)
    (<SDPBackend.MATH: 0>, 1)
    """

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self):
        return self.value

    def __hash__(self):  # torch's enum hashes as its value
        return hash(self.value)


# torch's defaults: every backend on; priority flash, efficient, math, cudnn, overrideable
_enabled = {SDPBackend.MATH, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
            SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE}
_priority = [1, 2, 0, 3, 4]
_CPU_RUNNERS = {SDPBackend.MATH, SDPBackend.FLASH_ATTENTION}
_CUDA_RUNNERS = _CPU_RUNNERS | {SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION}
# read by every scaled_dot_product_attention call: False while all of fastdl's runners are on
restricted = False


def check_runnable(on_cpu: bool) -> None:
    """Raise torch's error when the enabled backends leave fastdl's kernel out."""
    if not _enabled & (_CPU_RUNNERS if on_cpu else _CUDA_RUNNERS):
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This "
                           "is likely due to turning off both the math kernel and the fused "
                           "kernels.")


def _set(backends, set_priority):
    global restricted
    _enabled.clear()
    _enabled.update(backends)
    restricted = not _CUDA_RUNNERS <= _enabled
    if set_priority:
        order = [int(b) for b in backends]
        order += [b for b in _priority if b not in order]
        _priority[:] = order


def _current(with_priority):
    backends = [b for b in SDPBackend if b in _enabled]
    if with_priority:
        backends.sort(key=lambda b: _priority.index(int(b)))
    return backends


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Enable only ``backends`` (one ``SDPBackend`` or a list) for scaled dot product attention
    in this block; the previous flags come back on exit (see the module docstring for what
    fastdl runs).

    >>> from fastdl.nn.attention import SDPBackend, sdpa_kernel
    >>> q = fastdl.ones(1, 1, 2, 4)
    >>> with sdpa_kernel(SDPBackend.MATH):
    ...     fastdl.nn.functional.scaled_dot_product_attention(q, q, q).shape
    (1, 1, 2, 4)
    """
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend "
                             f"instances, got {type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    previous = _current(set_priority)
    try:
        _set(backends, set_priority)
        yield {}
    finally:
        _set(previous, set_priority)


from fastdl.nn.attention import bias  # noqa: E402  (torch.nn.attention.bias)
