"""The autocast mechanism: a per-thread autocast state and the ``autocast_op`` decorator that the
listed ops' functional entry points carry.

A decorated op looks at the device of its first tensor argument; when that device's autocast is
on, the op's policy (``amp/policies.py``) casts its floating tensor arguments before the op runs:
"lower" to the region's dtype (float16), "fp32" up to float32, "promote" to the widest floating
type among them. float64 tensors are never cast (torch's rule). The casts are ``Tensor.to``, so
gradients flow back to the float32 originals in float32.

While a policy op runs, autocast is suspended for the ops it calls (torch excludes its autocast
dispatch key the same way): a ``cross_entropy`` cast to float32 does not re-cast inside.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from fastdl.tensor import Tensor, float16, float32

_local = threading.local()
# How many autocast regions are open in any thread: decorated ops pay one list read while none is
_OPEN_REGIONS = [0]
_REGIONS_LOCK = threading.Lock()
DEVICE_TYPES = ("cpu", "cuda")


class DeviceState:
    """One device type's autocast settings in one thread."""
    __slots__ = ("enabled", "dtype", "cache_enabled")

    def __init__(self, enabled=False, dtype=float16, cache_enabled=True):
        self.enabled, self.dtype, self.cache_enabled = enabled, dtype, cache_enabled

    def copy(self):
        return DeviceState(self.enabled, self.dtype, self.cache_enabled)


def thread_state():
    """This thread's {device_type: DeviceState}, its region nesting and its weight-cast cache."""
    state = getattr(_local, "state", None)
    if state is None:
        state = _local.state = {"devices": {d: DeviceState() for d in DEVICE_TYPES},
                                "nesting": 0, "cache": {}, "suspended": False}
    return state


def enter_region(device_type, new_state):
    """Install ``new_state`` for ``device_type``; returns the state to restore on exit."""
    state = thread_state()
    previous = state["devices"][device_type]
    state["devices"][device_type] = new_state
    state["nesting"] += 1
    with _REGIONS_LOCK:
        _OPEN_REGIONS[0] += 1
    return previous


def exit_region(device_type, previous):
    state = thread_state()
    state["devices"][device_type] = previous
    state["nesting"] -= 1
    if state["nesting"] == 0:
        # like torch, cached float16 copies of the weights live until the outermost region ends
        state["cache"].clear()
    with _REGIONS_LOCK:
        _OPEN_REGIONS[0] -= 1


def _first_tensor(values):
    for value in values:
        if isinstance(value, Tensor):
            return value
        if isinstance(value, (list, tuple)):
            found = _first_tensor(value)
            if found is not None:
                return found
    return None


def _eligible(t) -> bool:
    # floating and not float64: torch's autocast never touches double tensors
    return isinstance(t, Tensor) and t._data.dtype.kind == "f" and t._data.dtype != np.float64


def _map_tensors(fn, value):
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(fn, v) for v in value)
    return value


def _tensors(value):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


def _cast(t, dtype, cache):
    if not _eligible(t) or t._data.dtype == dtype:
        return t
    from fastdl.autograd.grad_mode import is_grad_enabled
    # Parameters (leaves that require grad, not views) are cast once per region and reused, as
    # torch's weight cache does; under no_grad a copy without history must not be cached.
    cacheable = (cache is not None and t._requires_grad and t._grad_fn is None
                 and t._view is None and is_grad_enabled())
    if cacheable:
        hit = cache.get(id(t))
        # a backward since the cast freed its graph node (fastdl frees even a cast's): recast
        if (hit is not None and hit[0] is t and hit[1].dtype == dtype
                and hit[1]._grad_fn is not None and hit[1]._grad_fn.inputs is not None):
            return hit[1]
    out = t.to(dtype)
    if cacheable:
        cache[id(t)] = (t, out)  # the original is kept so its id is not reused meanwhile
    return out


def _cast_arguments(policy, device_state, cache, args, kwargs):
    if policy == "lower":
        dtype = device_state.dtype
    elif policy == "fp32":
        dtype = float32
    else:  # "promote": the widest eligible floating type among the arguments
        dtypes = {t._data.dtype for t in _tensors((args, tuple(kwargs.values()))) if _eligible(t)}
        dtype = float32 if float32 in dtypes else device_state.dtype
        cache = None  # torch caches only the casts to the lower precision type
    use_cache = cache if policy == "lower" and device_state.cache_enabled else None

    def cast(t):
        return _cast(t, dtype, use_cache)
    return _map_tensors(cast, args), {k: _map_tensors(cast, v) for k, v in kwargs.items()}


def _run_with_policy(name, fn, args, kwargs):
    from fastdl.amp.policies import CPU_FLOAT16_VIA_FLOAT32, POLICIES
    state = thread_state()
    if state["suspended"]:
        return fn(*args, **kwargs)
    first = _first_tensor((args, tuple(kwargs.values())))
    if first is None:
        return fn(*args, **kwargs)
    device = first.device
    device_state = state["devices"][device]
    policy = POLICIES[device].get(name) if device_state.enabled else None
    if policy is None:
        return fn(*args, **kwargs)
    if policy == "banned":
        from fastdl.amp.policies import banned_message
        if any(t._data.dtype == float16 for t in _tensors((args, tuple(kwargs.values())))):
            raise RuntimeError(banned_message(name))
        return fn(*args, **kwargs)
    if policy != "keep":
        args, kwargs = _cast_arguments(policy, device_state, state["cache"], args, kwargs)
    state["suspended"] = True
    try:
        if device == "cpu" and name in CPU_FLOAT16_VIA_FLOAT32:
            return _float16_via_float32(fn, args, kwargs)
        return fn(*args, **kwargs)
    finally:
        state["suspended"] = False


def _float16_via_float32(fn, args, kwargs):
    """``fn`` on float32 copies of its float16 arguments, its floating results rounded back to
    float16 (the C++ kernels behind ``fn`` have no float16 instantiation)."""
    if not any(t._data.dtype == float16 for t in _tensors((args, tuple(kwargs.values())))):
        return fn(*args, **kwargs)

    def up(t):
        return t.to(float32) if t._data.dtype == float16 else t

    def down(t):
        return t.to(float16) if t._data.dtype == float32 else t
    out = fn(*_map_tensors(up, args), **{k: _map_tensors(up, v) for k, v in kwargs.items()})
    return _map_tensors(down, out)


def autocast_op(name):
    """Decorator for an op's functional entry point: under autocast, cast its tensor arguments
    by the policy ``name`` has in ``fastdl.amp.policies.POLICIES`` for the arguments' device."""
    def decorate(fn):
        @functools.wraps(fn)
        def op_under_autocast(*args, **kwargs):
            if not _OPEN_REGIONS[0]:
                return fn(*args, **kwargs)
            return _run_with_policy(name, fn, args, kwargs)
        return op_under_autocast
    return decorate


class suspended:
    """Autocast off for this thread while the block runs (the backward pass: torch does not
    autocast the ops of a backward)."""

    def __enter__(self):
        state = thread_state()
        self._previous = state["suspended"]
        state["suspended"] = True

    def __exit__(self, *exc):
        thread_state()["suspended"] = self._previous
