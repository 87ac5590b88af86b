"""torch's logspace and (deprecated, end-inclusive) range, beside creation.py's arange and
linspace; exported as ``fastdl.logspace`` and ``fastdl.range``."""
from __future__ import annotations

import warnings

import numpy as np

from fastdl.creation import _dt, _finish, _xp
from fastdl.tensor import Tensor


def _number(v):
    return v.item() if isinstance(v, Tensor) else v


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``steps`` values from base ** start to base ** end, evenly spaced in the exponent.
    Floating dtypes compute in that dtype, as torch's (the exponents step from the nearer end).

    Shape: (steps,).

    >>> fastdl.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    start, end, steps, base = (_number(v) for v in (start, end, steps, base))
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"logspace(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    dt = _dt(dtype)
    work = dt if dt.kind == "f" else np.dtype(np.float64)
    if dt.kind != "f":  # torch casts the ends to the integer dtype first
        start, end = int(start), int(end)
    values = np.power(work.type(base), torch_linspace(start, end, int(steps), work))
    return _finish(_xp(device).asarray(values.astype(dt)), requires_grad)


def torch_linspace(start, end, steps, dtype):
    """torch's CPU linspace in ``dtype`` (a numpy array): the step in that dtype, the first half
    counted up from start and the second half down from end (so both ends are exact)."""
    work = np.dtype(dtype)
    if steps == 1:  # torch: just start
        return np.full(1, start, dtype=work)
    i = np.arange(steps, dtype=work)
    step = work.type((work.type(end) - work.type(start)) / (steps - 1)) if steps > 1 else \
        work.type(0)
    from_start = work.type(start) + step * i
    from_end = work.type(end) - step * (work.type(steps - 1) - i)
    return np.where(i < steps // 2, from_start, from_end).astype(work)


def range(start, end, step=1, *, dtype=None, device=None, requires_grad=False):
    """torch.range (deprecated there, as here): start, start + step, ... up to and including
    ``end``, in the default float dtype unless ``dtype``. Prefer arange (end excluded).

    Shape: (floor((end - start) / step) + 1,).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     fastdl.range(1, 3).tolist()
    [1.0, 2.0, 3.0]
    """
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    start, end, step = (_number(v) for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    count = int(np.floor((end - start) / step)) + 1
    values = start + step * np.arange(count, dtype=np.float64)
    return _finish(_xp(device).asarray(values.astype(_dt(dtype))), requires_grad)
