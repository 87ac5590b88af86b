"""Optimizers against torch.optim: identical inputs must give identical trajectories."""
import numpy as np
import pytest

import fastdl
from fastdl import optim
from fastdl.tensor import Tensor
from optim_pair import OptimizerPair

torch = pytest.importorskip("torch")

SHAPES = [(7, 5), (5,), (3, 4, 2)]
STEPS = 40


def _pair(seed=0):
    return OptimizerPair(torch, SHAPES, seed)


def _run(pair, ours, theirs, steps=STEPS, start=0):
    pair.run(ours, theirs, steps, start)


CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.03, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.03, momentum=0.9, nesterov=True, weight_decay=0.02)),
    ("SGD", dict(lr=0.02, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.85, 0.99), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.03, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.005, alpha=0.95, eps=1e-4, momentum=0.7, centered=True,
                     maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3, eps=1e-6)),
    ("Adagrad", dict(lr=0.05, weight_decay=0.02, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4)),
    ("Adadelta", dict(lr=2.0, rho=0.95, weight_decay=0.05, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_torch(name, kwargs):
    pair = _pair(seed=len(name) + len(kwargs))
    ours = getattr(optim, name)(pair.ours, **kwargs)
    theirs = getattr(torch.optim, name)(pair.theirs, **kwargs)
    _run(pair, ours, theirs)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.01))])
def test_param_groups_with_different_hyperparameters(name, kwargs):
    pair = _pair(seed=7)

    def groups(params):
        return [{"params": params[:1]},
                {"params": params[1:], "lr": kwargs["lr"] * 0.3, "weight_decay": 0.05}]

    ours = getattr(optim, name)(groups(pair.ours), **kwargs)
    theirs = getattr(torch.optim, name)(groups(pair.theirs), **kwargs)
    _run(pair, ours, theirs, steps=25)
    assert ours.param_groups[1]["lr"] == pytest.approx(kwargs["lr"] * 0.3)
    assert ours.param_groups[0]["weight_decay"] == 0.0


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("AdamW", dict(lr=0.01)),
                                         ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
                                         ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1)),
                                         ("Adadelta", dict(lr=1.0))])
def test_state_dict_round_trip_mid_training(name, kwargs, tmp_path):
    pair = _pair(seed=3)
    ours = getattr(optim, name)(pair.ours, **kwargs)
    theirs = getattr(torch.optim, name)(pair.theirs, **kwargs)
    _run(pair, ours, theirs, steps=15)

    path = tmp_path / "optim.safetensors"
    fastdl.save(ours.state_dict(), path)
    # A new optimizer on the same parameters, restored from the file, must continue exactly.
    resumed = getattr(optim, name)(pair.ours, lr=123.0)
    resumed.load_state_dict(fastdl.load(path))
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    _run(pair, resumed, theirs, steps=15, start=15)


def test_state_dict_layout_matches_torch():
    pair = _pair(seed=5)
    ours = optim.Adam([{"params": pair.ours[:2]}, {"params": pair.ours[2:], "lr": 0.1}], lr=0.01)
    theirs = torch.optim.Adam([{"params": pair.theirs[:2]}, {"params": pair.theirs[2:], "lr": 0.1}],
                              lr=0.01)
    pair.set_grads(0)
    ours.step()
    theirs.step()
    sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
    assert set(sd_ours["state"]) == set(sd_theirs["state"]) == {0, 1, 2}
    assert set(sd_ours["state"][0]) == set(sd_theirs["state"][0])
    for ours_group, theirs_group in zip(sd_ours["param_groups"], sd_theirs["param_groups"]):
        assert ours_group["params"] == theirs_group["params"]
        for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
            assert ours_group[key] == theirs_group[key]
    np.testing.assert_allclose(sd_ours["state"][2]["exp_avg"].numpy(),
                               sd_theirs["state"][2]["exp_avg"].numpy(), rtol=1e-6)


def test_load_state_dict_copies_and_casts():
    pair = _pair(seed=9)
    first = optim.SGD(pair.ours, lr=0.1, momentum=0.9)
    pair.set_grads(0)
    first.step()
    saved = first.state_dict()
    second = optim.SGD(pair.ours, lr=0.1, momentum=0.9)
    second.load_state_dict(saved)
    buf_first = first.state[pair.ours[0]]["momentum_buffer"]
    buf_second = second.state[pair.ours[0]]["momentum_buffer"]
    assert buf_second is not buf_first and not np.shares_memory(buf_first, buf_second)
    np.testing.assert_array_equal(buf_first, buf_second)
    # float64 state loads as the parameter's dtype
    saved["state"][0]["momentum_buffer"] = Tensor(buf_first.astype(np.float64))
    second.load_state_dict(saved)
    assert second.state[pair.ours[0]]["momentum_buffer"].dtype == np.float32


def test_zero_grad():
    pair = _pair()
    opt = optim.SGD(pair.ours, lr=0.1)
    pair.set_grads(0)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in pair.ours)
    opt.zero_grad()
    assert all(p.grad is None for p in pair.ours)


def test_step_with_closure_trains_through_autograd():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((3,)).astype(np.float32), requires_grad=True)
    w_torch = torch.tensor(w.data.copy(), requires_grad=True)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)).astype(np.float32)
    ours = optim.Adam([w], lr=0.05)
    theirs = torch.optim.Adam([w_torch], lr=0.05)

    def closure():
        ours.zero_grad()
        loss = ((Tensor(x) @ w - Tensor(y)) ** 2).mean()
        loss.backward()
        return loss

    def torch_closure():
        theirs.zero_grad()
        loss = ((torch.from_numpy(x) @ w_torch - torch.from_numpy(y)) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(30):
        loss = ours.step(closure)
        torch_loss = theirs.step(torch_closure)
        assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-4, abs=1e-6)
    np.testing.assert_allclose(w.data, w_torch.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_add_param_group():
    pair = _pair()
    opt = optim.SGD(pair.ours[:1], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": pair.ours[1], "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"] == [pair.ours[1]] or opt.param_groups[1]["params"][0] is pair.ours[1]
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [pair.ours[0]]})


@pytest.mark.parametrize("build,message", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "learning rate"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), "momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "Nesterov"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "beta parameter at index 0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "epsilon"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "weight_decay"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.5), "alpha"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1.0), "lr_decay"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (lambda ps: optim.Adadelta(ps, rho=1.5), "rho"),
    (lambda ps: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda ps: optim.SGD([{"params": ps, "lr": -1.0}], lr=0.1), "learning rate"),
])
def test_bad_hyperparameters_raise_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build(_pair().ours)


def test_bad_params_raise_type_error():
    pair = _pair()
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(pair.ours[0], lr=0.1)
    with pytest.raises(TypeError, match="params\\[1\\] is a ndarray"):
        optim.SGD([pair.ours[0], np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD(set(pair.ours), lr=0.1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        optim.Adam(pair.ours, lr=0.1, betas2=0.5)
    with pytest.raises(TypeError, match="real number"):
        optim.SGD(pair.ours, lr="0.1")


def test_non_leaf_tensor_rejected():
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)


def test_load_state_dict_mismatch_raises():
    pair = _pair()
    opt = optim.Adam(pair.ours, lr=0.01)
    pair.set_grads(0)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": pair.ours[:1]}, {"params": pair.ours[1:]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="3 parameters, the optimizer.s has 2"):
        optim.Adam(pair.ours[:2]).load_state_dict(saved)
    other_shapes = [Tensor(np.zeros((2, 2), np.float32), requires_grad=True) for _ in SHAPES]
    with pytest.raises(ValueError, match=r"shape \(7, 5\) but its parameter has shape \(2, 2\)"):
        optim.Adam(other_shapes).load_state_dict(saved)
    with pytest.raises(ValueError, match="lacks hyperparameters"):
        optim.Adam(pair.ours).load_state_dict(optim.SGD(pair.ours, lr=0.1).state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_gradient_untouched_by_weight_decay_and_maximize():
    pair = _pair()
    opt = optim.SGD(pair.ours, lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)
    pair.set_grads(0)
    before = [p.grad.data.copy() for p in pair.ours]
    opt.step()
    for p, g in zip(pair.ours, before):
        np.testing.assert_array_equal(p.grad.data, g)


def test_float64_parameters_stay_float64():
    w = Tensor(np.linspace(-1, 1, 11), requires_grad=True)
    w_torch = torch.tensor(w.data.copy(), requires_grad=True)
    ours, theirs = optim.Adam([w], lr=0.1), torch.optim.Adam([w_torch], lr=0.1)
    for _ in range(10):
        g = np.sin(3 * w.data)
        w.grad = Tensor(g)
        w_torch.grad = torch.from_numpy(np.sin(3 * w_torch.detach().numpy()))
        ours.step()
        theirs.step()
    assert w.data.dtype == np.float64
    np.testing.assert_allclose(w.data, w_torch.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_duplicate_parameter_in_a_group_warns_and_steps_twice_like_torch():
    """torch only warns (github.com/pytorch/pytorch/issues/40967) and steps the parameter once
    per listing; fastdl does the same."""
    values = np.array([1.0, -2.0], dtype=np.float32)
    ours = Tensor(values.copy(), requires_grad=True)
    theirs = torch.tensor(values.copy(), requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt_ours = optim.SGD([ours, ours], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt_theirs = torch.optim.SGD([theirs, theirs], lr=0.1)
    ours.grad = Tensor(np.ones(2, dtype=np.float32))
    theirs.grad = torch.ones(2)
    opt_ours.step()
    opt_theirs.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy())
    np.testing.assert_allclose(ours.data, values - 0.2, rtol=1e-6)
