"""nn.Module and nn.init against torch 2.x: load_state_dict(assign=), state-dict hooks, dtype
casts, dirac_/sparse_ and the other initialisers, deepcopy with hooks, ModuleList's repr, and
the traversal helpers' signatures. Each test builds the same thing in both libraries."""
import copy
import doctest
import inspect
import math
from collections import OrderedDict

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import init

torch = pytest.importorskip("torch")
tnn = torch.nn


class _Net:
    """The same small net in both libraries: a Linear, a BatchNorm (buffers, one of them an
    integer) and a child holding another Linear."""

    @staticmethod
    def build(lib):
        class Inner(lib.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.Linear(3, 2)

        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.Linear(4, 3)
                self.norm = lib.BatchNorm1d(3)
                self.inner = Inner()
        return Net()


def _pair():
    ours, ref = _Net.build(nn), _Net.build(tnn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ours, ref


def _torch_sd(ours):
    return {k: torch.tensor(np.array(v.numpy())) for k, v in ours.state_dict().items()}


def _same_state(ours, ref):
    sd_ours, sd_ref = ours.state_dict(), ref.state_dict()
    assert list(sd_ours) == list(sd_ref)
    for key in sd_ref:
        np.testing.assert_array_equal(sd_ours[key].numpy(), sd_ref[key].numpy())
        assert str(sd_ours[key].dtype) == str(sd_ref[key].dtype).replace("torch.", "")


def _error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


# -- 1. load_state_dict(strict, assign) -------------------------------------------------------
def test_state_dict_keys_values_and_metadata_match_torch():
    ours, ref = _pair()
    _same_state(ours, ref)
    assert ours.state_dict()._metadata == ref.state_dict()._metadata
    assert list(ours.state_dict(prefix="m.")) == list(ref.state_dict(prefix="m."))
    with pytest.warns(FutureWarning):
        assert list(ours.state_dict(None, "p.")) == [f"p.{k}" for k in ref.state_dict()]


def test_assign_takes_the_tensors_and_keeps_parameter_ness():
    ours, ref = _pair()
    ours.inner.fc.weight.requires_grad = False
    ref.inner.fc.weight.requires_grad_(False)
    fresh_ours = {k: fastdl.tensor(np.full(v.shape, 2.0, dtype=np.float64))
                  if v.dtype == fastdl.float32 else v.clone()
                  for k, v in ours.state_dict().items()}
    fresh_ref = {k: torch.tensor(v.numpy()) for k, v in fresh_ours.items()}
    keys_ours = ours.load_state_dict(fresh_ours, assign=True)
    keys_ref = ref.load_state_dict(fresh_ref, assign=True)
    assert repr(keys_ours) == repr(keys_ref) == "<All keys matched successfully>"
    _same_state(ours, ref)  # float64 now: the checkpoint's dtype, as torch
    for (name, p_ours), (_, p_ref) in zip(ours.named_parameters(), ref.named_parameters()):
        assert type(p_ours).__name__ == type(p_ref).__name__ == "Parameter"
        assert p_ours.requires_grad == p_ref.requires_grad, name
        assert p_ours._data is fresh_ours[name]._data  # the very array, not a copy
    assert ours.norm.running_mean is fresh_ours["norm.running_mean"]
    # without assign: copied into the module's float32 arrays
    ours2, ref2 = _pair()
    ours2.load_state_dict(fresh_ours)
    ref2.load_state_dict(fresh_ref)
    _same_state(ours2, ref2)
    assert ours2.lin.weight._data is not fresh_ours["lin.weight"]._data


def test_assign_accepts_numpy_and_torch_values():
    lin = nn.Linear(2, 3)
    lin.load_state_dict({"weight": np.ones((3, 2)), "bias": torch.zeros(3)}, assign=True)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.dtype == np.float64
    assert lin.bias.dtype == np.float32 and lin.bias.requires_grad


def test_missing_unexpected_and_their_order_match_torch():
    ours, ref = _pair()
    sd_ref = ref.state_dict()
    bad = OrderedDict((k, v) for k, v in sd_ref.items() if k not in ("lin.bias", "inner.fc.weight"))
    bad["zzz"] = sd_ref["lin.bias"]
    bad["inner.fc.extra"] = sd_ref["lin.bias"]
    bad["nochild.weight"] = sd_ref["lin.bias"]
    bad["lin.extra"] = sd_ref["lin.bias"]
    bad_ours = {k: v.numpy() for k, v in bad.items()}
    assert tuple(ours.load_state_dict(bad_ours, strict=False)) == \
        tuple(ref.load_state_dict(bad, strict=False))
    ours, ref = _pair()
    before = ours.lin.weight.detach().numpy().copy()
    kind_ours, msg_ours = _error(lambda: ours.load_state_dict(bad_ours))
    kind_ref, msg_ref = _error(lambda: ref.load_state_dict(bad))
    assert kind_ours is kind_ref is RuntimeError and msg_ours == msg_ref
    np.testing.assert_array_equal(ours.lin.weight.detach().numpy(), before)  # nothing written


def test_load_errors_match_torch():
    ours, ref = _pair()
    sd = dict(ref.state_dict(), **{"lin.weight": torch.zeros(2, 2)})
    msg_ours = _error(lambda: ours.load_state_dict({k: v.numpy() for k, v in sd.items()}))[1]
    msg_ref = _error(lambda: ref.load_state_dict(sd))[1]
    # the same text, shapes printed as tuples instead of torch.Size
    assert msg_ours == msg_ref.replace("torch.Size([2, 2])", "(2, 2)").replace(
        "torch.Size([3, 4])", "(3, 4)")
    sd = dict(ref.state_dict(), **{"lin.bias": "text"})
    msg_ours = _error(lambda: ours.load_state_dict(sd))[1]
    msg_ref = _error(lambda: ref.load_state_dict(sd))[1]
    assert msg_ours == msg_ref.replace("torch.Tensor", "Tensor")
    assert _error(lambda: ours.load_state_dict([1])) == _error(lambda: ref.load_state_dict([1]))


def test_zero_dim_target_takes_a_one_element_entry_as_torch():
    ours, ref = nn.Module(), tnn.Module()
    ours.register_buffer("step", fastdl.tensor(0.0))
    ref.register_buffer("step", torch.tensor(0.0))
    ours.load_state_dict({"step": np.array([5.0])})
    ref.load_state_dict({"step": torch.tensor([5.0])})
    assert ours.step.shape == tuple(ref.step.shape) == () and float(ours.step) == 5.0


# -- 2. state-dict hooks ----------------------------------------------------------------------
def _hook_log(module, lib_is_torch):
    """Register every state-dict hook on the root and on ``inner``; return the call log."""
    log = []

    def names(d):
        return sorted(d)

    for where, m in (("root", module), ("inner", module.inner)):
        m.register_state_dict_pre_hook(
            lambda mod, prefix, keep, where=where: log.append(("pre", where, prefix, keep)))
        m.register_state_dict_post_hook(
            lambda mod, sd, prefix, meta, where=where:
            log.append(("post", where, prefix, names(sd), meta)))
        m.register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, meta, strict, missing, unexpected, errors, where=where:
            log.append(("load_pre", where, prefix, names(sd), strict, list(missing),
                        list(unexpected), list(errors))))
        m.register_load_state_dict_post_hook(
            lambda mod, keys, where=where:
            log.append(("load_post", where, list(keys.missing_keys),
                        list(keys.unexpected_keys))))
    return log


def test_state_dict_hooks_calls_and_arguments_match_torch():
    ours, ref = _pair()
    log_ours, log_ref = _hook_log(ours, False), _hook_log(ref, True)
    sd_ours = ours.state_dict(keep_vars=True)
    sd_ref = ref.state_dict(keep_vars=True)
    sd_ours.pop("lin.bias")
    sd_ref.pop("lin.bias")
    ours.load_state_dict(sd_ours, strict=False)
    ref.load_state_dict(sd_ref, strict=False)
    # load_post of inner sees every missing key here (checked before any write), torch only the
    # ones found so far; with one missing key at the root both see the same
    assert log_ours == log_ref


def test_hook_edits_and_removal_as_torch():
    for lib, make in ((nn, lambda a: fastdl.tensor(a)), (tnn, lambda a: torch.tensor(a))):
        lin = lib.Linear(2, 1)
        handle = lin.register_state_dict_post_hook(lambda m, sd, p, meta: sd.pop(p + "bias"))
        with pytest.raises(RuntimeError, match="state_dict post-hook must return None"):
            lin.state_dict()
        handle.remove()
        assert list(lin.state_dict()) == ["weight", "bias"]

        def rename(module, sd, prefix, *rest):
            sd[prefix + "weight"] = sd.pop(prefix + "w")
        handle = lin.register_load_state_dict_pre_hook(rename)
        lin.load_state_dict({"w": make(np.full((1, 2), 3.0, dtype=np.float32)),
                             "bias": make(np.zeros(1, dtype=np.float32))})
        assert float(lin.weight.detach().sum()) == 6.0
        handle.remove()
        clear = lin.register_load_state_dict_post_hook(
            lambda m, keys: keys.missing_keys.clear())
        assert repr(lin.load_state_dict({"weight": make(np.zeros((1, 2), np.float32))})) \
            == "<All keys matched successfully>"
        clear.remove()
        with pytest.raises(RuntimeError, match="Missing key"):
            lin.load_state_dict({"weight": make(np.zeros((1, 2), np.float32))})
        lin.register_load_state_dict_post_hook(lambda m, keys: 1)
        with pytest.raises(AssertionError, match="not expected to return new values"):
            lin.load_state_dict(lin.state_dict())


def test_public_hook_names_are_torchs():
    for name in ("register_state_dict_pre_hook", "register_state_dict_post_hook",
                 "register_load_state_dict_pre_hook", "register_load_state_dict_post_hook"):
        assert hasattr(tnn.Module, name)
        assert list(inspect.signature(getattr(nn.Module, name)).parameters) == \
            list(inspect.signature(getattr(tnn.Module, name)).parameters)


# -- 3. dtype casts ---------------------------------------------------------------------------
def test_half_round_trips_like_torch():
    ours, ref = _pair()
    # rounding to nearest even, overflow to inf, subnormals and underflow to 0
    values = np.concatenate([np.random.default_rng(0).standard_normal(6) * 1e3,
                             [7e4, -7e4, 1e-8, 3e-5, 65504.0, 65520.0]]).astype(np.float32)
    ours.lin.weight.data[...] = values.reshape(3, 4)
    with torch.no_grad():
        ref.lin.weight.copy_(torch.tensor(values.reshape(3, 4)))
    ours.half()
    ref.half()
    _same_state(ours, ref)
    assert ours.norm.num_batches_tracked.dtype == np.int64  # integer buffers stay
    ours.float()
    ref.float()
    _same_state(ours, ref)
    ours.double()
    ref.double()
    _same_state(ours, ref)
    ours.to(fastdl.float16)
    ref.to(torch.float16)
    _same_state(ours, ref)
    ours.to("cpu", fastdl.float32)
    ref.to("cpu", torch.float32)
    _same_state(ours, ref)
    ours.to(fastdl.zeros(1, dtype=fastdl.float64))
    ref.to(torch.zeros(1, dtype=torch.float64))
    _same_state(ours, ref)


def test_casts_keep_parameter_identity_and_grad():
    lin = nn.Linear(2, 2)
    weight = lin.weight
    lin(fastdl.ones(1, 2)).sum().backward()
    lin.half()
    assert lin.weight is weight and lin.weight.grad.dtype == np.float16


def test_to_rejects_integer_dtypes_like_torch():
    msg_ref = _error(lambda: tnn.Linear(2, 2).to(torch.int64))
    msg_ours = _error(lambda: nn.Linear(2, 2).to(fastdl.int64))
    assert msg_ours[0] is msg_ref[0] is TypeError
    assert msg_ours[1] == msg_ref[1].replace("floating point or complex", "floating point") \
        .replace("torch.int64", "int64")


# -- 4. init ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 5), 2), ((4, 2, 3, 3, 3), 2),
                                          ((2, 5, 4), 1), ((6, 2, 2, 2), 3)])
def test_dirac_matches_torch_exactly(shape, groups):
    ours = init.dirac_(fastdl.empty(*shape), groups)
    ref = tnn.init.dirac_(torch.empty(*shape), groups)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


@pytest.mark.parametrize("fn,args", [
    ("dirac_", ((2, 2),)), ("dirac_", ((3, 2, 3), 2)), ("eye_", ((2, 2, 2),)),
    ("sparse_", ((2, 2, 2), 0.5)), ("orthogonal_", ((3,),)), ("xavier_uniform_", ((3,),)),
    ("kaiming_normal_", ((2, 3), 0, "fan_mid"))])
def test_init_errors_match_torch(fn, args):
    shape, rest = args[0], args[1:]
    ours = _error(lambda: getattr(init, fn)(fastdl.empty(*shape), *rest))
    ref = _error(lambda: getattr(tnn.init, fn)(torch.empty(*shape), *rest))
    assert ours[0] is ref[0]
    assert ours[1].startswith(ref[1])


def test_deterministic_inits_match_torch_exactly():
    for ours, ref in ((init.eye_(fastdl.empty(3, 5)), tnn.init.eye_(torch.empty(3, 5))),
                      (init.constant_(fastdl.empty(2, 3), 0.3),
                       tnn.init.constant_(torch.empty(2, 3), 0.3)),
                      (init.ones_(fastdl.empty(4)), tnn.init.ones_(torch.empty(4))),
                      (init.zeros_(fastdl.empty(4)), tnn.init.zeros_(torch.empty(4)))):
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def test_sparse_zeros_per_column_and_spread_match_torch():
    shape, sparsity, std = (400, 300), 0.35, 0.02
    ours = init.sparse_(fastdl.empty(*shape), sparsity, std=std).numpy()
    ref = tnn.init.sparse_(torch.empty(*shape), sparsity, std=std).numpy()
    np.testing.assert_array_equal((ours == 0).sum(0), (ref == 0).sum(0))
    assert (ours == 0).sum(0)[0] == math.ceil(sparsity * shape[0])
    assert abs(ours[ours != 0].std() / ref[ref != 0].std() - 1) < 0.02
    a = init.sparse_(fastdl.empty(5, 4), 0.5, generator=fastdl.Generator().manual_seed(3))
    b = init.sparse_(fastdl.empty(5, 4), 0.5, generator=fastdl.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # torch's zeros ignore the generator


_RANDOM_INITS = [
    ("uniform_", (), dict(a=-0.3, b=0.7)), ("normal_", (), dict(mean=0.5, std=2.0)),
    ("trunc_normal_", (), dict(mean=0.1, std=1.0, a=-1.0, b=2.0)),
    ("xavier_uniform_", (), dict(gain=2.0)), ("xavier_normal_", (), dict(gain=0.5)),
    ("kaiming_uniform_", (), dict(a=0.1, mode="fan_out", nonlinearity="leaky_relu")),
    ("kaiming_normal_", (), dict(a=0, mode="fan_in", nonlinearity="relu")),
    ("orthogonal_", (), dict(gain=1.5)), ("sparse_", (0.2,), dict(std=0.05)),
]


@pytest.mark.parametrize("fn,args,kwargs", _RANDOM_INITS)
def test_random_inits_take_torchs_arguments_and_statistics(fn, args, kwargs):
    shape = (256, 320)
    ours = getattr(init, fn)(fastdl.empty(*shape), *args, **kwargs,
                             generator=fastdl.Generator().manual_seed(0)).numpy()
    ref = getattr(tnn.init, fn)(torch.empty(*shape), *args, **kwargs,
                                generator=torch.Generator().manual_seed(0)).numpy()
    assert ours.dtype == np.float32
    bounded = fn in ("uniform_", "trunc_normal_", "xavier_uniform_", "kaiming_uniform_")
    for stat in (np.mean, np.std) + ((np.min, np.max) if bounded else ()):
        scale = max(ref.std(), 1e-12)
        tol = 0.01 if stat in (np.min, np.max) else 0.02
        assert abs(stat(ours) - stat(ref)) <= tol * scale, (stat.__name__, stat(ours), stat(ref))
    if fn == "orthogonal_":
        np.testing.assert_allclose(ours @ ours.T, 1.5 ** 2 * np.eye(shape[0]), atol=1e-4)
    again = getattr(init, fn)(fastdl.empty(*shape), *args, **kwargs,
                              generator=fastdl.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(ours, again)
    with_numpy = getattr(init, fn)(fastdl.empty(*shape), *args, **kwargs,
                                   generator=np.random.default_rng(0)).numpy()
    assert with_numpy.shape == shape


def test_init_signatures_match_torch():
    for name in ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
                 "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                 "kaiming_normal_", "orthogonal_", "sparse_", "calculate_gain"):
        ours = inspect.signature(getattr(init, name)).parameters
        ref = inspect.signature(getattr(tnn.init, name)).parameters
        assert list(ours) == list(ref), name
        assert [p.default for p in ours.values()] == [p.default for p in ref.values()], name


# -- 5. deepcopy, repr, traversal -------------------------------------------------------------
def test_deepcopy_keeps_hooks_as_torch():
    results = []
    for lib, make in ((nn, fastdl.ones), (tnn, torch.ones)):
        calls = []

        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.Linear(2, 2)

            def forward(self, x):
                return self.fc(x)

            def method_hook(self, module, args, out):
                calls.append(("method", self is module))

        net = Net()
        net.register_forward_pre_hook(lambda m, args: calls.append("pre"))
        net.register_forward_hook(net.method_hook)
        net.fc.register_full_backward_hook(lambda m, gi, go: calls.append("backward"))
        net.register_state_dict_pre_hook(lambda m, p, k: calls.append("sd_pre"))
        clone = copy.deepcopy(net)
        clone(make(1, 2, requires_grad=True)).sum().backward()
        clone.state_dict()
        results.append(calls)
    assert results[0] == results[1] == ["pre", ("method", True), "backward", "sd_pre"]


def test_module_list_repr_groups_runs_as_torch():
    def build(lib):
        return lib.ModuleList([lib.Linear(2, 2), lib.Linear(2, 2), lib.Linear(2, 2), lib.ReLU(),
                               lib.Linear(2, 3), lib.Linear(2, 3),
                               lib.Sequential(lib.Linear(1, 1), lib.Linear(1, 1))])
    assert repr(build(nn)) == repr(build(tnn))
    assert repr(nn.ModuleList()) == repr(tnn.ModuleList()) == "ModuleList()"
    seq = (nn.Sequential(nn.ReLU(), nn.ReLU()), tnn.Sequential(tnn.ReLU(), tnn.ReLU()))
    assert repr(seq[0]) == repr(seq[1])  # torch's Sequential does not group
    nested = [lib.Sequential(lib.ModuleList([lib.Linear(2, 2)] * 2)) for lib in (nn, tnn)]
    assert repr(nested[0]) == repr(nested[1])


def test_traversal_signatures_match_torch():
    for name in ("named_modules", "named_parameters", "named_buffers", "zero_grad",
                 "requires_grad_", "apply", "get_submodule", "extra_repr", "load_state_dict",
                 "state_dict", "half", "float", "double", "train", "modules", "parameters",
                 "children", "named_children", "buffers"):
        ours = inspect.signature(getattr(nn.Module, name)).parameters
        ref = inspect.signature(getattr(tnn.Module, name)).parameters
        assert list(ours) == list(ref), name
        assert [p.default for p in ours.values()] == [p.default for p in ref.values()], name


def _shared(lib):
    lin = lib.Linear(2, 2)
    net = lib.Sequential(lin, lib.ReLU(), lin)
    net.extra = lin.weight  # a parameter registered twice
    return net


def test_traversal_behaviour_matches_torch():
    ours, ref = _shared(nn), _shared(tnn)
    for kwargs in ({}, dict(remove_duplicate=False), dict(prefix="m"),
                   dict(prefix="m", remove_duplicate=False)):
        assert [n for n, _ in ours.named_modules(**kwargs)] == \
            [n for n, _ in ref.named_modules(**kwargs)], kwargs
    for kwargs in ({}, dict(remove_duplicate=False), dict(prefix="p", recurse=False),
                   dict(recurse=False, remove_duplicate=False)):
        assert [n for n, _ in ours.named_parameters(**kwargs)] == \
            [n for n, _ in ref.named_parameters(**kwargs)], kwargs
    assert list(ours.state_dict()) == list(ref.state_dict())
    memo = {ours[1]}
    assert [n for n, _ in ours.named_modules(memo)] == \
        [n for n, _ in ref.named_modules({ref[1]})]
    seen_ours, seen_ref = [], []
    ours.apply(lambda m: seen_ours.append(type(m).__name__))
    ref.apply(lambda m: seen_ref.append(type(m).__name__))
    assert seen_ours == seen_ref
    assert ours.requires_grad_(False) is ours
    ref.requires_grad_(False)
    assert [p.requires_grad for p in ours.parameters()] == \
        [p.requires_grad for p in ref.parameters()]


def test_zero_grad_as_torch():
    for set_to_none in (True, False):
        lin = nn.Linear(2, 2)
        lin(fastdl.ones(1, 2)).sum().backward()
        lin.zero_grad(set_to_none=set_to_none)
        ref = tnn.Linear(2, 2)
        ref(torch.ones(1, 2)).sum().backward()
        ref.zero_grad(set_to_none=set_to_none)
        for ours_p, ref_p in zip(lin.parameters(), ref.parameters()):
            assert (ours_p.grad is None) == (ref_p.grad is None)
            if ref_p.grad is not None:
                np.testing.assert_array_equal(ours_p.grad.numpy(), ref_p.grad.numpy())


@pytest.mark.parametrize("method,target", [
    ("get_submodule", ""), ("get_submodule", "0"), ("get_submodule", "nope"),
    ("get_submodule", "0.weight"), ("get_submodule", "0.x.y"), ("get_parameter", "0.weight"),
    ("get_parameter", "0.nope"), ("get_parameter", "1"), ("get_buffer", "0.weight"),
    ("get_buffer", "2.running_mean"), ("get_buffer", "2.x")])
def test_get_submodule_parameter_buffer_as_torch(method, target):
    def build(lib):
        return lib.Sequential(lib.Linear(2, 2), lib.ReLU(), lib.BatchNorm1d(2))

    ours, ref = build(nn), build(tnn)
    try:
        expected = getattr(ref, method)(target)
    except AttributeError as e:
        with pytest.raises(AttributeError) as info:
            getattr(ours, method)(target)
        assert str(info.value) == str(e)
        return
    found = getattr(ours, method)(target)
    assert type(found).__name__ == type(expected).__name__
    assert tuple(found.shape) == tuple(expected.shape) if hasattr(found, "shape") else True


def test_extra_repr_and_nested_repr_as_torch():
    def build(lib):
        class Scale(lib.Module):
            def extra_repr(self):
                return "factor=2\nbias=False"

        net = lib.Sequential(Scale(), lib.Linear(3, 4))
        net.add_module("missing", None)
        return net
    assert repr(build(nn)) == repr(build(tnn))


def test_new_public_examples_run():
    names = [nn.Module.register_state_dict_pre_hook, nn.Module.register_state_dict_post_hook,
             nn.Module.register_load_state_dict_pre_hook,
             nn.Module.register_load_state_dict_post_hook, nn.Module.load_state_dict,
             nn.Module.state_dict, nn.Module.half, nn.Module.float, nn.Module.double,
             nn.Module.to, nn.Module.get_submodule, nn.ModuleList.__repr__, init.dirac_,
             init.sparse_]
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for fn in names:
        doc = inspect.cleandoc(fn.__doc__ or "")
        if ">>>" not in doc:
            continue
        report = []
        result = runner.run(parser.get_doctest(doc, {"fastdl": fastdl}, fn.__qualname__, None,
                                               0), out=report.append)
        assert result.failed == 0, "".join(report)
    assert all(">>>" in (fn.__doc__ or "") for fn in names if fn is not nn.ModuleList.__repr__)
