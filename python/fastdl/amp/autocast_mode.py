"""``autocast``: regions where matrix products and convolutions run in float16 (``torch.autocast``).

fastdl's default autocast dtype is float16 on both device types. torch's CPU default is
bfloat16, which keeps float32's exponent range; numpy, which holds fastdl's CPU tensors, has no
bfloat16, so fastdl cannot store it and ``dtype=fastdl.bfloat16`` raises.
"""
from __future__ import annotations

import functools
import warnings

from fastdl.amp import _dispatch
from fastdl.tensor import _NoStorageDtype, as_dtype, float16

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype"]


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports ``device_type`` ("cpu" and "cuda" do).

    >>> fastdl.amp.is_autocast_available("cpu"), fastdl.amp.is_autocast_available("mps")
    (True, False)
    """
    return device_type in _dispatch.DEVICE_TYPES


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if not is_autocast_available(device_type):
        raise RuntimeError(f"User specified an unsupported autocast device_type "
                           f"'{device_type}'")


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether ``device_type``'s autocast is on in this thread (torch's default: "cuda").

    >>> with fastdl.autocast("cpu"):
    ...     fastdl.is_autocast_enabled("cpu"), fastdl.is_autocast_enabled("cuda")
    (True, False)
    """
    _check_device_type(device_type)
    return _dispatch.thread_state()["devices"][device_type].enabled


def get_autocast_dtype(device_type: str):
    """The dtype ``device_type``'s autocast casts to (float16 outside any region).

    >>> fastdl.get_autocast_dtype("cpu")
    dtype('float16')
    """
    _check_device_type(device_type)
    return _dispatch.thread_state()["devices"][device_type].dtype


class autocast:
    """Mixed precision region (``torch.autocast``): inside it, ops on torch's lower-precision
    list (linear, matmul, conv*, scaled_dot_product_attention ...) run in float16 on float16
    copies of their float32 arguments, and ops on its float32 list (losses, and on "cuda" also
    softmax, layer_norm, exp, sum ...) run in float32. Parameters stay float32: the casts are
    differentiable, so their gradients come back float32. Also a decorator.

    ``dtype`` is float16 (the default) on both device types; bfloat16 has no storage in fastdl.
    ``enabled=False`` turns autocast off inside an enclosing region; ``cache_enabled`` keeps
    one float16 copy of each parameter per region (torch's weight cache).

    >>> lin = fastdl.nn.Linear(4, 3)
    >>> with fastdl.autocast("cpu"):
    ...     y = lin(fastdl.ones(2, 4))
    ...     loss = fastdl.nn.functional.mse_loss(y, fastdl.zeros(2, 3))
    >>> y.dtype, loss.dtype
    (dtype('float16'), dtype('float32'))
    >>> loss.backward(); lin.weight.grad.dtype
    dtype('float32')
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        _check_device_type(device_type)
        if not isinstance(enabled, bool):
            raise ValueError(f"Expected `enabled` of type `bool`, got: `{type(enabled)}`")
        self.device = device_type
        if isinstance(dtype, _NoStorageDtype):
            raise dtype.error()
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else as_dtype(dtype)
        self._enabled = enabled
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        if self._enabled and self.fast_dtype != float16:
            warnings.warn(f"In {device_type} autocast, but the target dtype is not supported. "
                          f"Disabling autocast.\nfastdl's autocast supports dtype "
                          f"fastdl.float16 only (got {self.fast_dtype}).", stacklevel=2)
            self._enabled = False
        if self._enabled and device_type == "cuda":
            from fastdl import cuda
            if not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not available. "
                              "Disabling", stacklevel=2)
                self._enabled = False
        self._restore = []  # a stack: the same instance may be entered again (recursion)

    def __enter__(self):
        state = _dispatch.DeviceState(self._enabled, self.fast_dtype, self._cache_enabled)
        self._restore.append(_dispatch.enter_region(self.device, state))
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _dispatch.exit_region(self.device, self._restore.pop())
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorated
