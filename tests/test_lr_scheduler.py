"""LR schedulers against torch.optim.lr_scheduler: same optimizer, same calls, same lrs."""
import math
import warnings

import numpy as np
import pytest

import fastdl
from fastdl import optim
from fastdl.optim import lr_scheduler as sched
from fastdl.tensor import Tensor

torch = pytest.importorskip("torch")

# torch warns when a test steps a scheduler without an optimizer step; the lrs are what we compare.
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of")

EPOCHS = 60


def _optimizers(name="SGD", lrs=(0.1, 0.03), **kwargs):
    """Two-group optimizers (different lrs) in fastdl and torch."""
    ours_params = [Tensor(np.ones(3, np.float32), requires_grad=True) for _ in lrs]
    theirs_params = [torch.ones(3, requires_grad=True) for _ in lrs]
    ours = getattr(optim, name)([{"params": [p], "lr": lr} for p, lr in zip(ours_params, lrs)],
                                **kwargs)
    theirs = getattr(torch.optim, name)(
        [{"params": [p], "lr": lr} for p, lr in zip(theirs_params, lrs)], **kwargs)
    return ours, theirs


def _assert_lrs(ours_opt, theirs_opt, epoch, keys=("lr",)):
    for i, (g_ours, g_theirs) in enumerate(zip(ours_opt.param_groups, theirs_opt.param_groups)):
        for key in keys:
            np.testing.assert_allclose(np.asarray(g_ours[key], dtype=np.float64),
                                       np.asarray(g_theirs[key], dtype=np.float64),
                                       rtol=1e-12, atol=1e-15,
                                       err_msg=f"group {i} {key} at epoch {epoch}")


def _make(cls_name, ours_opt, theirs_opt, *args, **kwargs):
    return (getattr(sched, cls_name)(ours_opt, *args, **kwargs),
            getattr(torch.optim.lr_scheduler, cls_name)(theirs_opt, *args, **kwargs))


SCHEDULES = [
    ("StepLR", (7,), dict(gamma=0.5)),
    ("StepLR", (), dict(step_size=3)),
    ("MultiStepLR", ([5, 12, 12, 30],), dict(gamma=0.3)),
    ("ExponentialLR", (0.93,), {}),
    ("CosineAnnealingLR", (17,), dict(eta_min=0.001)),
    ("CosineAnnealingLR", (), dict(T_max=25)),
    ("LinearLR", (), dict(start_factor=0.1, end_factor=1.0, total_iters=10)),
    ("LinearLR", (), dict(start_factor=1.0, end_factor=0.2, total_iters=20)),
    ("ConstantLR", (), dict(factor=0.25, total_iters=8)),
    ("PolynomialLR", (), dict(total_iters=30, power=2.0)),
    ("OneCycleLR", (), dict(max_lr=[0.5, 0.2], total_steps=EPOCHS)),
    ("OneCycleLR", (), dict(max_lr=0.4, epochs=6, steps_per_epoch=10, pct_start=0.25,
                            anneal_strategy="linear", three_phase=True, div_factor=10.0,
                            final_div_factor=100.0)),
]


@pytest.mark.parametrize("name,args,kwargs", SCHEDULES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SCHEDULES)])
def test_matches_torch(name, args, kwargs):
    ours_opt, theirs_opt = _optimizers(momentum=0.9)
    ours, theirs = _make(name, ours_opt, theirs_opt, *args, **kwargs)
    keys = ("lr", "momentum") if name == "OneCycleLR" else ("lr",)
    _assert_lrs(ours_opt, theirs_opt, 0, keys)
    for epoch in range(1, EPOCHS):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        _assert_lrs(ours_opt, theirs_opt, epoch, keys)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        assert ours.last_epoch == theirs.last_epoch


def test_one_cycle_cycles_adam_beta1():
    ours_opt, theirs_opt = _optimizers("Adam", lrs=(0.01,))
    ours, theirs = _make("OneCycleLR", ours_opt, theirs_opt, max_lr=0.1, total_steps=20)
    for epoch in range(1, 20):
        ours.step()
        theirs.step()
        assert ours_opt.param_groups[0]["betas"][0] == pytest.approx(
            theirs_opt.param_groups[0]["betas"][0], rel=1e-12)
    with pytest.raises(ValueError, match="Tried to step 21 times"):
        ours.step()
        ours.step()


def test_chained_schedulers_compose_like_torch():
    ours_opt, theirs_opt = _optimizers()
    # Two schedulers on one optimizer: warm-up then cosine, both recursive.
    o1, t1 = _make("LinearLR", ours_opt, theirs_opt, start_factor=0.2, total_iters=5)
    o2, t2 = _make("CosineAnnealingLR", ours_opt, theirs_opt, T_max=30)
    o3, t3 = _make("MultiStepLR", ours_opt, theirs_opt, milestones=[10, 20])
    for epoch in range(1, 40):
        for s in (o1, o2, o3, t1, t2, t3):
            s.step()
        _assert_lrs(ours_opt, theirs_opt, epoch)


def test_chained_scheduler_and_sequential_lr():
    ours_opt, theirs_opt = _optimizers()
    o1, t1 = _make("ExponentialLR", ours_opt, theirs_opt, gamma=0.9)
    o2, t2 = _make("StepLR", ours_opt, theirs_opt, step_size=4, gamma=0.5)
    ours = sched.ChainedScheduler([o1, o2])
    theirs = torch.optim.lr_scheduler.ChainedScheduler([t1, t2])
    for epoch in range(1, 20):
        ours.step()
        theirs.step()
        _assert_lrs(ours_opt, theirs_opt, epoch)

    ours_opt, theirs_opt = _optimizers()
    o1, t1 = _make("LinearLR", ours_opt, theirs_opt, start_factor=0.1, total_iters=5)
    o2, t2 = _make("CosineAnnealingLR", ours_opt, theirs_opt, T_max=20)
    ours = sched.SequentialLR(ours_opt, [o1, o2], milestones=[5])
    theirs = torch.optim.lr_scheduler.SequentialLR(theirs_opt, [t1, t2], milestones=[5])
    _assert_lrs(ours_opt, theirs_opt, 0)
    for epoch in range(1, 30):
        ours.step()
        theirs.step()
        _assert_lrs(ours_opt, theirs_opt, epoch)


def test_lambda_and_multiplicative_lr():
    ours_opt, theirs_opt = _optimizers()
    fns = [lambda e: 1.0 / (1 + e), lambda e: 0.95 ** e]
    ours, theirs = _make("LambdaLR", ours_opt, theirs_opt, fns)
    for epoch in range(1, 15):
        ours.step()
        theirs.step()
        _assert_lrs(ours_opt, theirs_opt, epoch)
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("MultiplicativeLR", ours_opt, theirs_opt, lambda e: 0.9)
    for epoch in range(1, 15):
        ours.step()
        theirs.step()
        _assert_lrs(ours_opt, theirs_opt, epoch)


PLATEAU = [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.01, threshold_mode="abs", cooldown=3,
         min_lr=[0.01, 0.005]),
    dict(mode="min", factor=0.3, patience=0, threshold=0.05, cooldown=1, min_lr=0.002),
]


@pytest.mark.parametrize("kwargs", PLATEAU)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("ReduceLROnPlateau", ours_opt, theirs_opt, **kwargs)
    rng = np.random.default_rng(1)
    # A metric that improves, stalls, improves a little, and goes noisy.
    metrics = np.concatenate([np.linspace(1.0, 0.5, 10), np.full(15, 0.5),
                              np.linspace(0.5, 0.49, 10), 0.4 + 0.05 * rng.random(40)])
    if kwargs.get("mode") == "max":
        metrics = -metrics
    for epoch, metric in enumerate(metrics):
        ours.step(float(metric))
        theirs.step(float(metric))
        _assert_lrs(ours_opt, theirs_opt, epoch)
        assert ours.num_bad_epochs == theirs.num_bad_epochs
        assert ours.cooldown_counter == theirs.cooldown_counter
    assert ours_opt.param_groups[0]["lr"] < 0.1  # it did reduce at least once


def test_reduce_lr_on_plateau_accepts_tensor_metric():
    ours_opt, _ = _optimizers()
    s = sched.ReduceLROnPlateau(ours_opt, patience=0)
    s.step(Tensor(np.float32(1.0)))
    s.step(Tensor(np.float32(2.0)))
    assert ours_opt.param_groups[0]["lr"] == pytest.approx(0.01)
    with pytest.raises(TypeError, match="scalar metric"):
        s.step("bad")


@pytest.mark.parametrize("name,args,kwargs", [
    ("StepLR", (5,), dict(gamma=0.5)),
    ("CosineAnnealingLR", (20,), dict(eta_min=0.001)),
    ("OneCycleLR", (), dict(max_lr=0.5, total_steps=40)),
    ("MultiStepLR", ([3, 8, 8],), {}),
])
def test_state_dict_round_trip_through_save(name, args, kwargs, tmp_path):
    ours_opt, theirs_opt = _optimizers(momentum=0.9)
    ours, theirs = _make(name, ours_opt, theirs_opt, *args, **kwargs)
    for _ in range(12):
        ours.step()
        theirs.step()
    path = tmp_path / "ckpt.safetensors"
    fastdl.save({"optimizer": ours_opt.state_dict(), "scheduler": ours.state_dict()}, path)

    resumed_opt, _ = _optimizers(momentum=0.9)
    resumed = getattr(sched, name)(resumed_opt, *args, **kwargs)
    checkpoint = fastdl.load(path)
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    for epoch in range(13, 35):
        resumed.step()
        theirs.step()
        _assert_lrs(resumed_opt, theirs_opt, epoch)


def test_plateau_state_dict_round_trip(tmp_path):
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("ReduceLROnPlateau", ours_opt, theirs_opt, patience=1)
    for m in (1.0, 0.9, 0.95, 0.97):
        ours.step(m)
        theirs.step(m)
    fastdl.save(ours.state_dict(), tmp_path / "p.safetensors")
    resumed = sched.ReduceLROnPlateau(ours_opt, patience=1)
    resumed.load_state_dict(fastdl.load(tmp_path / "p.safetensors"))
    assert resumed.best == 0.9 and resumed.mode_worse == math.inf
    for m in (0.99, 0.98, 0.5, 0.6, 0.7):
        resumed.step(m)
        theirs.step(m)
        _assert_lrs(ours_opt, theirs_opt, 0)


@pytest.mark.parametrize("build,error,message", [
    (lambda o: sched.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: sched.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: sched.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: sched.OneCycleLR(o, max_lr=0.1), ValueError, "total_steps"),
    (lambda o: sched.OneCycleLR(o, max_lr=[0.1], total_steps=5), ValueError, "one value per"),
    (lambda o: sched.OneCycleLR(o, max_lr=0.1, total_steps=5, anneal_strategy="exp"),
     ValueError, "anneal_strategy"),
    (lambda o: sched.OneCycleLR(o, max_lr=0.1, total_steps=5, pct_start=2.0), ValueError,
     "pct_start"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
    (lambda o: sched.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.5), ValueError, "Factor"),
    (lambda o: sched.ReduceLROnPlateau(o, min_lr=[0.1, 0.2, 0.3]), ValueError, "one value per"),
    (lambda o: sched.StepLR("sgd", step_size=3), TypeError, "not an Optimizer"),
    (lambda o: sched.StepLR(o, step_size=3, last_epoch=4), KeyError, "initial_lr"),
])
def test_bad_arguments(build, error, message):
    ours_opt, _ = _optimizers()
    with pytest.raises(error, match=message):
        build(ours_opt)


def test_step_with_epoch_uses_closed_form():
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("StepLR", ours_opt, theirs_opt, step_size=3, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.step(10)
        theirs.step(10)
    _assert_lrs(ours_opt, theirs_opt, 10)


# ---- CosineAnnealingWarmRestarts and CyclicLR
WARM_RESTARTS = [dict(T_0=7), dict(T_0=5, T_mult=2, eta_min=0.002), dict(T_0=3, T_mult=3),
                 dict(T_0=10, eta_min=0.01)]


@pytest.mark.parametrize("kwargs", WARM_RESTARTS)
def test_warm_restarts_epoch_steps_match_torch(kwargs):
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("CosineAnnealingWarmRestarts", ours_opt, theirs_opt, **kwargs)
    _assert_lrs(ours_opt, theirs_opt, 0)
    for epoch in range(1, EPOCHS):
        ours.step()
        theirs.step()
        _assert_lrs(ours_opt, theirs_opt, epoch)
        assert (ours.T_cur, ours.T_i, ours.last_epoch) == (theirs.T_cur, theirs.T_i,
                                                           theirs.last_epoch)
        assert ours.get_last_lr() == theirs.get_last_lr()


@pytest.mark.parametrize("kwargs", WARM_RESTARTS)
def test_warm_restarts_fractional_epochs_match_torch(kwargs):
    """step(epoch + batch / batches) within epochs, then a jump back and forth."""
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("CosineAnnealingWarmRestarts", ours_opt, theirs_opt, **kwargs)
    rng = np.random.default_rng(20261130)
    epochs = [epoch + batch / 4 for epoch in range(25) for batch in range(4)]
    epochs += list(rng.uniform(0, 60, size=10)) + [26, 3.5]
    for epoch in epochs:
        ours.step(epoch)
        theirs.step(epoch)
        _assert_lrs(ours_opt, theirs_opt, epoch)
        assert ours.last_epoch == theirs.last_epoch
    ours.step()  # continues from the last epoch jumped to
    theirs.step()
    _assert_lrs(ours_opt, theirs_opt, "after the jumps")


class _HalvingScale:
    """A callable object: its ``__dict__`` is what state_dict keeps."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, x):
        return self.base ** x


CYCLIC = [
    ("SGD", dict(momentum=0.9), dict(base_lr=0.01, max_lr=0.1, step_size_up=5)),
    ("SGD", dict(momentum=0.9), dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=4,
                                     step_size_down=9, mode="triangular2",
                                     base_momentum=[0.7, 0.75], max_momentum=0.95)),
    ("SGD", dict(momentum=0.9), dict(base_lr=0.001, max_lr=0.05, step_size_up=6,
                                     mode="exp_range", gamma=0.97)),
    ("SGD", dict(), dict(base_lr=0.01, max_lr=0.1, step_size_up=3, cycle_momentum=False)),
    ("SGD", dict(momentum=0.5), dict(base_lr=0.01, max_lr=0.2, step_size_up=5,
                                     scale_fn=lambda x: 1.0 / (1.0 + 0.1 * x),
                                     scale_mode="iterations")),
    ("Adam", dict(), dict(base_lr=0.001, max_lr=0.01, step_size_up=4, step_size_down=2,
                          base_momentum=0.85, max_momentum=0.95)),
    ("NAdam", dict(), dict(base_lr=0.001, max_lr=0.01, step_size_up=7, mode="triangular2")),
]


@pytest.mark.parametrize("optimizer,optimizer_kwargs,kwargs", CYCLIC,
                         ids=[f"{o}-{i}" for i, (o, _, _) in enumerate(CYCLIC)])
def test_cyclic_lr_and_momentum_match_torch(optimizer, optimizer_kwargs, kwargs):
    ours_opt, theirs_opt = _optimizers(optimizer, **optimizer_kwargs)
    ours, theirs = _make("CyclicLR", ours_opt, theirs_opt, **kwargs)
    cycles = kwargs.get("cycle_momentum", True)
    keys = ("lr",) + (("betas",) if "betas" in ours_opt.defaults else ("momentum",)) \
        if cycles else ("lr",)
    _assert_lrs(ours_opt, theirs_opt, 0, keys)
    for iteration in range(1, EPOCHS):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        _assert_lrs(ours_opt, theirs_opt, iteration, keys)
    if cycles:
        for ours_group, theirs_group in zip(ours_opt.param_groups, theirs_opt.param_groups):
            assert ours_group["max_momentum"] == theirs_group["max_momentum"]
            assert ours_group["base_momentum"] == theirs_group["base_momentum"]


def test_cyclic_state_dict_matches_torch_and_round_trips(tmp_path):
    ours_opt, theirs_opt = _optimizers(momentum=0.9)
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=_HalvingScale(),
                  scale_mode="cycle")
    ours, theirs = _make("CyclicLR", ours_opt, theirs_opt, **kwargs)
    for _ in range(9):
        ours.step()
        theirs.step()
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert set(ours_state) == set(theirs_state) - {"_get_lr_called_within_step"}
    assert ours_state["_scale_fn_custom"] == theirs_state["_scale_fn_custom"] == {"base": 0.5}

    path = tmp_path / "scheduler.safetensors"
    fastdl.save({"optimizer": ours_opt.state_dict(), "scheduler": ours_state}, path)
    checkpoint = fastdl.load(path)
    resumed_opt, _ = _optimizers(momentum=0.9)
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed = sched.CyclicLR(resumed_opt, **dict(kwargs, scale_fn=_HalvingScale()))
    resumed.load_state_dict(checkpoint["scheduler"])
    for iteration in range(10, 30):
        resumed.step()
        theirs.step()
        _assert_lrs(resumed_opt, theirs_opt, iteration, ("lr", "momentum"))


def test_warm_restarts_state_dict_round_trip():
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("CosineAnnealingWarmRestarts", ours_opt, theirs_opt, T_0=4, T_mult=2)
    for _ in range(9):
        ours.step()
        theirs.step()
    resumed_opt, _ = _optimizers()
    resumed_opt.load_state_dict(ours_opt.state_dict())
    resumed = sched.CosineAnnealingWarmRestarts(resumed_opt, T_0=4, T_mult=2)
    resumed.load_state_dict(ours.state_dict())
    for epoch in range(10, 30):
        resumed.step()
        theirs.step()
        _assert_lrs(resumed_opt, theirs_opt, epoch)


@pytest.mark.parametrize("name,kwargs,optimizer_kwargs,message", [
    ("CosineAnnealingWarmRestarts", dict(T_0=0), {}, "Expected positive integer T_0, but got 0"),
    ("CosineAnnealingWarmRestarts", dict(T_0=2.5), {}, "Expected positive integer T_0"),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=0), {},
     "Expected integer T_mult >= 1, but got 0"),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, eta_min="0"), {},
     "Expected float or int eta_min"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, mode="square"), {},
     "mode is invalid and scale_fn is None"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0), {},
     "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
])
def test_bad_arguments_raise_like_torch(name, kwargs, optimizer_kwargs, message):
    ours_opt, theirs_opt = _optimizers("Adagrad", **optimizer_kwargs)
    for module, opt in ((torch.optim.lr_scheduler, theirs_opt), (sched, ours_opt)):
        with pytest.raises(ValueError, match=message):
            getattr(module, name)(opt, **kwargs)


def test_warm_restarts_rejects_negative_epoch():
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _make("CosineAnnealingWarmRestarts", ours_opt, theirs_opt, T_0=3)
    for scheduler in (theirs, ours):
        with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
            scheduler.step(-1)
