"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

import numpy as np

from fastdl import _C
from fastdl.optim.optimizer import (Optimizer, array_module_of, check_fused, check_non_negative,
                                    effective_grad, fused_update_arrays, torch_step_flags)


class SGD(Optimizer):
    """``torch.optim.SGD``: v = momentum * v + (1 - dampening) * g;  p -= lr * (g + momentum * v
    if nesterov else v); the first step sets v = g."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize,
                        **torch_step_flags(foreach, None, differentiable), fused=fused)
        super().__init__(params, defaults)
        check_fused(fused, foreach)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_non_negative("momentum value", group["momentum"])
        check_non_negative("weight_decay value", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={group['momentum']}, dampening={group['dampening']})")

    def _update_group(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p, param, grad in self._params_with_grad(group):
            if fused_update_arrays(param, grad):  # one fused, multithreaded pass (_C.sgd_update)
                buf = None
                first = False
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    first = buf is None
                    if first:
                        buf = state["momentum_buffer"] = np.empty_like(param)
                _C.sgd_update(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                              maximize, first)
                continue
            xp = array_module_of(param)
            g = effective_grad(param, grad, weight_decay, maximize, xp)
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = xp.array(g, copy=True)
                    state["momentum_buffer"] = buf
                else:
                    buf *= momentum
                    if dampening == 0:
                        buf += g
                    else:
                        buf += xp.multiply(g, 1.0 - dampening)
                if nesterov:
                    g = xp.multiply(buf, momentum) + g
                else:
                    g = buf
            param -= xp.multiply(g, lr)
