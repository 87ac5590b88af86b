"""Turning samples into batches: ``default_collate`` (a list of samples -> one batch) and
``default_convert`` (one sample, arrays -> tensors), with torch's rules for every type."""
from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

from fastdl import backend
from fastdl.data.dataset import _tensor_type

# numpy dtypes of strings, bytes and objects (dtype.str such as '<U3', '|S2', '|O'): no tensor
_NON_NUMERIC_DTYPE = re.compile(r"[SaUO]")

_COLLATE_TYPE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                       "dicts or lists; found {}")



def _stack(arrays):
    """``arrays`` stacked on a new first axis (numpy, or cupy for GPU tensors); a RuntimeError
    naming the first mismatch, as torch.stack raises, when the shapes differ."""
    first = arrays[0].shape
    for position, array in enumerate(arrays):
        if array.shape != first:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, "
                               f"but got {list(first)} at entry 0 and {list(array.shape)} at "
                               f"entry {position}")
    return backend.array_module(*arrays).stack(arrays)


def _rebuild_mapping(sample, values):
    """A mapping like ``sample`` (its own type, copied when mutable) holding ``values``; a plain
    dict when its type cannot be built from one."""
    try:
        if isinstance(sample, collections.abc.MutableMapping):
            clone = copy.copy(sample)
            clone.update(values)
            return clone
        return type(sample)(values)
    except TypeError:
        return dict(values)


def _rebuild_sequence(sample, values):
    """A sequence like ``sample`` (its own type, copied when mutable) holding ``values``; a list
    when its type cannot be built from one."""
    try:
        if isinstance(sample, collections.abc.MutableSequence):
            clone = copy.copy(sample)
            for position, value in enumerate(values):
                clone[position] = value
            return clone
        return type(sample)(values)
    except TypeError:
        return list(values)


def default_collate(batch):
    """Put a list of samples together into one batch, with a new first dimension: tensors and
    numpy arrays are stacked; Python floats become a float64 tensor, ints an int64 one, bools a
    bool one, numpy scalars a tensor of their dtype; strings and bytes stay as they came (a
    list, or a tuple inside a batch of sequences); a mapping becomes the same mapping of
    collated values, a namedtuple the same namedtuple, any other sequence a list (a tuple too,
    as torch) of collated columns. Samples of different lengths raise a RuntimeError.

    >>> from fastdl.data import default_collate
    >>> default_collate([(1, 2.5, "a"), (3, 4.5, "b")])
    [tensor([1, 3]), tensor([2.5, 4.5], dtype=float64), ('a', 'b')]
    >>> default_collate([{"x": fastdl.zeros(2)}, {"x": fastdl.ones(2)}])["x"].shape
    (2, 2)
    """
    Tensor = _tensor_type()
    sample = batch[0]
    if isinstance(sample, Tensor):
        return Tensor(_stack([item.data for item in batch]))
    if isinstance(sample, np.ndarray):
        if _NON_NUMERIC_DTYPE.search(sample.dtype.str):
            raise TypeError(_COLLATE_TYPE_ERROR.format(sample.dtype))
        return Tensor(_stack([np.asarray(item) for item in batch]))
    if isinstance(sample, (np.bool_, np.number, np.object_)):
        return Tensor(np.asarray(batch))
    if isinstance(sample, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(sample, int):  # bool too: a batch of bools is a bool tensor
        values = np.asarray(batch)
        return Tensor(values if values.dtype == np.bool_ else values.astype(np.int64))
    if isinstance(sample, (str, bytes)):
        return batch
    if isinstance(sample, collections.abc.Mapping):
        return _rebuild_mapping(sample, {key: default_collate([item[key] for item in batch])
                                         for key in sample})
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):  # a namedtuple
        return type(sample)(*(default_collate(column) for column in zip(*batch)))
    if isinstance(sample, collections.abc.Sequence):
        if any(len(item) != len(sample) for item in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(column) for column in zip(*batch)]
        if isinstance(sample, tuple):
            return columns  # a list, as torch returns for tuples (its "backwards compatibility")
        return _rebuild_sequence(sample, columns)
    raise TypeError(_COLLATE_TYPE_ERROR.format(type(sample)))


def default_convert(data):
    """One sample with its numpy arrays (and numpy scalars) turned into tensors, recursing into
    mappings, namedtuples and sequences (a tuple becomes a list, as in torch); everything else
    is returned as it is. What a DataLoader with ``batch_size=None`` applies to each sample.

    >>> import numpy as np
    >>> from fastdl.data import default_convert
    >>> default_convert((np.arange(2), 7, "x"))
    [tensor([0, 1]), 7, 'x']
    """
    Tensor = _tensor_type()
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and not isinstance(data, (np.str_, np.bytes_)):
        if isinstance(data, np.ndarray) and _NON_NUMERIC_DTYPE.search(data.dtype.str):
            return data
        return Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(value) for value in data))
    if isinstance(data, tuple):
        return [default_convert(value) for value in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(value) for value in data])
    return data
