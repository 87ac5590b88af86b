"""Loss reductions ('none' | 'mean' | 'sum') on arrays, and torch's legacy
``size_average``/``reduce`` arguments."""
from __future__ import annotations

import warnings

import numpy as np



def legacy_reduction(size_average, reduce, reduction: str) -> str:
    """torch's mapping of the deprecated ``size_average``/``reduce`` flags to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    result = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{result}' instead.", stacklevel=3)
    return result


def reduce_array(values, reduction: str):
    if reduction == "none":
        return values
    if reduction == "sum":
        return values.sum()
    if values.size == 0:
        return np.asarray(np.nan, dtype=values.dtype)
    return values.mean()
