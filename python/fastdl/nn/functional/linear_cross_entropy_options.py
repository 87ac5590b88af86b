"""``LinearCrossEntropyOptions``: how ``linear_cross_entropy`` splits its rows into chunks
(torch 2.13's dataclass, same fields, validation and chunk-size heuristics)."""
from __future__ import annotations

import dataclasses

import numpy as np

_ACC_POLICIES = ("auto", "accurate", "balanced", "compact")


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """Opt in to the chunked ``linear_cross_entropy``: ``batch_chunk_size`` rows at a time, so
    the ``(N, C)`` logits are never held at once (each chunk's are recomputed in backward).

    ``chunking_method`` ``"aspect_ratio[:k]"`` (``"auto"`` resolves to ``"aspect_ratio:2"``)
    sizes a chunk's logits like the ``(N, in_features)`` input, divided by ``k``; it is ignored
    when ``batch_chunk_size`` is given. ``acc_dtype`` (None: the input's) is the dtype the
    chunks are computed in. ``acc_policy`` and ``allow_retain_graph`` are accepted for torch's
    signature: fastdl keeps no gradient buffers between forward and backward, so a second
    backward always works and every policy computes the same.

    Example::

        >>> import fastdl
        >>> from fastdl.nn import LinearCrossEntropyOptions
        >>> LinearCrossEntropyOptions(batch_chunk_size=2).chunk_rows(8, 4, 10)
        2
        >>> LinearCrossEntropyOptions().chunk_rows(64, 4, 10)  # aspect_ratio:2
        8
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method not in (None, "auto"):
            name, sep, factor = str(self.chunking_method).partition(":")
            factor = factor if sep else "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        size = self.batch_chunk_size
        if not (size is None or (isinstance(size, int) and not isinstance(size, bool)
                                 and size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {size!r}")
        if self.acc_dtype is not None and np.dtype(self.acc_dtype).kind != "f":
            raise ValueError(f"acc_dtype must be None or a floating point dtype, got "
                             f"{self.acc_dtype!r}")

    def chunk_rows(self, num_batches: int, in_features: int, num_classes: int) -> int:
        """Rows per chunk for an (num_batches, in_features) input and num_classes classes."""
        method = self.chunking_method
        if self.batch_chunk_size is not None:
            if method not in (None, "auto"):
                derived = _aspect_ratio_rows(method, num_batches, in_features, num_classes)
                if derived != self.batch_chunk_size:
                    raise ValueError(
                        f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method "
                        f"('{method}') give different chunk sizes ({self.batch_chunk_size} vs "
                        f"{derived}); pass only one.")
            return max(1, min(self.batch_chunk_size, num_batches))
        if method is None:
            return max(1, num_batches)
        method = "aspect_ratio:2" if method == "auto" else method
        return max(1, _aspect_ratio_rows(method, num_batches, in_features, num_classes))


def _aspect_ratio_rows(method, num_batches, in_features, num_classes):
    """torch's heuristic: a chunk's (rows, C) logits as large as the (N, in_features) input,
    rounded up to a power of two, divided by the method's factor."""
    factor = int(method.split(":", 1)[1]) if ":" in method else 1
    widen = -(-num_classes // in_features)
    rows = -(-num_batches // widen)
    return min((1 << (rows - 1).bit_length()) // factor, num_batches)
