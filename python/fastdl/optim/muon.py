"""Muon (``torch.optim.Muon``): momentum whose update is orthogonalized by a Newton-Schulz
iteration before it is applied, for the 2-D weights of hidden layers.

torch runs the iteration in bfloat16 (fastdl has no bfloat16 storage): here each value torch
holds in bfloat16 is a float32 array rounded to bfloat16's 8 significant bits where torch rounds
its result (both accumulate the products in float32), so the updates are torch's: bit for bit on
the shapes of tests/test_optim_conformance.py, within a bfloat16 ulp where a float32 sum lands
on a rounding boundary in one library and not the other."""
from __future__ import annotations

import math

import numpy as np

from fastdl.optim.optimizer import (Optimizer, array_module_of, check_non_negative, lerp_,
                                    scalar_lr)

DEFAULT_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def round_to_bfloat16(array, xp=np):
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    array = xp.asarray(array, dtype=xp.float32)
    bits = array.view(xp.uint32)
    rounded = ((bits + (((bits >> 16) & 1) + 0x7FFF)) & 0xFFFF0000).astype(xp.uint32)
    return xp.where(xp.isnan(array), array, rounded.view(xp.float32))


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps: int, eps: float, xp=np):
    """Newton-Schulz orthogonalization of a matrix (torch's quintic iteration, in bfloat16)."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    tall = grad.shape[0] > grad.shape[1]
    x = round_to_bfloat16(grad, xp)
    if tall:
        x = x.T
    norm = round_to_bfloat16(xp.sqrt(xp.sum(x * x, dtype=xp.float32)), xp)
    x = round_to_bfloat16(x / max(norm, np.float32(round_to_bfloat16(eps))), xp)
    for _ in range(ns_steps):
        gram = round_to_bfloat16(x @ x.T, xp)
        gram_update = round_to_bfloat16(c * (gram @ gram) + b * gram, xp)
        x = round_to_bfloat16(gram_update @ x + a * x, xp)
    return x.T if tall else x


def adjusted_lr(lr: float, adjust_lr_fn, shape) -> float:
    """torch's per-shape learning-rate scaling (Keller Jordan's, or Moonshot's RMS match)."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr


class Muon(Optimizer):
    """``torch.optim.Muon``: B = momentum * B + (1 - momentum) * g (a lerp);  the update is
    NS(g lerp B if nesterov else B);  p *= 1 - lr * weight_decay;  p -= adjusted lr * update.

    >>> import fastdl
    >>> w = fastdl.nn.Parameter(fastdl.ones(3, 2))
    >>> opt = fastdl.optim.Muon([w], lr=0.1)
    >>> w.grad = fastdl.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> opt.step()
    >>> [round(v, 3) for v in w.detach()[:, 0].tolist()]
    [0.852, 0.99, 0.99]
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = DEFAULT_NS_COEFFICIENTS,
                 eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None):
        if not 0.0 <= scalar_lr(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {tuple(p.shape)}")

    def _validate_group(self, group):
        super()._validate_group(group)
        check_non_negative("momentum", group["momentum"])
        check_non_negative("weight decay", group["weight_decay"])

    def _update_group(self, group):
        lr, weight_decay, momentum = group["lr"], group["weight_decay"], group["momentum"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = xp.zeros_like(param)
            buf = state["momentum_buffer"]
            lerp_(buf, grad, 1.0 - momentum, xp)
            if group["nesterov"]:
                update = xp.array(grad, copy=True)
                lerp_(update, buf, momentum, xp)
            else:
                update = buf
            update = zeropower_via_newtonschulz(update, group["ns_coefficients"],
                                                group["ns_steps"], group["eps"], xp)
            param *= 1.0 - lr * weight_decay
            # torch adds the bfloat16 update in the parameter's precision
            param -= adjusted_lr(lr, group["adjust_lr_fn"], param.shape) * update.astype(
                param.dtype, copy=False)
