"""Tensor creation: ``tensor, zeros, ones, full, empty, arange, randn, rand ...`` (torch names).

Floating point results default to float32 (``set_default_dtype`` changes it); ``device='cuda'`` allocates with cupy.
"""
from __future__ import annotations

import operator

import numpy as np

from fastdl import random as _random
from fastdl.tensor import (Tensor, _check_can_require_grad, _is_cupy, _parse_device, _wrap,
                           as_dtype, get_default_dtype, int64, tensor)


def _xp(device):
    if device is None or _parse_device(device) == "cpu":
        return np
    from fastdl import backend
    cp = backend._cupy_module()
    if cp is None:
        raise RuntimeError("device 'cuda' needs cupy, which is not installed")
    return cp


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:  # operator.index: ints (Python, numpy, integer 0-d tensors); 2.5 or "3" raise
        out = tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"size must be a sequence of ints, got {size!r}") from None
    if any(s < 0 for s in out):
        raise RuntimeError(f"negative dimension in size {out}")
    return out


def _finish(arr, requires_grad):
    t = _wrap(arr)
    if requires_grad:
        _check_can_require_grad(arr, True)
        t._requires_grad = True
    return t


def _dt(dtype, default=None):
    """``dtype``, or ``default``, or the default floating point dtype (set_default_dtype)."""
    if dtype is not None:
        return as_dtype(dtype)
    return get_default_dtype() if default is None else default


def _size_arg(args, size, fn):
    """zeros(2, 3), zeros((2, 3)) or zeros(size=(2, 3)), as torch."""
    if size is not None:
        if args:
            raise TypeError(f"{fn}(): give the size positionally or as size=, not both")
        return _size((size,))
    return _size(args)


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).zeros(_size_arg(args, size, "zeros"), dtype=_dt(dtype)),
                   requires_grad)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).ones(_size_arg(args, size, "ones"), dtype=_dt(dtype)),
                   requires_grad)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).empty(_size_arg(args, size, "empty"), dtype=_dt(dtype)),
                   requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else
                 int64 if isinstance(fill_value, int) else get_default_dtype())
    return _finish(_xp(device).full(_size((size,)), fill_value, dtype=as_dtype(dtype)),
                   requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).eye(n, m, dtype=_dt(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Like torch: integer arguments give int64, any float argument the default dtype. An
    integer ``dtype`` truncates float arguments first, as torch's kernel does.

    Shape: (ceil((end - start) / step),); ``arange(n)`` counts 0 .. n-1.

    >>> fastdl.arange(5).tolist()
    [0, 1, 2, 3, 4]
    >>> fastdl.arange(0, 1, 0.25).tolist()
    [0.0, 0.25, 0.5, 0.75]
    >>> fastdl.arange(1, 7, 2).dtype
    dtype('int64')
    >>> fastdl.arange(0.5, 5.0, 1.5, dtype=fastdl.int64).tolist()
    [0, 1, 2, 3, 4]
    """
    from fastdl.creation_ranges import arange_values
    # one-element tensors as their values (arange(tensor(3)) counts to 3 in int64, as torch)
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                     for v in (start, end, step))
        dtype = int64 if is_int else get_default_dtype()
    values = arange_values(start, end, step, as_dtype(dtype))
    return _finish(_xp(device).asarray(values), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    from fastdl.creation_ranges import linspace_values
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, Tensor) and v.ndim:
            raise RuntimeError(f"linspace only supports 0-dimensional start and end tensors, "
                               f"but got {name} with {v.ndim} dimension(s)")
    start, end, steps = (v.item() if isinstance(v, Tensor) else v for v in (start, end, steps))
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    values = linspace_values(start, end, int(steps), _dt(dtype))
    return _finish(_xp(device).asarray(values), requires_grad)


def _like(fn, input, dtype, device, requires_grad, *args):
    return fn(*args, input._data.shape, dtype=dtype or input._data.dtype,
              device=device or input.device, requires_grad=requires_grad) if args else \
        fn(input._data.shape, dtype=dtype or input._data.dtype, device=device or input.device,
           requires_grad=requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return _like(zeros, input, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return _like(ones, input, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like(empty, input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return full(input._data.shape, fill_value, dtype=dtype or input._data.dtype,
                device=device or input.device, requires_grad=requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples of shape ``size`` from the global generator (seeded by
    ``fastdl.manual_seed``) or from ``generator`` (a ``fastdl.Generator``).

    >>> fastdl.randn(2, 3).shape
    (2, 3)
    """
    dev = "cpu" if device is None else _parse_device(device)
    return _finish(_random.normal_array(_size(size), 0.0, 1.0, _dt(dtype), dev, generator),
                   requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) of shape ``size`` (from ``generator`` when given).

    >>> _ = fastdl.manual_seed(0)
    >>> x = fastdl.rand(2, 3)
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 1)).all())
    ((2, 3), dtype('float32'), True)
    """
    dev = "cpu" if device is None else _parse_device(device)
    return _finish(_random.uniform_array(_size(size), 0.0, 1.0, _dt(dtype), dev, generator),
                   requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers in [low, high) of shape ``size`` (int64 unless ``dtype``).

    ``randint(high, size=...)`` starts at 0.

    >>> x = fastdl.randint(0, 10, (2, 3))
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 10)).all())
    ((2, 3), dtype('int64'), True)
    """
    if high is None:
        low, high = 0, low
    elif isinstance(high, (tuple, list)) and size == ():  # randint(high, size), as torch
        low, high, size = 0, low, high
    dev = "cpu" if device is None else _parse_device(device)
    return _finish(_random.integers_array(low, high, _size((size,)), _dt(dtype, int64), dev,
                                          generator), requires_grad)


def randperm(n, generator=None, dtype=None, device=None):
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype``).

    Shape: (n,).

    >>> sorted(fastdl.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    dev = "cpu" if device is None else _parse_device(device)
    return _wrap(_random.permutation_array(n, dev, generator).astype(_dt(dtype, int64),
                                                                     copy=False))


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return _like(randn, input, dtype, device, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return _like(rand, input, dtype, device, requires_grad)


def from_numpy(ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (its dtype kept).

    Shape: the array's.

    >>> import numpy as np
    >>> a = np.array([1, 2], dtype=np.int32)
    >>> t = fastdl.from_numpy(a)
    >>> a[0] = 7
    >>> t.tolist(), t.dtype
    ([7, 2], dtype('int32'))
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "fiub":
        raise TypeError(f"from_numpy: can't convert an array of dtype {ndarray.dtype}; fastdl "
                        "supports bool, integer and floating point arrays")
    return _wrap(ndarray)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with an array when dtype and device already match.

    >>> import numpy as np
    >>> a = np.zeros(3, dtype=np.float32)
    >>> t = fastdl.as_tensor(a)  # same dtype and device: no copy
    >>> a[0] = 5
    >>> t.tolist()
    [5.0, 0.0, 0.0]
    """
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if (isinstance(data, np.ndarray) or _is_cupy(data)) and (
            dtype is None or as_dtype(dtype) == data.dtype) and device is None:
        return from_numpy(data) if isinstance(data, np.ndarray) else _wrap(data)
    return tensor(data, dtype=dtype, device=device)


def from_dlpack(ext_tensor) -> Tensor:
    """A tensor sharing memory with any DLPack producer (numpy, cupy, torch, jax ...).

    Shape and dtype: the producer's.

    >>> import numpy as np
    >>> t = fastdl.from_dlpack(np.arange(3))
    >>> t.tolist(), t.shape
    ([0, 1, 2], (3,))
    """
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack expects an object with __dlpack__, got "
                        f"{type(ext_tensor).__name__}")
    device_type = ext_tensor.__dlpack_device__()[0]
    if device_type == 1:  # kDLCPU
        arr = np.from_dlpack(ext_tensor)
    elif device_type == 2:  # kDLCUDA
        from fastdl import backend
        cp = backend._cupy_module()
        if cp is None:
            raise RuntimeError("from_dlpack: the producer lives on a CUDA device; install cupy")
        arr = cp.from_dlpack(ext_tensor)
    else:
        raise RuntimeError(f"from_dlpack: unsupported DLPack device type {device_type}")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"from_dlpack: unsupported dtype {arr.dtype}")
    return _wrap(arr)


__all__ = ["tensor", "as_tensor", "zeros", "ones", "empty", "full", "eye", "arange", "linspace",
           "zeros_like", "ones_like", "empty_like", "full_like", "randn", "rand", "randint",
           "randperm", "randn_like", "rand_like", "from_numpy", "from_dlpack"]
