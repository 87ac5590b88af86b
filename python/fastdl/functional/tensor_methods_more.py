"""More of torch.Tensor's methods: in-place forms of composed ops (addmm_, cumsum_, tril_ ...),
metadata queries (storage_offset, dim_order, nbytes, layout ...), the legacy ``new`` constructor,
the deprecated out-of-place ``resize``, and the per-element Python callbacks apply_/map_/map2_.
"""
from __future__ import annotations

import mmap
import operator
import warnings

import numpy as np

from fastdl.functional._core import torch_dtype_name
from fastdl.tensor import _NamedConstant



class layout(_NamedConstant):
    """A tensor layout (torch's ``torch.layout``). fastdl tensors are all dense and strided.

    >>> fastdl.ones(2).layout
    fastdl.strided
    """

    __slots__ = ()


strided = layout("strided")


# ---- in-place forms of composed ops ----

def _check_not_leaf(self):
    if self._requires_grad and self._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")


def _stand_in(self):
    """A tensor with self's data and history: ops recorded from it leave self out of the
    graph's inputs, so self may then take another shape."""
    from fastdl.tensor import _wrap
    twin = _wrap(self._data)
    twin._requires_grad, twin._grad_fn = self._requires_grad, self._grad_fn
    return twin


def _become(self, result, record):
    """Give self result's memory (and, when ``record``, its history) in place of its own,
    as torch's resizing in-place ops and as_strided_ do: self stops sharing its base's memory."""
    from fastdl.autograd.graph import version_counter
    version_counter(self).value += 1  # tensors saved for a backward see the change
    self._data = result._data
    if record:
        self._requires_grad, self._grad_fn = result._requires_grad, result._grad_fn
    if self._view is not None:
        self._view, self._vc = None, None
    return self


def _check_baddbmm_inplace_dtypes(self, batch1=None, batch2=None, *rest, **kwargs):
    """baddbmm_ checks self against its result's dtype, which torch takes from batch2, after
    self against batch1 (baddbmm's own check) and before batch1 against batch2."""
    from fastdl.functional._core import cpp_dtype_name
    from fastdl.tensor import Tensor
    if not (isinstance(batch1, Tensor) and isinstance(batch2, Tensor)):
        return
    d0, d1, d2 = self._data.dtype, batch1._data.dtype, batch2._data.dtype
    if d0 == d1 != d2:
        raise RuntimeError(f"Bad in-place call: input tensor dtype {cpp_dtype_name(d0)} and "
                           f"output tensor dtype {cpp_dtype_name(d2)} should match")


def _addr_size_error(self, out, vec1, vec2, *rest, **kwargs):
    return (f"size mismatch, input: {list(self.shape)}, v1: {list(vec1.shape)}, "
            f"v2: {list(vec2.shape)}")


def _same_size_error(self, out, *args, **kwargs):
    return (f"Bad in-place call: input tensor size {list(self.shape)} and output tensor size "
            f"{list(out.shape)} should match")


def _strict_inplace(name, compute_name, check_dtype=None, resizes=False, precheck=None,
                    size_error=_same_size_error):
    """``self.{name}_(...)``: self <- self.{name}(...), which must keep self's shape and, with
    ``check_dtype``, its dtype. With ``resizes`` (torch's addbmm_), a self that broadcasts to
    the result is resized to it instead. ``precheck(self, *args, **kwargs)`` runs the op's own
    checks that torch makes before computing; ``size_error(self, out, *args, **kwargs)`` gives
    the message for a result of another shape."""
    def method(self, *args, **kwargs):
        from fastdl.tensor import _inplace_composite
        from fastdl.autograd.grad_mode import grad_wanted
        if kwargs.get("dtype") is not None:
            from fastdl.tensor import as_dtype
            want = as_dtype(kwargs["dtype"])
            if want != self._data.dtype:
                raise RuntimeError(f"Bad in-place call: input tensor dtype {self._data.dtype} "
                                   f"and output tensor dtype {want} should match")

        if precheck is not None:
            precheck(self, *args, **kwargs)

        def check(out):
            if check_dtype and out.dtype != self._data.dtype:
                raise RuntimeError(f"the base given to {name}_ has dtype {self._data.dtype} but "
                                   f"the operation's result requires dtype {out.dtype}")
            if not np.can_cast(out._data.dtype, self._data.dtype, "same_kind"):
                raise RuntimeError(f"result type {torch_dtype_name(out._data.dtype)} can't be "
                                   f"cast to the desired output type "
                                   f"{torch_dtype_name(self._data.dtype)}")
            if tuple(out.shape) == tuple(self.shape):
                return out
            raise RuntimeError(size_error(self, out, *args, **kwargs))

        if resizes:
            _check_not_leaf(self)
            out = getattr(_stand_in(self), compute_name)(*args, **kwargs)
            if tuple(out.shape) != tuple(self.shape):
                if out.dtype != self._data.dtype:
                    raise RuntimeError(f"{name}_: result type {out.dtype} can't be cast to the "
                                       f"desired output type {self._data.dtype}")
                return _become(self, out.contiguous(), record=grad_wanted(out))
            return self.copy_(out)  # out's graph holds the stand-in, not self
        return _inplace_composite(self, name,
                                  lambda x: check(getattr(x, compute_name)(*args, **kwargs)))

    method.__name__ = f"{name}_"
    method.__doc__ = (f"``{compute_name}`` in place: self's values replaced by "
                      f"``self.{compute_name}(...)``, which must have self's shape"
                      f"{' and dtype' if check_dtype else ''}"
                      f"{' (a self that broadcasts to it is resized, as torch)' if resizes else ''}"
                      f". Returns self.")
    return method


_INPLACE_EXAMPLES = {  # (self, arguments) for each docstring's example
    "addbmm": ("fastdl.zeros(1, 1)", "fastdl.ones(2, 1, 3), fastdl.ones(2, 3, 1)"),
    "addmm": ("fastdl.zeros(1, 1)", "fastdl.ones(1, 3), fastdl.ones(3, 1)"),
    "addmv": ("fastdl.zeros(1)", "fastdl.ones(1, 3), fastdl.ones(3)"),
    "addr": ("fastdl.zeros(1, 1)", "fastdl.ones(1), fastdl.ones(1)"),
    "baddbmm": ("fastdl.zeros(1, 1, 1)", "fastdl.ones(1, 1, 3), fastdl.ones(1, 3, 1)"),
    "cumprod": ("fastdl.ones(3)", "0"), "cumsum": ("fastdl.ones(3)", "0"),
    "masked_scatter": ("fastdl.zeros(2)", "fastdl.tensor([True, False]), fastdl.ones(2)"),
    "renorm": ("fastdl.ones(2, 2)", "2, 0, 1.0"), "tril": ("fastdl.ones(2, 2)", ""),
    "triu": ("fastdl.ones(2, 2)", ""), "float_power": ("fastdl.ones(2, dtype=fastdl.float64)",
                                                      "2"),
}
_INPLACE_OPTIONS = {  # the ops whose in-place form checks or says more than the generic one
    "addbmm": {"resizes": True},
    "addr": {"size_error": _addr_size_error},
    "baddbmm": {"precheck": _check_baddbmm_inplace_dtypes},
    "float_power": {"check_dtype": True},
}
_INPLACE = {name: _strict_inplace(name, name, **_INPLACE_OPTIONS.get(name, {}))
            for name in _INPLACE_EXAMPLES}
for _name, (_self, _args) in _INPLACE_EXAMPLES.items():
    _INPLACE[_name].__doc__ += f"\n\n>>> x = {_self}\n>>> x.{_name}_({_args}) is x\nTrue"


def as_strided_(self, size, stride, storage_offset=None):
    """as_strided in place: self becomes the (size, stride, storage_offset) view of its
    storage. Without a gradient the new view is read-only (see fastdl.functional.strided);
    with one (a non-leaf), self becomes the gathered copy as_strided records, so its gradient
    reaches self's history. Returns self.

    >>> x = fastdl.arange(6.0)
    >>> x.as_strided_((2, 2), (1, 2), 1).tolist()
    [[1.0, 3.0], [2.0, 4.0]]
    """
    from fastdl.autograd.grad_mode import grad_wanted
    from fastdl.functional.strided import as_strided
    _check_not_leaf(self)
    if grad_wanted(self):
        return _become(self, as_strided(_stand_in(self), size, stride, storage_offset), True)
    from fastdl.autograd.graph import version_counter
    out = as_strided(self.detach(), size, stride, storage_offset)
    version_counter(self).value += 1
    self._data = out._data  # still self's storage: views of it keep sharing the counter
    return self


# ---- metadata ----

def _root(d):
    """The array that owns d's memory (through as_strided's non-array holder too)."""
    root, obj = d, d
    while getattr(obj, "base", None) is not None:
        obj = obj.base
        if hasattr(obj, "dtype"):
            root = obj
    return root


def _ptr(a):
    return a.ctypes.data if type(a) is np.ndarray else a.data.ptr


def storage_offset(self):
    """Elements between the start of self's allocation (its storage) and self's first
    element; 0 when that allocation holds another dtype or is not an array.

    >>> fastdl.arange(6).reshape(2, 3)[1, 1:].storage_offset()
    4
    """
    d = self._data
    root = _root(d)
    if root is d or root.dtype != d.dtype:
        return 0
    return (_ptr(d) - _ptr(root)) // d.itemsize


def _channels_last_contiguous(shape, strides):
    if len(shape) != 4:
        return False
    expected = 1
    for dim in (1, 3, 2, 0):
        if shape[dim] != 1 and strides[dim] != expected:
            return False
        expected *= shape[dim]
    return True


def _dim_order_perm(shape, strides, contiguous):
    """torch's logical-to-physical permutation (torch._prims_common's insertion sort)."""
    ndim = len(shape)
    if ndim == 0:
        return [], False
    if ndim == 1:
        return [0], False
    last = _channels_last_contiguous(shape, strides)
    if contiguous and not last:
        return list(range(ndim)), False
    if last and not contiguous:
        return [0, *range(2, ndim), 1], False

    def ge(a, b):
        return b == 0 or (a != 0 and (a >= b or a % b == 0))

    def should_swap(a, b):
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if ge(shape[b], shape[a]) else 1
        if ge(sb, sa):
            return -1
        return 1 if ge(sa, sb) else 0

    perm = list(reversed(range(ndim)))
    for i in range(1, ndim):
        d1 = i
        for d0 in reversed(range(i)):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    ambiguous = any(should_swap(perm[i], perm[i + 1]) != -1 for i in range(ndim - 1))
    return list(reversed(perm)), ambiguous


def dim_order(self, *, ambiguity_check=False):
    """The dims from outermost to innermost in memory (torch's dim_order). With
    ``ambiguity_check`` True (or a list of memory formats), a tensor with size-1 dims or equal
    strides raises unless it is contiguous in exactly one of the listed formats.

    >>> fastdl.ones(2, 3).t().dim_order()
    (1, 0)
    """
    from fastdl.tensor import memory_format
    if not isinstance(ambiguity_check, bool):
        if not isinstance(ambiguity_check, list) or not all(
                isinstance(f, memory_format) for f in ambiguity_check):
            raise TypeError("The ambiguity_check argument must be a bool or a list of memory "
                            "formats.")
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    check = ambiguity_check if isinstance(ambiguity_check, bool) else True
    shape, strides = tuple(self.shape), self.stride()
    contiguous = self.is_contiguous()
    multiple = (any(a == b for a, b in zip(strides, strides[1:])) or any(s == 1 for s in shape))
    from fastdl.tensor import contiguous_format
    legal = sum(1 for f in formats if f is contiguous_format and contiguous)
    if check and multiple and legal != 1:
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact "
                           "one of the given memory formats.")
    perm, ambiguous = _dim_order_perm(shape, strides, contiguous)
    if ambiguity_check and ambiguous:
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(perm)


def is_signed(self):
    """True for signed integer and floating dtypes; False for bool and unsigned ones.

    >>> fastdl.ones(1, dtype=fastdl.uint8).is_signed()
    False
    """
    return self._data.dtype.kind in "if"


def is_set_to(self, tensor):
    """True when both tensors view the same memory with the same sizes, strides and start.

    >>> x = fastdl.ones(2, 3)
    >>> x.is_set_to(x[:]), x.is_set_to(x.view(6))
    (True, False)
    """
    a, b = self._data, tensor._data
    return (type(a) is type(b) and _ptr(a) == _ptr(b) and a.dtype == b.dtype
            and a.shape == b.shape and a.strides == b.strides
            and (a.size > 0 or _root(a) is _root(b)))


def is_shared(self):
    """True once share_memory_ moved self's memory into a process-shared mapping (always for
    GPU tensors, as torch).

    >>> x = fastdl.ones(2)
    >>> x.is_shared(), x.share_memory_().is_shared()
    (False, True)
    """
    d = self._data
    if type(d) is not np.ndarray:
        return True
    base = getattr(_root(d), "base", None)  # np.frombuffer(mmap) holds a memoryview of it
    return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)


def share_memory_(self):
    """Move self's memory into an anonymous shared mapping that forked processes see
    (a no-op when already shared, and for GPU tensors). Views made before the move keep the
    old memory. Returns self.

    >>> fastdl.arange(3).share_memory_().tolist()
    [0, 1, 2]
    """
    if is_shared(self):
        return self
    d = self._data
    buf = mmap.mmap(-1, max(d.nbytes, 1))
    shared = np.frombuffer(buf, dtype=d.dtype, count=d.size).reshape(d.shape)
    shared[...] = d
    self._data = shared
    return self


def pin_memory(self, device=None):
    """A copy in page-locked host memory for fast GPU transfers; like torch, an error when no
    accelerator is available (fastdl cannot pin numpy memory, so the copy is ordinary).

    >>> fastdl.ones(1).pin_memory()  # doctest: +SKIP
    """
    from fastdl import cuda
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if type(self._data) is not np.ndarray:
        raise RuntimeError(f"cannot pin '{self.device}' memory: only dense CPU tensors can be "
                           f"pinned")
    return self.clone()


def adjoint(self):
    """The conjugate transpose of the last two dims as a view (mH; real dtypes: mT).

    >>> fastdl.arange(6).reshape(2, 3).adjoint().shape
    (3, 2)
    """
    if self.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of "
                           f"matrices. Got {self.ndim}-D tensor.")
    return self.transpose(-2, -1)


# ---- deprecated and legacy forms ----

def resize(self, *sizes):
    """Deprecated out-of-place resize: a reshape that must keep the element count (a copy
    when self is not contiguous); differentiable.

    >>> fastdl.arange(6).resize(3, 2).shape
    (3, 2)
    """
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _resize(self, sizes)


def _resize(self, sizes):
    numel = 1
    for s in sizes:
        numel = numel * s  # torch's reduce(mul): a list or tuple argument never matches
    if not isinstance(numel, int) or numel != self.numel():
        raise RuntimeError(
            f"requested resize to {'x'.join(map(str, sizes))} ({numel} elements in total), but "
            f"the given tensor has a size of {'x'.join(map(str, self.shape))} ({self.numel()} "
            f"elements). autograd's resize can only change the shape of a given tensor, while "
            f"preserving the number of elements. ")
    if not sizes:
        raise TypeError("view() received an invalid combination of arguments - got (), but "
                        "expected one of: (torch.dtype dtype), (tuple of ints size)")
    return self.contiguous().view(*sizes)


def resize_as(self, tensor):
    """Deprecated out-of-place resize_as: ``resize`` to ``tensor``'s shape.

    >>> fastdl.arange(6).resize_as(fastdl.ones(3, 2)).shape
    (3, 2)
    """
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return _resize(self, tuple(tensor.shape))


def new(self, *args, device=None):
    """torch's legacy constructor, in self's dtype: ``new()`` is empty; ``new(*sizes)`` or
    ``new(size_tuple)`` uninitialised; ``new(sequence)`` copies data (cast to self's dtype);
    ``new(tensor)`` aliases a tensor of self's dtype.

    >>> fastdl.ones(1).new([1, 2]).tolist()
    [1.0, 2.0]
    """
    from fastdl.creation import empty
    from fastdl.tensor import Tensor, tensor
    dev = self.device if device is None else device
    if len(args) == 1 and isinstance(args[0], Tensor):
        other = args[0]
        if other.dtype != self.dtype:
            raise TypeError(f"expected dtype {self.dtype} (got {other.dtype})")
        return other.detach() if not other.requires_grad else other.view(other.shape)
    if len(args) == 1 and isinstance(args[0], (list, tuple)) and not _is_size(args[0]):
        return tensor(args[0], dtype=self.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    if len(args) == 1 and isinstance(args[0], (bool, float, np.floating)):
        raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
    if len(args) == 1 and isinstance(args[0], str):
        raise TypeError("new(): invalid data type 'str'")
    sizes = []
    for pos, a in enumerate(args, 1):
        if isinstance(a, bool) or not hasattr(a, "__index__"):
            raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {pos} "
                            f"with error \"type must be tuple of ints,but got "
                            f"{type(a).__name__}\"")
        sizes.append(operator.index(a))
    for s in sizes:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {sizes}")
    if not sizes:
        sizes = [0]
    return empty(*sizes, dtype=self.dtype, device=dev)


def _is_size(value):
    from fastdl.tensor import Tensor
    return isinstance(value, tuple) and type(value) is not tuple and all(
        isinstance(v, int) for v in value) and not isinstance(value, Tensor)


# ---- per-element Python callbacks ----

def _py_value(dtype):
    return bool if dtype.kind == "b" else int if dtype.kind in "iu" else float


def _store(dtype):
    kind = dtype.kind
    if kind == "b":
        return bool
    if kind == "f":
        def to_float(v):
            if not hasattr(v, "__float__"):
                raise TypeError(f"must be real number, not {type(v).__name__}")
            return float(v)
        return to_float
    info = np.iinfo(dtype)

    def to_int(v):
        # torch's checked conversion: a float must lie in the dtype's range before truncation;
        # an integer may be as low as -max for unsigned dtypes, and then wraps
        overflow = RuntimeError(f"value cannot be converted to type {dtype} without overflow")
        if isinstance(v, float) or (hasattr(v, "__float__") and not hasattr(v, "__index__")):
            f = float(v)
            if not info.min <= f <= info.max:
                raise overflow
            return int(f)
        v = operator.index(v)
        if not -2 ** 63 <= v < 2 ** 63:
            raise ValueError("Overflow when unpacking long long")
        if kind == "u":
            if v > info.max or -v > info.max:
                raise overflow
            return v % (info.max + 1)
        if not info.min <= v <= info.max:
            raise overflow
        return v
    return to_int


def _callback_inplace(self, name, fn, others):
    from fastdl.tensor import Tensor
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use "
                           f"var.detach().{name}() instead.")
    if type(self._data) is not np.ndarray:
        raise TypeError(f"{name} is only implemented on CPU tensors")
    labels = ("'other'",) if len(others) == 1 else ("argument 'x'", "argument 'y'")
    arrays = []
    for label, other in zip(labels, others):
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument {label} must be Tensor, not "
                            f"{type(other).__name__}")
        if other.dtype != self.dtype:
            raise TypeError(f"{name}: expected {self.dtype} tensor for {label} (got "
                            f"{other.dtype})")
        try:
            arrays.append(np.broadcast_to(np.asarray(other._data), self._data.shape))
        except ValueError:
            raise RuntimeError(f"The expanded size of the tensor must match the existing size: "
                               f"target sizes {list(self.shape)}, tensor sizes "
                               f"{list(other.shape)}") from None
    if not callable(fn):
        raise TypeError(f"'{type(fn).__name__}' object is not callable")
    py, store = _py_value(self._data.dtype), _store(self._data.dtype)
    data = self._data
    for idx in np.ndindex(data.shape):
        data[idx] = store(fn(*(py(a[idx]) for a in (data, *arrays))))
    return self  # torch leaves the version counter alone here


def apply_(self, callable):
    """Replace each element x by ``callable(x)`` (a Python number), in place; CPU tensors
    that do not require grad only, as torch. Returns self.

    >>> fastdl.tensor([1.0, 2.0]).apply_(lambda v: v * 10).tolist()
    [10.0, 20.0]
    """
    return _callback_inplace(self, "apply_", callable, ())


def map_(self, tensor, callable):
    """self[i] = callable(self[i], tensor[i]) in place (tensor broadcast to self, same dtype).

    >>> fastdl.ones(2).map_(fastdl.tensor([2.0, 3.0]), lambda a, b: a + b).tolist()
    [3.0, 4.0]
    """
    return _callback_inplace(self, "map_", callable, (tensor,))


def map2_(self, x, y, callable):
    """self[i] = callable(self[i], x[i], y[i]) in place (x, y broadcast to self, same dtype).

    >>> fastdl.ones(2).map2_(fastdl.ones(2), fastdl.tensor([2.0, 3.0]),
    ...                      lambda a, b, c: a + b * c).tolist()
    [3.0, 4.0]
    """
    return _callback_inplace(self, "map2_", callable, (x, y))


def _nonzero_static(self, *, size, fill_value=-1):
    """:func:`fastdl.nonzero_static` of self.

    >>> fastdl.tensor([0, 5]).nonzero_static(size=2).tolist()
    [[1], [-1]]
    """
    from fastdl.functional.aten_misc import nonzero_static
    return nonzero_static(self, size=size, fill_value=fill_value)


def _hash_tensor(self, dim=None, keepdim=False, *, mode=0):
    """:func:`fastdl.hash_tensor` of self.

    >>> fastdl.tensor([1, 1]).hash_tensor().item()
    0
    """
    from fastdl.functional.aten_internal import hash_tensor
    return hash_tensor(self, dim, keepdim, mode=mode)


def _ormqr(self, input2, input3, left=True, transpose=False):
    """:func:`fastdl.ormqr` with self as geqrf's reflectors.

    >>> fastdl.zeros(2, 1).ormqr(fastdl.zeros(1), fastdl.eye(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    from fastdl.functional.toplevel_math import ormqr
    return ormqr(self, input2, input3, left, transpose)


def _as_strided_scatter(self, src, size, stride, storage_offset=None):
    """:func:`fastdl.as_strided_scatter` of self.

    >>> fastdl.zeros(3).as_strided_scatter(fastdl.ones(2), (2,), (2,)).tolist()
    [1.0, 0.0, 1.0]
    """
    from fastdl.functional.aten_more import as_strided_scatter
    return as_strided_scatter(self, src, size, stride, storage_offset)


def _doc(fn, name, doc, example, result):
    fn.__name__ = name
    fn.__doc__ = f"{doc}\n\n>>> {example}\n{result}"
    return fn


def _const(value):
    return lambda self: value


METHODS = {f"{name}_": fn for name, fn in _INPLACE.items()}
METHODS.update({
    "as_strided_": as_strided_, "adjoint": adjoint, "as_strided_scatter": _as_strided_scatter,
    "hash_tensor": _hash_tensor, "nonzero_static": _nonzero_static, "ormqr": _ormqr,
    "resize": resize, "resize_as": resize_as, "new": new, "storage_offset": storage_offset,
    "dim_order": dim_order, "is_signed": is_signed, "is_shared": is_shared,
    "is_set_to": is_set_to, "pin_memory": pin_memory, "share_memory_": share_memory_,
    "apply_": apply_, "map_": map_, "map2_": map2_,
    "ndimension": _doc(lambda self: self.ndim, "ndimension", "Alias of dim().",
                       "fastdl.ones(2, 3).ndimension()", "2"),
    "is_complex": _doc(_const(False), "is_complex", "False: fastdl has no complex dtypes.",
                       "fastdl.ones(1).is_complex()", "False"),
    "is_pinned": _doc(lambda self, device=None: False, "is_pinned",
                      "False: fastdl never page-locks host memory.",
                      "fastdl.ones(1).is_pinned()", "False"),
    "to_dense": _doc(lambda self, dtype=None, *, masked_grad=None: (
        self if dtype is None or dtype == self.dtype else self.to(dtype)), "to_dense",
        "self (every fastdl tensor is dense), converted when ``dtype`` differs.",
        "(x := fastdl.ones(1)).to_dense() is x", "True"),
    "const_data_ptr": _doc(lambda self: self.data_ptr(), "const_data_ptr",
                           "data_ptr() (fastdl has no read-only pointer distinction).",
                           "(x := fastdl.ones(1)).const_data_ptr() == x.data_ptr()", "True"),
})
PROPERTIES = {
    "nbytes": _doc(lambda self: self._data.size * self._data.itemsize, "nbytes",
                   "Bytes of the elements (numel * itemsize).", "fastdl.ones(3).nbytes", "12"),
    "itemsize": _doc(lambda self: self._data.itemsize, "itemsize", "Bytes per element.",
                     "fastdl.ones(1, dtype=fastdl.float64).itemsize", "8"),
    "layout": _doc(_const(strided), "layout", "fastdl.strided (all fastdl tensors are dense).",
                   "fastdl.ones(1).layout", "fastdl.strided"),
    "is_cpu": _doc(lambda self: type(self._data) is np.ndarray, "is_cpu",
                   "True for tensors in host memory (numpy arrays).", "fastdl.ones(1).is_cpu",
                   "True"),
    "output_nr": _doc(lambda self: (self._grad_fn.edge_nrs or (0,))[0] if self._grad_fn
                      else 0, "output_nr",
                      "Which output of its multi-output op this tensor is (0 for other "
                      "tensors; fastdl records unbind and split outputs as separate views, "
                      "so theirs is 0 too).", "fastdl.ones(1).output_nr", "0"),
    "name": _doc(_const(None), "name", "None: fastdl has no named tensors.",
                 "fastdl.ones(1).name is None", "True"),
}
for _flag in ("is_sparse", "is_sparse_csr", "is_meta", "is_nested", "is_quantized"):
    PROPERTIES[_flag] = _doc(_const(False), _flag, "False: fastdl tensors are dense, "
                             "materialised, unnested and unquantised.",
                             f"fastdl.ones(1).{_flag}", "False")
