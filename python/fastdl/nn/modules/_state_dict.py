"""``Module``'s state dict: ``state_dict`` / ``load_state_dict`` (torch's key order, messages,
``assign=``, metadata) and their hooks, as a mixin of ``Module`` (module.py keeps the rest)."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Mapping
from functools import partial
from typing import NamedTuple

import numpy as np

from fastdl.nn.modules import _hooks
from fastdl.nn.parameter import Parameter
from fastdl.tensor import Tensor


class _IncompatibleKeysTuple(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class _IncompatibleKeys(_IncompatibleKeysTuple):
    """What ``load_state_dict`` returns; prints as torch's when every key matched."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")

    __str__ = __repr__


def _from_torch(value):
    """A torch tensor (``torch_module.state_dict()`` handed over as it is) as a numpy array; any
    other value unchanged. torch is not imported: only a value that is a torch tensor needs it."""
    if not type(value).__module__.startswith("torch") or not hasattr(value, "detach"):
        return value
    t = value.detach().cpu()
    if not t.dtype.is_floating_point or t.element_size() >= 4:
        return t.numpy()
    import torch
    return t.to(torch.float32).numpy() if t.dtype == torch.bfloat16 else t.numpy()


# the state-dict key, under a module's prefix, of what its get_extra_state returns (torch's)
EXTRA_STATE_KEY = "_extra_state"


class StateDictMixin:
    """The state-dict half of ``Module`` (it relies on ``Module``'s registries)."""

    def get_extra_state(self):
        """What ``state_dict`` stores under ``<prefix>_extra_state`` for this module: override
        it (together with ``set_extra_state``) to save state that is not a parameter or buffer
        (any picklable object). Only an overriding class gets the key, as in torch; this base
        version is never called by fastdl and raises.

        >>> class Counter(fastdl.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.steps = 0
        ...     def get_extra_state(self):
        ...         return {"steps": self.steps}
        ...     def set_extra_state(self, state):
        ...         self.steps = state["steps"]
        >>> counter = Counter()
        >>> counter.steps = 7
        >>> fresh = Counter()
        >>> fresh.load_state_dict(counter.state_dict())
        <All keys matched successfully>
        >>> fresh.steps
        7
        """
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called: only a class that overrides it has extra state.")

    def set_extra_state(self, state) -> None:
        """Restore what ``get_extra_state`` returned, from ``load_state_dict``'s
        ``<prefix>_extra_state`` entry (a module that overrides it and finds no such entry
        reports the key missing). This base version is never called by fastdl and raises."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called: only a class that overrides it has extra state.")

    def _overrides(self, method_name: str) -> bool:
        return getattr(type(self), method_name) is not getattr(StateDictMixin, method_name)

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs when ``state_dict`` reaches this module,
        before its entries are written; it returns None.

        >>> lin = fastdl.nn.Linear(2, 1)
        >>> handle = lin.register_state_dict_pre_hook(lambda m, prefix, keep: print(repr(prefix)))
        >>> _ = lin.state_dict(prefix="fc.")
        'fc.'
        >>> handle.remove()
        """
        return _hooks.add_hook(self._state_dict_pre_hooks, hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after this module and its
        children wrote their entries; it may change ``state_dict`` in place and must return
        None (torch's public post-hook; its private ``_register_state_dict_hook`` is not here).

        >>> lin = fastdl.nn.Linear(2, 1)
        >>> _ = lin.register_state_dict_post_hook(lambda m, sd, prefix, meta: sd.clear())
        >>> lin.state_dict()
        OrderedDict()
        """
        return _hooks.add_hook(self._state_dict_hooks, hook)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module reads its entries from
        ``state_dict`` (a copy holding the keys under ``prefix``, which the hook may edit: rename
        old keys, for instance); it returns None.

        >>> lin = fastdl.nn.Linear(2, 1)
        >>> def rename(module, sd, prefix, *rest):
        ...     if prefix + "w" in sd:
        ...         sd[prefix + "weight"] = sd.pop(prefix + "w")
        >>> _ = lin.register_load_state_dict_pre_hook(rename)
        >>> lin.load_state_dict({"w": fastdl.ones(1, 2), "bias": fastdl.zeros(1)})
        <All keys matched successfully>
        """
        return _hooks.add_hook(self._load_state_dict_pre_hooks, hook)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after this module and its children were
        loaded; it may edit ``incompatible_keys.missing_keys`` / ``.unexpected_keys`` in place
        (what ``strict`` then checks) and must return None.

        >>> lin = fastdl.nn.Linear(2, 1)
        >>> _ = lin.register_load_state_dict_post_hook(lambda m, keys: keys.missing_keys.clear())
        >>> lin.load_state_dict({"weight": fastdl.ones(1, 2)})
        <All keys matched successfully>
        """
        return _hooks.add_hook(self._load_state_dict_post_hooks, hook)

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        """This module's own parameters and persistent buffers (not its children's)."""
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if self._overrides("get_extra_state"):
            destination[prefix + EXTRA_STATE_KEY] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name (``prefix`` is prepended as it is:
        pass ``"name."``). Values share memory with the module (detached unless ``keep_vars``).
        Positional arguments are deprecated, as in torch. A fresh result carries torch's
        ``_metadata`` (``{module path: {"version": 1}}``); state-dict hooks run as in torch.

        >>> fastdl.nn.Linear(2, 1).state_dict(prefix="fc.").keys()
        odict_keys(['fc.weight', 'fc.bias'])
        """
        if args:
            warnings.warn("Positional args are being deprecated, use kwargs instead.",
                          FutureWarning, stacklevel=2)
            if destination is None:
                destination = args[0]
            if len(args) > 1 and prefix == "":
                prefix = args[1]
            if len(args) > 2 and keep_vars is False:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        # every name a module is registered under (self.b = self.a gives a.* and b.*, as torch)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            if hook(self, destination, prefix, local_metadata) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs, pending_writes) -> None:
        """Check this module's entries of ``state_dict`` (torch's ``_load_from_state_dict``);
        the writes are appended to ``pending_writes`` and done by ``load_state_dict`` once
        every entry checked out."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys,
                 unexpected_keys, error_msgs)
        local_state = {name: value for name, value in self._parameters.items()
                       if value is not None}
        local_state.update((name, value) for name, value in self._buffers.items()
                           if value is not None and name not in self._non_persistent_buffers)
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, target in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            array = value._data if isinstance(value, Tensor) else _from_torch(value)
            if not hasattr(array, "shape") or not hasattr(array, "dtype"):
                error_msgs.append(f'While copying the parameter named "{key}", expected Tensor '
                                  "or Tensor-like object from checkpoint but received "
                                  f"{type(value)}")
                continue
            if target.ndim == 0 and tuple(array.shape) == (1,):  # torch's 0.3 checkpoints
                array = array.reshape(())
            if tuple(array.shape) != tuple(target.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{tuple(array.shape)} from checkpoint, the shape in current "
                                  f"model is {tuple(target.shape)}.")
                continue
            try:  # converted now (device and dtype), so writing later cannot fail half-way
                if array.dtype.kind not in "biuf":  # torch's copy_ casts between numbers only
                    raise TypeError(f"cannot store {array.dtype} values in a fastdl tensor")
                if assign:
                    pending_writes.append(self._assigner(name, target, value, array))
                else:
                    pending_writes.append(_copier(target._data, array))
            except (TypeError, ValueError) as e:
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions '
                                  f"in the model are {tuple(target.shape)} and whose dimensions "
                                  f"in the checkpoint are {tuple(array.shape)}, an exception "
                                  f"occurred : {e.args}.")
        extra_state_key = prefix + EXTRA_STATE_KEY
        if self._overrides("set_extra_state"):
            if extra_state_key in state_dict:
                pending_writes.append(partial(self.set_extra_state, state_dict[extra_state_key]))
            elif strict:
                missing_keys.append(extra_state_key)
        elif strict and extra_state_key in state_dict:
            unexpected_keys.append(extra_state_key)
        if strict:
            for key in state_dict:
                if not key.startswith(prefix) or key == extra_state_key:
                    continue
                head, dot, _ = key[len(prefix):].partition(".")
                if (dot and head not in self._modules) or (not dot and head not in local_state):
                    unexpected_keys.append(key)

    def _assigner(self, name, target, value, array):
        """The write of ``load_state_dict(assign=True)``: the module takes the checkpoint's
        tensor (its dtype and memory) under ``name``; a parameter stays a Parameter with the
        module's ``requires_grad``, as in torch."""
        if isinstance(value, Tensor) and tuple(value.shape) == tuple(array.shape):
            tensor = value
        else:  # numpy array, torch tensor, or a 1-element checkpoint entry for a 0-d tensor
            tensor = Tensor(array)
        if isinstance(target, Parameter):
            if isinstance(tensor, Parameter):
                tensor.requires_grad = target.requires_grad
            else:
                tensor = Parameter(tensor, requires_grad=target.requires_grad)
            return lambda: self._parameters.__setitem__(name, tensor)
        return lambda: self._buffers.__setitem__(name, tensor)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load parameters and persistent buffers from ``state_dict`` (fastdl tensors, numpy
        arrays or torch tensors), as torch: copied in place, or with ``assign=True`` the module
        takes the given tensors themselves (keeping each parameter's Parameter-ness and
        ``requires_grad``). Returns ``(missing_keys, unexpected_keys)``; with ``strict`` any of
        them raises. Load hooks run as in torch.

        Unlike torch, a load that fails a shape or dtype check writes nothing: every entry is
        checked before the first write.

        >>> lin = fastdl.nn.Linear(2, 1)
        >>> lin.load_state_dict({"weight": fastdl.ones(1, 2)}, strict=False)
        _IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
        >>> w = fastdl.zeros(1, 2)
        >>> _ = lin.load_state_dict({"weight": w, "bias": fastdl.zeros(1)}, assign=True)
        >>> bool(lin.weight._data is w._data), type(lin.weight).__name__
        (True, 'Parameter')
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs, pending_writes = [], [], [], []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)  # hooks may edit it; the caller's stays as it is
        post_hooked = []  # (module, hooks) in the order torch runs them: children first

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True,
                                         missing_keys, unexpected_keys, error_msgs,
                                         pending_writes)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items()
                                 if k.startswith(child_prefix)}, child_prefix)
            if module._load_state_dict_post_hooks:
                post_hooked.append(module)

        load(self, state_dict)
        # Torch writes module by module and raises at the end; here nothing is written when an
        # entry failed its checks, or when strict key checks fail and no post-hook could clear
        # them, so a failed load leaves the model as it was.
        keys_fail = strict and (missing_keys or unexpected_keys) and not post_hooked
        if not error_msgs and not keys_fail:
            for write in pending_writes:
                write()
        incompatible_keys = _IncompatibleKeys(missing_keys, unexpected_keys)
        for module in post_hooked:
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, incompatible_keys) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                        "expected to return new values, if incompatible_keys need to be "
                        "modified, it should be done inplace.")
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: "
                                  + ", ".join(f'"{k}"' for k in unexpected_keys) + ". ")
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: "
                                  + ", ".join(f'"{k}"' for k in missing_keys) + ". ")
        if error_msgs:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(error_msgs))
        return incompatible_keys

    # -- printing ----------------------------------------------------------------------------


def _copier(target, array):
    """The in-place write of one ``load_state_dict`` entry, its value converted now to the
    target's device and dtype (so the conversion's errors come before any write)."""
    if isinstance(target, np.ndarray):
        host = array if isinstance(array, np.ndarray) else _to_host(array)
        ready = np.asarray(host).astype(target.dtype, copy=False)
    else:
        from fastdl import backend
        ready = backend.array_module(target).asarray(array).astype(target.dtype, copy=False)

    def write():
        target[...] = ready
    return write


def _to_host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)
