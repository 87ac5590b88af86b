"""Module.get_extra_state / set_extra_state, set_submodule, share_memory, bfloat16, compile and
fastdl.compile, against torch 2.13 on the same module structures."""
import numpy as np
import pytest
import torch

import fastdl
from fastdl import nn

RNG_SEED = 20261130


def _counter_class(lib):
    """A module with a Linear and extra state (a dict of plain values), for either library."""
    class Counter(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 2)
            self.steps = 0

        def get_extra_state(self):
            return {"steps": self.steps, "tag": "counter"}

        def set_extra_state(self, state):
            self.steps = state["steps"]
    return Counter


def _outer(lib):
    """Outer(head=Linear, counter=Counter, plain=Linear without extra state)."""
    outer = lib.nn.Module()
    outer.head = lib.nn.Linear(2, 2)
    outer.counter = _counter_class(lib)()
    outer.plain = lib.nn.Linear(2, 1)
    return outer


def _copy_torch_weights(src, dst):
    rng = np.random.default_rng(RNG_SEED)
    for (name, t), (fname, f) in zip(src.named_parameters(), dst.named_parameters()):
        assert name == fname
        values = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        with torch.no_grad():
            t.copy_(torch.from_numpy(values))
        f.data[...] = values


def test_state_dict_with_extra_state_matches_torch_keys_and_values():
    t_model, f_model = _outer(torch), _outer(fastdl)
    _copy_torch_weights(t_model, f_model)
    t_model.counter.steps = f_model.counter.steps = 5
    t_sd, f_sd = t_model.state_dict(), f_model.state_dict()
    assert list(f_sd) == list(t_sd)
    assert "counter._extra_state" in f_sd and "plain._extra_state" not in f_sd
    assert f_sd["counter._extra_state"] == t_sd["counter._extra_state"] == {
        "steps": 5, "tag": "counter"}
    for key, value in t_sd.items():
        if key.endswith("_extra_state"):
            continue
        np.testing.assert_array_equal(f_sd[key].numpy(), value.numpy())


def test_load_state_dict_calls_set_extra_state():
    source = _outer(fastdl)
    source.counter.steps = 11
    target = _outer(fastdl)
    result = target.load_state_dict(source.state_dict())
    assert target.counter.steps == 11
    assert not result.missing_keys and not result.unexpected_keys
    # and a torch checkpoint's extra state loads the same way
    t_model = _outer(torch)
    t_model.counter.steps = 3
    target.load_state_dict(t_model.state_dict())
    assert target.counter.steps == 3


@pytest.mark.parametrize("edit", ["drop_extra", "extra_on_plain"])
def test_extra_state_key_errors_match_torch(edit):
    def edited(lib):
        sd = _outer(lib).state_dict()
        if edit == "drop_extra":
            del sd["counter._extra_state"]
        else:  # a module that does not override set_extra_state: the key is unexpected
            sd["plain._extra_state"] = {"steps": 1}
        return sd

    t_sd, f_sd = edited(torch), edited(fastdl)
    with pytest.raises(RuntimeError) as t_err:
        _outer(torch).load_state_dict(t_sd)
    with pytest.raises(RuntimeError) as f_err:
        _outer(fastdl).load_state_dict(f_sd)
    t_detail = str(t_err.value).split("\n", 1)[1]
    assert str(f_err.value).split("\n", 1)[1] == t_detail
    t_keys = _outer(torch).load_state_dict(t_sd, strict=False)
    f_keys = _outer(fastdl).load_state_dict(f_sd, strict=False)
    assert (f_keys.missing_keys, f_keys.unexpected_keys) == (t_keys.missing_keys,
                                                             t_keys.unexpected_keys)


def test_failed_load_does_not_call_set_extra_state():
    # fastdl checks every entry before the first write (torch writes as it goes)
    source = _outer(fastdl)
    source.counter.steps = 9
    sd = source.state_dict()
    sd["head.weight"] = fastdl.zeros(5, 5)
    target = _outer(fastdl)
    with pytest.raises(RuntimeError, match="size mismatch for head.weight"):
        target.load_state_dict(sd)
    assert target.counter.steps == 0


def test_base_extra_state_methods_raise_as_torch():
    for lib in (torch, fastdl):
        module = lib.nn.Linear(2, 2)
        with pytest.raises(RuntimeError, match="Module.get_extra_state"):
            module.get_extra_state()
        with pytest.raises(RuntimeError, match="Module.set_extra_state"):
            module.set_extra_state({})


def _nested(lib):
    """A(net_b=Module(net_c=Module(conv=Linear), linear=Linear)), torch's docstring example."""
    a = lib.nn.Module()
    a.net_b = lib.nn.Module()
    a.net_b.net_c = lib.nn.Module()
    a.net_b.net_c.conv = lib.nn.Linear(3, 3)
    a.net_b.linear = lib.nn.Linear(3, 3)
    return a


@pytest.mark.parametrize("target,strict", [("net_b.net_c.conv", False),
                                           ("net_b.net_c.conv", True),
                                           ("net_b.conv", False), ("extra", False)])
def test_set_submodule_replaces_or_adds_as_torch(target, strict):
    t_model, f_model = _nested(torch), _nested(fastdl)
    t_model.set_submodule(target, torch.nn.ReLU(), strict=strict)
    f_model.set_submodule(target, nn.ReLU(), strict=strict)
    assert isinstance(f_model.get_submodule(target), nn.ReLU)
    assert [n for n, _ in f_model.named_modules()] == [n for n, _ in t_model.named_modules()]
    assert list(f_model.state_dict()) == list(t_model.state_dict())


@pytest.mark.parametrize("target,module,strict", [
    ("", "relu", False),              # ValueError: empty target
    ("net_b.linear", "not a module", False),  # ValueError: not a Module
    ("net_b.conv", "relu", True),     # AttributeError: strict and missing
    ("net_x.conv", "relu", False),    # AttributeError: missing parent
    ("net_b.linear.weight.x", "relu", False),  # AttributeError: parent is a Parameter
    ("net_b.linear.weight", "relu", False),  # AttributeError: replacing a Parameter
])
def test_set_submodule_errors_match_torch(target, module, strict):
    def attempt(lib):
        replacement = lib.nn.ReLU() if module == "relu" else module
        _nested(lib).set_submodule(target, replacement, strict=strict)

    with pytest.raises((ValueError, AttributeError)) as t_err:
        attempt(torch)
    with pytest.raises(t_err.type) as f_err:
        attempt(fastdl)
    assert str(f_err.value) == str(t_err.value)


def test_share_memory_returns_the_module_unchanged():
    lin = nn.Linear(2, 2)
    before = {k: v.numpy().copy() for k, v in lin.state_dict().items()}
    assert lin.share_memory() is lin
    for key, value in lin.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_bfloat16_raises_the_dtype_error():
    with pytest.raises(TypeError, match="fastdl.bfloat16 is not a storage dtype"):
        nn.Linear(2, 2).bfloat16()


def test_module_compile_returns_none_and_keeps_the_module_working():
    lin = nn.Linear(3, 2)
    x = fastdl.tensor(np.random.default_rng(RNG_SEED).standard_normal((4, 3)).astype(np.float32))
    expected = lin(x).detach().numpy()
    assert lin.compile(fullgraph=True, mode="max-autotune") is None
    np.testing.assert_array_equal(lin(x).detach().numpy(), expected)


def test_fastdl_compile_returns_the_model_or_function():
    lin = nn.Linear(3, 2)
    assert fastdl.compile(lin) is lin
    assert fastdl.compile(lin, backend="inductor", dynamic=True) is lin

    def fn(x):
        return x + 1
    assert fastdl.compile(fn) is fn
    assert fastdl.compile(mode="default")(fn) is fn
    assert "compile" not in fastdl.__all__  # a star import must not shadow builtins.compile


def test_fastdl_compile_argument_errors_match_torch():
    def fn(x):
        return x
    with pytest.raises(RuntimeError) as t_err:
        torch.compile(fn, backend="eager", mode="default", options={"a": 1})
    with pytest.raises(RuntimeError) as f_err:
        fastdl.compile(fn, mode="default", options={"a": 1})
    assert str(f_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="Model can't be None"):
        fastdl.compile()(None)
