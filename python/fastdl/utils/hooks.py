"""``torch.utils.hooks``: the removable hook handle, and marking a tensor hook as one that
pickling may drop without a warning."""
from __future__ import annotations

from fastdl._tensor_copy import warn_if_has_hooks
from fastdl.nn.modules._hooks import BackwardHook, RemovableHandle

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks", "BackwardHook"]


def unserializable_hook(f):
    """Mark ``f`` as a tensor hook that is not serialized: pickling a tensor that has it does
    not warn.

    >>> @fastdl.utils.hooks.unserializable_hook
    ... def hook(grad):
    ...     return grad * 2
    >>> hook.__torch_unserializable__
    True
    """
    f.__torch_unserializable__ = True
    return f
