"""Pickling and ``copy.deepcopy`` of tensors, with torch's rules.

Pickling keeps a tensor's values, dtype, class, ``requires_grad`` and the attributes a user set
on it; it drops the autograd state (``grad``, ``grad_fn``, hooks, ``retain_grad``), so the
unpickled tensor is a leaf, as in torch. A backward hook that would be lost is warned about
unless it was marked with ``fastdl.utils.hooks.unserializable_hook``.

``copy.deepcopy`` is torch's too: only graph leaves may be copied (a result of an op that
records a graph raises torch's error); the copy keeps ``grad`` (deep-copied) and the user's
attributes, and tensors that share memory in the original (a view and its base) share it in the
copy. ``Parameter`` deep-copies without its ``grad`` or attributes, as torch's does.
"""
from __future__ import annotations

import copy
import copyreg
import warnings

import numpy as np

# Autograd bookkeeping that lives in a tensor's __dict__: not user state, never copied.
_AUTOGRAD_KEYS = frozenset({"_grad", "_retains_grad", "_view", "_hooks",
                            "_post_accumulate_hooks", "_output_nr", "_func_level"})
_TENSOR_SLOTS = frozenset({"_data", "_requires_grad", "_grad_fn", "_vc", "__dict__",
                           "__weakref__"})

NON_LEAF_DEEPCOPY_MSG = (
    "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol "
    "at the moment.  If you were attempting to deepcopy a module, this may be because of a "
    "torch.nn.utils.weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001")


def warn_if_has_hooks(tensor) -> None:
    """Warn about each backward hook of ``tensor`` that pickling will drop (torch's
    ``torch.utils.hooks.warn_if_has_hooks``)."""
    if tensor._grad_fn is None:
        hooks = tensor._hooks
    else:
        hooks = tensor._grad_fn.pre_hooks  # register_hook on a non-leaf lands on its node
    for hook in hooks or ():
        if not hasattr(hook, "__torch_unserializable__"):
            warnings.warn(f"backward hook {hook!r} on tensor will not be serialized.  If this is "
                          "expected, you can decorate the function with "
                          "@fastdl.utils.hooks.unserializable_hook to suppress this warning",
                          stacklevel=3)


def _user_state(t):
    """The attributes of ``t`` that pickling and deepcopy carry: its __dict__ without the
    autograd entries, and the slots a Tensor subclass added."""
    state = {k: v for k, v in t.__dict__.items() if k not in _AUTOGRAD_KEYS}
    slots = {name: getattr(t, name) for name in copyreg._slotnames(type(t))
             if name not in _TENSOR_SLOTS and hasattr(t, name)}
    return state, slots


def _set_state(t, state, slots):
    if state:
        t.__dict__.update(state)
    for name, value in (slots or {}).items():
        setattr(t, name, value)


def _rebuild_tensor(cls, data, requires_grad, state=None, slots=None):
    """Unpickle: a leaf of class ``cls`` around ``data`` (``cls.__init__`` is not called, as
    torch's rebuild does not call it)."""
    t = object.__new__(cls)
    t._data = data
    t._requires_grad = bool(requires_grad)
    t._grad_fn = None
    t._vc = None
    _set_state(t, state, slots)
    return t


def _rebuild_parameter(data, requires_grad, state):
    from fastdl.nn.parameter import Parameter
    param = Parameter(data, requires_grad)
    _set_state(param, state, None)
    return param


def tensor_reduce_ex(self, protocol):
    warn_if_has_hooks(self)
    state, slots = _user_state(self)
    return (_rebuild_tensor, (type(self), self._data, self.requires_grad, state or None,
                              slots or None))


def _root(arr):
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def _deepcopy_array(arr, memo):
    """A copy of ``arr``; arrays viewing the same memory within one deepcopy get views of one
    copy of that memory (torch deep-copies a storage once per deepcopy)."""
    if type(arr) is not np.ndarray:
        return arr.copy(order="K")  # cupy: no aliasing bookkeeping
    root = _root(arr)
    root_copy = memo.get(id(root))
    if root_copy is None:
        root_copy = root.copy(order="K")
        memo[id(root)] = root_copy
        copy._keep_alive(root, memo)  # id(root) must not be reused while memo lives
    if arr is root:
        return root_copy
    if root_copy.strides != root.strides or root_copy.dtype != root.dtype:
        return arr.copy(order="K")  # the root's layout is not reproducible: copy alone
    offset = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    try:
        view = np.ndarray(arr.shape, arr.dtype, buffer=root_copy, offset=offset,
                          strides=arr.strides)
    except (ValueError, TypeError):
        return arr.copy(order="K")
    if not arr.flags.writeable:
        view.flags.writeable = False
    return view


def tensor_deepcopy(self, memo):
    if not self.is_leaf:
        raise RuntimeError(NON_LEAF_DEEPCOPY_MSG)
    if id(self) in memo:
        return memo[id(self)]
    new = _rebuild_tensor(type(self), _deepcopy_array(self._data, memo), self._requires_grad)
    if self._grad is not None:
        new._grad = copy.deepcopy(self._grad, memo)
    state, slots = _user_state(self)
    _set_state(new, copy.deepcopy(state, memo), copy.deepcopy(slots, memo))
    memo[id(self)] = new
    return new


def parameter_reduce_ex(self, protocol):
    # torch rebuilds every Parameter subclass as a plain Parameter (its __reduce_ex__ names
    # nn.Parameter); attributes set on it come back.
    from fastdl.nn.parameter import Parameter
    state, _ = _user_state(self)
    if not state:
        return (Parameter, (self._data, self._requires_grad))
    return (_rebuild_parameter, (self._data, self._requires_grad, state))


def parameter_deepcopy(self, memo):
    # torch's Parameter.__deepcopy__: a fresh parameter of the same class holding a clone of the
    # values; grad and attributes are not carried.
    if id(self) in memo:
        return memo[id(self)]
    result = type(self)(self._data.copy(order="K"), self._requires_grad)
    memo[id(self)] = result
    return result


def install(tensor_cls) -> None:
    tensor_cls.__reduce_ex__ = tensor_reduce_ex
    tensor_cls.__deepcopy__ = tensor_deepcopy
