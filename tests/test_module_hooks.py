"""Module hooks (forward pre/post, full backward pre/post) against PyTorch.

Every scenario is written once against the torch API, which fastdl mirrors, and run on both
libraries with the same weights; the recorded events (call order, and the grad_input /
grad_output values the hooks saw) and the resulting gradients must agree.
"""
import pickle
import warnings

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn.modules import module as module_mod

torch = pytest.importorskip("torch")

@pytest.fixture(autouse=True)
def _quiet_torch():
    # torch warns when a full backward hook fires with no input requiring grad.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def _np(x):
    """A comparable copy: arrays for tensors, tuples kept, None kept."""
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return tuple(_np(v) for v in x)
    if isinstance(x, torch.Tensor):
        return x.detach().numpy().copy()
    if isinstance(x, fastdl.Tensor):
        return np.array(x.detach().data)
    return x


def _assert_same(ours, theirs, where="result"):
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{where}: fastdl gave {ours!r}, torch an array"
        assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} vs {theirs.shape}"
        assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} vs {theirs.dtype}"
        scale = max(1.0, float(np.abs(theirs).max(initial=0)))  # float32 sums of large terms
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6 * scale, err_msg=where)
    elif isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), \
            f"{where}: {ours!r} vs {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


def _both(scenario, *args, **kwargs):
    """Run ``scenario(lib, ...)`` on fastdl and on torch and compare what they return."""
    ours = scenario(fastdl, *args, **kwargs)
    theirs = scenario(torch, *args, **kwargs)
    _assert_same(ours, theirs)
    return ours


def _seed_weights(lib, model):
    """Deterministic weights, the same in both libraries (by parameter name)."""
    rng = np.random.default_rng(0)
    state = {name: rng.uniform(-1, 1, p.shape).astype(np.float32)
             for name, p in model.named_parameters()}
    if lib is torch:
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    else:
        model.load_state_dict(state)
    return model


def _input(lib, shape, requires_grad=True, seed=1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return lib.tensor(rng.uniform(-1, 1, shape).astype(dtype), requires_grad=requires_grad)


def _mlp(lib):
    return _seed_weights(lib, lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(),
                                                lib.nn.Linear(4, 2)))


def _two(lib):
    """A small 2-input, 2-output module; ``scale`` is a non-tensor positional argument."""
    class Two(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 2)

        def forward(self, a, b, scale=1.0):
            h = self.fc(a) * scale
            return h + b.tanh(), (h * b).sum(1)

    return _seed_weights(lib, Two())


def _grads(lib, *tensors):
    return tuple(_np(t.grad) for t in tensors)


# -- call order ---------------------------------------------------------------------------------
@pytest.mark.parametrize("x_requires_grad", [True, False])
def test_call_order_on_sequential_and_children(x_requires_grad):
    def scenario(lib):
        model = _mlp(lib)
        events = []
        for name, m in model.named_modules():
            tag = name or "seq"
            m.register_forward_pre_hook(lambda mod, args, tag=tag: events.append(("pre", tag)))
            m.register_forward_hook(lambda mod, args, out, tag=tag: events.append(("fwd", tag)))
            m.register_full_backward_pre_hook(
                lambda mod, go, tag=tag: events.append(("bw_pre", tag)))
            m.register_full_backward_hook(
                lambda mod, gi, go, tag=tag: events.append(("bw", tag)))
        model.register_forward_hook(lambda *a: events.append(("fwd", "prepended")), prepend=True)
        model.register_forward_pre_hook(lambda *a: events.append(("pre", "prepended")),
                                        prepend=True)
        model.register_full_backward_hook(lambda *a: events.append(("bw", "prepended")),
                                          prepend=True)
        x = _input(lib, (5, 3), requires_grad=x_requires_grad)
        model(x).sum().backward()
        return events

    events = _both(scenario)
    assert events[:2] == [("pre", "prepended"), ("pre", "seq")]


def test_multiple_hooks_run_in_registration_order_and_chain_replacements():
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        seen = []
        lin.register_forward_hook(lambda m, a, out: out * 2)
        lin.register_forward_hook(lambda m, a, out: seen.append(_np(out)))
        lin.register_forward_hook(lambda m, a, out: out + 1, prepend=True)
        y = lin(_input(lib, (2, 3)))
        return seen, _np(y)

    _both(scenario)


# -- replacing args / kwargs / output -----------------------------------------------------------
def test_forward_pre_hook_replaces_args_single_value_is_wrapped():
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        seen = []
        lin.register_forward_pre_hook(lambda m, args: args[0] * 3)  # not a tuple: wrapped
        lin.register_forward_pre_hook(lambda m, args: seen.append((len(args), _np(args[0]))))
        x = _input(lib, (2, 3))
        y = lin(x)
        y.sum().backward()
        return seen, _np(y), _grads(lib, x, lin.weight)

    _both(scenario)


def test_forward_pre_hook_with_kwargs_replaces_args_and_kwargs():
    def scenario(lib):
        two = _two(lib)
        seen = []

        def pre(m, args, kwargs):
            seen.append((len(args), sorted(kwargs)))
            return (args[0], args[1] * 0.5), {"scale": 3.0}

        two.register_forward_pre_hook(pre, with_kwargs=True)
        two.register_forward_hook(
            lambda m, args, kwargs, out: seen.append(("post", len(args), dict(kwargs))),
            with_kwargs=True)
        a, b = _input(lib, (4, 3)), _input(lib, (4, 2), seed=2)
        y, z = two(a, b, scale=2.0)
        (y.sum() + z.sum()).backward()
        return seen, _np(y), _np(z), _grads(lib, a, b)

    _both(scenario)


def test_forward_pre_hook_with_kwargs_bad_return_raises():
    lin = nn.Linear(3, 2)
    lin.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        lin(fastdl.ones(1, 3))


def test_forward_hook_replaces_output_and_gradient_flows_through_replacement():
    def scenario(lib):
        model = _mlp(lib)
        model[0].register_forward_hook(lambda m, args, out: out * out)
        x = _input(lib, (5, 3))
        y = model(x)
        y.sum().backward()
        return _np(y), _grads(lib, x, model[0].weight, model[2].bias)

    _both(scenario)


def test_always_call_forward_hook_runs_when_forward_raises():
    def scenario(lib):
        class Boom(lib.nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        m = Boom()
        seen = []
        m.register_forward_hook(lambda mod, args, out: seen.append(("always", out)),
                                always_call=True)
        m.register_forward_hook(lambda mod, args, out: seen.append(("plain", out)))
        with pytest.raises(ValueError, match="boom"):
            m(_input(lib, (2,)))
        return seen

    assert _both(scenario) == [("always", None)]


# -- backward hooks: values against torch -------------------------------------------------------
def _record_backward(lib, module, events, tag=""):
    module.register_full_backward_pre_hook(
        lambda m, go: events.append(("bw_pre" + tag, _np(go))))
    module.register_full_backward_hook(
        lambda m, gi, go: events.append(("bw" + tag, _np(gi), _np(go))))


@pytest.mark.parametrize("how", ["backward", "autograd.grad"])
def test_full_backward_hook_values_on_linear(how):
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        events = []
        _record_backward(lib, lin, events)
        x = _input(lib, (4, 3))
        y = lin(x)
        if how == "backward":
            (y * y).sum().backward()
            return events, _grads(lib, x, lin.weight, lin.bias)
        return events, _np(lib.autograd.grad((y * y).sum(), [x]))

    events = _both(scenario)
    assert [e[0] for e in events[0]] == ["bw_pre", "bw"]


@pytest.mark.parametrize("b_requires_grad", [True, False])
def test_two_input_module_one_input_without_grad(b_requires_grad):
    """grad_input has one entry per positional argument (None for the float ``scale``), and
    torch gives zeros for a tensor input that got no gradient."""
    def scenario(lib):
        two = _two(lib)
        events = []
        _record_backward(lib, two, events)
        a = _input(lib, (4, 3))
        b = _input(lib, (4, 2), requires_grad=b_requires_grad, seed=2)
        y, z = two(a, b, 2.0)
        (y.sum() + (z * z).sum()).backward()
        return events, _grads(lib, a, b, two.fc.weight)

    _both(scenario)


def test_unused_output_and_unused_input():
    """An output that gets no gradient is None in grad_output; an input that gets none is
    zeros in grad_input (torch materializes it), and that zero reaches the input's .grad."""
    def scenario(lib):
        class Pair(lib.nn.Module):
            def forward(self, a, b):
                return a * 2, b * 3

        m = Pair()
        events = []
        _record_backward(lib, m, events)
        a, b = _input(lib, (3,)), _input(lib, (3,), seed=2)
        y1, y2 = m(a, b)
        y1.sum().backward()
        return events, _grads(lib, a, b)

    events, _ = _both(scenario)
    assert events[0][1][1] is None  # grad_output of the unused y2
    assert not events[1][1][1].any()  # grad_input of b: zeros


def test_no_input_requires_grad_calls_hook_at_output_time_with_none():
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        events = []
        _record_backward(lib, lin, events)
        y = lin(_input(lib, (4, 3), requires_grad=False))
        (y * 3).sum().backward()
        return events, _grads(lib, lin.weight)

    events, _ = _both(scenario)
    assert events[1][1] == (None,)


def test_hooks_on_sequential_children_see_torchs_gradients():
    def scenario(lib):
        model = _mlp(lib)
        events = []
        for name, m in model.named_children():
            _record_backward(lib, m, events, tag=name)
        _record_backward(lib, model, events, tag="seq")
        x = _input(lib, (5, 3))
        model(x).pow(2).sum().backward()
        return events, _grads(lib, x, model[0].weight, model[2].weight)

    events, _ = _both(scenario)
    assert [e[0] for e in events] == ["bw_preseq", "bw_pre2", "bw2", "bw_pre1", "bw1",
                                      "bw_pre0", "bw0", "bwseq"]


def test_backward_hook_replaces_grad_input():
    def scenario(lib):
        model = _mlp(lib)
        model[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 10,))
        model[1].register_full_backward_hook(lambda m, gi, go: None)  # None: no change
        x = _input(lib, (5, 3))
        model(x).sum().backward()
        return _grads(lib, x, model[0].weight, model[0].bias, model[2].weight)

    _both(scenario)


def test_backward_hooks_chain_grad_input_replacements():
    def scenario(lib):
        two = _two(lib)
        seen = []
        two.register_full_backward_hook(lambda m, gi, go: (gi[0] + 1, gi[1] * 2, None))
        two.register_full_backward_hook(lambda m, gi, go: seen.append(_np(gi)))
        a, b = _input(lib, (4, 3)), _input(lib, (4, 2), seed=2)
        y, z = two(a, b, 1.5)
        (y.sum() + z.sum()).backward()
        return seen, _grads(lib, a, b, two.fc.weight)

    _both(scenario)


def test_backward_pre_hook_replaces_grad_output():
    def scenario(lib):
        model = _mlp(lib)
        events = []
        model[2].register_full_backward_pre_hook(lambda m, go: (go[0] * 0 + 1,))
        _record_backward(lib, model[2], events)
        _record_backward(lib, model[0], events, tag="0")
        x = _input(lib, (5, 3))
        (model(x) * 5).sum().backward()
        return events, _grads(lib, x, model[0].weight, model[2].weight)

    _both(scenario)


def test_backward_pre_hook_replaces_grad_output_without_input_grad():
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        events = []
        lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
        _record_backward(lib, lin, events)
        (lin(_input(lib, (4, 3), requires_grad=False)) * 5).sum().backward()
        return events, _grads(lib, lin.weight, lin.bias)

    _both(scenario)


def test_backward_hook_wrong_length_raises():
    for lib in (fastdl, torch):
        lin = lib.nn.Linear(3, 2)
        lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
        with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but "
                                               "expected 1"):
            lin(_input(lib, (1, 3))).sum().backward()
        lin = lib.nn.Linear(3, 2)
        lin.register_full_backward_pre_hook(lambda m, go: ())
        with pytest.raises(RuntimeError, match="invalid number of grad_output, got 0, but "
                                               "expected 1"):
            lin(_input(lib, (1, 3))).sum().backward()


@pytest.mark.parametrize("how", ["backward twice with retain_graph", "module called twice"])
def test_hook_called_once_per_backward_pass_and_per_call(how):
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 3))
        events = []
        _record_backward(lib, lin, events)
        x = _input(lib, (5, 3))
        if how == "module called twice":
            lin(lin(x)).sum().backward()
        else:
            loss = lin(x).sum()
            loss.backward(retain_graph=True)
            loss.backward()
        return events, _grads(lib, x, lin.weight)

    events, _ = _both(scenario)
    assert [e[0] for e in events] == ["bw_pre", "bw", "bw_pre", "bw"]


def test_double_backward_through_hooked_module():
    def scenario(lib):
        model = _mlp(lib)
        model[1] = lib.nn.Tanh()
        events = []
        _record_backward(lib, model, events)
        x = _input(lib, (5, 3))
        (gx,) = lib.autograd.grad(model(x).pow(2).sum(), [x], create_graph=True)
        gx.pow(2).sum().backward()
        return events, _grads(lib, x, model[0].weight)

    _both(scenario)


def test_no_grad_forward_runs_forward_hooks_but_records_nothing():
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        events = []
        lin.register_forward_hook(lambda m, a, out: events.append("fwd"))
        _record_backward(lib, lin, events)
        with lib.no_grad():
            y = lin(_input(lib, (4, 3)))
        return events, y.requires_grad, y.grad_fn is None

    assert _both(scenario) == (["fwd"], False, True)


def test_backward_hook_outputs_share_memory_and_version_with_inputs():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda *a: None)
    seen = {}

    def pre(m, args):
        seen["x"] = args[0]

    lin.register_forward_hook(lambda m, args, out: seen.update(inner=args[0]))
    lin.register_forward_pre_hook(pre)
    x = _input(fastdl, (2, 3))
    y = lin(x)
    inner = seen["inner"]
    assert seen["x"] is x and inner is not x
    assert inner.data is x.data and inner.requires_grad
    assert y.grad_fn.name() == "BackwardHookFunctionBackward"
    # A tensor that does not require grad comes through as a plain (non-differentiable) tensor.
    two = _two(fastdl)
    two.register_full_backward_hook(lambda *a: None)
    got = {}
    two.register_forward_hook(lambda m, args, out: got.update(b=args[1]))
    two(_input(fastdl, (4, 3)), _input(fastdl, (4, 2), requires_grad=False))
    assert not got["b"].requires_grad and got["b"].grad_fn is None


# -- handles, fast path, state dict, pickling ---------------------------------------------------
def test_handle_remove_and_context_manager():
    def scenario(lib):
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        events = []
        handles = [
            lin.register_forward_pre_hook(lambda m, a: events.append("pre")),
            lin.register_forward_hook(lambda m, a, o: events.append("fwd"), always_call=True,
                                      with_kwargs=False),
            lin.register_full_backward_pre_hook(lambda m, go: events.append("bw_pre")),
            lin.register_full_backward_hook(lambda m, gi, go: events.append("bw")),
        ]
        x = _input(lib, (2, 3))
        lin(x).sum().backward()
        events.append("|")
        handles[0].remove()
        handles[3].remove()
        handles[3].remove()  # twice is fine
        lin(x).sum().backward()
        events.append("|")
        for h in handles:
            h.remove()
        with lin.register_forward_hook(lambda m, a, o: events.append("ctx")):
            y = lin(x)
        y.sum().backward()
        lin(x)
        return events

    events = _both(scenario)
    assert events == ["pre", "fwd", "bw_pre", "bw", "|", "fwd", "bw_pre", "|", "ctx"]


def test_fast_path_restored_after_all_hooks_removed():
    lin = nn.Linear(3, 2)
    assert "_hooked" not in lin.__dict__
    h = lin.register_full_backward_hook(lambda *a: None)
    assert lin.__dict__["_hooked"] is True
    h.remove()
    y = lin(_input(fastdl, (1, 3)))
    assert "_hooked" not in lin.__dict__
    assert y.grad_fn.name() != "BackwardHookFunctionBackward"


def test_same_function_registered_twice_runs_twice():
    lin = nn.Linear(3, 2)
    calls = []

    def hook(m, args):
        calls.append(1)

    h1 = lin.register_forward_pre_hook(hook)
    lin.register_forward_pre_hook(hook)
    lin(fastdl.ones(1, 3))
    h1.remove()
    lin(fastdl.ones(1, 3))
    assert len(calls) == 3


class _Scale:
    """A picklable forward hook (a module-level class): multiplies the output."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, module, args, output):
        return output * self.factor


def test_hooks_survive_state_dict_and_pickle_as_torch():
    def build(lib):
        model = _mlp(lib)
        calls = []
        model[0].register_forward_hook(lambda m, a, o: calls.append("fwd"))
        model[0].register_full_backward_hook(lambda m, gi, go: calls.append("bw"))
        return model, calls

    model, calls = build(fastdl)
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model.load_state_dict(state)
    model(_input(fastdl, (2, 3))).sum().backward()
    assert calls == ["fwd", "bw"]
    # torch pickles hooks with the module: local lambdas make pickling fail, as in torch
    errors = []
    for lib in (fastdl, torch):
        with pytest.raises(Exception) as info:
            pickle.dumps(build(lib)[0])
        errors.append((type(info.value), "Can't pickle local object" in str(info.value)))
    assert errors[0] == errors[1] == (AttributeError, True)

    outs = []
    for lib in (fastdl, torch):
        model = _mlp(lib)
        model[2].register_forward_hook(_Scale(3.0))
        clone = pickle.loads(pickle.dumps(model))
        assert list(clone[2]._forward_hooks) == list(model[2]._forward_hooks)
        outs.append(_np(clone(_input(lib, (2, 3)))))
        np.testing.assert_allclose(outs[-1], 3 * _np(model[2].forward(model[1](model[0](
            _input(lib, (2, 3)))))), rtol=1e-6)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


# -- global hooks -------------------------------------------------------------------------------
def test_global_hooks_run_before_module_hooks():
    def scenario(lib):
        mm = lib.nn.modules.module
        events = []
        lin = _seed_weights(lib, lib.nn.Linear(3, 2))
        lin.register_forward_pre_hook(lambda m, a: events.append("pre"))
        lin.register_forward_hook(lambda m, a, o: events.append("fwd"))
        lin.register_full_backward_hook(lambda m, gi, go: events.append(("bw", _np(gi))))
        handles = [
            mm.register_module_forward_pre_hook(
                lambda m, a: events.append(("g_pre", type(m).__name__))),
            mm.register_module_forward_hook(lambda m, a, o: events.append("g_fwd")),
            mm.register_module_full_backward_pre_hook(lambda m, go: events.append("g_bw_pre")),
            mm.register_module_full_backward_hook(lambda m, gi, go: events.append("g_bw")),
        ]
        try:
            x = _input(lib, (2, 3))
            lin(x).sum().backward()
        finally:
            for h in handles:
                h.remove()
        events.append("|")
        lin(x).sum().backward()
        return events

    _both(scenario)
    # Removing the last global hook lets the next call put Module back on the fast path.
    assert not module_mod._hooks.any_global_hooks() and module_mod.Module._hooked is False
