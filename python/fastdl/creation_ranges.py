"""torch's logspace and (deprecated, end-inclusive) range, exported as ``fastdl.logspace`` and
``fastdl.range``, and the values of creation.py's arange and linspace, computed as ATen's CPU
kernels do (RangeFactories.cpp): integer dtypes truncate the arguments first."""
from __future__ import annotations

import math
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


def _to_integer(v, dtype):
    """ATen's Scalar.to<integer type>(): a float truncates toward zero, and a value outside the
    type's range is an error (an int to an unsigned type wraps, as in C, from -max on)."""
    info = np.iinfo(dtype)
    exact = isinstance(v, (bool, int, np.integer))
    if exact:
        out = int(v)
        if info.min == 0 and -info.max <= out < 0:
            return out + info.max + 1
    else:
        v = float(v)
        out = int(v) if math.isfinite(v) else None
    if out is None or not info.min <= (out if exact else v) <= info.max:
        raise RuntimeError(f"value cannot be converted to type {dtype}_t without overflow")
    return out


def _not_implemented_for_bool(dtype, kernel):
    if dtype == np.bool_:
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _count(start, end, step):
    count = math.ceil((end - start) / step)
    if count > np.iinfo(np.int64).max:
        raise RuntimeError("invalid size, possible overflow?")
    return count


def arange_values(start, end, step, dtype):
    """torch.arange's values (a numpy array of ``dtype``). The checks use the arguments as
    doubles. Floating dtypes step from start in double precision (float16 in float) and round
    once. Integer dtypes truncate start and step to int64 first and step exactly from there;
    the count is ceil((end - start) / step) of the arguments as given, except for int64, whose
    count comes from the truncated values too (arange(0.0, -8.000001, -4.0) has three float
    elements but two int64 ones, [0, -4])."""
    dtype = np.dtype(dtype)
    _not_implemented_for_bool(dtype, "arange_cpu")
    d_start, d_end, d_step = float(start), float(end), float(step)
    if not (d_step > 0 or d_step < 0):
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(d_start) and math.isfinite(d_end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if not ((d_step > 0 and d_end >= d_start) or (d_step < 0 and d_end <= d_start)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype.kind == "f":
        count = _count(d_start, d_end, d_step)
        work = np.dtype(np.float32 if dtype == np.float16 else np.float64)
        i = np.arange(count, dtype=work)
        return (work.type(d_start) + work.type(d_step) * i).astype(dtype)
    i_start, i_end, i_step = (_to_integer(v, np.int64) for v in (start, end, step))
    if dtype == np.int64:
        if i_step == 0:  # 0.5 truncated: torch's ValueError
            raise ValueError("step must be nonzero")
        span = i_end - i_start + i_step - (1 if i_step > 0 else -1)
        count = abs(span) // abs(i_step)  # C's division, toward zero (span has step's sign)
    else:
        count = _count(d_start, d_end, d_step)
    return (i_start + i_step * np.arange(count, dtype=np.int64)).astype(dtype)


def linspace_values(start, end, steps, dtype):
    """torch.linspace's values (a numpy array of ``dtype``): start and end in ``dtype`` (an
    integer dtype truncates them), the step in ``dtype`` (double for integer dtypes), the first
    half counted up from start and the second down from end; integer dtypes truncate each
    value."""
    dtype = np.dtype(dtype)
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    if steps == 0:
        return np.empty(0, dtype)
    if steps == 1:  # torch fills start alone (end is not even converted)
        start = bool(start) if dtype == np.bool_ else start if dtype.kind == "f" else \
            _to_integer(start, dtype)
        return np.full(1, start, dtype=dtype)
    _not_implemented_for_bool(dtype, "linspace_cpu")
    if dtype.kind == "f":
        return torch_linspace(start, end, steps, dtype)
    start, end = _to_integer(start, dtype), _to_integer(end, dtype)
    step = (float(end) - float(start)) / (steps - 1)
    i = np.arange(steps, dtype=np.float64)
    # torch's compiler fuses each multiply-add: one rounding, which the truncation can expose
    # (linspace(-3, 1, 7) has 1 - (2/3) * 3 = -0.99999999999999989, so 0, not -1)
    values = np.where(i < steps // 2, _fma(step, i, float(start)),
                      _fma(-step, (steps - 1) - i, float(end)))
    return values.astype(dtype)


def _fma(a, b, c):
    """a * b + c rounded once (float64 arrays), from the exact product (Dekker's split) and the
    exact sum's error (Knuth's two-sum)."""
    def split(x):
        scaled = 134217729.0 * x  # 2**27 + 1
        high = scaled - (scaled - x)
        return high, x - high
    product = a * b
    (a_hi, a_lo), (b_hi, b_lo) = split(np.float64(a)), split(np.asarray(b, np.float64))
    product_error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    total = product + c
    c_part = total - product
    sum_error = (product - (total - c_part)) + (c - c_part)
    return total + (sum_error + product_error)


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
