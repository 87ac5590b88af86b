"""Adamax, NAdam, RAdam, ASGD, Rprop and Adafactor against torch.optim: the same parameters and
gradients must give the same trajectories, every option, float32 and float64."""
import numpy as np
import pytest

import fastdl
from fastdl import optim
from fastdl.tensor import Tensor
from optim_pair import OptimizerPair

torch = pytest.importorskip("torch")

SEED = 20261130
SHAPES = [(4, 3), (5,), (2, 3, 4)]
STEPS = 12
TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _problem(dtype, seed=SEED):
    return OptimizerPair(torch, SHAPES, seed, dtype, skip_every=4, tolerances=TOLERANCES[dtype])


CONFIGS = [
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-4, weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, weight_decay=0.05, maximize=True, foreach=False)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.03, betas=(0.85, 0.99), eps=1e-6, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.02, weight_decay=0.1)),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    # beta2 = 0.5 makes rho_t > 5 from step 2 on: the rectified branch runs
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.5), eps=1e-5, weight_decay=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.6), weight_decay=0.2, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.7), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=3, weight_decay=0.02)),
    ("ASGD", dict(lr=0.05, lambd=1e-3, t0=0, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=0.9 + 0.6,
                       weight_decay=0.1)),
    ("Adafactor", dict(lr=0.2, eps=(1e-6, 1e-3), d=1.0, maximize=True)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_trajectory_matches_torch(name, kwargs, dtype):
    problem = _problem(dtype)
    ours = getattr(optim, name)(problem.ours, **kwargs)
    theirs = getattr(torch.optim, name)(problem.theirs, **kwargs)
    problem.run(ours, theirs, STEPS)


@pytest.mark.parametrize("name,kwargs", CONFIGS[1::3], ids=IDS[1::3])
def test_param_groups_with_their_own_hyperparameters(name, kwargs):
    problem = _problem(np.float64)

    def groups(params):
        return [{"params": params[:1], "lr": 0.03}, {"params": params[1:]}]

    ours = getattr(optim, name)(groups(problem.ours), **kwargs)
    theirs = getattr(torch.optim, name)(groups(problem.theirs), **kwargs)
    problem.run(ours, theirs, STEPS)
    assert ours.param_groups[0]["lr"] == 0.03


def _torch_state_as_numpy(state_dict):
    """A torch optimizer's state_dict with every tensor converted to a numpy array."""
    return {"state": {index: {key: value.numpy() if torch.is_tensor(value) else value
                              for key, value in entries.items()}
                      for index, entries in state_dict["state"].items()},
            "param_groups": state_dict["param_groups"]}


@pytest.mark.parametrize("name,kwargs", CONFIGS[2::3], ids=IDS[2::3])
def test_state_dict_layout_matches_torch(name, kwargs):
    problem = _problem(np.float32)
    ours = getattr(optim, name)(problem.ours, **kwargs)
    theirs = getattr(torch.optim, name)(problem.theirs, **kwargs)
    problem.run(ours, theirs, steps=5)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert ours_sd["param_groups"] == theirs_sd["param_groups"]
    assert set(ours_sd["state"]) == set(theirs_sd["state"])
    for index, theirs_state in theirs_sd["state"].items():
        ours_state = ours_sd["state"][index]
        assert set(ours_state) == set(theirs_state)
        for key, value in theirs_state.items():
            np.testing.assert_allclose(np.asarray(ours_state[key].numpy()
                                                  if hasattr(ours_state[key], "numpy")
                                                  else ours_state[key], dtype=np.float64),
                                       value.double().numpy(), rtol=1e-5, atol=1e-7,
                                       err_msg=f"state {index} {key}")


@pytest.mark.parametrize("name,kwargs", CONFIGS[::3], ids=IDS[::3])
def test_state_dict_round_trip_mid_training(name, kwargs, tmp_path):
    problem = _problem(np.float64)
    ours = getattr(optim, name)(problem.ours, **kwargs)
    theirs = getattr(torch.optim, name)(problem.theirs, **kwargs)
    problem.run(ours, theirs, steps=6)
    path = tmp_path / "optim.safetensors"
    fastdl.save(ours.state_dict(), path)
    resumed = getattr(optim, name)(problem.ours, lr=123.0)
    resumed.load_state_dict(fastdl.load(path))
    assert resumed.param_groups[0]["lr"] == kwargs.get("lr", theirs.defaults["lr"])
    problem.run(resumed, theirs, steps=6, start=6)


@pytest.mark.parametrize("name,kwargs", CONFIGS[1::3], ids=IDS[1::3])
def test_loads_a_torch_optimizer_state(name, kwargs):
    """torch trains for a while; fastdl continues from torch's state_dict, exactly as torch."""
    problem = _problem(np.float64)
    theirs = getattr(torch.optim, name)(problem.theirs, **kwargs)
    for step in range(6):
        problem.set_grads(step)
        theirs.step()
    for ours_param, theirs_param in zip(problem.ours, problem.theirs):
        ours_param.data[...] = theirs_param.detach().numpy()
    ours = getattr(optim, name)(problem.ours)
    ours.load_state_dict(_torch_state_as_numpy(theirs.state_dict()))
    problem.run(ours, theirs, steps=6, start=6)


def test_state_entries_have_torch_shapes():
    problem = _problem(np.float32)
    opt = optim.Adafactor(problem.ours)
    problem.set_grads(0)
    opt.step()
    assert opt.state[problem.ours[0]]["row_var"].shape == (4, 1)
    assert opt.state[problem.ours[0]]["col_var"].shape == (1, 3)
    assert opt.state[problem.ours[2]]["col_var"].shape == (2, 1, 4)
    assert opt.state[problem.ours[1]]["variance"].shape == (5,)
    broken = opt.state_dict()
    broken["state"][0]["row_var"] = Tensor(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"state 'row_var' has shape \(1, 3\), expected \(4, 1\)"):
        optim.Adafactor(problem.ours).load_state_dict(broken)


BAD_ARGUMENTS = [
    ("Adamax", dict(lr=-0.1), "Invalid learning rate"),
    ("Adamax", dict(eps=-1.0), "Invalid epsilon value"),
    ("Adamax", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    ("NAdam", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1"),
    ("NAdam", dict(weight_decay=-0.5), "Invalid weight_decay value"),
    ("NAdam", dict(momentum_decay=-0.1), "Invalid momentum_decay value"),
    ("RAdam", dict(eps=-1e-8), "Invalid epsilon value"),
    ("RAdam", dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0"),
    ("ASGD", dict(lr=-1.0), "Invalid learning rate"),
    ("ASGD", dict(weight_decay=-1.0), "Invalid weight_decay value"),
    ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    ("Rprop", dict(etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
    ("Adafactor", dict(lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    ("Adafactor", dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    ("Adafactor", dict(eps=(-1.0, 1e-3)), "epsilon1 should be >= 0 but is: -1.0"),
    ("Adafactor", dict(eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
    ("Adafactor", dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    ("Adafactor", dict(weight_decay=-0.1), "weight_decay should be >= 0 but is: -0.1"),
]


@pytest.mark.parametrize("name,kwargs,message", BAD_ARGUMENTS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_ARGUMENTS)])
def test_bad_arguments_raise_like_torch(name, kwargs, message):
    problem = _problem(np.float32)
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, name)(problem.theirs, **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)(problem.ours, **kwargs)


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_differentiable_steps_are_refused(name):
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        getattr(optim, name)(_problem(np.float32).ours, differentiable=True)
