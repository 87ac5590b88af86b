"""Adamax, NAdam and RAdam: torch's Adam relatives, step for step as torch's single-tensor code
(the path torch takes for CPU tensors), so trajectories agree to rounding."""
from __future__ import annotations

from fastdl.optim.optimizer import (Optimizer, array_module_of, check_adam_style_group,
                                    check_non_negative, effective_grad, float32_scalar, lerp_,
                                    torch_step_flags)


class _AdamStyle(Optimizer):
    """Shared state handling: ``step`` plus first/second moments named as torch names them."""

    _moment_names = ("exp_avg", "exp_avg_sq")

    def _validate_group(self, group):
        super()._validate_group(group)
        check_adam_style_group(group)

    def _init_state(self, state, param, xp) -> None:
        state["step"] = 0
        for name in self._moment_names:
            state[name] = xp.zeros_like(param)

    def _weight_decayed_grad(self, group, param, grad, xp, decoupled: bool):
        """The gradient the moments see; decoupled decay shrinks the parameter instead."""
        weight_decay = group["weight_decay"]
        if weight_decay != 0 and decoupled:
            param *= 1.0 - group["lr"] * weight_decay
            weight_decay = 0.0
        return effective_grad(param, grad, weight_decay, group["maximize"], xp)

    def _update_group(self, group):
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                self._init_state(state, param, xp)
            state["step"] += 1
            self._update_param(group, state, param, grad, xp)

    def _update_param(self, group, state, param, grad, xp) -> None:
        raise NotImplementedError


def _update_second_moment(exp_avg_sq, g, beta2: float, xp) -> None:
    """``exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g`` (torch's mul_ then addcmul_)."""
    exp_avg_sq *= beta2
    exp_avg_sq += xp.multiply(g, 1.0 - beta2) * g


def _addcdiv_(param, numerator, denominator, value: float, xp) -> None:
    """``param += value * numerator / denominator`` in torch's addcdiv order of operations."""
    update = xp.multiply(numerator, value)
    update /= denominator
    param += update


class Adamax(_AdamStyle):
    """``torch.optim.Adamax``: Adam with the infinity norm, ``u = max(beta2 * u, |g| + eps)``."""

    _moment_names = ("exp_avg", "exp_inf")

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, **torch_step_flags(foreach, capturable, differentiable))
        super().__init__(params, defaults)

    def _update_param(self, group, state, param, grad, xp):
        beta1, beta2 = group["betas"]
        g = self._weight_decayed_grad(group, param, grad, xp, decoupled=False)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        lerp_(exp_avg, g, 1.0 - beta1, xp)
        exp_inf *= beta2
        abs_grad = xp.abs(g)
        abs_grad += group["eps"]
        xp.maximum(exp_inf, abs_grad, out=exp_inf)
        corrected_lr = group["lr"] / (1.0 - beta1 ** state["step"])
        _addcdiv_(param, exp_avg, exp_inf, -corrected_lr, xp)


class NAdam(_AdamStyle):
    """``torch.optim.NAdam``: Adam with Nesterov momentum whose coefficient ``mu_t = beta1 *
    (1 - 0.5 * 0.96 ** (t * momentum_decay))`` warms up; ``decoupled_weight_decay`` gives
    NAdamW. ``mu_product`` (the running product of the mu_t) is a float32 scalar as in torch."""

    _capturable_refusal = {"single": ("params, mu_products and state_steps", True),
                           "foreach": ("params, mu_products, and state_steps", False)}

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        **torch_step_flags(foreach, capturable, differentiable))
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_non_negative("momentum_decay value", group["momentum_decay"])

    def _init_state(self, state, param, xp):
        super()._init_state(state, param, xp)
        state["mu_product"] = float32_scalar(1.0)

    def _restore_state(self, key, value, param):
        if key == "mu_product":
            return float32_scalar(value)
        return super()._restore_state(key, value, param)

    def _update_param(self, group, state, param, grad, xp):
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        step, momentum_decay = state["step"], group["momentum_decay"]
        g = self._weight_decayed_grad(group, param, grad, xp, group["decoupled_weight_decay"])

        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        # torch multiplies the float32 tensor by mu in float32
        state["mu_product"] = mu_product = state["mu_product"] * float32_scalar(mu)
        mu_product_next = float(mu_product) * mu_next

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, 1.0 - beta1, xp)
        _update_second_moment(exp_avg_sq, g, beta2, xp)
        denom = xp.divide(exp_avg_sq, 1.0 - beta2 ** step)
        xp.sqrt(denom, out=denom)
        denom += eps
        _addcdiv_(param, g, denom, -lr * (1.0 - mu) / (1.0 - float(mu_product)), xp)
        _addcdiv_(param, exp_avg, denom, -lr * mu_next / (1.0 - mu_product_next), xp)


class RAdam(_AdamStyle):
    """``torch.optim.RAdam``: Adam whose adaptive step is rectified by the variance of the
    adaptive learning rate; while that variance is intractable (``rho_t <= 5``) it takes plain
    bias-corrected momentum steps. ``decoupled_weight_decay`` gives RAdamW."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                        **torch_step_flags(foreach, capturable, differentiable))
        super().__init__(params, defaults)

    def _update_param(self, group, state, param, grad, xp):
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        step = state["step"]
        g = self._weight_decayed_grad(group, param, grad, xp, group["decoupled_weight_decay"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, 1.0 - beta1, xp)
        _update_second_moment(exp_avg_sq, g, beta2, xp)

        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        update = xp.divide(exp_avg, bias_correction1)
        update *= lr
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            # ``** 0.5`` rather than math.sqrt: torch's spelling, so the last bit agrees too
            rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
            adaptive_lr = xp.sqrt(exp_avg_sq)
            adaptive_lr += eps
            xp.divide(bias_correction2 ** 0.5, adaptive_lr, out=adaptive_lr)
            update *= adaptive_lr
            update *= rect
        param -= update
