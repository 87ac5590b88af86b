"""RMSprop, optionally centered and with momentum."""
from __future__ import annotations

from fastdl.optim.optimizer import (Optimizer, array_module_of, check_non_negative, effective_grad,
                                    lerp_, torch_step_flags)


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: divide the gradient by a running RMS of gradients (minus the
    squared running mean when ``centered``), then optionally accumulate momentum."""

    _capturable_refusal = {"single": ("params and state_steps", True),
                           "foreach": ("params and state_steps", True)}

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        flags = torch_step_flags(foreach, capturable, differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=flags["capturable"],
                        foreach=flags["foreach"], maximize=maximize,
                        differentiable=flags["differentiable"])
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_non_negative("epsilon value", group["eps"])
        check_non_negative("momentum value", group["momentum"])
        check_non_negative("weight_decay value", group["weight_decay"])
        check_non_negative("alpha value", group["alpha"])

    def _update_group(self, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        centered, maximize = group["centered"], group["maximize"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(param)
                if momentum > 0:
                    state["momentum_buffer"] = xp.zeros_like(param)
                if centered:
                    state["grad_avg"] = xp.zeros_like(param)
            state["step"] += 1
            g = effective_grad(param, grad, weight_decay, maximize, xp)

            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += xp.multiply(g, 1.0 - alpha) * g
            if centered:
                grad_avg = state["grad_avg"]
                lerp_(grad_avg, g, 1.0 - alpha, xp)
                avg = square_avg - grad_avg * grad_avg
                xp.sqrt(avg, out=avg)
            else:
                avg = xp.sqrt(square_avg)
            avg += eps

            if momentum > 0:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += xp.divide(g, avg, out=avg)
                param -= xp.multiply(buf, lr)
            else:
                xp.divide(g, avg, out=avg)
                avg *= lr
                param -= avg
