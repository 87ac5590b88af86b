"""``Module``: the base of every layer (PyTorch's bookkeeping and names)."""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from typing import Iterator

import numpy as np

from fastdl.nn.modules import _hooks
from fastdl.nn.modules._module_extras import ModuleExtrasMixin
from fastdl.nn.modules._state_dict import StateDictMixin
from fastdl.nn.parameter import Buffer, Parameter
from fastdl.tensor import Tensor, as_dtype


_HOOK_DICTS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
               "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_backward_hooks",
               "_backward_pre_hooks", "_state_dict_pre_hooks", "_state_dict_hooks",
               "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")



class Module(StateDictMixin, ModuleExtrasMixin):
    """Base class of layers. Assigning a ``Parameter`` or ``Module`` attribute registers it;
    buffers (non-trainable state such as running statistics) go through ``register_buffer``.

    Hooks (``register_forward_pre_hook``, ``register_forward_hook``,
    ``register_full_backward_pre_hook``, ``register_full_backward_hook``) have PyTorch's
    semantics, as do the state-dict hooks (``register_state_dict_pre_hook`` ...). They live in
    ordered dicts keyed by their handle's id and are not part of the state dict;
    ``copy.deepcopy`` and pickling keep them, as torch's do (so pickling a module with a lambda
    or closure hook fails, as in torch).

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
        # copy's rule for methods).
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            object.__setattr__(clone, name, copy.deepcopy(value, memo))
        return clone

    def __getstate__(self):
        # Hooks are pickled with the module, as torch does: a pruned, weight_norm'ed or
        # spectral_norm'ed module keeps its reparametrization, and a hook that cannot be
        # pickled (a lambda, a closure) makes pickling fail instead of vanishing silently.
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in _HOOK_DICTS:
            if name not in self.__dict__:
                object.__setattr__(self, name, OrderedDict())
        # The loaded hooks keep their ids; a fresh process's handle counter starts at 0, and
        # a hook registered later must not take (and overwrite) one of those ids.
        _hooks.reserve_ids(*(self.__dict__[name] for name in _HOOK_DICTS))

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
        elif isinstance(value, Buffer):
            self.register_buffer(name, value, value.persistent)
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
