"""Whether operations record the autograd graph (torch.no_grad / enable_grad / set_grad_enabled).

The mode is per thread, as in PyTorch: two threads training their own models at once each see
their own setting, and ``no_grad`` in one does not stop recording in the other. Ops read
``state.enabled`` (one attribute lookup on a ``threading.local``) on their hot path.
"""
from __future__ import annotations

import functools
import threading


class _ThreadGradState(threading.local):
    enabled = True  # class attribute: every new thread starts with recording on
    inference = False  # inside inference_mode(True) (is_inference_mode_enabled)


state = _ThreadGradState()


def is_grad_enabled() -> bool:
    return state.enabled


def grad_wanted(*tensors) -> bool:
    """True when an op on these tensors records a node: grad mode is on and one of them (None
    skipped) requires grad -- the test every op's apply makes, for code that picks a cheaper
    path when no gradient can flow."""
    return state.enabled and any(t is not None and t._requires_grad for t in tensors)


def _set_enabled(mode: bool) -> None:
    state.enabled = mode


class _GradModeContext:
    """Base for context managers that are also usable as decorators."""

    _mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._mode

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable graph recording: ``with fastdl.no_grad(): ...`` or ``@fastdl.no_grad()``.

    >>> x = fastdl.ones(2, requires_grad=True)
    >>> with fastdl.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @fastdl.no_grad()
    ... def double(t):
    ...     return t * 2
    >>> double(x).requires_grad
    False
    """

    _mode = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a ``no_grad`` block.

    >>> x = fastdl.ones(2, requires_grad=True)
    >>> with fastdl.no_grad():
    ...     with fastdl.enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """

    _mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` sets the mode now; used in ``with`` it restores on exit.

    >>> x = fastdl.ones(2, requires_grad=True)
    >>> with fastdl.set_grad_enabled(False):
    ...     y = x * 2
    >>> y.requires_grad, fastdl.is_grad_enabled()
    (False, True)
    """

    def __init__(self, mode: bool):
        self._prev = state.enabled
        self._mode = bool(mode)
        state.enabled = self._mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        mode = self._mode
        state.enabled = self._prev  # used as a decorator: do not change the mode at decoration time

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (fastdl has no separate inference tensors): ``inference_mode(False)``
    leaves the mode as it is.

    >>> x = fastdl.ones(2, requires_grad=True)
    >>> with fastdl.inference_mode():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self, mode: bool = True):
        self._mode = not mode
        self._keep = not mode

    def __enter__(self):
        self._prev, self._prev_inference = state.enabled, state.inference
        state.inference = not self._keep
        if not self._keep:
            state.enabled = False

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev, self._prev_inference
        return False

    def __call__(self, fn):
        keep = self._keep

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not keep):
                return fn(*args, **kwargs)
        return wrapper
