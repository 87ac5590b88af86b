"""Schedulers made of other schedulers: run them one after another, or all at once."""
from __future__ import annotations

from bisect import bisect_right

from fastdl.optim.lr_scheduler.base import LRScheduler, group_values
from fastdl.optim.lr_scheduler.plateau import ReduceLROnPlateau


def _check_children(owner: str, optimizer, schedulers) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler, but got none")
    for i, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"{owner}: scheduler at index {i} is a {type(scheduler).__name__}, "
                            "not an LRScheduler")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner} does not support ReduceLROnPlateau (index {i}): its step "
                             "needs a metric")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{owner} expects all schedulers to belong to the same optimizer, "
                             f"but the one at index {i} has a different one")


def _state_with_children(scheduler) -> dict:
    state = {k: v for k, v in scheduler.__dict__.items() if k not in ("optimizer", "_schedulers")}
    state["_schedulers"] = [s.state_dict() for s in scheduler._schedulers]
    return state


def _load_with_children(scheduler, state_dict) -> None:
    state_dict = dict(state_dict)
    children = state_dict.pop("_schedulers")
    if len(children) != len(scheduler._schedulers):
        raise ValueError(f"state dict has {len(children)} schedulers, this "
                         f"{type(scheduler).__name__} has {len(scheduler._schedulers)}")
    scheduler.__dict__.update(state_dict)
    for child, child_state in zip(scheduler._schedulers, children):
        child.load_state_dict(child_state)


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        schedulers = list(schedulers)
        _check_children("SequentialLR", optimizer, schedulers)
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("SequentialLR expects one milestone fewer than schedulers, got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        # Undo the initial step every child took in its constructor.
        for scheduler in self._schedulers:
            _undo_initial_step(scheduler)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        return _state_with_children(self)

    def load_state_dict(self, state_dict):
        _load_with_children(self, state_dict)


def _undo_initial_step(scheduler) -> None:
    if hasattr(scheduler, "_schedulers"):
        for child in scheduler._schedulers:
            _undo_initial_step(child)
    else:
        scheduler.last_epoch -= 1


class ChainedScheduler(LRScheduler):
    """Step every scheduler in ``schedulers`` on each ``step()`` (their factors compose)."""

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler expects at least one scheduler, but got none")
        optimizer = optimizer or schedulers[0].optimizer
        _check_children("ChainedScheduler", optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = group_values(optimizer, "lr")

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = group_values(self.optimizer, "lr")

    def state_dict(self):
        return _state_with_children(self)

    def load_state_dict(self, state_dict):
        _load_with_children(self, state_dict)
