"""Whether operations record the autograd graph (torch.no_grad / enable_grad / set_grad_enabled).

The flag is a module global rather than thread-local: reading it is on every op's hot path, and
fastdl runs its parallelism inside kernels, not in Python threads.
"""
from __future__ import annotations

import functools

enabled = True


def is_grad_enabled() -> bool:
    return enabled


class _GradModeContext:
    """Base for context managers that are also usable as decorators."""

    _mode = True

    def __enter__(self):
        global enabled
        self._prev = enabled
        enabled = self._mode

    def __exit__(self, *exc):
        global enabled
        enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable graph recording: ``with fastdl.no_grad(): ...`` or ``@fastdl.no_grad()``."""

    _mode = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` sets the mode now; used in ``with`` it restores on exit."""

    def __init__(self, mode: bool):
        global enabled
        self._prev = enabled
        self._mode = bool(mode)
        enabled = self._mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        mode = self._mode
        global enabled
        enabled = self._prev  # used as a decorator: do not change the mode at decoration time

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper
