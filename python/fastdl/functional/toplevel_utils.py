"""torch's top-level dtype queries and small constructors (``promote_types``, ``result_type``,
``can_cast``, ``is_floating_point``, ``scalar_tensor``, ``asarray``, ``frombuffer``,
``empty_strided``, ``fill``, ``adjoint``) and the ``*_copy`` forms of the view ops.

fastdl has no complex dtype, so ``is_complex`` is always False. A ``*_copy`` op returns what
its view op returns, as a fresh tensor (differentiable like the view; the dtype form of
``view_copy`` reinterprets bits and, as in torch, records no gradient).
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from fastdl._argcheck import check_tensor_arg
from fastdl.functional._core import _category, as_tensor_arg, promote_dtypes, xp_of
from fastdl.tensor import Tensor, _wrap, as_dtype, get_default_dtype


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` convert to without leaving their
    category (bool < integer < floating point): the higher category wins outright, so
    int64 with float16 gives float16 (numpy would say float64).

    >>> fastdl.promote_types(fastdl.int64, fastdl.float16), fastdl.promote_types('uint8', 'int8')
    (dtype('float16'), dtype('int16'))
    """
    return promote_dtypes(as_dtype(type1), as_dtype(type2))


def _combine(higher, lower):
    """ATen's combine_categories: a higher-priority operand keeps its dtype unless a lower one
    is of a higher category (bool < int < float)."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on the two operands returns (tensors or Python numbers).
    Tensors with dimensions outrank 0-d tensors, which outrank numbers, unless the lower
    rank is of a higher category; a float number then means the default dtype.

    >>> fastdl.result_type(fastdl.tensor([1, 2], dtype=fastdl.int32), 2.5)
    dtype('float32')
    >>> fastdl.result_type(fastdl.tensor(1.0, dtype=fastdl.float64), fastdl.ones(2, dtype=fastdl.int32))
    dtype('float64')
    """
    ranks = [None, None, None]  # dimensioned tensors, 0-d tensors, numbers
    for x in (tensor1, tensor2):
        if isinstance(x, Tensor):
            dt, r = x._data.dtype, 0 if x._data.ndim else 1
        elif isinstance(x, (bool, int, float, np.generic)) and not isinstance(x, complex):
            kind = np.asarray(x).dtype.kind
            if kind not in "biuf":
                raise TypeError(f"result_type: unsupported operand {x!r}")
            dt = np.dtype(bool) if kind == "b" else (
                get_default_dtype() if kind == "f" else np.dtype(np.int64))
            r = 2
        else:
            raise TypeError(f"result_type(): arguments must be Tensors or numbers, got "
                            f"{type(x).__name__}")
        ranks[r] = dt if ranks[r] is None else promote_types(ranks[r], dt)
    return _combine(ranks[0], _combine(ranks[1], ranks[2]))


def can_cast(from_, to):
    """Whether type promotion may cast ``from_`` to ``to``: never to a lower category
    (floating point to integer or bool, integer to bool); narrowing within one is allowed.

    >>> fastdl.can_cast(fastdl.float64, fastdl.float16), fastdl.can_cast(fastdl.float32, fastdl.int32)
    (True, False)
    """
    a, b = as_dtype(from_), as_dtype(to)
    return _category(a) <= _category(b)


def is_floating_point(input):
    """True when ``input``'s dtype is a floating point type.

    >>> fastdl.is_floating_point(fastdl.ones(1)), fastdl.is_floating_point(fastdl.arange(2))
    (True, False)
    """
    return check_tensor_arg(input, "is_floating_point")._data.dtype.kind == "f"


def is_complex(input):
    """Always False for a tensor: fastdl has no complex dtype.

    >>> fastdl.is_complex(fastdl.ones(1))
    False
    """
    check_tensor_arg(input, "is_complex")
    return False


def is_signed(input):
    """True for signed integer and floating point dtypes, False for uint8 and bool.

    >>> fastdl.is_signed(fastdl.ones(1)), fastdl.is_signed(fastdl.ones(1, dtype=fastdl.uint8))
    (True, False)
    """
    return check_tensor_arg(input, "is_signed")._data.dtype.kind in "if"


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=None,
                  requires_grad=False):
    """A 0-d tensor holding ``s``, in the default float dtype unless ``dtype`` (even for an
    int or bool, as torch).

    >>> fastdl.scalar_tensor(3), fastdl.scalar_tensor(3, dtype=fastdl.int64)
    (tensor(3.), tensor(3))
    """
    from fastdl.creation import full
    if isinstance(s, Tensor):
        s = s.item()
    if not isinstance(s, (bool, int, float, np.generic)):
        raise TypeError(f"scalar_tensor(): argument 's' must be a number, not "
                        f"{type(s).__name__}")
    return full((), s, dtype=dtype if dtype is not None else get_default_dtype(),
                device=device, requires_grad=requires_grad)


def _asarray_tensor(obj, dtype, device, copy, requires_grad):
    from fastdl.tensor import _parse_device
    dt = obj._data.dtype if dtype is None else as_dtype(dtype)
    moves = device is not None and _parse_device(device) != obj.device
    if copy is False and (dt != obj._data.dtype or moves):
        raise ValueError(f"can't alias tensor with dtype {obj._data.dtype} on {obj.device} "
                         f"into dtype {dt} on {device or obj.device}")
    out = obj if requires_grad is not False else obj.detach()
    if dt != obj._data.dtype or moves:
        out = out.to(dtype=dt, device=device)
    elif copy:
        out = out.clone()
    if requires_grad and not out.requires_grad:
        out = out.detach().requires_grad_(True)
    return out


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """``obj`` as a tensor, sharing memory when it can: a tensor comes back itself (or cast),
    a numpy/cupy array or DLPack producer is wrapped without a copy when ``dtype`` and
    ``device`` allow, anything else (numbers, nested lists) is copied as ``tensor`` would.
    ``copy=True`` always copies; ``copy=False`` raises ValueError where a copy is needed.
    ``requires_grad`` defaults to obj's own (torch 2.13's default).

    >>> import numpy as np
    >>> a = np.zeros(2, dtype=np.float32); t = fastdl.asarray(a); a[0] = 5
    >>> t.tolist(), fastdl.asarray([1, 2]).dtype
    ([5.0, 0.0], dtype('int64'))
    """
    from fastdl.creation import _finish, as_tensor, from_dlpack, tensor
    if isinstance(obj, Tensor):
        return _asarray_tensor(obj, dtype, device, copy, requires_grad)
    array_like = isinstance(obj, np.ndarray) or type(obj).__module__.split(".")[0] == "cupy"
    if not array_like and hasattr(obj, "__dlpack__") and not isinstance(obj, np.generic):
        return _asarray_tensor(from_dlpack(obj), dtype, device, copy, requires_grad)
    if not array_like and hasattr(obj, "__array_interface__"):
        obj, array_like = np.asarray(obj), True
    if array_like:
        return _asarray_tensor(as_tensor(obj), dtype, device, copy, requires_grad)
    if copy is False:
        raise ValueError(f"can't alias arbitrary sequence into a tensor (got "
                         f"{type(obj).__name__}); pass copy=None or copy=True")
    out = tensor(obj, dtype=dtype, device=device)
    return _finish(out._data, bool(requires_grad))


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over the bytes of a Python buffer (bytes, bytearray, memoryview, array),
    sharing its memory: ``count`` elements of ``dtype`` from byte ``offset`` (-1: all that
    remain). A read-only buffer gives a read-only tensor (with torch's warning).

    >>> fastdl.frombuffer(bytearray([1, 0, 2, 0]), dtype=fastdl.int16).tolist()
    [1, 2]
    """
    from fastdl.creation import _finish
    dt = as_dtype(dtype)
    view = memoryview(buffer)
    length, size = view.nbytes, dt.itemsize
    if count == 0 or length <= 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % size:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({size})")
        count = (length - offset) // size
    elif offset + count * size > length:
        raise ValueError(f"requested buffer length ({count} * {size} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    if view.readonly:
        warnings.warn("The given buffer is not writable; writing to the returned tensor "
                      "fails (fastdl keeps it read-only rather than undefined).", UserWarning,
                      stacklevel=2)
    arr = np.frombuffer(view.cast("B") if view.ndim != 1 or view.format != "B" else view,
                        dtype=dt, count=count, offset=offset)
    return _finish(arr, requires_grad)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """An uninitialised tensor of shape ``size`` laid out with element strides ``stride`` (its
    values are whatever the memory held, as in torch).

    >>> fastdl.empty_strided((2, 3), (1, 2)).stride()
    (1, 2)
    """
    from fastdl.functional.strided import new_empty_strided
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality "
                           f"of strides ({len(stride)})")
    dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
    return new_empty_strided(_wrap(np.empty(0, dtype=dt)), size, stride, dt, device or "cpu",
                             requires_grad)


def fill(input, value):
    """A new tensor of input's shape and dtype holding ``value`` (a number or a 0-d tensor;
    the gradient flows to a tensor ``value``, input gets none).

    >>> fastdl.fill(fastdl.ones(2, dtype=fastdl.int64), 2.7).tolist()
    [2, 2]
    """
    from fastdl.functional.arithmetic import where
    check_tensor_arg(input, "fill")
    d = input._data
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value._data.ndim} dimensions.")
        v = value if value._data.dtype == d.dtype else value.to(d.dtype)
    else:
        v = _wrap(np.asarray(as_tensor_arg(value)._data.item()).astype(d.dtype))
    everywhere = _wrap(xp_of(d).ones(d.shape, dtype=bool))
    # where routes the gradient to value (summed) and zeros to input, as torch's fill does
    return where(everywhere, v.to(device=input.device), input)


def adjoint(input):
    """The conjugate transpose of the last two dims (a view; fastdl's dtypes are real, so the
    transpose).

    >>> fastdl.adjoint(fastdl.tensor([[1.0, 2.0]])).tolist()
    [[1.0], [2.0]]
    """
    check_tensor_arg(input, "adjoint")
    if input._data.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of "
                           f"matrices. Got {input._data.ndim}-D tensor.")
    return input.transpose(-2, -1)


def _slice(input, dim=0, start=None, end=None, step=1):
    from fastdl.functional._core import norm_dim
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return input[(slice(None),) * norm_dim(dim, input.ndim) + (slice(start, end, step),)]


def _view(input, *size):
    from fastdl.functional.shape import view
    if len(size) == 1 and not isinstance(size[0], (int, np.integer, tuple, list)):
        # the dtype overload reinterprets the bytes: no gradient, as in torch
        return _wrap(input._data.copy().view(as_dtype(size[0])))
    return view(input, *size)


def _squeeze(input, dim=None):
    from fastdl.functional.shape import squeeze
    return squeeze(input, tuple(dim) if isinstance(dim, list) else dim)


def _expand(input, size, *, implicit=False):
    from fastdl.functional.shape import expand
    return expand(input, *size)


def _unfold(input, dimension, size, step):
    return input.unfold(dimension, size, step)


def _detach(input):
    return input.detach()


def _alias(input):
    return input


def _copying(name, view, example):
    def copy_op(input, *args, **kwargs):
        check_tensor_arg(input, name)
        out = view(input, *args, **kwargs)
        if isinstance(out, (tuple, list)):
            return tuple(o.clone() for o in out)
        # a view op may hand input back unchanged (a no-op squeeze): clone so it is new memory
        return out.clone()

    copy_op.__name__ = copy_op.__qualname__ = name
    copy_op.__signature__ = inspect.signature(view)
    base = name[:-len("_copy")]
    copy_op.__doc__ = (f"What ``{base}`` returns, as a new tensor that shares no memory with "
                       f"input (gradients flow as through ``{base}``).\n\n{example}\n")
    return copy_op


def _copy_ops():
    from fastdl.functional import shape as S, shape_more as SM
    from fastdl.functional.everyday import diagonal
    from fastdl.functional.strided import as_strided
    x = ">>> x = fastdl.arange(6.0).view(2, 3)\n"
    table = {
        "view_copy": (_view, x + ">>> fastdl.view_copy(x, (3, 2)).tolist()\n"
                      "[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]"),
        "permute_copy": (S.permute, x + ">>> fastdl.permute_copy(x, (1, 0)).shape\n(3, 2)"),
        "transpose_copy": (S.transpose, x + ">>> fastdl.transpose_copy(x, 0, 1).shape\n(3, 2)"),
        "t_copy": (S.t, x + ">>> fastdl.t_copy(x).tolist()\n[[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]"),
        "expand_copy": (_expand, ">>> fastdl.expand_copy(fastdl.ones(1, 2), (3, -1)).shape\n"
                        "(3, 2)"),
        "diagonal_copy": (diagonal, x + ">>> fastdl.diagonal_copy(x).tolist()\n[0.0, 4.0]"),
        "select_copy": (SM.select, x + ">>> fastdl.select_copy(x, 1, -1).tolist()\n[2.0, 5.0]"),
        "slice_copy": (_slice, x + ">>> fastdl.slice_copy(x, 1, 1, None, 1).tolist()\n"
                       "[[1.0, 2.0], [4.0, 5.0]]"),
        "squeeze_copy": (_squeeze, ">>> fastdl.squeeze_copy(fastdl.ones(1, 2, 1), [0, 2]).shape"
                         "\n(2,)"),
        "unsqueeze_copy": (S.unsqueeze, x + ">>> fastdl.unsqueeze_copy(x, 0).shape\n(1, 2, 3)"),
        "unbind_copy": (S.unbind, x + ">>> [t.tolist() for t in fastdl.unbind_copy(x)]\n"
                        "[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]"),
        "split_copy": (S.split, ">>> [t.tolist() for t in fastdl.split_copy(fastdl.arange(5), 2)]"
                       "\n[[0, 1], [2, 3], [4]]"),
        "split_with_sizes_copy": (SM.split_with_sizes, ">>> [t.tolist() for t in "
                                  "fastdl.split_with_sizes_copy(fastdl.arange(3), [1, 2])]\n"
                                  "[[0], [1, 2]]"),
        "unfold_copy": (_unfold, ">>> fastdl.unfold_copy(fastdl.arange(4), 0, 2, 2).tolist()\n"
                        "[[0, 1], [2, 3]]"),
        "detach_copy": (_detach, x + ">>> fastdl.detach_copy(x).requires_grad\nFalse"),
        "alias_copy": (_alias, x + ">>> y = fastdl.alias_copy(x); y.tolist() == x.tolist()\n"
                       "True"),
        "as_strided_copy": (as_strided, ">>> fastdl.as_strided_copy(fastdl.arange(6), (2, 2), "
                            "(1, 2)).tolist()\n[[0, 2], [1, 3]]"),
    }
    return {name: _copying(name, view, ex) for name, (view, ex) in table.items()}


_COPY_OPS = _copy_ops()
globals().update(_COPY_OPS)

__all__ = ["adjoint", "asarray", "can_cast", "empty_strided", "fill", "frombuffer",
           "is_complex", "is_floating_point", "is_signed", "promote_types", "result_type",
           "scalar_tensor"] + sorted(_COPY_OPS)
