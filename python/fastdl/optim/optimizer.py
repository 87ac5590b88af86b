"""Optimizer base class: parameter groups, per-parameter state, state_dict round trips.

Subclasses implement ``_update_group(group)``; they update ``p.data`` in place with
numpy/cupy (whichever holds the parameter), so a model defined once trains on either.
"""
from __future__ import annotations

import copy
import numbers
import warnings
from typing import Any, Callable, Iterable

import numpy as np

from fastdl.backend import array_module, kernel_arrays
from fastdl.tensor import Tensor


class _Required:
    """Marks a hyperparameter with no default (torch.optim.optimizer.required)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class ParamState:
    """Per-parameter state keyed by parameter identity.

    Tensors compare elementwise, so they cannot be plain dict keys; this keeps the
    ``optimizer.state[param]`` spelling of torch while keying on ``id(param)``.
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Tensor, dict]] = {}

    def __getitem__(self, param: Tensor) -> dict:
        entry = self._entries.get(id(param))
        if entry is None:
            state: dict = {}
            self._entries[id(param)] = (param, state)
            return state
        return entry[1]

    def __setitem__(self, param: Tensor, state: dict) -> None:
        self._entries[id(param)] = (param, state)

    def __contains__(self, param: object) -> bool:
        return id(param) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return (param for param, _ in self._entries.values())

    def get(self, param: Tensor, default=None):
        entry = self._entries.get(id(param))
        return default if entry is None else entry[1]

    def items(self):
        return list(self._entries.values())

    def clear(self) -> None:
        self._entries.clear()

    def __repr__(self) -> str:
        return f"ParamState({len(self)} parameters)"


def array_module_of(array):
    """numpy or cupy for ``array``; the numpy check first keeps the common path cheap."""
    if type(array) is np.ndarray:
        return np
    return array_module(array)


def fused_update_arrays(param, grad, *state) -> bool:
    """Whether a fused C++ update (``_C.sgd_update``, ``_C.adam_update``) takes these arrays:
    numpy, C-contiguous, one float dtype, and the parameter writable in place."""
    return kernel_arrays(param, grad, *state) and param.flags.writeable


def effective_grad(param_data, grad, weight_decay: float, maximize: bool, xp):
    """``(-grad if maximize else grad) + weight_decay * param``, never writing into ``grad``."""
    if weight_decay != 0:
        out = xp.multiply(param_data, weight_decay)
        if maximize:
            out -= grad
        else:
            out += grad
        return out
    if maximize:
        return xp.negative(grad)
    return grad


def lerp_(start, end, weight: float, xp) -> None:
    """``start += weight * (end - start)`` in place, with torch.lerp's two-sided formula."""
    diff = xp.subtract(end, start)
    if weight < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= weight - 1.0
        xp.add(end, diff, out=start)


def check_non_negative(name: str, value) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r})")
    if not value >= 0.0:
        raise ValueError(f"Invalid {name}: {value} (must be >= 0)")


def check_in_range(name: str, value, low: float, high: float, high_inclusive: bool) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r})")
    upper_ok = value <= high if high_inclusive else value < high
    if not (low <= value and upper_ok):
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"Invalid {name}: {value} (must be in [{low}, {high}{bracket})")


def check_betas(betas) -> None:
    """torch's check of Adam-style ``betas``: a pair, each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    check_in_range("beta parameter at index 0", betas[0], 0.0, 1.0, high_inclusive=False)
    check_in_range("beta parameter at index 1", betas[1], 0.0, 1.0, high_inclusive=False)


def check_tensor_hyperparameters(lr, betas, foreach, capturable: bool) -> tuple:
    """torch's Adam-family rules for Tensor hyperparameters (a Tensor lr or Tensor betas must be
    1-element; betas both Tensors or neither; neither with foreach=True unless capturable);
    returns the betas as floats, as torch stores them."""
    if isinstance(lr, Tensor) and foreach and not capturable:
        raise ValueError("lr as a Tensor is not supported for capturable=False and "
                         "foreach=True")
    scalar_lr(lr)  # a Tensor lr must be 1-element
    betas = tuple(betas)
    if len(betas) == 2 and isinstance(betas[0], Tensor) != isinstance(betas[1], Tensor):
        raise ValueError("betas must be either both floats or both Tensors")
    for i, beta in enumerate(betas):
        if isinstance(beta, Tensor):
            if foreach and not capturable:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False "
                                 "and foreach=True")
            if beta.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
    return tuple(b.item() if isinstance(b, Tensor) else b for b in betas)


def check_adam_style_group(group: dict) -> None:
    """The checks torch's Adam family shares: eps and weight_decay >= 0, betas in [0, 1)."""
    check_non_negative("epsilon value", group["eps"])
    check_non_negative("weight_decay value", group["weight_decay"])
    check_betas(group["betas"])


def torch_step_flags(foreach, capturable, differentiable: bool) -> dict:
    """torch's implementation-choice flags, kept in the groups so state dicts have torch's keys.

    ``foreach`` (multi-tensor kernels) and ``capturable`` (CUDA-graph capture) change how torch
    computes a step, not what it computes, so fastdl accepts and records them (``capturable``
    None: the optimizer has no such flag in torch, and no key). ``differentiable`` (autograd
    through ``step``) is refused: fastdl updates parameters in place outside autograd.
    """
    if differentiable:
        raise ValueError("differentiable=True is not supported: fastdl optimizers update "
                         "parameters in place outside autograd")
    flags = dict(foreach=foreach, capturable=capturable, differentiable=False)
    if capturable is None:
        del flags["capturable"]
    return flags


def check_fused(fused, foreach) -> None:
    """torch's refusal of ``fused`` together with ``foreach`` (fused, like foreach, only picks
    torch's kernel: fastdl records it)."""
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def scalar_lr(lr):
    """A learning rate as a number: torch takes a 1-element Tensor too."""
    if isinstance(lr, Tensor):
        if lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        return lr.item()
    return lr


def scalar_hyperparameters(group: dict) -> dict:
    """The group with 1-element Tensor hyperparameters (torch's Tensor lr, Tensor betas) as
    Python floats, as the update formulas take them; the group itself keeps the Tensors (its
    state dict and schedulers see what the user passed)."""
    if not any(isinstance(v, Tensor) or (isinstance(v, tuple) and any(
            isinstance(e, Tensor) for e in v)) for k, v in group.items() if k != "params"):
        return group
    return {k: (v if k == "params" else _scalar(v)) for k, v in group.items()}


def _scalar(value):
    """A module-level function, not a closure: a recursive nested function is a reference cycle
    per call (tests/test_autograd_gc.py)."""
    if isinstance(value, Tensor):
        return value.item()
    if isinstance(value, tuple) and any(isinstance(v, Tensor) for v in value):
        return tuple(_scalar(v) for v in value)
    return value


def float32_scalar(value) -> np.float32:
    """torch keeps scalar optimizer state (NAdam's mu_product, ASGD's eta and mu) as float32
    tensors; rounding the same way keeps float64 trajectories identical to torch's."""
    if hasattr(value, "item"):
        value = value.item()
    return np.float32(value)


_CAPTURABLE_DEVICES = ["cuda", "xpu", "hpu", "privateuseone"]


class Optimizer:
    """Base class of all optimizers (PyTorch's ``torch.optim.Optimizer`` API)."""

    # torch's refusal of a capturable (CUDA-graph) step on CPU tensors, in its words: what must
    # be on a supported device and whether 'xla' is listed, for its single-tensor path and its
    # foreach path (their messages differ by optimizer)
    _capturable_refusal = {"single": ("params and state_steps", True),
                           "foreach": ("params and state_steps", False)}

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state = ParamState()
        self.param_groups: list[dict[str, Any]] = []

        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got a {type(params).__name__}")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters must be an ordered collection (list, tuple, "
                            "generator), not a set: set order changes between runs")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- groups
    def _validate_group(self, group: dict[str, Any]) -> None:
        """Check the hyperparameters of one group; subclasses extend."""
        check_non_negative("learning rate", scalar_lr(group["lr"]))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters must be an ordered collection, not a set")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
            params = [p for _, p in params]
        for i, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but params[{i}] is a "
                                f"{type(param).__name__}")
            if getattr(param, "grad_fn", None) is not None:
                raise ValueError(f"can't optimize a non-leaf Tensor (params[{i}], shape "
                                 f"{tuple(param.shape)})")
        if len({id(p) for p in params}) != len(params):
            # torch's behaviour: a warning, and the parameter is stepped once per listing
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        param_group["params"] = params

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        self._validate_group(param_group)

        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (drop them, or fill with zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            from fastdl.autograd import enable_grad

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._check_capturable(group)
            self._update_group(scalar_hyperparameters(group))
        return loss

    def _check_capturable(self, group: dict[str, Any]) -> None:
        """torch's AssertionError when a capturable group steps a parameter held on the CPU
        (fused kernels take CPU tensors; groups before this one have already stepped)."""
        if not group.get("capturable") or group.get("fused"):
            return
        if all(p.grad is None or array_module_of(p.data) is not np for p in group["params"]):
            return
        what, xla = self._capturable_refusal["foreach" if group.get("foreach") else "single"]
        devices = _CAPTURABLE_DEVICES + (["xla"] if xla else [])
        raise AssertionError(f"If capturable=True, {what} must be on supported devices: "
                             f"{devices}.")

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update_group(group)")

    def _params_with_grad(self, group: dict[str, Any]):
        """(param, param array, grad array) for each parameter of the group that has a grad."""
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            grad_data = grad.data if isinstance(grad, Tensor) else grad
            if grad_data.shape != p.data.shape:
                raise ValueError(f"gradient shape {tuple(grad_data.shape)} does not match "
                                 f"parameter shape {tuple(p.data.shape)}")
            yield p, p.data, grad_data

    # ------------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as in torch.

        Arrays in the state are returned as Tensors sharing memory with the optimizer (as torch
        does); ``load_state_dict`` copies them.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            indices = []
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
                indices.append(index_of[id(p)])
            packed["params"] = indices
            groups.append(packed)
        state = {}
        for param, param_state in self.state.items():
            if id(param) not in index_of:
                continue
            state[index_of[id(param)]] = {
                key: (Tensor(value) if _is_array(value) else value)
                for key, value in param_state.items()
            }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (copies the arrays)."""
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError("optimizer state dict must be a dict with 'state' and 'param_groups'")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, the "
                             f"optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded state dict's parameter group {i} has "
                                 f"{len(saved['params'])} parameters, the optimizer's has "
                                 f"{len(group['params'])}")
            missing = [k for k in self.defaults if k not in saved]
            if missing:
                raise ValueError(f"loaded state dict's parameter group {i} lacks "
                                 f"hyperparameters {missing}")
        param_of = {}
        for group, saved in zip(self.param_groups, saved_groups):
            for index, param in zip(saved["params"], group["params"]):
                param_of[int(index)] = param

        new_state = ParamState()
        for index, saved_state in state_dict["state"].items():
            param = param_of.get(int(index))
            if param is None:
                raise ValueError(f"loaded state dict has state for parameter {index}, which "
                                 "no parameter group lists")
            new_state[param] = {key: self._restore_state(key, value, param)
                                for key, value in saved_state.items()}

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            for key in ("betas",):
                if isinstance(saved.get(key), list):
                    saved[key] = tuple(saved[key])
            self._validate_group(saved)
            new_groups.append(saved)
        self.param_groups = new_groups
        self.state = new_state

    def _restore_state(self, key: str, value, param: Tensor):
        """One saved state entry for ``param``; subclasses with scalar or differently shaped
        state (NAdam's mu_product, Adafactor's row_var) override."""
        return _restore_state_value(key, value, param)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, Tensor)


def _restore_state_value(key: str, value, param: Tensor, shape: tuple | None = None):
    """Copy a saved state entry onto the parameter's device; floating arrays take its dtype.
    ``shape`` is the entry's expected shape (the parameter's unless given)."""
    if isinstance(value, Tensor):
        value = value.data
    if not hasattr(value, "shape"):
        return value
    if key == "step":
        return int(value.item() if hasattr(value, "item") else value)
    target = param.data
    xp = array_module_of(target)
    expected = tuple(target.shape) if shape is None else tuple(shape)
    if tuple(value.shape) != expected:
        if shape is None:
            raise ValueError(f"state '{key}' has shape {tuple(value.shape)} but its parameter "
                             f"has shape {expected}")
        raise ValueError(f"state '{key}' has shape {tuple(value.shape)}, expected {expected}")
    if xp is not np and type(value) is not type(target):
        value = xp.asarray(value)
    elif xp is np and type(value) is not np.ndarray:
        value = value.get() if hasattr(value, "get") else np.asarray(value)
    dtype = target.dtype if np.issubdtype(value.dtype, np.floating) else value.dtype
    return xp.array(value, dtype=dtype, copy=True)
