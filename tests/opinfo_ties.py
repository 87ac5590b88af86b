"""Where torch's choice among equal elements is an implementation accident, for
test_opinfo_conformance: kthvalue's and mode's index among equal values, and index_copy's
gradient of source slices that a repeated index overwrites."""
from __future__ import annotations

import numpy as np
import torch

import fastdl
from opinfo_harness import Unsupported

# (values, indices) ops -> why torch's index among equal values is not a rule to match. Their
# indices are compared after mapping each to the first position along dim holding the same
# value: the index must still point at the returned value, only which of equal values it
# names is free. test_opinfo_samples fails when no sample needed this (stale).
TIED_INDEX_OUTPUTS = {
    "kthvalue.": "torch's CPU kthvalue quickselects each row (median-of-three pivot, Hoare "
                 "partition), so which of equal elements ends at position k is an artifact of "
                 "the swaps (its docs call the CUDA choice nondeterministic); fastdl returns a "
                 "stable sort's",
    "mode.": "torch's CPU mode std::sorts (value, index) pairs by value only and reports the "
             "index ending the mode's run: the last occurrence for rows of up to 16 elements "
             "(insertion sort, which fastdl matches), an introsort artifact beyond",
}


def _dim_keepdim(key, args, kwargs):
    """kthvalue(input, k, dim=-1, keepdim=False) and mode(input, dim=-1, keepdim=False)."""
    rest = list(args[1:] if key == "kthvalue." else args)
    dim = rest[0] if rest else kwargs.get("dim", -1)
    keepdim = rest[1] if len(rest) > 1 else kwargs.get("keepdim", False)
    return dim, keepdim


def _first_equal(x, dim, keepdim, index):
    """index mapped to the first position along dim whose value equals the one it names."""
    if x.ndim == 0 or x.size == 0:
        return index
    ax = dim % x.ndim
    at = index if keepdim else np.expand_dims(index, ax)
    picked = np.take_along_axis(x, at, ax)
    same = x == picked
    if x.dtype.kind == "f":
        same |= np.isnan(x) & np.isnan(picked)
    first = np.argmax(same, axis=ax, keepdims=True)
    return first if keepdim else first.squeeze(ax)


def canonical_tied_indices(key, t_in, t_args, t_kwargs, t_out, f_out):
    """(t_out, f_out) with both index outputs mapped by _first_equal, and whether that made
    torch's and fastdl's indices agree where they did not."""
    dim, keepdim = _dim_keepdim(key, t_args, t_kwargs)
    x = t_in.detach().numpy()
    t_idx, f_idx = t_out[1].numpy(), f_out[1].numpy()
    t_first = _first_equal(x, dim, keepdim, t_idx)
    f_first = _first_equal(x, dim, keepdim, f_idx)
    needed = not np.array_equal(t_idx, f_idx) and np.array_equal(t_first, f_first)
    return ((t_out[0], torch.from_numpy(np.ascontiguousarray(t_first))),
            (f_out[0], fastdl.tensor(np.ascontiguousarray(f_first))), needed)


def overwriting_index_copy(fn):
    """index_copy with a repeated index and a source that requires grad: torch's backward
    (derivatives.yaml, ``source: grad.index_select(dim, index)``) gives every source slice the
    gradient of its target, also the slices a later copy overwrote; fastdl gives those their
    true gradient, 0, as its scatter does (which copy lands is undefined in torch's docs)."""
    def call(x, dim, index, source):
        i = index.numpy().reshape(-1)
        if source.requires_grad and np.unique(i).size < i.size:
            raise Unsupported("the gradient of index_copy's overwritten source slices")
        return fn(x, dim, index, source)
    call.__name__ = fn.__name__
    return call
