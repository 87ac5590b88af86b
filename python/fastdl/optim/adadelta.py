"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
from __future__ import annotations

from fastdl.optim.optimizer import (Optimizer, array_module_of, check_in_range, check_non_negative,
                                    effective_grad, torch_step_flags)


class Adadelta(Optimizer):
    """``torch.optim.Adadelta``: delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g;
    p -= lr * delta; both averages decay with ``rho``."""

    _capturable_refusal = {"single": ("params and state_steps", False),
                           "foreach": ("params and state_steps", False)}

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False):
        flags = torch_step_flags(foreach, capturable, differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=flags["capturable"], foreach=flags["foreach"],
                        differentiable=flags["differentiable"])
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_in_range("rho value", group["rho"], 0.0, 1.0, high_inclusive=True)
        check_non_negative("epsilon value", group["eps"])
        check_non_negative("weight_decay value", group["weight_decay"])

    def _update_group(self, group):
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(param)
                state["acc_delta"] = xp.zeros_like(param)
            state["step"] += 1
            g = effective_grad(param, grad, weight_decay, maximize, xp)

            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg *= rho
            square_avg += xp.multiply(g, 1.0 - rho) * g
            std = square_avg + eps
            xp.sqrt(std, out=std)
            delta = acc_delta + eps
            xp.sqrt(delta, out=delta)
            delta /= std
            delta *= g
            acc_delta *= rho
            acc_delta += xp.multiply(delta, 1.0 - rho) * delta
            delta *= lr
            param -= delta
