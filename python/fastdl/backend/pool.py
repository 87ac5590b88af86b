"""Large host arrays reused between kernel calls instead of fresh memory every call.

A fresh array of tens of MiB costs a page fault and the kernel's zeroing of every page before
our kernel writes it once: ~7% of an LSTM inference forward, ~15% of a 2-layer bidirectional LSTM
training step (bench/NOTES.md, recurrent kernels). numpy asks for transparent huge pages on such
arrays, and on a VM a call that faults fresh 2 MiB pages in now and then takes 100-200 ms longer
(attention fwd+bwd at B=8, L=2048: 1210 ms most calls, 1300-1420 some; bench/NOTES.md, attention),
and the GPT step's 12 MiB GELU outputs and products took ~8% of the step in fresh pages.
PyTorch's CPU allocator does not cache either; its CUDA allocator does, for the same reason.

A buffer is free again when the pool holds its only reference: a view keeps its base alive, so
anything still referring to the memory (a graph's saved workspace, a gradient stored as ``.grad``,
a view of it) keeps it out of reuse. Per Python thread (two threads never take the same buffer);
at most ``limit`` bytes are kept, past that the pool frees what is free and, if that is not
enough, hands out plain arrays. ``release()`` drops every free buffer.
"""
from __future__ import annotations

import math
import sys
import threading

import numpy as np


def _refcounts(buffers):
    return [sys.getrefcount(b) for b in buffers]


# What _refcounts says of a buffer only its list refers to (measured, not assumed: interpreters
# differ in the references a call's arguments and loop variables hold).
_UNREFERENCED = _refcounts([np.empty(1, np.uint8)])[0]


def _aligned_view(nbytes, dtype, shape, alignment):
    raw = np.empty(nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _free_aligned(views):
    """Whether each aligned view is free: only its list refers to it and nothing but the view
    to its byte buffer (numpy makes a view of the view a view of the buffer, so the view's own
    count misses it)."""
    return [n == _UNREFERENCED and m == _ALIGNED_BASE_UNREFERENCED
            for n, m in zip(_refcounts(views), _refcounts([v.base for v in views]))]


_probe = [_aligned_view(64, np.uint8, (64,), 64)]
_ALIGNED_BASE_UNREFERENCED = _refcounts([v.base for v in _probe])[0]
del _probe


class BufferPool(threading.local):
    """Three kinds of buffers: workspace (``take``: a view of a byte buffer, best fit, for arrays
    that never leave fastdl), owned arrays (``take_owned``: an exact-shape array that owns its
    data, for results handed to the user, e.g. gradients the autograd engine stores as ``.grad``
    without a copy because they own their memory) and aligned arrays (``take_aligned``: exact
    shape, on a 64-byte boundary, a view, for results a kernel streams out)."""

    limit = 1 << 29

    def __init__(self):
        self.buffers = []  # byte buffers behind workspace views
        self.owned = []  # exact arrays
        self.aligned = []  # exact arrays on 64-byte boundaries (views of byte buffers)

    def _kinds(self):
        return (self.owned, self.aligned, self.buffers)

    def _held_bytes(self, kind):
        """The bytes each buffer of ``kind`` keeps (an aligned view's byte buffer, slack
        included)."""
        return [a.base.nbytes if kind is self.aligned else a.nbytes for a in kind]

    def kept_bytes(self):
        return sum(sum(self._held_bytes(kind)) for kind in self._kinds())

    def _room_for(self, nbytes):
        """Whether nbytes more fit under the limit, freeing unused buffers (largest first) if
        needed."""
        if self.kept_bytes() + nbytes <= self.limit:
            return True
        for kind in self._kinds():
            held = self._held_bytes(kind)
            free = sorted((i for i, f in enumerate(self._free(kind)) if f), key=lambda i: -held[i])
            dropped = set()
            for i in free:
                dropped.add(i)
                if self.kept_bytes() - sum(held[j] for j in dropped) + nbytes <= self.limit:
                    break
            kind[:] = [b for i, b in enumerate(kind) if i not in dropped]
            if self.kept_bytes() + nbytes <= self.limit:
                return True
        return False

    def take(self, shape, dtype):
        """An uninitialised C-contiguous workspace array (a view of a pooled buffer)."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        counts = _refcounts(self.buffers)
        free = [b for b, n in zip(self.buffers, counts) if n == _UNREFERENCED and
                b.nbytes >= nbytes]
        if free:
            buf = min(free, key=lambda b: b.nbytes)  # best fit
        elif self._room_for(nbytes):
            buf = np.empty(nbytes, np.uint8)
            self.buffers.append(buf)
        else:
            return np.empty(shape, dtype)
        return buf[:nbytes].view(dtype).reshape(shape)

    def take_owned(self, shape, dtype):
        """An uninitialised C-contiguous array of exactly this shape and dtype that owns its
        data: a released one of the same shape when there is one."""
        dtype, shape = np.dtype(dtype), tuple(int(n) for n in shape)
        counts = _refcounts(self.owned)
        for a, n in zip(self.owned, counts):
            if n == _UNREFERENCED and a.shape == shape and a.dtype == dtype:
                return a
        out = np.empty(shape, dtype)
        if self._room_for(out.nbytes):
            self.owned.append(out)
        return out

    def _free(self, kind):
        if kind is self.aligned:
            return _free_aligned(kind)
        return [n == _UNREFERENCED for n in _refcounts(kind)]

    def take_aligned(self, shape, dtype, alignment=64):
        """Like take_owned, but the data starts on an ``alignment``-byte boundary, for results
        a kernel writes with streaming stores (numpy's own large arrays start 16 bytes past a
        page); a view of a pooled byte buffer, so it does not own its data."""
        dtype, shape = np.dtype(dtype), tuple(int(n) for n in shape)
        for a, free in zip(self.aligned, _free_aligned(self.aligned)):
            if free and a.shape == shape and a.dtype == dtype:
                return a
        nbytes = math.prod(shape) * dtype.itemsize
        out = _aligned_view(nbytes, dtype, shape, alignment)
        if self._room_for(out.base.nbytes):
            self.aligned.append(out)
        return out

    def contiguous(self, a):
        """``a`` itself when C-contiguous, else a copy in a workspace array (e.g. a direction's
        slice of a bidirectional layer's output gradient, read only by one kernel call)."""
        if a.flags.c_contiguous:
            return a
        out = self.take(a.shape, a.dtype)
        np.copyto(out, a)
        return out

    def release(self):
        """Drop every buffer nothing refers to (the rest stay until they are released)."""
        for kind in self._kinds():
            kind[:] = [b for b, free in zip(kind, self._free(kind)) if not free]


host_pool = BufferPool()


# Results below this size come from numpy directly: the C allocator's heap reuses them without
# fresh pages, and a pool of many small arrays would cost more to scan than it saves.
POOLED_RESULT_BYTES = 8 << 20


def result_array(shape, dtype, xp=np, min_pooled_bytes=POOLED_RESULT_BYTES, aligned=False):
    """An uninitialised C-contiguous array that owns its data, for a result handed to the user:
    on the host from the calling thread's pool when it has at least ``min_pooled_bytes`` (a
    fresh 100 MB convolution output cost ~10 ms of page faults and zeroing per call,
    bench/NOTES.md), else a plain ``empty`` of the array module ``xp`` (cupy's has its own
    caching allocator). ``aligned``: a pooled host array starting on a 64-byte boundary
    instead, which is a view (not for gradients: the engine copies those unless they own
    their data)."""
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < min_pooled_bytes:
        return np.empty(shape, dtype)
    return host_pool.take_aligned(shape, dtype) if aligned else host_pool.take_owned(shape, dtype)
