"""Argument checks worded as torch's argument parser words them ("f(): argument 'x'
(position 2) must be bool, not int"). A leaf module, importable from anywhere in fastdl."""
from __future__ import annotations


def check_bool_arg(value, fn: str, arg: str, position: int | None = None) -> None:
    """TypeError unless ``value`` is a Python bool."""
    if not isinstance(value, bool):
        where = f" (position {position})" if position is not None else ""
        raise TypeError(f"{fn}(): argument '{arg}'{where} must be bool, not "
                        f"{type(value).__name__}")
