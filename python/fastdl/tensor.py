"""``fastdl.Tensor``: a numpy (CPU) or cupy (GPU) array plus what autograd needs.

Op methods (``+``, ``@``, ``sum``, ``reshape`` ...) are the functions of ``fastdl.functional``,
attached to the class at the bottom of this file. Internals read the underscored slots directly
(``_data``, ``_grad``, ``_requires_grad``, ``_grad_fn``): the public properties validate what users
assign, and the op hot path should not pay for that.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd import engine as _engine
from fastdl.autograd import grad_mode as _grad_mode

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

class _NamedConstant:
    """A torch-style singleton printed as ``fastdl.<name>`` (memory formats, layouts)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"fastdl.{self.name}"


class memory_format(_NamedConstant):
    """A layout request (torch's ``memory_format``). fastdl arrays are C-ordered or numpy views,
    so there are two: keep the layout, or make the result C-contiguous.

    >>> fastdl.contiguous_format
    fastdl.contiguous_format
    >>> x = fastdl.ones(2, 3).t()
    >>> x.contiguous(memory_format=fastdl.contiguous_format).is_contiguous()
    True
    """

    __slots__ = ()


preserve_format = memory_format("preserve_format")
contiguous_format = memory_format("contiguous_format")


def check_memory_format(fmt):
    if fmt is not preserve_format and fmt is not contiguous_format:
        raise ValueError(f"memory_format must be fastdl.preserve_format or "
                         f"fastdl.contiguous_format (fastdl has no other layouts), got {fmt!r}")
    return fmt


_DTYPE_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64,
                  "int": int32, "bool": bool_}


class _NoStorageDtype:
    """A torch dtype fastdl cannot store (numpy has no such type): naming it is fine, using it
    as a tensor's dtype raises a TypeError that says what to use instead."""

    def __init__(self, name, advice):
        self.name, self.advice = name, advice

    def __repr__(self):
        return f"fastdl.{self.name}"

    def error(self):
        return TypeError(f"fastdl.{self.name} is not a storage dtype: numpy, which holds fastdl's "
                         f"CPU tensors, has no {self.name} type; {self.advice}")


bfloat16 = _NoStorageDtype("bfloat16", "use fastdl.float32 (or float16); fastdl.load reads "
                                       "bfloat16 checkpoint entries as float32")
_DEFAULT_FLOAT = [float32]  # get/set_default_dtype


def get_default_dtype() -> np.dtype:
    """The floating point dtype of tensors made from Python floats and of ``randn``, ``zeros``
    ... without a dtype (float32 unless changed with :func:`set_default_dtype`).

    >>> fastdl.get_default_dtype()
    dtype('float32')
    >>> fastdl.zeros(2, 3).dtype == fastdl.get_default_dtype()
    True
    """
    return _DEFAULT_FLOAT[0]


def set_default_dtype(dtype) -> None:
    """Set the default floating point dtype (float16, float32 or float64), like torch's.

    >>> fastdl.set_default_dtype(fastdl.float64); fastdl.tensor([1.5]).dtype
    dtype('float64')
    >>> fastdl.set_default_dtype(fastdl.float32)  # back to the default
    """
    dt = as_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating point dtypes can be the default, "
                        f"got {dt}")
    _DEFAULT_FLOAT[0] = dt


_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PRINT_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
                   "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
                   "full": dict(precision=4, threshold=2 ** 63 - 1, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """How tensors print (torch's options): digits after the point, the element count above
    which the middle is summarized, items shown at each edge then, line width, a profile
    ("default", "short", "full") and ``sci_mode`` (True/False forces scientific notation on or
    off; None chooses).

    >>> fastdl.set_printoptions(precision=2)
    >>> fastdl.tensor([1 / 3])
    tensor([0.33])
    >>> fastdl.set_printoptions(profile="default")  # back to 4 digits
    >>> fastdl.tensor([1 / 3])
    tensor([0.3333])
    """
    if profile is not None:
        if profile not in _PRINT_PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of "
                             f"{sorted(_PRINT_PROFILES)}, got {profile!r}")
        _PRINT.update(_PRINT_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"set_printoptions: {name} must be a non-negative int, got "
                                 f"{value!r}")
            _PRINT[name] = value
    if sci_mode is not None or profile is not None:
        _PRINT["sci_mode"] = sci_mode


def as_dtype(dtype) -> np.dtype:
    """A numpy dtype from a numpy dtype, scalar type, Python type or name ('float32', 'long')."""
    if dtype is float:
        return float32
    if isinstance(dtype, _NoStorageDtype):
        raise dtype.error()
    if isinstance(dtype, str) and dtype == "bfloat16":
        raise bfloat16.error()
    if dtype is int:
        return int64
    if isinstance(dtype, str) and dtype in _DTYPE_ALIASES:
        return _DTYPE_ALIASES[dtype]
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None
    if dt.kind not in "fiub":
        raise TypeError(f"fastdl tensors hold bool, integer or floating point data, not {dt}")
    return dt


def _is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def _as_array(x):
    """The array to store for an op result (numpy turns 0-d results into numpy scalars)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    if _is_cupy(x):
        return x
    raise TypeError(f"expected a numpy or cupy array, got {type(x).__name__}")


def _wrap(data) -> "Tensor":
    """A new Tensor around an array produced by an op (no copy, no checks beyond the type)."""
    if type(data) is not np.ndarray:
        data = _as_array(data)
    t = _new(Tensor)
    t._data = data
    t._requires_grad = False
    t._grad_fn = None
    t._vc = None
    return t


_new = object.__new__


def _check_can_require_grad(data, flag):
    if flag and data.dtype.kind != "f":
        raise RuntimeError(f"only Tensors of floating point dtype can require gradients, "
                           f"got {data.dtype} with shape {tuple(data.shape)}")


def _array_from(data, dtype=None, device=None):
    """Array for ``fastdl.tensor(data)`` with torch's dtype rules: Python floats -> float32,
    Python ints -> int64, numpy/cupy arrays keep their dtype."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray) or _is_cupy(data):
        arr = data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
            data = [x.tolist() if isinstance(x, Tensor) else x for x in data]
        arr = np.asarray(data)
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(_DEFAULT_FLOAT[0], copy=False)
        elif arr.dtype.kind in "iu" and dtype is None:
            arr = arr.astype(np.int64, copy=False)
        elif arr.dtype.kind not in "fiub":
            raise TypeError(f"cannot make a tensor from {type(data).__name__} "
                            f"(numpy would store it as {arr.dtype})")
    if dtype is not None:
        dt = as_dtype(dtype)
        if arr.dtype != dt:
            arr = arr.astype(dt)
    elif arr.dtype.kind not in "fiub":
        raise TypeError(f"fastdl tensors hold bool, integer or floating point data, not {arr.dtype}")
    if device is not None:
        arr = _to_device_array(arr, device)
    return arr


def _parse_device(device) -> str:
    name = str(device)
    kind = name.split(":")[0]
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return kind


def _to_device_array(arr, device):
    kind = _parse_device(device)
    if kind == "cpu":
        return arr.get() if _is_cupy(arr) else arr
    if _is_cupy(arr):
        return arr
    from fastdl import backend
    cp = backend._cupy_module()
    if cp is None:
        raise RuntimeError("device 'cuda' needs cupy, which is not installed")
    return cp.asarray(arr)


def tensor(data, dtype=None, device=None, requires_grad=False) -> "Tensor":
    """A new leaf tensor from a list, scalar or array (``torch.tensor``: the data is copied).

    Shape: the nesting of ``data`` (a scalar gives a 0-d tensor); integers give int64,
    floats the default dtype.

    >>> x = fastdl.tensor([[1, 2], [3, 4]])
    >>> x.shape, x.dtype
    ((2, 2), dtype('int64'))
    >>> fastdl.tensor([1.5, 2.0]).dtype
    dtype('float32')
    """
    arr = _array_from(data, dtype, device)
    if arr is data or (isinstance(data, Tensor) and arr is data._data):
        arr = arr.copy()
    t = _wrap(arr)
    if requires_grad:
        _check_can_require_grad(arr, True)
        t._requires_grad = True
    return t


class Tensor:
    """A numpy (CPU) or cupy (GPU) array plus autograd state (PyTorch's ``torch.Tensor``).

    ``_vc`` is the version counter (bumped by in-place writes, checked by backward formulas that
    saved the tensor; a view uses its base's); ``_view`` says how a view was taken from its base;
    ``_hooks`` are a leaf's gradient hooks.

    >>> x = fastdl.ones(3, requires_grad=True)
    >>> (x * 2).sum().backward(); x.grad
    tensor([2., 2., 2.])
    """

    __slots__ = ("_data", "_requires_grad", "_grad_fn", "_vc", "__dict__", "__weakref__")
    # Set on few tensors (parameters, views, retained or hooked ones), so class-level defaults:
    # those get an instance dict, and a new op result costs four stores.
    _grad = None
    _retains_grad = False
    _view = None
    _hooks = None
    _post_accumulate_hooks = None
    __array_priority__ = 1000  # numpy scalars/arrays on the left defer to our reflected ops

    def __init__(self, data, requires_grad: bool = False):
        """Wrap ``data`` (an array is shared, not copied; lists follow ``fastdl.tensor``)."""
        arr = _array_from(data)
        _check_can_require_grad(arr, requires_grad)
        self._data = arr
        self._requires_grad = bool(requires_grad)
        self._grad_fn = None
        self._vc = None

    # ---- the contract: data, grad, requires_grad and friends ----
    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            value = value._data
        self._data = _as_array(value)

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"assigned grad has shape {tuple(value._data.shape)}, but the "
                                   f"tensor has shape {tuple(self._data.shape)}")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        if self._view is not None:
            _op.sync_view(self)
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self._grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables; use "
                               "detach() to get a tensor that does not require grad")
        _check_can_require_grad(self._data, requires_grad)
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad_fn(self):
        if self._view is not None:
            _op.sync_view(self)
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        _engine.retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad and self._grad_fn is not None

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; returning a tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters the hook.

        The gradient has this tensor's shape.

        >>> x = fastdl.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward()
        >>> x.grad.tolist()
        [20.0, 40.0]
        >>> h.remove()
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._grad_fn.register_prehook(hook)
        from fastdl.autograd.graph import RemovableHandle
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after backward has accumulated this leaf's gradient into
        ``.grad`` (not for ``autograd.grad``, which stores nothing). Returns a removable handle.

        >>> w = fastdl.tensor([1.0, 2.0], requires_grad=True)
        >>> h = w.register_post_accumulate_grad_hook(lambda t: print(t.grad.tolist()))
        >>> (w * 3).sum().backward()
        [3.0, 3.0]
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        from fastdl.autograd.graph import RemovableHandle
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return RemovableHandle(self._post_accumulate_hooks, hook)

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (PyTorch's ``_version``)."""
        from fastdl.autograd.graph import version_of
        return version_of(self)

    @property
    def _base(self):
        """The tensor this one is a view of, or None."""
        return None if self._view is None else self._view[0]

    def _is_view(self) -> bool:
        return self._view is not None

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` (self's shape) is needed unless self has one element; each ``leaf.grad``
        has the leaf's shape.

        >>> x = fastdl.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad.tolist()
        [2.0, 4.0]
        """
        if inputs is None:
            _engine.run_backward([self], None if gradient is None else [gradient], retain_graph,
                                 create_graph)
        else:
            _engine.backward(self, [gradient], retain_graph, create_graph, inputs)

    def detach(self) -> "Tensor":
        """The same memory (and version counter) without history.

        >>> x = fastdl.ones(2, requires_grad=True)
        >>> y = (x * 2).detach()
        >>> y.requires_grad, y.grad_fn is None, y.shape
        (False, True, (2,))
        """
        t = _wrap(self._data)
        t._vc = _version_counter(self)
        return t

    def detach_(self) -> "Tensor":
        self._grad_fn = None
        self._requires_grad = False
        return self

    # ---- metadata ----
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def device(self) -> str:
        return "cpu" if type(self._data) is np.ndarray else "cuda"

    @property
    def is_cuda(self) -> bool:
        return type(self._data) is not np.ndarray

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def size(self, dim=None):
        if dim is None:
            return self._data.shape
        return self._data.shape[_norm_dim(dim, self._data.ndim)]

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return self._data.itemsize

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_norm_dim(dim, self._data.ndim)]

    def data_ptr(self) -> int:
        d = self._data
        return d.ctypes.data if type(d) is np.ndarray else d.data.ptr

    # ---- conversion to Python / numpy ----
    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item(): only one element tensors can be converted to Python "
                             f"scalars, got shape {tuple(self._data.shape)}")
        return self._data.item()

    def tolist(self):
        d = self._data
        return (d if type(d) is np.ndarray else d.get()).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The numpy array (shared with the tensor on CPU; a host copy for a cupy tensor).

        Shape and dtype: the tensor's.

        >>> a = fastdl.arange(3).numpy()
        >>> type(a).__name__, a.tolist()
        ('ndarray', [0, 1, 2])
        """
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        d = self._data
        return d if type(d) is np.ndarray else d.get()

    def __array__(self, dtype=None, copy=None):
        d = self._data if type(self._data) is np.ndarray else self._data.get()
        if dtype is not None:
            d = d.astype(dtype, copy=False)
        return d.copy() if copy else d

    def __dlpack__(self, *args, **kwargs):
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with shape {tuple(self._data.shape)} "
                               "(more than one value) is ambiguous")
        return bool(self._data.item())

    def __float__(self):
        return float(self.item())

    def __format__(self, spec):
        """f"{loss:.4f}" formats a one-element tensor's value, as torch does."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    __hash__ = object.__hash__

    def __repr__(self):
        d = self._data if type(self._data) is np.ndarray else self._data.get()
        opts = _PRINT
        sci = opts["sci_mode"]
        formatter = None if sci is None or d.dtype.kind != "f" else {
            "float_kind": (lambda v: f"{v:.{opts['precision']}e}") if sci else
            (lambda v: f"{v:.{opts['precision']}f}")}
        body = np.array2string(d, separator=", ", precision=opts["precision"],
                               threshold=opts["threshold"], edgeitems=opts["edgeitems"],
                               max_line_width=opts["linewidth"], formatter=formatter,
                               prefix="tensor(")
        extras = []
        if d.dtype not in (float32, int64, bool_):
            extras.append(f"dtype={d.dtype}")
        if self.device != "cpu":
            extras.append("device='cuda'")
        if self._grad_fn is not None:
            extras.append(f"grad_fn={self._grad_fn!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ---- in-place updates: the op layer's apply_inplace (torch's rules, version counters) ----
    def add_(self, other, *, alpha=1):
        return _inplace_binary(self, "add", other, alpha)

    def sub_(self, other, *, alpha=1):
        return _inplace_binary(self, "sub", other, alpha)

    def mul_(self, other):
        return _inplace_binary(self, "mul", other)

    def div_(self, other):
        return _inplace_binary(self, "div", other)

    def __iadd__(self, other):
        return _inplace_binary(self, "add", other)

    def __isub__(self, other):
        return _inplace_binary(self, "sub", other)

    def __imul__(self, other):
        return _inplace_binary(self, "mul", other)

    def __itruediv__(self, other):
        return _inplace_binary(self, "div", other)

    def clamp_(self, min=None, max=None):
        from fastdl.functional import arithmetic as A
        if min is None and max is None:
            raise RuntimeError("clamp_: at least one of 'min' or 'max' must not be None")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            bounds = tuple(b for b in (min, max) if b is not None)
            return A.clamp_tensor_op.apply_inplace(self, bounds, min is not None,
                                                   max is not None)
        return A.clamp_op.apply_inplace(self, (), min, max)

    clip_ = clamp_

    def masked_fill_(self, mask, value):
        """masked_fill in place (recorded as a copy of the filled tensor into this one).

        >>> fastdl.zeros(3).masked_fill_(fastdl.tensor([True, False, True]), 2.0).tolist()
        [2.0, 0.0, 2.0]
        """
        return self.copy_(self.masked_fill(mask, value))

    def scatter_add_(self, dim, index, src):
        """scatter_add in place: ``self[index[i]] += src[i]`` along ``dim``.

        >>> fastdl.zeros(3).scatter_add_(0, fastdl.tensor([0, 0, 2]), fastdl.ones(3)).tolist()
        [2.0, 0.0, 1.0]
        """
        return self.copy_(self.scatter_add(dim, index, src))

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        """scatter in place: ``self[index[i]] = src[i]`` along ``dim`` (src a tensor or a
        number; ``reduce="add"``/``"multiply"`` accumulates). Returns self.

        >>> fastdl.zeros(2, 3).scatter_(1, fastdl.tensor([[2], [0]]), 1.0).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        """
        return self.copy_(self.scatter(dim, index, src, value, reduce))

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        """scatter_reduce in place: reduce ("sum", "prod", "mean", "amax", "amin") the src
        values index sends to each position into self. Returns self.

        >>> x = fastdl.ones(3)
        >>> x.scatter_reduce_(0, fastdl.tensor([0, 0]), fastdl.tensor([2.0, 3.0]), "prod").tolist()
        [6.0, 1.0, 1.0]
        """
        # from a clone: the backward reads self's old values, which the copy overwrites
        return self.copy_(self.clone().scatter_reduce(dim, index, src, reduce,
                                                      include_self=include_self))

    def fmod_(self, other):
        """fmod in place; the result must keep self's dtype (as in torch).

        >>> fastdl.tensor([-3.0, 3.0]).fmod_(2).tolist()
        [-1.0, 1.0]
        """
        return _inplace_composite(self, "fmod", lambda x: x.fmod(other))

    def remainder_(self, other):
        """remainder in place (the sign of the divisor); keeps self's dtype.

        >>> fastdl.tensor([-3, 3]).remainder_(2).tolist()
        [1, 1]
        """
        return _inplace_composite(self, "remainder", lambda x: x.remainder(other))

    def clamp_min_(self, min):
        """clamp_min in place.

        >>> fastdl.tensor([1.0, 5.0]).clamp_min_(3).tolist()
        [3.0, 5.0]
        """
        return self.clamp_(min=min)

    def clamp_max_(self, max):
        """clamp_max in place.

        >>> fastdl.tensor([1.0, 5.0]).clamp_max_(3).tolist()
        [1.0, 3.0]
        """
        return self.clamp_(max=max)

    def lerp_(self, end, weight):
        """lerp in place: ``self += weight * (end - self)``.

        >>> fastdl.zeros(2).lerp_(fastdl.tensor([2.0, 4.0]), 0.5).tolist()
        [1.0, 2.0]
        """
        return _inplace_composite(self, "lerp", lambda x: x.lerp(end, weight))

    def addcmul_(self, tensor1, tensor2, *, value=1):
        """addcmul in place: ``self += value * tensor1 * tensor2``.

        >>> fastdl.ones(2).addcmul_(fastdl.tensor([1.0, 2.0]), fastdl.tensor([3.0, 4.0])).tolist()
        [4.0, 9.0]
        """
        return _inplace_composite(self, "addcmul", lambda x: x.addcmul(tensor1, tensor2,
                                                                        value=value))

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        """addcdiv in place: ``self += value * tensor1 / tensor2``.

        >>> fastdl.ones(2).addcdiv_(fastdl.tensor([1.0, 2.0]), fastdl.tensor([4.0, 4.0])).tolist()
        [1.25, 1.5]
        """
        return _inplace_composite(self, "addcdiv", lambda x: x.addcdiv(tensor1, tensor2,
                                                                        value=value))

    def index_add_(self, dim, index, source, *, alpha=1):
        """index_add in place: ``self[..., index[i], ...] += alpha * source[..., i, ...]``.

        >>> fastdl.zeros(3).index_add_(0, fastdl.tensor([0, 0, 2]), fastdl.ones(3)).tolist()
        [2.0, 0.0, 1.0]
        """
        return _inplace_composite(self, "index_add",
                                  lambda x: x.index_add(dim, index, source, alpha=alpha))

    def index_copy_(self, dim, index, source):
        """index_copy in place: ``self[..., index[i], ...] = source[..., i, ...]``.

        >>> fastdl.zeros(3).index_copy_(0, fastdl.tensor([2]), fastdl.tensor([7.0])).tolist()
        [0.0, 0.0, 7.0]
        """
        return _inplace_composite(self, "index_copy",
                                  lambda x: x.index_copy(dim, index, source))

    def index_fill_(self, dim, index, value):
        """index_fill in place: the slices ``index`` along ``dim`` set to ``value``.

        >>> fastdl.zeros(3).index_fill_(0, fastdl.tensor([1]), 2.0).tolist()
        [0.0, 2.0, 0.0]
        """
        return _inplace_composite(self, "index_fill",
                                  lambda x: x.index_fill(dim, index, value))

    def where(self, condition, other):
        """``self`` where condition is true, else ``other`` (torch's Tensor.where).

        >>> fastdl.tensor([1.0, 2.0]).where(fastdl.tensor([True, False]), 0.0).tolist()
        [1.0, 0.0]
        """
        from fastdl.functional import arithmetic as A
        return A.where(condition, self, other)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        from fastdl.functional import indexing
        if isinstance(value, Tensor):
            if value._data.ndim != 0:
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got "
                                   f"tensor with {value._data.ndim} dimensions")
            return indexing.copy_op.apply_inplace(self, (value,))
        return indexing.fill_op.apply_inplace(self, (), value)

    def copy_(self, src):
        from fastdl.functional import indexing
        if not isinstance(src, Tensor):
            src = _wrap(np.asarray(src))
        if type(src._data) is not type(self._data):
            src = src.to(self.device)
        try:
            np.broadcast_shapes(src._data.shape, self._data.shape)
        except ValueError:
            raise RuntimeError(f"copy_: source shape {tuple(src._data.shape)} does not "
                               f"broadcast to {tuple(self._data.shape)}") from None
        return indexing.copy_op.apply_inplace(self, (src,))

    def uniform_(self, a=0.0, b=1.0, *, generator=None, **kwargs):
        from fastdl import random as _random
        from fastdl.functional.sampling import floating_self
        # torch's keywords are ``from`` (a reserved word) and ``to``
        a, b = kwargs.pop("from", a), kwargs.pop("to", b)
        if kwargs:
            raise TypeError(f"uniform_() got unexpected keyword arguments {sorted(kwargs)}")
        floating_self(self, "uniform_", NotImplementedError)
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={a} > to={b}")
        dt = self._data.dtype
        big = float(np.finfo(dt).max)
        for name, v in (("from", a), ("to", b)):
            if not -big <= v <= big:  # NaN or inf, or past the dtype's range: torch's words
                raise RuntimeError(f"uniform_: {name} is out of bounds for {dt}, got {v}")
        if not b - a <= big:
            raise RuntimeError(f"uniform_ expects to - from to fit in {dt}, but found "
                               f"from={a} and to={b}")
        return self.copy_(_wrap(_random.uniform_array(self._data.shape, a, b, self._data.dtype,
                                                      self.device, generator)))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        from fastdl import random as _random
        from fastdl.functional.sampling import floating_self
        if not std >= 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        floating_self(self, "normal_", NotImplementedError)
        return self.copy_(_wrap(_random.normal_array(self._data.shape, mean, std,
                                                     self._data.dtype, self.device, generator)))

    def __setitem__(self, key, value):
        from fastdl.functional import indexing
        indexing.setitem(self, key, value)

    # ---- devices and dtypes ----
    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    def float(self, memory_format=preserve_format) -> "Tensor":
        return self.to(float32, memory_format=memory_format)

    def double(self, memory_format=preserve_format) -> "Tensor":
        return self.to(float64, memory_format=memory_format)

    def half(self, memory_format=preserve_format) -> "Tensor":
        return self.to(float16, memory_format=memory_format)

    def long(self, memory_format=preserve_format) -> "Tensor":
        return self.to(int64, memory_format=memory_format)

    def int(self, memory_format=preserve_format) -> "Tensor":
        return self.to(int32, memory_format=memory_format)

    def bool(self, memory_format=preserve_format) -> "Tensor":
        return self.to(bool_, memory_format=memory_format)

    def byte(self, memory_format=preserve_format) -> "Tensor":
        """The tensor as uint8 (``self.to(fastdl.uint8)``).

        >>> fastdl.tensor([1.7, 255.0]).byte().tolist()
        [1, 255]
        """
        return self.to(uint8, memory_format=memory_format)

    def char(self, memory_format=preserve_format) -> "Tensor":
        """The tensor as int8 (``self.to(fastdl.int8)``).

        >>> fastdl.tensor([-3.7, 5.0]).char().tolist()
        [-3, 5]
        """
        return self.to(int8, memory_format=memory_format)

    def short(self, memory_format=preserve_format) -> "Tensor":
        """The tensor as int16 (``self.to(fastdl.int16)``).

        >>> fastdl.tensor([300.5]).short().dtype
        dtype('int16')
        """
        return self.to(int16, memory_format=memory_format)

    def type_as(self, other) -> "Tensor":
        if not isinstance(other, Tensor):  # torch's wording; an array has no device to follow
            kind = type(other)
            name = kind.__name__ if kind.__module__ == "builtins" else \
                f"{kind.__module__}.{kind.__qualname__}"
            raise TypeError(f"type_as(): argument 'other' (position 1) must be Tensor, not {name}")
        # torch's self.type(other.type()): other's dtype and device
        if other.device != self.device:
            return self.to(other.device, other._data.dtype)
        return self.to(other._data.dtype)

    def type(self, dtype=None, non_blocking=False):
        """With no argument: the type's name, torch's with fastdl for torch
        (``'fastdl.FloatTensor'``, ``'fastdl.cuda.LongTensor'`` ...). With a dtype, a dtype
        name or such a type name (``'torch.FloatTensor'`` is read too): the tensor cast to it,
        as ``.to`` does (itself when nothing changes).

        >>> x = fastdl.ones(2)
        >>> x.type(), x.long().type(), x.type(fastdl.float64).dtype
        ('fastdl.FloatTensor', 'fastdl.LongTensor', dtype('float64'))
        >>> x.type("fastdl.IntTensor").dtype
        dtype('int32')
        """
        if dtype is None:
            device = "cuda." if self.is_cuda else ""
            return f"fastdl.{device}{_TYPE_NAMES[self._data.dtype]}"
        device = None
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            dtype, device = _parse_type_name(dtype)
        return self.to(device, as_dtype(dtype), non_blocking) if device else \
            self.to(as_dtype(dtype), non_blocking)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return tensor(data, dtype=dtype or self._data.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        from fastdl.creation import zeros
        return zeros(*size, dtype=dtype or self._data.dtype, device=device or self.device,
                     requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        from fastdl.creation import ones
        return ones(*size, dtype=dtype or self._data.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        from fastdl.creation import full
        return full(size, fill_value, dtype=dtype or self._data.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        from fastdl.creation import empty
        return empty(*size, dtype=dtype or self._data.dtype, device=device or self.device,
                     requires_grad=requires_grad)


# Tensor.type()'s names: torch's legacy tensor type names, by dtype
_TYPE_NAMES = {float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor",
               int64: "LongTensor", int32: "IntTensor", int16: "ShortTensor", int8: "CharTensor",
               uint8: "ByteTensor", bool_: "BoolTensor"}


def _parse_type_name(name):
    """``'fastdl.FloatTensor'``, ``'torch.cuda.LongTensor'`` ... -> (dtype, device)."""
    parts = name.split(".")
    by_name = {v: k for k, v in _TYPE_NAMES.items()}
    if (len(parts) not in (2, 3) or parts[0] not in ("fastdl", "torch")
            or (len(parts) == 3 and parts[1] != "cuda") or parts[-1] not in by_name):
        raise ValueError(f"invalid type: {name!r} (expected e.g. 'fastdl.FloatTensor' or "
                         f"'fastdl.cuda.LongTensor', or a dtype)")
    return by_name[parts[-1]], "cuda" if len(parts) == 3 else "cpu"


def _version_counter(t):
    from fastdl.autograd.graph import version_counter
    return version_counter(t)


def _inplace_binary(self, name, other, alpha=1):
    """``self <- self (op) other`` in place (``add_``, ``+=`` ...): the result keeps self's
    dtype (a result type that cannot be cast back raises, as in torch)."""
    from fastdl.functional import arithmetic as A
    if name == "sub":
        A.check_sub_operands(self, other)
    if name != "div" and (isinstance(other, Tensor) or type(other) in (int, float, bool)):
        # a float self takes any result; the cast check matters for integer and bool ones
        if self._data.dtype.kind != "f":
            _check_inplace_cast(self, other)
        if name != "mul" and not (alpha.__class__ is int and alpha == 1):
            alpha = A.checked_alpha(self._data.dtype, alpha)
    if type(other) in (int, float, bool):
        if name == "add":
            return A.add_scalar_op.apply_inplace(self, (), A.scale_scalar(other, alpha))
        if name == "sub":
            return A.add_scalar_op.apply_inplace(self, (), -other * alpha)
        if name == "mul":
            return A.mul_scalar_op.apply_inplace(self, (), other)
        return A.div_scalar_op.apply_inplace(self, (), other)
    if not isinstance(other, Tensor):
        other = _wrap(np.asarray(other)) if not _is_cupy(other) else _wrap(other)
    if alpha != 1:
        other = A.mul(other, alpha)
    return getattr(A, f"{name}_op").apply_inplace(self, (other,))


def _check_inplace_cast(self, other):
    """torch's check that the op's result type casts back to self's dtype (div is left out:
    its result type is not the operands' promotion)."""
    from fastdl.functional._core import torch_dtype_name
    from fastdl.functional.toplevel_utils import can_cast, result_type
    dt = result_type(self, other)
    if not can_cast(dt, self._data.dtype):
        raise RuntimeError(f"result type {torch_dtype_name(dt)} can't be cast to the desired "
                           f"output type {torch_dtype_name(self._data.dtype)}")


def _inplace_composite(self, name, compute):
    """``self <- compute(self)`` for an op composed from others, recorded as a copy into self
    (as masked_fill_ does). The result must cast back to self's dtype, as torch's in-place ops
    require; it is computed from a clone when recording, because the composition may have
    saved self's old value, which the copy overwrites."""
    from fastdl.autograd.grad_mode import state
    source = self.clone() if state.enabled and self._requires_grad else self
    result = compute(source)
    if result._data.dtype != self._data.dtype and not np.can_cast(
            result._data.dtype, self._data.dtype, "same_kind"):
        raise RuntimeError(f"{name}_: result type {result._data.dtype} can't be cast to the "
                           f"desired output type {self._data.dtype}")
    if result._data.shape != self._data.shape:
        raise RuntimeError(f"{name}_: output with shape {tuple(self._data.shape)} doesn't match "
                           f"the broadcast shape {tuple(result._data.shape)}")
    return self.copy_(result)


def _norm_dim(dim, ndim):
    d = int(dim)
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return d + n if d < 0 else d


# Attach the differentiable ops as methods/operators (imported here, after Tensor exists).
from fastdl.autograd import op as _op  # noqa: E402
from fastdl.functional import _methods  # noqa: E402
from fastdl import _tensor_copy  # noqa: E402

_op.bind_tensor_factory(_wrap)

_methods.install(Tensor)
_tensor_copy.install(Tensor)
