"""Function transforms' entry points (``torch.func``): ``functional_call``, ``vmap``, and the
differentiation transforms ``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``linearize``,
``jacrev``, ``jacfwd``, ``hessian`` (fastdl._func_transforms says how they are built)."""
from __future__ import annotations

from collections.abc import Sequence

from fastdl._func_jacobians import hessian, jacfwd, jacrev
from fastdl._func_transforms import grad, grad_and_value, jvp, linearize, vjp
from fastdl._vmap import vmap
from fastdl.nn.utils.stateless import call_with

__all__ = ["functional_call", "vmap", "grad", "grad_and_value", "vjp", "jvp", "linearize",
           "jacrev", "jacfwd", "hessian"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """``module(*args, **kwargs)`` run with the given tensors in place of its parameters and
    buffers (dotted names, as ``named_parameters``): gradients flow to the given tensors, and
    the module gets its own back afterwards, also when the call raised. ``args`` that is not a
    tuple is the one positional argument. ``parameter_and_buffer_dicts`` is a dict or a
    sequence of dicts without repeated keys. With ``tie_weights`` a tensor registered under
    several names is replaced under all of them when one is given; ``strict`` requires exactly
    the module's names.

    >>> lin = fastdl.nn.Linear(2, 1)
    >>> weight = fastdl.ones(1, 2, requires_grad=True)
    >>> out = fastdl.func.functional_call(lin, {"weight": weight, "bias": fastdl.zeros(1)},
    ...                                   (fastdl.tensor([[1.0, 2.0]]),))
    >>> out.tolist()
    [[3.0]]
    >>> out.sum().backward()
    >>> weight.grad.tolist(), lin.weight.grad
    ([[1.0, 2.0]], None)
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        parameters_and_buffers = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, Sequence):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        counts = {}
        for d in parameter_and_buffer_dicts:
            for key in d:
                counts[key] = counts.get(key, 0) + 1
        repeated_keys = [key for key, n in counts.items() if n > 1]
        if repeated_keys:
            raise ValueError(f"{repeated_keys} appeared in multiple dictionaries; behavior of "
                             "functional call is ambiguous")
        parameters_and_buffers = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(parameter_and_buffer_dicts)}")
    return call_with(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights,
                     strict=strict)
