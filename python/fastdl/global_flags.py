"""torch's process-wide switches and the default generator's state, on fastdl's terms.

- ``get_rng_state``/``set_rng_state``/``initial_seed``: the CPU generator behind ``randn``,
  ``rand``, dropout ... (``fastdl.random``; numpy's PCG64). The state is a uint8 tensor as in
  torch, but of PCG64's 37 bytes rather than torch's 5056 (Mersenne Twister): states move
  between fastdl processes, not between fastdl and torch. cupy's generator is not included,
  as torch.get_rng_state leaves out the CUDA generators.
- ``use_deterministic_algorithms``: fastdl's kernels are deterministic already (fixed
  reduction orders, no atomics on the float paths), so the flag is recorded and reported;
  nothing raises or warns for lack of a deterministic kernel.
- ``set_float32_matmul_precision``: fastdl's float32 GEMM always accumulates in float32 (no
  TF32 or bfloat16 passes), i.e. torch's 'highest'; the value is validated and recorded.
"""
from __future__ import annotations

import warnings

import numpy as np

from fastdl import random as _random
from fastdl._argcheck import check_bool_arg
from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.tensor import Tensor, _wrap, uint8

_FLAGS = {"deterministic": False, "warn_only": False, "matmul_precision": "highest"}
_PRECISIONS = ("highest", "high", "medium")
_STATE_BYTES = 37  # PCG64: 16 state + 16 increment + 1 has_uint32 + 4 uinteger


def initial_seed():
    """The seed of the default generator: the last ``manual_seed``, or the random seed it
    started with.

    >>> _ = fastdl.manual_seed(7); fastdl.initial_seed()
    7
    """
    return _random._initial_seed


def get_rng_state():
    """The default CPU generator's state as a uint8 tensor (pass it to ``set_rng_state`` to
    replay the same draws).

    Shape: (37,) (numpy PCG64's state; torch's Mersenne Twister state has 5056 bytes).

    >>> s = fastdl.get_rng_state(); a = fastdl.rand(2)
    >>> fastdl.set_rng_state(s); fastdl.equal(a, fastdl.rand(2))
    True
    """
    st = _random._rng.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise RuntimeError(f"get_rng_state: the default generator is "
                           f"{st['bit_generator']}, expected PCG64")
    raw = (st["state"]["state"].to_bytes(16, "little") + st["state"]["inc"].to_bytes(16, "little")
           + bytes([st["has_uint32"]]) + int(st["uinteger"]).to_bytes(4, "little"))
    return _wrap(np.frombuffer(raw, dtype=np.uint8).copy())


def set_rng_state(new_state):
    """Restore the default CPU generator to a state from ``get_rng_state``.

    >>> s = fastdl.get_rng_state(); a = fastdl.randn(3)
    >>> fastdl.set_rng_state(s); fastdl.equal(a, fastdl.randn(3))
    True
    """
    if not isinstance(new_state, Tensor) or new_state._data.dtype != uint8:
        raise TypeError("RNG state must be a uint8 tensor (fastdl.get_rng_state's)")
    raw = bytes(np.asarray(new_state.detach().numpy()).reshape(-1))
    if len(raw) != _STATE_BYTES:
        raise RuntimeError(f"Expected a PCG64 generator state of size {_STATE_BYTES} but found "
                           f"the input RNG state size to be {len(raw)}")
    _random._rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": int.from_bytes(raw[:16], "little"),
                  "inc": int.from_bytes(raw[16:32], "little")},
        "has_uint32": raw[32], "uinteger": int.from_bytes(raw[33:], "little")}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Record whether deterministic algorithms are required. fastdl's kernels are all
    deterministic, so this changes no result; it is reported by
    ``are_deterministic_algorithms_enabled``.

    >>> fastdl.use_deterministic_algorithms(True); fastdl.are_deterministic_algorithms_enabled()
    True
    >>> fastdl.use_deterministic_algorithms(False)
    """
    check_bool_arg(mode, "use_deterministic_algorithms", "mode")
    check_bool_arg(warn_only, "use_deterministic_algorithms", "warn_only")
    _FLAGS["deterministic"], _FLAGS["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled():
    """The flag set by ``use_deterministic_algorithms`` (False at start).

    >>> fastdl.are_deterministic_algorithms_enabled()
    False
    """
    return _FLAGS["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    """The ``warn_only`` flag of the last ``use_deterministic_algorithms`` call.

    >>> fastdl.is_deterministic_algorithms_warn_only_enabled()
    False
    """
    return _FLAGS["warn_only"]


def set_float32_matmul_precision(precision):
    """Record torch's float32 matmul precision setting ('highest', 'high' or 'medium').
    fastdl's float32 products always accumulate in float32 ('highest'), whatever is set. An
    unknown string warns and changes nothing, as in torch.

    >>> fastdl.set_float32_matmul_precision("high"); fastdl.get_float32_matmul_precision()
    'high'
    >>> fastdl.set_float32_matmul_precision("highest")
    """
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", UserWarning,
                      stacklevel=2)
        return
    _FLAGS["matmul_precision"] = precision


def get_float32_matmul_precision():
    """The value recorded by ``set_float32_matmul_precision`` ('highest' at start).

    >>> fastdl.get_float32_matmul_precision()
    'highest'
    """
    return _FLAGS["matmul_precision"]


def is_inference_mode_enabled():
    """True inside ``fastdl.inference_mode()`` (in this thread).

    >>> with fastdl.inference_mode():
    ...     fastdl.is_inference_mode_enabled()
    True
    """
    return _grad_state.inference


__all__ = ["are_deterministic_algorithms_enabled", "get_float32_matmul_precision",
           "get_rng_state", "initial_seed", "is_deterministic_algorithms_warn_only_enabled",
           "is_inference_mode_enabled", "set_float32_matmul_precision", "set_rng_state",
           "use_deterministic_algorithms"]
