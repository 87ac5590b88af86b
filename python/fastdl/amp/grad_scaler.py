"""``GradScaler``: dynamic loss scaling for float16 training (``torch.amp.GradScaler``).

float16's smallest normal number is about 6e-5, so small gradients of a float16 region underflow
to zero. Multiplying the loss by a large factor before ``backward`` shifts the gradients into
float16's range; the scaler divides them back out before the optimizer uses them, skips steps
whose gradients overflowed to inf/NaN, and adjusts the factor as training goes.

The state machine, the update rule and the error messages are torch's, so scripts written for
``torch.amp.GradScaler`` behave the same. The scale is a 0-d float32 tensor, as in torch: a
float16 loss times it is float32, so the scaled loss does not overflow.
"""
from __future__ import annotations

import warnings
from collections import abc, defaultdict
from enum import Enum
from typing import Any

import numpy as np

from fastdl.autograd.grad_mode import no_grad
from fastdl.backend import array_module
from fastdl.tensor import Tensor

__all__ = ["OptState", "GradScaler"]


class OptState(Enum):
    """Where each optimizer is in the current iteration: READY (nothing done), UNSCALED
    (``unscale_`` ran), STEPPED (``step`` ran); ``update`` resets every optimizer to READY."""
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state() -> dict:
    # a module-level factory, not a lambda, so a scaler with a defaultdict of these pickles
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _cuda_available() -> bool:
    from fastdl import cuda
    return cuda.is_available()


class GradScaler:
    """Scales the loss, unscales the gradients, skips steps with inf/NaN gradients and adapts
    the scale (``torch.amp.GradScaler``).

    * ``scaler.scale(loss)`` multiplies the loss by the current scale.
    * ``scaler.step(optimizer)`` unscales the gradients (unless ``unscale_`` already did) and
      calls ``optimizer.step()`` only when they are all finite (returning None otherwise).
    * ``scaler.update()`` multiplies the scale by ``backoff_factor`` when a step was skipped, and
      by ``growth_factor`` after ``growth_interval`` consecutive unskipped steps.

    ``device`` is "cuda" by default, like torch's; a "cuda" scaler on a machine without a usable
    GPU warns and disables itself (its methods then pass through).

    >>> model = fastdl.nn.Linear(3, 1)
    >>> opt = fastdl.optim.SGD(model.parameters(), lr=0.1)
    >>> scaler = fastdl.amp.GradScaler("cpu", init_scale=1024.0)
    >>> loss = model(fastdl.ones(2, 3)).sum()
    >>> scaler.scale(loss).backward()
    >>> scaler.step(opt); scaler.update()
    >>> scaler.get_scale()
    1024.0
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if device == "cuda" and enabled and not _cuda_available():
            warnings.warn("fastdl.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale: Tensor | None = None  # made by the first scale() on the loss's device
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker: int | None = None  # consecutive unskipped steps
            self._per_optimizer_states: dict[int, dict] = defaultdict(
                _refresh_per_optimizer_state)

    # ---- scaling ----
    def _check_scale_growth_tracker(self, funcname: str):
        fix = ("This may indicate your script did not use scaler.scale(loss or outputs) earlier "
               "in the iteration.")
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, device: str) -> None:
        from fastdl.creation import full
        self._scale = full((), self._init_scale, dtype=np.float32, device=device)
        self._growth_tracker = self._init_growth_tracker

    def _scale_on(self, device: str) -> Tensor:
        if self._scale is None:
            self._lazy_init_scale_growth_tracker(device)
        return self._scale if self._scale.device == device else self._scale.to(device)

    def scale(self, outputs):
        """``outputs`` times the scale: a tensor, or a list/tuple/iterable (nested) of tensors,
        returned with the same structure (other iterables come back as lazy ``map``\\ s, as in
        torch). A disabled scaler returns ``outputs`` unchanged."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale_on(outputs.device)

        def apply_scale(value):
            if isinstance(value, Tensor):
                return value * self._scale_on(value.device)
            if isinstance(value, abc.Iterable):
                scaled = map(apply_scale, value)
                return type(value)(scaled) if isinstance(value, (list, tuple)) else scaled
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    # ---- unscaling and the inf/NaN check ----
    def _unscale_grads_(self, optimizer, inv_scale: float, allow_fp16: bool) -> dict:
        """Multiply every gradient of ``optimizer`` by ``inv_scale`` in place (not when it is 1,
        as torch's kernel) and return {device: 1.0 if any gradient there was inf/NaN else 0.0}."""
        found_inf_per_device: dict[str, float] = {}
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError(f"expected param to be fastdl.Tensor, got "
                                             f"{type(param).__name__}")
                    grad = param.grad
                    if grad is None:
                        continue
                    if not allow_fp16 and grad.dtype == np.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    data = grad._data
                    xp = array_module(data)
                    finite = bool(xp.isfinite(data).all())
                    found = found_inf_per_device.get(grad.device, 0.0)
                    found_inf_per_device[grad.device] = max(found, 0.0 if finite else 1.0)
                    if inv_scale != 1.0:
                        factor = data.dtype.type(np.float32(inv_scale))
                        if getattr(data.flags, "writeable", True):
                            xp.multiply(data, factor, out=data)
                        else:  # a read-only (broadcast) gradient array: replace it
                            grad._data = xp.multiply(data, factor)
        return found_inf_per_device

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place, and record whether any is
        inf/NaN. Optional: ``step`` does it when it was not done; call it yourself to clip or
        inspect the true gradients before ``step``. Once per optimizer between updates."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # torch takes the reciprocal in float64, then rounds it to float32
        inv_scale = float(np.float32(1.0 / np.float64(self._scale.item())))
        optimizer_state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale,
                                                                       allow_fp16=False)
        optimizer_state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, optimizer_state, *args, **kwargs):
        if not sum(optimizer_state["found_inf_per_device"].values()):
            return optimizer.step(*args, **kwargs)
        return None

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if ``unscale_`` was not called) and run ``optimizer.step(*args, **kwargs)``
        unless a gradient is inf/NaN; returns what ``optimizer.step`` returned, or None when the
        step was skipped. Closures are refused, as in torch."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(optimizer_state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)
        optimizer_state["stage"] = OptState.STEPPED
        return retval

    # ---- the scale's update ----
    def update(self, new_scale=None) -> None:
        """Back the scale off if any step of this iteration was skipped, grow it after
        ``growth_interval`` consecutive good steps, or set it to ``new_scale`` (a float or a
        one-element tensor without grad on the scaler's device). Call once per iteration, after
        every optimizer's ``step``."""
        if not self._enabled:
            return
        scale, growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                value = new_scale
            else:
                reason = ("new_scale should be a float or a 1-element fastdl.Tensor with "
                          "requires_grad=False.")
                if (not isinstance(new_scale, Tensor) or new_scale.device != self._device
                        or new_scale.numel() != 1 or new_scale.requires_grad):
                    raise AssertionError(reason)
                value = new_scale.item()
        else:
            found_infs = [found for state in self._per_optimizer_states.values()
                          for found in state["found_inf_per_device"].values()]
            if len(found_infs) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            value, self._growth_tracker = self._updated_scale(scale.item(), growth_tracker,
                                                              sum(found_infs) > 0)
        from fastdl.creation import full
        self._scale = full((), value, dtype=np.float32, device=scale.device)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _updated_scale(self, scale: float, growth_tracker: int, found_inf: bool):
        """torch's ``_amp_update_scale_``: (new scale, new growth tracker); the float32 scale
        times the float64 factor, rounded to float32."""
        if found_inf:
            return float(np.float32(scale * self._backoff_factor)), 0
        successful = growth_tracker + 1
        if successful == self._growth_interval:
            with np.errstate(over="ignore"):
                grown = np.float32(scale * self._growth_factor)
            # a scale that would overflow float32 stays where it is
            return (float(grown) if np.isfinite(grown) else scale), 0
        return scale, successful

    # ---- queries and settings ----
    def get_scale(self) -> float:
        """The current scale (the initial one before the first ``scale``); 1.0 when disabled."""
        if self._enabled:
            return self._init_scale if self._scale is None else float(self._scale.item())
        return 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if self._enabled:
            return (self._init_growth_tracker if self._growth_tracker is None
                    else self._growth_tracker)
        return 0

    def is_enabled(self) -> bool:
        return self._enabled

    # ---- checkpoints ----
    def state_dict(self) -> dict[str, Any]:
        """{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}
        (torch's keys); empty when the scaler is disabled. Save it after ``update``."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor,
                    "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (a disabled scaler ignores it)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            from fastdl.creation import full
            self._scale = full((), state_dict["scale"], dtype=np.float32,
                               device=self._scale.device)
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker = state_dict["_growth_tracker"]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning "
                                     "of an iteration, or at the end after scaler.update().")
            # the unpickled scaler re-creates its scale tensor lazily on the next scale()
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
