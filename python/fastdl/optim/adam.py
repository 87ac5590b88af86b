"""Adam and AdamW (decoupled weight decay), with AMSGrad."""
from __future__ import annotations

import math

from fastdl import _C
from fastdl.optim.optimizer import (Optimizer, array_module_of, check_adam_style_group, check_fused,
                                    check_tensor_hyperparameters, effective_grad,
                                    fused_update_arrays, lerp_, torch_step_flags)


class Adam(Optimizer):
    """``torch.optim.Adam``: bias-corrected first/second moment estimates; ``amsgrad`` keeps the
    running maximum of the second moment; ``weight_decay`` is L2 added to the gradient."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False):
        betas = check_tensor_hyperparameters(lr, betas, foreach, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        **torch_step_flags(foreach, capturable, differentiable), fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        check_fused(fused, foreach)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_adam_style_group(group)

    def _update_group(self, group):
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decoupled = group.get("decoupled_weight_decay", False)
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(param)
                state["exp_avg_sq"] = xp.zeros_like(param)
                if amsgrad:
                    state["max_exp_avg_sq"] = xp.zeros_like(param)
            state["step"] += 1
            step = state["step"]
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            bias_correction1 = 1.0 - beta1 ** step
            bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
            step_size = lr / bias_correction1
            moments = [exp_avg, exp_avg_sq] + ([state["max_exp_avg_sq"]] if amsgrad else [])
            if fused_update_arrays(param, grad, *moments):  # one fused pass (_C.adam_update)
                _C.adam_update(param, grad, exp_avg, exp_avg_sq,
                               state["max_exp_avg_sq"] if amsgrad else None, lr, beta1, beta2,
                               eps, weight_decay, decoupled, maximize, step_size,
                               bias_correction2_sqrt)
                continue

            if weight_decay != 0 and decoupled:
                param *= 1.0 - lr * weight_decay
                g = effective_grad(param, grad, 0.0, maximize, xp)
            else:
                g = effective_grad(param, grad, weight_decay, maximize, xp)

            lerp_(exp_avg, g, 1.0 - beta1, xp)
            exp_avg_sq *= beta2
            exp_avg_sq += xp.multiply(g, 1.0 - beta2) * g

            if amsgrad:
                max_exp_avg_sq = state["max_exp_avg_sq"]
                xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                denom = xp.sqrt(max_exp_avg_sq)
            else:
                denom = xp.sqrt(exp_avg_sq)
            denom /= bias_correction2_sqrt
            denom += eps
            xp.divide(exp_avg, denom, out=denom)
            denom *= step_size
            param -= denom


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam with decoupled weight decay, ``p *= 1 - lr * weight_decay``."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
