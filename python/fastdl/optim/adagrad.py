"""Adagrad: per-coordinate step sizes from the sum of squared gradients."""
from __future__ import annotations

from fastdl.optim.optimizer import (Optimizer, array_module_of, check_fused, check_non_negative,
                                    effective_grad, torch_step_flags)


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``: sum += g^2;  p -= lr / (1 + (step - 1) * lr_decay) * g /
    (sqrt(sum) + eps); the sum starts at ``initial_accumulator_value``."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        flags = torch_step_flags(foreach, None, differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        foreach=flags["foreach"], maximize=maximize,
                        differentiable=flags["differentiable"], fused=fused)
        super().__init__(params, defaults)
        check_fused(fused, foreach)
        # torch creates the state eagerly, so a state_dict taken before the first step has it.
        for group in self.param_groups:
            self._init_group_state(group)
        self._eager_state = True

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if getattr(self, "_eager_state", False):
            self._init_group_state(self.param_groups[-1])

    def _init_group_state(self, group):
        for p in group["params"]:
            if p in self.state:
                continue
            xp = array_module_of(p.data)
            self.state[p] = {
                "step": 0,
                "sum": xp.full_like(p.data, group["initial_accumulator_value"]),
            }

    def _validate_group(self, group):
        super()._validate_group(group)
        check_non_negative("lr_decay value", group["lr_decay"])
        check_non_negative("weight_decay value", group["weight_decay"])
        check_non_negative("initial_accumulator_value", group["initial_accumulator_value"])
        check_non_negative("epsilon value", group["eps"])

    def _update_group(self, group):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["sum"] = xp.full_like(param, group["initial_accumulator_value"])
            state["step"] += 1
            g = effective_grad(param, grad, weight_decay, maximize, xp)
            clr = lr / (1.0 + (state["step"] - 1) * lr_decay)

            state_sum = state["sum"]
            state_sum += g * g
            std = xp.sqrt(state_sum)
            std += eps
            xp.divide(g, std, out=std)
            std *= clr
            param -= std
