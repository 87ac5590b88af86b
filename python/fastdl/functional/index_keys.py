"""``x[key]``'s key turned into a numpy/cupy key, with torch's rules where they differ from
numpy's: which tensor dtypes may index (long, int, byte, bool), byte tensors as masks, 0-d
tensors, torch's messages for float indices and for a mask that does not fit, and the
masked_fill_ path torch takes for ``x[mask] = scalar``."""
from __future__ import annotations

import re
import warnings

import numpy as np

from fastdl.functional._core import Tensor, cpp_dtype_name

INDEX_DTYPE_MSG = "tensors used as indices must be long, int, byte or bool tensors"
_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.bool_))


def check_index_dtype(d):
    if d.dtype not in _INDEX_DTYPES:
        raise IndexError(INDEX_DTYPE_MSG)


def _holds_float(seq) -> bool:
    return any(isinstance(v, float) or isinstance(v, list) and _holds_float(v) for v in seq)


def _key_item(k, warn=True):
    if isinstance(k, Tensor):
        d = k._data
        if d.ndim == 0 and d.dtype.kind in "iu" and d.dtype != np.uint8:
            return int(d)  # torch selects with any 0-d integer tensor, whatever its width
        check_index_dtype(d)
        if d.dtype == np.uint8:
            # a byte tensor is a mask in torch (a 0-d one a scalar mask, without the warning)
            if d.ndim and warn:
                warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a "
                              "dtype torch.bool instead.", UserWarning, stacklevel=5)
            return d.astype(bool)
        return d
    if isinstance(k, list) and _holds_float(k):
        # torch makes an index list a long tensor, truncating floats (toward zero)
        return np.asarray(k, dtype=np.float64).astype(np.int64)
    if isinstance(k, float):
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                         f"Variables are valid indices (got {type(k).__name__})")
    return k


def sequence_as_tuple(key) -> bool:
    """torch's (and old NumPy's) rule: a short list holding a sequence, tensor, slice, None or
    Ellipsis is a tuple of indices (x[[[0, 1], [1, 2]]] is x[[0, 1], [1, 2]])."""
    return isinstance(key, list) and len(key) < 32 and any(
        isinstance(k, (Tensor, list, tuple, slice, np.ndarray)) or k is None or k is Ellipsis
        for k in key)


def array_key(key, warn=True):
    """``key`` with tensors replaced by their arrays (numpy/cupy indexing semantics apply)."""
    if sequence_as_tuple(key):
        key = tuple(key)
    if isinstance(key, tuple):
        return tuple(_key_item(k, warn) for k in key)
    return _key_item(key, warn)


def _is_mask(k) -> bool:
    return getattr(k, "dtype", None) == np.bool_ and getattr(k, "ndim", 0) > 0


def _dims_used(k) -> int:
    if k is None or k is Ellipsis or isinstance(k, (bool, np.bool_)):
        return 0
    if _is_mask(k):
        return k.ndim
    if getattr(k, "dtype", None) == np.bool_:  # a 0-d mask adds a dim rather than using one
        return 0
    return 1


def check_masks(shape, key):
    """torch's IndexError for a mask whose shape differs from the dims it covers. torch applies
    the ints, slices and Nones first, so the sizes (and the dim numbers) it reports are those of
    that intermediate result."""
    items = key if isinstance(key, tuple) else (key,)
    if not any(_is_mask(k) for k in items):
        return
    rest = len(shape) - sum(_dims_used(k) for k in items)
    inter, masks, pos = [], [], 0
    for k in items:
        if k is Ellipsis:
            inter.extend(shape[pos:pos + rest])
            pos += max(rest, 0)
        elif _dims_used(k) == 0:
            inter.append(1)  # None, and torch's unsqueeze for a scalar mask
        elif pos >= len(shape):
            return  # too many indices: numpy's own complaint follows
        elif isinstance(k, (int, np.integer)):
            pos += 1
        elif isinstance(k, slice):
            inter.append(len(range(*k.indices(shape[pos]))))
            pos += 1
        elif _is_mask(k):
            masks.append((k, len(inter)))
            inter.extend(shape[pos:pos + k.ndim])
            pos += k.ndim
        else:
            inter.append(shape[pos])
            pos += 1
    inter.extend(shape[pos:])
    for mask, start in masks:
        for j, n in enumerate(mask.shape):
            if start + j >= len(inter) or n != inter[start + j]:
                if start + j >= len(inter):
                    return  # more mask dims than the tensor has: numpy's message follows
                raise IndexError(f"The shape of the mask {list(mask.shape)} at index {j} does "
                                 f"not match the shape of the indexed tensor {inter} at index "
                                 f"{start + j}")


def _tensor_index(k) -> bool:
    """Whether torch turns ``k`` into an index tensor (rather than applying it as a select, a
    slice or an unsqueeze first)."""
    if isinstance(k, Tensor):
        return k._data.ndim > 0 or k._data.dtype in (np.uint8, np.bool_)
    return isinstance(k, (bool, list, np.ndarray))


def check_masked_fill_path(shape, key, value_numel):
    """``x[mask] = v`` with a one-element v and a single mask as the only index tensor is
    masked_fill_ in torch, which takes no byte mask (as an index_put would), after checking
    the mask's shape."""
    if sequence_as_tuple(key):
        key = tuple(key)
    items = key if isinstance(key, tuple) else (key,)
    tensors = [k for k in items if _tensor_index(k)]
    if value_numel == 1 and len(tensors) == 1 and isinstance(tensors[0], Tensor):
        d = tensors[0]._data
        if d.dtype == np.uint8 and d.ndim:
            check_masks(shape, array_key(key, warn=False))
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {cpp_dtype_name(d.dtype)}")


_NP_BROADCAST = "shape mismatch: indexing arrays could not be broadcast together with shapes"


def torch_broadcast_error(e):
    """numpy's complaint about index arrays that do not broadcast, in torch's words (None for
    any other complaint)."""
    text = str(e)
    if _NP_BROADCAST not in text:
        return None
    shapes = re.findall(r"\(([^)]*)\)", text.split(_NP_BROADCAST, 1)[1])
    listed = ", ".join("[" + ", ".join(n.strip() for n in s.split(",") if n.strip()) + "]"
                       for s in shapes)
    return IndexError(f"shape mismatch: indexing tensors could not be broadcast together with "
                      f"shapes {listed}")
