"""SparseAdam: torch's lazy Adam for embedding tables, on fastdl's dense gradients.

fastdl has no sparse tensors: ``Embedding(sparse=True)`` gives the same dense gradient as
``sparse=False`` (zero rows for the rows the batch did not look up). torch's SparseAdam updates
the moments and the parameter only at the entries its sparse gradient stores (the rows looked
up; the others keep their moments, un-decayed); here the stored entries are the rows (slices
along dim 0) whose gradient has a non-zero element. The two agree except for a row looked up
whose whole gradient is exactly zero: torch decays its moments and moves it, fastdl leaves it.
torch refuses dense gradients; fastdl has only those, so it takes them."""
from __future__ import annotations

import math

from fastdl.optim.optimizer import Optimizer, array_module_of, check_betas, scalar_lr


class SparseAdam(Optimizer):
    """``torch.optim.SparseAdam``: Adam whose moments and parameter change only in the rows
    present in the gradient (see the module docstring for what "present" means in fastdl).

    >>> import fastdl
    >>> emb = fastdl.nn.Embedding(10, 3, sparse=True)
    >>> opt = fastdl.optim.SparseAdam(emb.parameters(), lr=0.1)
    >>> before = emb.weight.detach().clone()
    >>> emb(fastdl.tensor([1, 4])).sum().backward()
    >>> opt.step()
    >>> changed = (emb.weight.detach() != before).any(1)
    >>> changed.nonzero().flatten().tolist()
    [1, 4]
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False):
        if not 0.0 < scalar_lr(lr):
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_betas(group["betas"])

    def _update_group(self, group):
        lr, eps, maximize = group["lr"], group["eps"], group.get("maximize", False)
        beta1, beta2 = group["betas"]
        for p, param, grad in self._params_with_grad(group):
            xp = array_module_of(param)
            state = self.state[p]
            if not state:  # torch's keys and order, so state_dicts match
                state.update(step=0, exp_avg=xp.zeros_like(param),
                             exp_avg_sq=xp.zeros_like(param))
            state["step"] += 1
            g = -grad if maximize else grad
            if g.ndim == 0:
                rows = () if bool(g != 0) else None
            else:
                width = math.prod(g.shape[1:])
                present = xp.flatnonzero(g.reshape(g.shape[0], width).any(axis=1))
                rows = (present,) if present.size else None
            if rows is None:  # torch skips an empty sparse gradient, but counts the step
                continue
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            gv = g[rows]
            old_avg, old_sq = exp_avg[rows], exp_avg_sq[rows]
            avg_update = (gv - old_avg) * (1 - beta1)
            sq_update = (gv * gv - old_sq) * (1 - beta2)
            exp_avg[rows] = old_avg + avg_update
            exp_avg_sq[rows] = old_sq + sq_update
            # torch forms numer and denom from the update values plus the old ones (not by
            # re-reading the moments); the same order keeps float32 results equal
            numer = avg_update + old_avg
            denom = xp.sqrt(sq_update + old_sq) + eps
            step = state["step"]
            step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
            param[rows] += -step_size * (numer / denom)


__all__ = ["SparseAdam"]
