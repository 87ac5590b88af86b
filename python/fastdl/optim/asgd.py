"""Averaged SGD and resilient backpropagation (Rprop)."""
from __future__ import annotations

from fastdl.optim.optimizer import (Optimizer, array_module_of, check_non_negative, effective_grad,
                                    float32_scalar, torch_step_flags)


class ASGD(Optimizer):
    """``torch.optim.ASGD``: SGD with a decaying step ``eta = lr / (1 + lambd * lr * t) ** alpha``
    and a running average ``ax`` of the iterates that starts averaging after ``t0`` steps.
    ``eta`` and ``mu`` are float32 scalars, as torch keeps them."""

    _capturable_refusal = {"single": ("params, mus, etas, and state_steps", True),
                           "foreach": ("params, mus, etas, and state_steps", False)}

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize, **torch_step_flags(foreach, capturable, differentiable))
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_non_negative("weight_decay value", group["weight_decay"])

    def _restore_state(self, key, value, param):
        if key in ("eta", "mu"):
            return float32_scalar(value)
        return super()._restore_state(key, value, param)

    def _update_group(self, group):
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["eta"] = float32_scalar(lr)
                state["mu"] = float32_scalar(1.0)
                state["ax"] = xp.zeros_like(param)
            state["step"] += 1
            step = state["step"]
            g = effective_grad(param, grad, group["weight_decay"], group["maximize"], xp)
            eta = float(state["eta"])
            param *= 1.0 - lambd * eta
            param -= xp.multiply(g, eta)
            ax = state["ax"]
            if state["mu"] != 1:
                ax += (param - ax) * float(state["mu"])
            else:
                ax[...] = param
            state["eta"] = float32_scalar(lr / ((1.0 + lambd * lr * step) ** alpha))
            state["mu"] = float32_scalar(1.0 / max(1.0, step - t0))


class Rprop(Optimizer):
    """``torch.optim.Rprop``: each element's step size grows by ``etas[1]`` while its gradient
    keeps its sign and shrinks by ``etas[0]`` when it flips (clamped to ``step_sizes``); a flipped
    gradient is zeroed for that step. Only gradient signs move the parameters."""

    _capturable_refusal = {"single": ("params and state_steps", True),
                           "foreach": ("params and state_steps", True)}

    def __init__(self, params, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize,
                        **torch_step_flags(foreach, capturable, differentiable))
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")

    def _update_group(self, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["prev"] = xp.zeros_like(param)
                state["step_size"] = xp.full_like(param, group["lr"])
            state["step"] += 1
            g = effective_grad(param, grad, 0.0, group["maximize"], xp)
            prev, step_size = state["prev"], state["step_size"]
            product_sign = xp.sign(g * prev)
            factor = xp.where(product_sign > 0, etaplus,
                              xp.where(product_sign < 0, etaminus, 1.0)).astype(param.dtype)
            step_size *= factor
            xp.clip(step_size, step_size_min, step_size_max, out=step_size)
            g = xp.where(factor == param.dtype.type(etaminus), 0, g).astype(param.dtype)
            param -= xp.sign(g) * step_size
            prev[...] = g
