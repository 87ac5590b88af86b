"""fastdl.nn modules: Module bookkeeping, state dicts, containers, and layer parity with torch
(same weights copied across, outputs and gradients compared)."""
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import fastdl
from fastdl import nn

torch = pytest.importorskip("torch")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("steps", fastdl.tensor(np.zeros((), dtype=np.int64)))
        self.register_buffer("cache", fastdl.zeros(2), persistent=False)
        self.not_registered = 5

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


def test_registration_and_traversal():
    m = nn.Sequential(Block(), nn.ReLU(), Block())
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.scale", "0.fc.weight", "0.fc.bias", "0.norm.weight", "0.norm.bias",
                     "2.scale", "2.fc.weight", "2.fc.bias", "2.norm.weight", "2.norm.bias"]
    assert [n for n, _ in m.named_buffers()][:4] == ["0.steps", "0.cache",
                                                     "0.norm.running_mean", "0.norm.running_var"]
    assert len(list(m.modules())) == 8 and len(list(m.children())) == 3
    assert m.get_submodule("2.fc") is m[2].fc
    assert m.get_parameter("0.fc.bias") is m[0].fc.bias
    with pytest.raises(AttributeError, match="Block has no attribute `nope`"):  # torch's words
        m.get_submodule("0.nope")
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        m[0].missing


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    m = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(m.parameters())) == 2


def test_reassignment_rules():
    b = Block()
    b.fc = nn.Identity()
    assert "fc" in b._modules and "fc.weight" not in b.state_dict()
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'scale'"):
        b.scale = 3
    b.scale = None
    assert "scale" not in b.state_dict()
    with pytest.raises(TypeError, match="buffer 'steps'"):
        b.steps = np.zeros(2)
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Broken(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(np.zeros(2, np.float32))
        Broken()


def test_train_eval_zero_grad_apply_requires_grad():
    m = nn.Sequential(Block(), nn.Dropout(0.2))
    assert all(mod.training for mod in m.modules())
    m.eval()
    assert not any(mod.training for mod in m.modules())
    m.train()
    x = fastdl.randn(5, 4)
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(not p.grad.data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Sequential" and seen.count("Linear") == 1
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_state_dict_round_trip_and_strict_errors():
    a, b = Block(), Block()
    sd = a.state_dict()
    assert list(sd) == ["scale", "steps", "fc.weight", "fc.bias", "norm.weight", "norm.bias",
                        "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert not sd["fc.weight"].requires_grad
    assert np.shares_memory(sd["fc.weight"].data, a.fc.weight.data)
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(b.fc.weight.data, a.fc.weight.data)
    assert not np.shares_memory(b.fc.weight.data, a.fc.weight.data)

    extra = dict(sd, **{"fc.extra": sd["fc.bias"]})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "fc.extra"'):
        b.load_state_dict(extra)
    missing = {k: v for k, v in sd.items() if k != "norm.bias"}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "norm.bias"'):
        b.load_state_dict(missing)
    before = b.fc.bias.data.copy()
    bad = dict(sd, **{"fc.weight": fastdl.zeros(4, 3), "fc.bias": fastdl.ones(3)})
    with pytest.raises(RuntimeError, match=r"size mismatch for fc.weight: copying a param with "
                                           r"shape \(4, 3\).*model is \(3, 4\)"):
        b.load_state_dict(bad)
    np.testing.assert_array_equal(b.fc.bias.data, before)  # nothing written on failure
    result = b.load_state_dict(dict(missing, extra=sd["scale"]), strict=False)
    assert result.missing_keys == ["norm.bias"] and result.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match="size mismatch"):
        b.load_state_dict(bad, strict=False)
    numpy_sd = {k: v.numpy() for k, v in sd.items()}
    b.load_state_dict(numpy_sd)
    with pytest.raises(TypeError, match="dict-like"):
        b.load_state_dict([1, 2])


def test_state_dict_loads_into_torch_and_back():
    fastdl.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5), nn.Linear(5, 2))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.LayerNorm(5), torch.nn.Linear(5, 2))
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(fastdl.tensor(x)).data, ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    ours.load_state_dict({k: v.numpy() * 2 for k, v in ref.state_dict().items()})
    np.testing.assert_allclose(ours[0].weight.data, 2 * ref[0].weight.detach().numpy())


def test_containers():
    seq = nn.Sequential(OrderedDict(first=nn.Linear(2, 3), act=nn.ReLU()))
    assert seq.first is seq[0] and len(seq) == 2
    seq.append(nn.Linear(3, 1))
    assert isinstance(seq[-1], nn.Linear) and isinstance(seq[1:], nn.Sequential)
    seq[1] = nn.Tanh()
    assert list(seq._modules) == ["first", "act", "2"] and isinstance(seq.act, nn.Tanh)
    del seq[0]
    assert list(seq._modules) == ["0", "1"]
    with pytest.raises(IndexError, match="out of range"):
        seq[5]
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.insert(1, nn.ReLU())
    layers.append(nn.Tanh())
    assert [type(x).__name__ for x in layers] == ["Linear", "ReLU", "Linear", "Linear", "Tanh"]
    assert len(list(layers.parameters())) == 6
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    with pytest.raises(NotImplementedError, match="iterate"):
        layers(fastdl.randn(2))
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 4)})
    heads["c"] = nn.Identity()
    assert list(heads.keys()) == ["a", "b", "c"] and "b" in heads
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight",
                                                        "b.bias"]
    assert heads.pop("a") is not None and len(heads) == 2
    with pytest.raises(TypeError, match="not a Module"):
        heads["d"] = 3


def test_to_double_and_repr():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    m.double()
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m[1].running_mean.dtype == np.float64
    assert m[1].num_batches_tracked.dtype == np.int64
    assert m(fastdl.randn(4, 3).double()).dtype == np.float64
    m.to(dtype=np.float32)
    assert m[0].weight.dtype == np.float32
    text = repr(m)
    assert "(0): Linear(in_features=3, out_features=2, bias=True)" in text
    assert "BatchNorm1d(2, eps=1e-05" in text
    with pytest.raises(ValueError, match="unknown device"):
        m.to("tpu")
    m.to(np.float64)  # torch's to(dtype) form: a dtype in the first argument
    assert m[0].weight.dtype == np.float64 and m[1].running_var.dtype == np.float64
    m.to("cpu", "float32")
    assert m[0].weight.dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(np.int64)


def _copy_params(ours, ref):
    with torch.no_grad():
        for (name, p), (ref_name, q) in zip(ours.named_parameters(), ref.named_parameters()):
            assert name == ref_name
            q.copy_(torch.tensor(p.data))


def _compare_module(ours, ref, *inputs, train=True, rtol=1e-5, atol=1e-5):
    _copy_params(ours, ref)
    ours.train(train)
    ref.train(train)
    f_in = [fastdl.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    t_in = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    out, out_ref = ours(*f_in), ref(*t_in)
    np.testing.assert_allclose(out.data, out_ref.detach().numpy(), rtol=rtol, atol=atol)
    weights = np.random.default_rng(5).standard_normal(out.shape).astype(out.dtype)
    (out * fastdl.tensor(weights)).sum().backward()
    (out_ref * torch.tensor(weights)).sum().backward()
    for f, t in zip(f_in, t_in):
        if t.grad is not None:
            np.testing.assert_allclose(f.grad.data, t.grad.numpy(), rtol=rtol * 10, atol=atol * 10)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=rtol * 10, atol=atol * 10,
                                   err_msg=name)
    return out


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(9, 5), (2, 3, 5)])
def test_linear_and_bilinear_modules_match_torch(shape):
    _compare_module(nn.Linear(5, 7), torch.nn.Linear(5, 7), _randn(*shape))
    _compare_module(nn.Linear(5, 7, bias=False), torch.nn.Linear(5, 7, bias=False),
                    _randn(*shape))
    _compare_module(nn.Bilinear(5, 3, 4), torch.nn.Bilinear(5, 3, 4), _randn(*shape),
                    _randn(*shape[:-1], 3, seed=1))


@pytest.mark.parametrize("ours,ref", [
    (nn.ReLU(), torch.nn.ReLU()), (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.ELU(0.5), torch.nn.ELU(0.5)), (nn.GELU(), torch.nn.GELU()),
    (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.SiLU(), torch.nn.SiLU()),
    (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
    (nn.Softplus(2.0, 5.0), torch.nn.Softplus(2.0, 5.0)), (nn.Softmax(1), torch.nn.Softmax(1)),
    (nn.LogSoftmax(-1), torch.nn.LogSoftmax(-1)), (nn.Identity(), torch.nn.Identity()),
    (nn.Flatten(), torch.nn.Flatten()), (nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
], ids=lambda m: repr(m))
def test_parameter_free_modules_match_torch(ours, ref):
    _compare_module(ours, ref, _randn(4, 3, 5) * 3)


@pytest.mark.parametrize("shape", [(8, 3), (6, 3, 4)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm1d_matches_torch_over_steps(shape, momentum):
    ours, ref = nn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-0.5, 0.5)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    for step in range(3):
        _compare_module(ours, ref, _randn(*shape, seed=step) * 2 + 1)
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(ours, name).data,
                                       getattr(ref, name).numpy(), rtol=1e-5, atol=1e-6)
        for p in ours.parameters():
            p.grad = None
        ref.zero_grad()
    assert ours.num_batches_tracked.item() == 3
    _compare_module(ours, ref, _randn(*shape, seed=9), train=False)
    ours_plain = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    ref_plain = torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    _compare_module(ours_plain, ref_plain, _randn(*shape), train=False)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D"):
        ours(fastdl.randn(2, 3, 4, 5))


def test_layernorm_and_embedding_modules_match_torch():
    _compare_module(nn.LayerNorm(5), torch.nn.LayerNorm(5), _randn(3, 4, 5))
    _compare_module(nn.LayerNorm((4, 5), bias=False), torch.nn.LayerNorm((4, 5), bias=False),
                    _randn(3, 4, 5))
    idx = np.array([[0, 4, 4], [2, 1, 0]])
    ours, ref = nn.Embedding(6, 3, padding_idx=4), torch.nn.Embedding(6, 3, padding_idx=4)
    assert not ours.weight.data[4].any()
    _compare_module(ours, ref, idx)
    pretrained = nn.Embedding.from_pretrained(fastdl.randn(4, 2))
    assert not pretrained.weight.requires_grad and pretrained(fastdl.tensor([3])).shape == (1, 2)


def test_dropout_module_train_and_eval():
    fastdl.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = fastdl.ones(100, 100)
    assert 0.72 < (drop(x).data != 0).mean() < 0.78
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(-0.1)


def test_state_dict_survives_fastdl_save_and_load(tmp_path):
    from fastdl.models import MLP
    fastdl.manual_seed(0)
    trained, fresh = nn.Sequential(MLP(4, [6], 3), nn.BatchNorm1d(3)), \
        nn.Sequential(MLP(4, [6], 3), nn.BatchNorm1d(3))
    trained(fastdl.randn(5, 4))  # moves the running statistics
    path = str(tmp_path / "model.safetensors")
    fastdl.save(trained.state_dict(), path)
    assert fresh.load_state_dict(fastdl.load(path)) == ([], [])
    trained.eval()
    fresh.eval()
    x = fastdl.randn(3, 4)
    np.testing.assert_array_equal(fresh(x).data, trained(x).data)


def test_module_registered_twice_keeps_both_names_in_state_dict():
    torch = pytest.importorskip("torch")

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = self.a

    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(2, 2)
            self.b = self.a

    ours, theirs = Tied(), TorchTied()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())  # strict: no unexpected b.*
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    assert len(list(ours.parameters())) == 2


def test_register_over_an_existing_attribute_raises_as_torch():
    m = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("weight", fastdl.zeros(2))
    m.extra = 1.0
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("extra", nn.Parameter(fastdl.zeros(1)))


def test_train_calls_each_childs_own_train():
    calls = []

    class Frozen(nn.Module):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(False)  # stays in eval mode

    model = nn.Sequential(nn.Linear(2, 2), Frozen())
    model.train()
    assert calls == [True] and model.training and not model[1].training
    model.eval()
    assert calls == [True, False]


def test_sequential_and_module_list_editing_as_torch():
    def names(seq):
        return [type(m).__name__ for m in seq]

    s = nn.Sequential(nn.ReLU(), nn.Tanh())
    s.insert(1, nn.Sigmoid())
    assert names(s) == ["ReLU", "Sigmoid", "Tanh"] and list(s.state_dict()) == []
    assert list(s._modules) == ["0", "1", "2"]
    assert type(s.pop(0)).__name__ == "ReLU" and list(s._modules) == ["0", "1"]
    s.extend(nn.Sequential(nn.ReLU()))
    assert names(s + nn.Sequential(nn.Tanh())) == ["Sigmoid", "Tanh", "ReLU", "Tanh"]
    layers = nn.ModuleList([nn.Linear(2, 2)])
    layers += [nn.ReLU()]
    assert len(layers) == 2 and type(layers.pop()).__name__ == "ReLU" and len(layers + layers) == 2
    bn = nn.BatchNorm1d(3)
    assert bn.get_buffer("running_mean") is bn.running_mean


def test_trunc_normal_matches_torch_statistics():
    for kwargs in ({}, {"std": 0.02, "a": -0.04, "b": 0.04}, {"a": 3.0, "b": 4.0}):
        ours = nn.init.trunc_normal_(fastdl.empty(100_000), **kwargs).numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch.nn.init.trunc_normal_(torch.empty(100_000), **kwargs).numpy()
        lo, hi = kwargs.get("a", -2.0), kwargs.get("b", 2.0)
        assert ours.min() >= lo and ours.max() <= hi
        scale = kwargs.get("std", 1.0)
        assert abs(ours.mean() - theirs.mean()) < 0.02 * scale
        assert abs(ours.std() - theirs.std()) < 0.02 * scale


@pytest.mark.parametrize("kwargs", [dict(sparse=True), dict(norm_type=3.0, max_norm=1.0),
                                    dict(scale_grad_by_freq=True, padding_idx=0)])
def test_embedding_reprs_name_every_non_default_option(kwargs):
    """torch's common_nn Embedding_sparse: the repr says sparse=True (and norm_type,
    scale_grad_by_freq) as torch's does."""
    assert repr(nn.Embedding(4, 3, **kwargs)) == repr(torch.nn.Embedding(4, 3, **kwargs))
    assert repr(nn.EmbeddingBag(4, 3, mode="sum", **kwargs)) == \
        repr(torch.nn.EmbeddingBag(4, 3, mode="sum", **kwargs))


def test_loss_reprs_are_torchs():
    """torch's losses have no extra_repr (common_nn's L1Loss_no_batch_dim_sum prints
    "L1Loss()"); TripletMarginWithDistanceLoss's default distance is a PairwiseDistance child."""
    names = [n for n in dir(torch.nn) if n.endswith("Loss") and hasattr(nn, n)
             and n not in ("AdaptiveLogSoftmaxWithLoss", "LinearCrossEntropyLoss")]
    assert len(names) > 20
    for name in names:
        for kwargs in ({}, {"reduction": "sum"}):
            assert repr(getattr(nn, name)(**kwargs)) == repr(getattr(torch.nn, name)(**kwargs))
    loss = nn.TripletMarginWithDistanceLoss(margin=0.5)
    assert [n for n, _ in loss.named_children()] == ["distance_function"]
    a, p, n = (fastdl.tensor(np.random.default_rng(i).standard_normal((3, 4))) for i in range(3))
    expected = torch.nn.TripletMarginWithDistanceLoss(margin=0.5)(
        *(torch.from_numpy(t.numpy()) for t in (a, p, n)))
    np.testing.assert_allclose(loss(a, p, n).item(), expected.item(), rtol=1e-6)
