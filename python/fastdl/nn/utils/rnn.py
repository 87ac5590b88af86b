"""Variable-length batches (``torch.nn.utils.rnn``): ``PackedSequence``, ``pack_padded_sequence``,
``pad_packed_sequence``, ``pad_sequence``, ``pack_sequence``.

A packed sequence holds the rows of every sequence step by step, longest sequences first:
``data`` (sum of lengths, *), ``batch_sizes`` (steps,) int64 = how many sequences are still running
at each step. Packing and unpacking are row gathers (differentiable indexing), so gradients flow
back to the padded input. ``enforce_sorted=False`` sorts the batch by length first and keeps the
permutation (``sorted_indices``/``unsorted_indices``); the recurrent layers return states in the
caller's order.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from fastdl.tensor import Tensor, _wrap


class PackedSequence(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor] = None
    unsorted_indices: Optional[Tensor] = None

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        arr = lengths._data
        if type(arr) is not np.ndarray:
            from fastdl import backend
            arr = backend.array_module(arr).asnumpy(arr)
    else:
        arr = np.asarray(lengths)
    if arr.ndim != 1:
        raise ValueError(f"lengths must be a 1-D sequence of ints, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"lengths must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def invert_permutation(permutation):
    if permutation is None:
        return None
    p = permutation._data if isinstance(permutation, Tensor) else np.asarray(permutation)
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return _wrap(out)


def _pack_index(lengths_sorted, order, steps_stride, batch_stride):
    """Flat row index (in a (steps, batch) grid with the given strides) of each packed row:
    step by step, the sequences still running, longest first (``order``: their batch index)."""
    T = int(lengths_sorted[0])
    rows = []
    for t in range(T):
        n = int((lengths_sorted > t).sum())
        rows.append(t * steps_stride + order[:n] * batch_stride)
    return np.concatenate(rows)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (steps, batch, *) (or (batch, steps, *) with ``batch_first``) whose
    sequences have the given lengths."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: expected a Tensor input, got "
                        f"{type(input).__name__}")
    lengths = _lengths_array(lengths)
    x = input._data
    if x.ndim < 2:  # torch: IndexError from reading the batch dim
        raise IndexError(f"pack_padded_sequence: input must have at least 2 dimensions "
                         f"(steps, batch, *), got shape {tuple(x.shape)}")
    batch_dim = 0 if batch_first else 1
    B, T = x.shape[batch_dim], x.shape[1 - batch_dim]
    if lengths.size != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={B})")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           f"in 'lengths' that is <= 0 (lengths={lengths.tolist()})")
    if lengths.size and lengths.max() > T:
        raise RuntimeError(f"pack_padded_sequence: a length ({int(lengths.max())}) exceeds the "
                           f"input's {T} steps (input shape {tuple(x.shape)})")
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
        ls = lengths
    else:
        order = np.argsort(-lengths, kind="stable").astype(np.int64)
        sorted_indices = _wrap(order)
        ls = lengths[order]
    if B == 0:
        raise ValueError("pack_padded_sequence: empty batch")
    feat = x.shape[2:]
    # (steps, batch) grid -> flat rows of the input as stored
    if batch_first:
        steps_stride, batch_stride = 1, T
    else:
        steps_stride, batch_stride = B, 1
    order = np.arange(B) if sorted_indices is None else sorted_indices._data
    idx = _pack_index(ls, order, steps_stride, batch_stride)
    data = input.reshape(B * T, *feat)[idx]
    batch_sizes = np.array([(ls > t).sum() for t in range(int(ls[0]))], np.int64)
    return PackedSequence(data, _wrap(batch_sizes), sorted_indices,
                          invert_permutation(sorted_indices))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack to (padded, lengths): padded (steps, batch, *) (or batch first), lengths int64 in
    the original batch order."""
    from fastdl.functional.shape import cat
    data = sequence.data
    bs = sequence.batch_sizes._data.astype(np.int64)
    T, B = len(bs), int(bs[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        T_out = int(total_length)
    else:
        T_out = T
    n = data._data.shape[0]
    feat = tuple(data._data.shape[1:])
    pad_row = _wrap(np.full((1,) + feat, padding_value, data._data.dtype))
    grid = np.full((T_out, B), n, np.int64)
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    for t in range(T):
        grid[t, :bs[t]] = offsets[t] + np.arange(bs[t])
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        un = sequence.unsorted_indices._data
        grid = grid[:, un]
        lengths = lengths[un]
    if batch_first:
        grid = grid.T
    padded = cat([data, pad_row], 0)[grid.reshape(-1)].reshape(*grid.shape, *feat)
    return padded, _wrap(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length (L_i, *) tensors into (max L, batch, *) (or batch first), padded."""
    from fastdl.functional.shape import cat, stack
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    feat = tuple(sequences[0]._data.shape[1:])
    for s in sequences:
        if tuple(s._data.shape[1:]) != feat:
            raise RuntimeError(f"pad_sequence: every sequence must have trailing shape {feat}, "
                               f"got {tuple(s._data.shape)}")
    T = max(s._data.shape[0] for s in sequences)
    out = []
    for s in sequences:
        k = T - s._data.shape[0]
        if k:
            pad = _wrap(np.full((k,) + feat, padding_value, s._data.dtype))
            s = cat([s, pad] if padding_side == "right" else [pad, s], 0)
        out.append(s)
    return stack(out, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = [s._data.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    lengths = _lengths_array(lengths)
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(lengths)]


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "pack_sequence", "unpad_sequence", "unpack_sequence"]
