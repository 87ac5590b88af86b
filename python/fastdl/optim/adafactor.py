"""Adafactor (torch.optim.Adafactor): factored second moments for matrices."""
from __future__ import annotations

import numpy as np

from fastdl.optim.optimizer import (Optimizer, array_module_of, effective_grad, lerp_,
                                    _restore_state_value, scalar_lr)


def _factored_shapes(shape) -> tuple[tuple, tuple]:
    """The shapes of row_var (last dim 1) and col_var (second-to-last dim 1)."""
    row, col = list(shape), list(shape)
    row[-1] = 1
    col[-2] = 1
    return tuple(row), tuple(col)


def _rms(array, xp) -> float:
    return float(xp.sqrt(xp.sum(array * array))) / (array.size ** 0.5)


class Adafactor(Optimizer):
    """``torch.optim.Adafactor``: second moments of an N-d (N >= 2) parameter are kept as a row
    and a column factor; the step is relative to the parameter's RMS (at least ``eps[1]``) and
    its own RMS is clipped to ``d``. ``beta2_t = 1 - t ** beta2_decay``; ``eps[0]`` None means
    the parameter dtype's machine epsilon. Weight decay is decoupled."""

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach: bool | None = None,
                 maximize: bool = False):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        # torch's own messages for Adafactor, which differ from the other optimizers'
        lr, eps = scalar_lr(group["lr"]), group["eps"]
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= group["beta2_decay"]:
            raise ValueError(f"beta2_decay should be <= 0 but is: {group['beta2_decay']}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= group["d"]:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {group['d']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"weight_decay should be >= 0 but is: {group['weight_decay']}")

    def _restore_state(self, key, value, param):
        if key in ("row_var", "col_var"):
            row_shape, col_shape = _factored_shapes(param.shape)
            return _restore_state_value(key, value, param,
                                        row_shape if key == "row_var" else col_shape)
        return super()._restore_state(key, value, param)

    def _update_group(self, group):
        lr, d, weight_decay = group["lr"], group["d"], group["weight_decay"]
        eps1, eps2 = group["eps"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                if param.ndim > 1:
                    row_shape, col_shape = _factored_shapes(param.shape)
                    state["row_var"] = xp.zeros(row_shape, dtype=param.dtype)
                    state["col_var"] = xp.zeros(col_shape, dtype=param.dtype)
                else:
                    state["variance"] = xp.zeros_like(param)
            state["step"] += 1
            step = state["step"]
            eps1_value = np.finfo(param.dtype).eps if eps1 is None else eps1
            g = effective_grad(param, grad, 0.0, group["maximize"], xp)

            one_minus_beta2 = step ** group["beta2_decay"]
            relative_step = min(lr, 1.0 / (step ** 0.5))
            alpha = max(eps2, _rms(param, xp)) * relative_step
            if weight_decay != 0:
                param *= 1.0 - lr * weight_decay

            if param.ndim > 1:
                row_var, col_var = state["row_var"], state["col_var"]
                squared = g * g
                lerp_(row_var, xp.mean(squared, axis=-1, keepdims=True), one_minus_beta2, xp)
                lerp_(col_var, xp.mean(squared, axis=-2, keepdims=True), one_minus_beta2, xp)
                var_estimate = xp.matmul(row_var, col_var)
                row_scale = xp.maximum(xp.mean(row_var, axis=-2, keepdims=True), eps1_value)
                var_estimate /= row_scale.astype(param.dtype)
            else:
                variance = state["variance"]
                lerp_(variance, g * g, one_minus_beta2, xp)
                var_estimate = variance.copy()
            xp.maximum(var_estimate, eps1_value * eps1_value, out=var_estimate)
            update = 1.0 / xp.sqrt(var_estimate)
            update *= g
            denom = max(1.0, _rms(update, xp) / d)
            param -= update * (alpha / denom)
