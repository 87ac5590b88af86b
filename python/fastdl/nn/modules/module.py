"""``Module``: the base of every layer (PyTorch's bookkeeping and names)."""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import Iterator, NamedTuple

import numpy as np

from fastdl.nn.modules import _hooks
from fastdl.nn.parameter import Parameter
from fastdl.tensor import Tensor, as_dtype


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


_HOOK_DICTS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
               "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_backward_hooks",
               "_backward_pre_hooks", "_state_dict_pre_hooks", "_state_dict_hooks",
               "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")



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

class Module:
    """Base class of layers. Assigning a ``Parameter`` or ``Module`` attribute registers it;
    buffers (non-trainable state such as running statistics) go through ``register_buffer``.

    Hooks (``register_forward_pre_hook``, ``register_forward_hook``,
    ``register_full_backward_pre_hook``, ``register_full_backward_hook``) have PyTorch's
    semantics, as do the state-dict hooks (``register_state_dict_pre_hook`` ...). They live in
    ordered dicts keyed by their handle's id and are not part of the state dict;
    ``copy.deepcopy`` keeps them (as torch), pickling drops them (torch pickles them, which
    fails for lambdas and closures).

    >>> class Net(fastdl.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = fastdl.nn.Linear(3, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> net = Net()
    >>> net(fastdl.ones(4, 3)).shape
    (4, 2)
    >>> [name for name, _ in net.named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    training: bool
    # torch's state-dict format version, handed to state-dict hooks as local_metadata["version"]
    _version: int = 1
    # True in an instance's __dict__ once it has registered a hook, and on the class while
    # global hooks exist: the one attribute __call__ reads before taking the hook path.
    _hooked = False

    def __init__(self):
        # object.__setattr__ skips our __setattr__, which needs these dicts to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        for name in _HOOK_DICTS:
            object.__setattr__(self, name, OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  "\"forward\" function")

    def __call__(self, *args, **kwargs):
        if self._hooked:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    # -- hooks -------------------------------------------------------------------------------
    def _add_hook(self, hooks, hook, prepend, extra=()):
        handle = _hooks.add_hook(hooks, hook, prepend, extra)
        self.__dict__["_hooked"] = True
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False):
        """``hook(module, args)`` runs before ``forward``; a non-None return replaces ``args``
        (a single value is wrapped into a tuple). With ``with_kwargs``: ``hook(module, args,
        kwargs)``, returning None or ``(args, kwargs)``."""
        extra = (self._forward_pre_hooks_with_kwargs,) if with_kwargs else ()
        return self._add_hook(self._forward_pre_hooks, hook, prepend, extra)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
        ``with_kwargs``) runs after ``forward``; a non-None return replaces the output. With
        ``always_call`` it also runs when ``forward`` (or an earlier hook) raised."""
        extra = ()
        if with_kwargs:
            extra += (self._forward_hooks_with_kwargs,)
        if always_call:
            extra += (self._forward_hooks_always_called,)
        return self._add_hook(self._forward_hooks, hook, prepend, extra)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_output)`` runs when the gradients w.r.t. the module's outputs are
        computed; a non-None return (a tuple of the same length) replaces ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_input, grad_output)`` runs once per backward pass, when the
        gradients w.r.t. the module's inputs are computed. ``grad_input`` has one entry per
        positional argument, ``grad_output`` one per output (None for non-tensors); a non-None
        return (a tuple of the same length) replaces ``grad_input``."""
        return self._add_hook(self._backward_hooks, hook, prepend)

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

    def _call_with_hooks(self, args, kwargs):
        """``__call__`` when this module or the global registries may hold hooks (torch's
        ``Module._call_impl``)."""
        has_global = _hooks.any_global_hooks()
        if not has_global and Module._hooked:
            Module._hooked = False
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            self.__dict__.pop("_hooked", None)  # every hook was removed: back to the fast path
            if not has_global:
                return self.forward(*args, **kwargs)
        global_fwd = _hooks.global_forward_hooks
        result = None
        called_always = set()
        try:
            pre_hooks = self._forward_pre_hooks
            if pre_hooks or _hooks.global_forward_pre_hooks:
                with_kwargs = self._forward_pre_hooks_with_kwargs
                for hook_id, hook in (*_hooks.global_forward_pre_hooks.items(),
                                      *pre_hooks.items()):
                    if hook_id in with_kwargs:
                        new = hook(self, args, kwargs)
                        if new is not None:
                            if isinstance(new, tuple) and len(new) == 2:
                                args, kwargs = new
                            else:
                                raise RuntimeError("forward pre-hook must return None or a "
                                                   "tuple of (new_args, new_kwargs), but got "
                                                   f"{new}.")
                    else:
                        new = hook(self, args)
                        if new is not None:
                            args = new if isinstance(new, tuple) else (new,)

            bw_hook = None
            full_backward_hooks = [*_hooks.global_backward_hooks.values(),
                                   *self._backward_hooks.values()]
            backward_pre_hooks = [*_hooks.global_backward_pre_hooks.values(),
                                  *self._backward_pre_hooks.values()]
            if full_backward_hooks or backward_pre_hooks:
                bw_hook = _hooks.BackwardHook(self, full_backward_hooks, backward_pre_hooks)
                args = bw_hook.setup_input_hook(args)

            result = self.forward(*args, **kwargs)

            if self._forward_hooks or global_fwd:
                for hook_id, hook in (*global_fwd.items(), *self._forward_hooks.items()):
                    if (hook_id in self._forward_hooks_always_called
                            or hook_id in _hooks.global_forward_hooks_always_called):
                        called_always.add(hook_id)
                    result = self._run_forward_hook(hook_id, hook, args, kwargs, result)

            if bw_hook is not None:
                if not isinstance(result, (Tensor, tuple)):
                    warnings.warn("For backward hooks to be called, module output should be a "
                                  f"Tensor or a tuple of Tensors but received {type(result)}")
                result = bw_hook.setup_output_hook(result)
            return result
        except Exception:
            # always_call forward hooks that have not run yet run now; their own errors are
            # turned into warnings so that the original one propagates.
            for hooks, always, kind in (
                    (global_fwd, _hooks.global_forward_hooks_always_called, "global module"),
                    (self._forward_hooks, self._forward_hooks_always_called, "module")):
                for hook_id, hook in list(hooks.items()):
                    if hook_id not in always or hook_id in called_always:
                        continue
                    try:
                        result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                    except Exception as e:
                        warnings.warn(f"{kind} forward hook with ``always_call=True`` raised an "
                                      f"exception that was silenced as another error was raised "
                                      f"in forward: {e}")
            raise

    def _run_forward_hook(self, hook_id, hook, args, kwargs, result):
        if (hook_id in self._forward_hooks_with_kwargs
                or hook_id in _hooks.global_forward_hooks_with_kwargs):
            new = hook(self, args, kwargs, result)
        else:
            new = hook(self, args, result)
        return result if new is None else new

    def __deepcopy__(self, memo):
        # torch's deepcopy keeps every hook (a bound-method hook is re-bound to the copy by
        # copy's rule for methods); only pickling (``__getstate__``) drops them here.
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            object.__setattr__(clone, name, copy.deepcopy(value, memo))
        return clone

    def __getstate__(self):
        # Hooks are functions of the running program, not model state: never pickled.
        state = self.__dict__.copy()
        state.pop("_hooked", None)
        for name in _HOOK_DICTS:
            state[name] = OrderedDict()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in _HOOK_DICTS:
            if name not in self.__dict__:
                object.__setattr__(self, name, OrderedDict())

    # -- registration ------------------------------------------------------------------------
    def _check_registered(self):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign to {type(self).__name__} before "
                                 "Module.__init__() is called")

    def register_parameter(self, name: str, param) -> None:
        self._check_registered()
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (fastdl.nn.Parameter or None required)")
        if hasattr(self, name) and name not in self._parameters:  # torch's rule
            raise KeyError(f"attribute '{name}' already exists")
        self._discard(name, self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        self._check_registered()
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (fastdl.Tensor or None required)")
        if hasattr(self, name) and name not in self._buffers:  # torch's rule
            raise KeyError(f"attribute '{name}' already exists")
        self._discard(name, self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module) -> None:
        self._check_registered()
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._discard(name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain \".\", got {name!r}")

    def _discard(self, name, keep):
        """Drop ``name`` from the other registries and the instance dict: it is about to be
        re-bound in ``keep`` (where re-binding keeps its position, as in PyTorch)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent_buffers.discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(fastdl.nn.Parameter or None expected)")
            self._parameters[name] = None
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (fastdl.nn.Module or None expected)")
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(fastdl.Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only reached when normal lookup fails, so plain attributes cost nothing extra.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:  # memo holds modules, as torch's (Module hashes by identity)
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub_prefix = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, sub_prefix, remove_duplicate)

    def modules(self, remove_duplicate: bool = True) -> Iterator["Module"]:
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate=True):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def _get_name(self) -> str:
        return type(self).__name__

    def get_submodule(self, target: str) -> "Module":
        """The module at the dotted path ``target`` ("" is ``self``), as torch: each step is an
        attribute that must be a Module.

        >>> net = fastdl.nn.Sequential(fastdl.nn.Linear(2, 2), fastdl.nn.ReLU())
        >>> net.get_submodule("1")
        ReLU()
        >>> net.get_submodule("0.weight")
        Traceback (most recent call last):
        ...
        AttributeError: `weight` is not an nn.Module
        """
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def _owner_of(self, target: str):
        """(the module holding the attribute at dotted path ``target``, its name)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        return module, name

    def get_parameter(self, target: str) -> Parameter:
        module, name = self._owner_of(target)
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        module, name = self._owner_of(target)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(module, name)

    # -- modes and utilities -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        # each child's own train(), as torch (an override that keeps a layer frozen runs)
        object.__setattr__(self, "training", mode)
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.data[...] = 0

    def apply(self, fn) -> "Module":
        """Call ``fn`` on every submodule (children first), then on ``self``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _apply_to_arrays(self, convert) -> "Module":
        """Replace every parameter's and buffer's array (and grad) by ``convert(array)``."""
        for module in self.modules():
            for param in module._parameters.values():
                if param is None:
                    continue
                param.data = convert(param.data)
                if param.grad is not None:
                    param.grad = Tensor(convert(param.grad.data))
            for name, buf in module._buffers.items():
                if buf is not None:
                    module._buffers[name] = Tensor(convert(buf.data))
        return self

    def _cast_floating(self, dtype) -> "Module":
        """Cast floating-point parameters, their grads and buffers to ``dtype`` (integer and
        bool ones stay as they are), as torch's ``float()``/``half()``/``to(dtype)``."""
        with np.errstate(over="ignore"):  # too large for float16: inf, silently, as torch
            return self._apply_to_arrays(lambda a: a.astype(dtype, copy=False)
                                         if a.dtype.kind == "f" else a)

    def float(self) -> "Module":
        """Cast floating-point parameters and buffers to float32.

        >>> fastdl.nn.Linear(2, 1).double().float().weight.dtype
        dtype('float32')
        """
        return self._cast_floating(np.float32)

    def double(self) -> "Module":
        """Cast floating-point parameters and buffers to float64.

        >>> fastdl.nn.Linear(2, 1).double().weight.dtype
        dtype('float64')
        """
        return self._cast_floating(np.float64)

    def half(self) -> "Module":
        """Cast floating-point parameters and buffers to float16 (numpy's IEEE half, rounded to
        nearest even as torch rounds, so ``half().float()`` gives torch's values exactly).

        What then runs in float16: the numpy-backed ops (elementwise math, matmul and Linear,
        reductions, softmax, LayerNorm/BatchNorm, Embedding, losses). The C++ kernels (conv,
        pooling, recurrent layers, attention) take float32/float64 only and raise TypeError
        naming the dtype: cast back with ``float()`` for those.

        >>> lin = fastdl.nn.Linear(2, 1).half()
        >>> lin.weight.dtype, lin(fastdl.ones(3, 2, dtype=fastdl.float16)).dtype
        (dtype('float16'), dtype('float16'))
        """
        return self._cast_floating(np.float16)

    def to(self, *args, **kwargs) -> "Module":
        """Move to a device ("cpu" or "cuda") and/or cast floating-point parameters and buffers
        to a floating dtype, as torch: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)`` (its device and dtype); ``non_blocking`` is accepted and ignored.

        >>> fastdl.nn.Linear(2, 1).to(fastdl.float64).weight.dtype
        dtype('float64')
        """
        device, dtype = _parse_to(args, kwargs)
        if dtype is not None:
            dtype = as_dtype(dtype)
            if dtype.kind != "f":
                raise TypeError("nn.Module.to only accepts floating point dtypes, but got "
                                f"desired dtype={dtype}")
        if device is not None:
            device = str(device)
            if device == "cpu":
                self._apply_to_arrays(lambda a: a if isinstance(a, np.ndarray) else a.get())
            elif device.startswith("cuda"):
                from fastdl import backend
                cp = backend._cupy_module()
                if cp is None:
                    raise RuntimeError("Module.to('cuda'): cupy is not installed")
                self._apply_to_arrays(cp.asarray)
            else:
                raise ValueError(f"Module.to: unknown device {device!r} (use 'cpu' or 'cuda')")
        if dtype is not None:
            self._cast_floating(dtype)
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self) -> "Module":
        return self.to("cuda")

    # -- state dict --------------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        """This module's own parameters and persistent buffers (not its children's)."""
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buf if keep_vars else buf.detach()

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
        if strict:
            for key in state_dict:
                if not key.startswith(prefix):
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
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, module in self._modules.items():
            lines.append(_indent_after_first_line(f"({name}): {module!r}"))
        if not lines:
            return f"{self._get_name()}()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"


def _indent_after_first_line(text: str, spaces: int = 2) -> str:
    """A child's repr nested in its parent's: lines after the first indented (torch's
    ``_addindent``)."""
    return text.replace("\n", "\n" + " " * spaces)


def register_module_forward_pre_hook(hook):
    """A forward pre-hook for every module (runs before the module's own)."""
    return _register_global(_hooks.global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs: bool = False, always_call: bool = False):
    """A forward hook for every module (runs before the module's own)."""
    extra = ()
    if with_kwargs:
        extra += (_hooks.global_forward_hooks_with_kwargs,)
    if always_call:
        extra += (_hooks.global_forward_hooks_always_called,)
    return _register_global(_hooks.global_forward_hooks, hook, extra)


def register_module_full_backward_pre_hook(hook):
    """A backward pre-hook for every module (runs before the module's own)."""
    return _register_global(_hooks.global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook):
    """A full backward hook for every module (runs before the module's own)."""
    return _register_global(_hooks.global_backward_hooks, hook)


def _register_global(hooks, hook, extra=()):
    handle = _hooks.add_hook(hooks, hook, False, extra)
    Module._hooked = True
    return handle


def _parse_to(args, kwargs):
    """(device, dtype) from torch's ``Module.to`` call forms."""
    kwargs = dict(kwargs)
    kwargs.pop("non_blocking", None)
    unknown = set(kwargs) - {"device", "dtype", "tensor"}
    if unknown or len(args) > 3:
        raise TypeError(f"to() received an invalid combination of arguments: args={args}, "
                        f"kwargs={sorted(kwargs)}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    tensor = kwargs.get("tensor")
    args = list(args)
    if len(args) == 3 or (len(args) == 2 and isinstance(args[-1], bool)):
        args.pop()  # non_blocking given by position
    if args and isinstance(args[0], Tensor):
        tensor = args.pop(0)
    if tensor is not None:
        return str(tensor.device), tensor.dtype
    if args and _is_dtype_like(args[0]):
        dtype = args.pop(0)
    elif args:
        device = args.pop(0)
        if args:
            dtype = args.pop(0)
    if args:
        raise TypeError(f"to() received an invalid combination of arguments: {args}")
    return device, dtype


def _is_dtype_like(value) -> bool:
    if value is None or (isinstance(value, str) and value.split(":")[0] in ("cpu", "cuda")):
        return False
    try:
        as_dtype(value)
    except TypeError:
        return False
    return True


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
