"""Argument checks worded as torch's argument parser words them ("f(): argument 'x'
(position 2) must be bool, not int"). A leaf module, importable from anywhere in fastdl."""
from __future__ import annotations


def check_bool_arg(value, fn: str, arg: str, position: int | None = None) -> None:
    """TypeError unless ``value`` is a Python bool."""
    if not isinstance(value, bool):
        where = f" (position {position})" if position is not None else ""
        raise TypeError(f"{fn}(): argument '{arg}'{where} must be bool, not "
                        f"{type(value).__name__}")


def check_tensor_arg(value, fn: str, arg: str = "input", position: int | None = 1):
    """``value``, or a TypeError unless it is a Tensor; ``position=None`` for a keyword-only
    argument, which torch's parser names without a position."""
    from fastdl.tensor import Tensor
    if not isinstance(value, Tensor):
        where = f" (position {position})" if position is not None else ""
        raise TypeError(f"{fn}(): argument '{arg}'{where} must be Tensor, not "
                        f"{type(value).__name__}")
    return value


def check_tensor_element(value, index: int, argument: int = 0):
    """``value``, or torch's TypeError for a non-Tensor in a sequence-of-tensors argument
    (``argument`` counts from 0, as torch's message does)."""
    from fastdl.tensor import Tensor
    if not isinstance(value, Tensor):
        raise TypeError(f"expected Tensor as element {index} in argument {argument}, but got "
                        f"{type(value).__name__}")
    return value
