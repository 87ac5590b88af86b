"""fastdl.amp.GradScaler against torch.amp.GradScaler("cpu"): the scale's trajectory over steps
with injected inf/NaN gradients (skipped steps, backoff, growth after growth_interval), the
parameters after each step, state dicts, pickling, and the state machine's errors."""
import pickle
import re

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def _twin_models(seed=0):
    """The same 4 -> 3 -> 1 MLP in both libraries, with SGD+momentum optimizers."""
    rng = np.random.default_rng(seed)
    w1, b1 = rng.normal(size=(3, 4)) * 0.5, rng.normal(size=3) * 0.1
    w2, b2 = rng.normal(size=(1, 3)) * 0.5, rng.normal(size=1) * 0.1
    t_params = [torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in (w1, b1, w2, b2)]
    f_params = [fastdl.tensor(a.astype(np.float32), requires_grad=True) for a in (w1, b1, w2, b2)]
    t_opt = torch.optim.SGD(t_params, lr=0.05, momentum=0.9)
    f_opt = fastdl.optim.SGD(f_params, lr=0.05, momentum=0.9)
    return (t_params, t_opt), (f_params, f_opt)


def _loss(lib, params, x):
    w1, b1, w2, b2 = params
    hidden = lib.tanh(x @ w1.T + b1)
    return ((hidden @ w2.T + b2) ** 2).mean()


def _run_both(steps, poison, scaler_kwargs, unscale_first=False):
    """Train both twins for ``steps`` iterations; ``poison[i]`` (inf or nan) is written into a
    gradient after backward at step i. Returns the per-step records of both."""
    (t_params, t_opt), (f_params, f_opt) = _twin_models()
    t_scaler = torch.amp.GradScaler("cpu", **scaler_kwargs)
    f_scaler = fastdl.amp.GradScaler("cpu", **scaler_kwargs)
    rng = np.random.default_rng(1)
    records = {"torch": [], "fastdl": []}
    for step in range(steps):
        x = rng.normal(size=(5, 4)).astype(np.float32)
        for lib, params, opt, scaler, name in ((torch, t_params, t_opt, t_scaler, "torch"),
                                               (fastdl, f_params, f_opt, f_scaler, "fastdl")):
            opt.zero_grad()
            loss = _loss(lib, params, lib.tensor(x))
            scaler.scale(loss).backward()
            if step in poison:
                params[1].grad.data[0] = poison[step]
            if unscale_first:
                scaler.unscale_(opt)
            grads = [p.grad.detach().numpy().copy() for p in params]
            scaler.step(opt)
            scaler.update()
            records[name].append({
                "scale": scaler.get_scale(), "tracker": scaler._get_growth_tracker(),
                "params": [p.detach().numpy().copy() for p in params], "grads": grads})
    return records


@pytest.mark.parametrize("unscale_first", [False, True])
def test_scale_trajectory_and_parameters_follow_torch(unscale_first):
    poison = {2: float("inf"), 3: float("nan"), 9: float("-inf")}
    records = _run_both(12, poison, dict(init_scale=2.0 ** 12, growth_factor=3.0,
                                         backoff_factor=0.25, growth_interval=3), unscale_first)
    scales = [r["scale"] for r in records["fastdl"]]
    assert scales == [r["scale"] for r in records["torch"]]
    # two skipped steps back off twice, then three good steps grow the scale once
    assert scales[:9] == [4096.0, 4096.0, 1024.0, 256.0, 256.0, 256.0, 768.0, 768.0, 768.0]
    assert [r["tracker"] for r in records["fastdl"]] == [r["tracker"] for r in records["torch"]]
    for step, (t, f) in enumerate(zip(records["torch"], records["fastdl"])):
        for tp, fp in zip(t["params"], f["params"]):
            np.testing.assert_allclose(fp, tp, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")
        for tg, fg in zip(t["grads"], f["grads"]):  # unscaled (or not yet) like torch's
            np.testing.assert_allclose(fg, tg, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")
    # a skipped step leaves the parameters as they were
    for before, after in zip(records["fastdl"][1]["params"], records["fastdl"][2]["params"]):
        np.testing.assert_array_equal(after, before)


def test_growth_is_refused_when_it_would_overflow_float32():
    records = _run_both(4, {}, dict(init_scale=2.0 ** 126, growth_factor=8.0, growth_interval=2))
    assert [r["scale"] for r in records["fastdl"]] == [r["scale"] for r in records["torch"]]
    assert records["fastdl"][-1]["scale"] == 2.0 ** 126


def test_step_returns_the_optimizers_value_or_none_when_skipped():
    class CountingSGD(fastdl.optim.SGD):
        def step(self, closure=None):
            super().step(closure)
            return "stepped"
    w = fastdl.tensor([1.0, 2.0], requires_grad=True)
    opt = CountingSGD([w], lr=0.1)
    scaler = fastdl.amp.GradScaler("cpu", init_scale=4.0)
    scaler.scale((w * w).sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [8.0, 16.0])  # scaled by 4
    assert scaler.step(opt) == "stepped"
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])  # the unscaled gradient was used
    scaler.update()
    opt.zero_grad()
    scaler.scale((w * fastdl.tensor([float("nan"), 1.0])).sum()).backward()
    assert scaler.step(opt) is None
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    scaler.update()
    assert scaler.get_scale() == 2.0


def test_scale_keeps_the_structure_of_nested_outputs():
    scaler = fastdl.amp.GradScaler("cpu", init_scale=8.0)
    a, b, c = fastdl.tensor([1.0]), fastdl.tensor([2.0]), fastdl.tensor([3.0])
    out = scaler.scale([a, (b, [c])])
    assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
    assert [out[0].item(), out[1][0].item(), out[1][1][0].item()] == [8.0, 16.0, 24.0]
    lazy = scaler.scale(iter([a, b]))
    assert [t.item() for t in lazy] == [8.0, 16.0]
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale([a, 3.0])


def test_a_float16_loss_is_scaled_in_float32_like_torch():
    loss16 = fastdl.tensor(2.0, dtype=fastdl.float16)
    scaled = fastdl.amp.GradScaler("cpu").scale(loss16)
    t_scaled = torch.amp.GradScaler("cpu").scale(torch.tensor(2.0, dtype=torch.float16))
    assert str(t_scaled.dtype).split(".")[1] == str(scaled.dtype) == "float32"
    assert scaled.item() == t_scaled.item() == 2.0 ** 17  # above float16's largest value


def test_state_dict_round_trip_and_pickling_match_torch():
    records = _run_both(5, {1: float("inf")}, dict(init_scale=64.0, growth_interval=10))
    f_state = {"scale": records["fastdl"][-1]["scale"]}
    assert f_state["scale"] == records["torch"][-1]["scale"] == 32.0
    scaler = fastdl.amp.GradScaler("cpu", init_scale=64.0, growth_interval=10)
    w = fastdl.tensor([1.0], requires_grad=True)
    opt = fastdl.optim.SGD([w], lr=0.1)
    for _ in range(3):
        scaler.scale(w.sum()).backward()
        scaler.step(opt)
        scaler.update()
    state = scaler.state_dict()
    t_scaler = torch.amp.GradScaler("cpu", init_scale=64.0, growth_interval=10)
    t_w = torch.ones(1, requires_grad=True)
    t_opt = torch.optim.SGD([t_w], lr=0.1)
    for _ in range(3):
        t_scaler.scale(t_w.sum()).backward()
        t_scaler.step(t_opt)
        t_scaler.update()
    assert state == t_scaler.state_dict()
    assert state == {"scale": 64.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                     "growth_interval": 10, "_growth_tracker": 3}
    fresh = fastdl.amp.GradScaler("cpu")
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state and fresh.get_scale() == 64.0
    copy = pickle.loads(pickle.dumps(scaler))
    assert copy.state_dict() == state
    scaler.scale(w.sum()).backward()
    with pytest.raises(AssertionError, match="may only be pickled at the beginning"):
        scaler.unscale_(opt)
        pickle.dumps(scaler)


def test_update_with_new_scale():
    scaler = fastdl.amp.GradScaler("cpu", init_scale=16.0)
    w = fastdl.tensor([1.0], requires_grad=True)
    scaler.scale(w.sum())
    scaler.update(128.0)
    assert scaler.get_scale() == 128.0
    scaler.update(fastdl.tensor(4.0))
    assert scaler.get_scale() == 4.0
    with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
        scaler.update(fastdl.tensor([1.0, 2.0]))
    with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
        scaler.update(fastdl.tensor(2.0, requires_grad=True))


def _errors(lib, action):
    """The exception type and message ``action(lib, scaler, opt)`` raises in ``lib``."""
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    scaler = lib.amp.GradScaler("cpu")
    try:
        action(lib, scaler, opt, w)
    except Exception as err:  # noqa: BLE001  (the type is what is compared)
        return type(err).__name__, re.sub(r"\btorch\b", "fastdl", str(err))
    return None


def _scaled_backward(scaler, w):
    scaler.scale((w * w).sum()).backward()


def _unscale_float16_gradients(lib, scaler):
    w16 = lib.ones(2, dtype=lib.float16, requires_grad=True)
    scaler.scale((w16.float() * 1e-4).sum()).backward()  # small: the scaled grads fit float16
    scaler.unscale_(lib.optim.SGD([w16], lr=0.1))


ERROR_CASES = {
    "unscale twice": lambda lib, s, o, w: (_scaled_backward(s, w), s.unscale_(o), s.unscale_(o)),
    "unscale after step": lambda lib, s, o, w: (_scaled_backward(s, w), s.step(o), s.unscale_(o)),
    "step twice": lambda lib, s, o, w: (_scaled_backward(s, w), s.step(o), s.step(o)),
    "step without scale": lambda lib, s, o, w: ((w * w).sum().backward(), s.step(o)),
    "unscale without scale": lambda lib, s, o, w: s.unscale_(o),
    "update without scale": lambda lib, s, o, w: s.update(),
    "update without step": lambda lib, s, o, w: (_scaled_backward(s, w), s.update()),
    "closure": lambda lib, s, o, w: (_scaled_backward(s, w), s.step(o, closure=lambda: 0)),
    "empty state dict": lambda lib, s, o, w: s.load_state_dict({}),
    "float16 gradients": lambda lib, s, o, w: _unscale_float16_gradients(lib, s),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_match_torch(case):
    t_error = _errors(torch, ERROR_CASES[case])
    assert t_error is not None
    assert _errors(fastdl, ERROR_CASES[case]) == t_error


def test_factor_checks_and_a_disabled_scaler_pass_through():
    with pytest.raises(AssertionError, match="The growth factor must be > 1.0."):
        fastdl.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="The backoff factor must be < 1.0."):
        fastdl.amp.GradScaler("cpu", backoff_factor=1.0)
    scaler = fastdl.amp.GradScaler("cpu", enabled=False)
    w = fastdl.tensor([1.0], requires_grad=True)
    opt = fastdl.optim.SGD([w], lr=0.5)
    loss = w.sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert w.item() == 0.5
    assert (scaler.is_enabled(), scaler.get_scale(), scaler.state_dict()) == (False, 1.0, {})


@pytest.mark.skipif(fastdl.cuda.is_available(), reason="a usable GPU keeps the scaler enabled")
def test_a_cuda_scaler_without_a_gpu_warns_and_disables_itself():
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling."):
        scaler = fastdl.amp.GradScaler()
    assert not scaler.is_enabled()


def test_getters_and_setters():
    scaler = fastdl.amp.GradScaler("cpu", init_scale=3.0, growth_factor=4.0,
                                   backoff_factor=0.125, growth_interval=7)
    assert (scaler.get_scale(), scaler.get_growth_factor(), scaler.get_backoff_factor(),
            scaler.get_growth_interval()) == (3.0, 4.0, 0.125, 7)
    scaler.set_growth_factor(1.5)
    scaler.set_backoff_factor(0.75)
    scaler.set_growth_interval(9)
    assert (scaler.get_growth_factor(), scaler.get_backoff_factor(),
            scaler.get_growth_interval()) == (1.5, 0.75, 9)
