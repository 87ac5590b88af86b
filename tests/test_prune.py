"""fastdl.nn.utils.prune against torch.nn.utils.prune: the same masks for the deterministic
methods (torch's weights copied in), the same counts for the random ones, iterative pruning,
gradients, state_dict keys and round trips, remove(), and the same errors for bad arguments.

Ties: which of equal scores torch's topk drops is an artifact of its CPU selection (it does not
pick the first or last of equal values), so where scores tie the tests compare the number of
pruned entries and check that no pruned score exceeds a kept one, not the positions."""
import copy
import doctest
import math
import pickle

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn.utils import prune
from fastdl.tensor import Tensor

torch = pytest.importorskip("torch")
tprune = pytest.importorskip("torch.nn.utils.prune")
common_pruning = pytest.importorskip("torch.testing._internal.common_pruning")

SEED = 20261204

# name: (fastdl factory, torch factory, input shape); both built from the same arguments
MODULES = {
    "linear": (lambda: nn.Linear(7, 5), lambda: torch.nn.Linear(7, 5), (3, 7)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3), lambda: torch.nn.Conv2d(3, 4, 3), (2, 3, 6, 6)),
    "conv1d": (lambda: nn.Conv1d(3, 4, 2), lambda: torch.nn.Conv1d(3, 4, 2), (2, 3, 5)),
    "lstm": (lambda: nn.LSTM(3, 4, 2), lambda: torch.nn.LSTM(3, 4, 2), (5, 2, 3)),
}


def _np(t):
    """A torch or fastdl tensor's values as a numpy array."""
    return t.detach().numpy()


class _Twin(nn.Module):
    """A fastdl model with the given children and ``forward(self, x)``: the twin of a torch
    test model (same child names, so the same state_dict keys)."""

    def __init__(self, forward, **children):
        super().__init__()
        for name, child in children.items():
            setattr(self, name, child)
        self._forward = forward

    def forward(self, x):
        return self._forward(self, x)


def _load_torch_state(ours, theirs):
    """Load torch's state_dict into ours (the keys must agree, order included)."""
    state = {key: Tensor(value.detach().numpy().copy())
             for key, value in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)


def _pair(kind, dtype=torch.float32):
    ours_factory, theirs_factory, input_shape = MODULES[kind]
    torch.manual_seed(SEED % 2**31)
    theirs = theirs_factory().to(dtype)
    ours = ours_factory().to(fastdl.float64 if dtype == torch.float64 else fastdl.float32)
    _load_torch_state(ours, theirs)
    return ours, theirs, input_shape


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def _assert_same_state(ours, theirs):
    """Same parameter and buffer names in the same order; equal values."""
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        assert ours_state[key].dtype == np.dtype(str(value.dtype).replace("torch.", "")), key
        np.testing.assert_array_equal(_np(ours_state[key]), _np(value), err_msg=key)


def _assert_same_forward(ours, theirs, input_shape):
    x = np.random.default_rng(SEED).standard_normal(input_shape).astype(np.float32)
    x = x.astype(np.float64) if next(theirs.parameters()).dtype == torch.float64 else x
    out_ours, out_theirs = _first(ours(Tensor(x))), _first(theirs(torch.from_numpy(x)))
    np.testing.assert_allclose(_np(out_ours), _np(out_theirs), rtol=1e-5, atol=1e-6)


def _both(fn_name, ours, theirs, *args, **kwargs):
    getattr(prune, fn_name)(ours, *args, **kwargs)
    getattr(tprune, fn_name)(theirs, *args, **kwargs)


LAYER_TENSORS = [("linear", "weight"), ("linear", "bias"), ("conv2d", "weight"),
                 ("conv2d", "bias"), ("lstm", "weight_ih_l0"), ("lstm", "weight_hh_l1")]


@pytest.mark.parametrize("amount", [0, 1, 4, 0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("kind,name", LAYER_TENSORS)
def test_l1_unstructured_matches_torch(kind, name, amount):
    ours, theirs, input_shape = _pair(kind)
    _both("l1_unstructured", ours, theirs, name, amount=amount)
    _assert_same_state(ours, theirs)
    np.testing.assert_array_equal(_np(getattr(ours, name)), _np(getattr(theirs, name)))
    assert prune.is_pruned(ours) and tprune.is_pruned(theirs)
    _assert_same_forward(ours, theirs, input_shape)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 2, math.inf, -math.inf, "fro", 3, 0])
@pytest.mark.parametrize("kind,dim", [("linear", 0), ("linear", 1), ("linear", -1),
                                      ("conv2d", 0), ("conv2d", 1), ("conv2d", -1),
                                      ("conv1d", 2), ("lstm", 0)])
def test_ln_structured_matches_torch(kind, dim, n, dtype):
    ours, theirs, input_shape = _pair(kind, dtype)
    name = "weight_ih_l0" if kind == "lstm" else "weight"
    try:
        tprune.ln_structured(theirs, name, amount=0.4, n=n, dim=dim)
    except RuntimeError as e:  # 'fro' over 3 dims: a matrix norm needs exactly 2
        with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
            prune.ln_structured(ours, name, amount=0.4, n=n, dim=dim)
        assert "dim must be a 2-tuple" in str(e)
        assert not prune.is_pruned(ours) and name in dict(ours.named_parameters())
        return
    prune.ln_structured(ours, name, amount=0.4, n=n, dim=dim)
    if n == 0:  # every channel has the same count of nonzeros: a tie, see the module doc
        assert (_np(getattr(ours, name + "_mask")).sum()
                == _np(getattr(theirs, name + "_mask")).sum())
        return
    _assert_same_state(ours, theirs)
    _assert_same_forward(ours, theirs, input_shape)


def test_ln_structured_nuclear_norm_on_3d_weight():
    ours, theirs, _ = _pair("conv1d")
    _both("ln_structured", ours, theirs, "weight", amount=2, n="nuc", dim=0)
    _assert_same_state(ours, theirs)
    mask = _np(ours.weight_mask)
    assert sorted(mask.reshape(4, -1).min(1)) == [0, 0, 1, 1]  # whole channels


@pytest.mark.parametrize("method", ["l1_unstructured", "ln_structured"])
def test_importance_scores_decide_the_mask(method):
    ours, theirs, input_shape = _pair("conv2d")
    scores = torch.rand(theirs.weight.shape, generator=torch.Generator().manual_seed(3))
    kwargs = dict(amount=0.5) if method == "l1_unstructured" else dict(amount=2, n=1, dim=1)
    getattr(tprune, method)(theirs, "weight", importance_scores=scores, **kwargs)
    getattr(prune, method)(ours, "weight", importance_scores=Tensor(scores.numpy()), **kwargs)
    _assert_same_state(ours, theirs)
    # the scores, not the weights, chose: pruning by the weights would give another mask
    plain, _, _ = _pair("conv2d")
    getattr(prune, method)(plain, "weight", **kwargs)
    assert not np.array_equal(_np(plain.weight_mask), _np(ours.weight_mask))
    _assert_same_forward(ours, theirs, input_shape)


ITERATIONS = [("l1_unstructured", dict(amount=0.3)),
              ("ln_structured", dict(amount=1, n=2, dim=0)),
              ("l1_unstructured", dict(amount=4)),
              ("ln_structured", dict(amount=0.5, n=math.inf, dim=1)),
              ("identity", {}),
              ("custom_from_mask", "mask")]


@pytest.mark.parametrize("kind", ["linear", "conv2d"])
def test_iterative_pruning_combines_masks_as_torch(kind):
    ours, theirs, input_shape = _pair(kind)
    custom = (torch.arange(theirs.weight.numel()) % 3 != 0).reshape(theirs.weight.shape)
    zeros_before = 0
    for fn_name, kwargs in ITERATIONS:
        if kwargs == "mask":
            prune.custom_from_mask(ours, "weight", mask=Tensor(custom.numpy()))
            tprune.custom_from_mask(theirs, "weight", mask=custom)
        else:
            _both(fn_name, ours, theirs, "weight", **kwargs)
        _assert_same_state(ours, theirs)
        zeros = int((_np(ours.weight_mask) == 0).sum())
        assert zeros >= zeros_before  # earlier pruning is never undone
        zeros_before = zeros
    hook_ours, = ours._forward_pre_hooks.values()
    hook_theirs, = theirs._forward_pre_hooks.values()
    assert isinstance(hook_ours, prune.PruningContainer)
    assert [type(m).__name__ for m in hook_ours] == [type(m).__name__ for m in hook_theirs]
    assert len(hook_ours) == len(ITERATIONS)
    _assert_same_forward(ours, theirs, input_shape)


def test_l1_after_unstructured_prunes_a_fraction_of_the_remaining_entries():
    """The new method only sees the unpruned entries: 0.5 of the 20 left of 35 is 10 more."""
    ours, theirs, _ = _pair("linear")
    for amount in (15, 0.5):
        _both("l1_unstructured", ours, theirs, "weight", amount=amount)
    assert int((_np(ours.weight_mask) == 0).sum()) == 25
    _assert_same_state(ours, theirs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_reach_orig_only_through_kept_entries(dtype):
    ours, theirs, input_shape = _pair("conv2d", dtype)
    _both("l1_unstructured", ours, theirs, "weight", amount=0.4)
    _both("l1_unstructured", ours, theirs, "bias", amount=1)
    x = np.random.default_rng(SEED).standard_normal(input_shape)
    x = x.astype(np.float64 if dtype == torch.float64 else np.float32)
    out_ours, out_theirs = ours(Tensor(x)), theirs(torch.from_numpy(x))
    (out_ours * out_ours).sum().backward()
    (out_theirs * out_theirs).sum().backward()
    for name in ("weight_orig", "bias_orig"):
        grad_ours = _np(getattr(ours, name).grad)
        np.testing.assert_allclose(grad_ours, _np(getattr(theirs, name).grad),
                                   rtol=1e-5 if dtype == torch.float32 else 1e-10,
                                   atol=1e-4 if dtype == torch.float32 else 1e-10)
        mask = _np(getattr(ours, name.replace("orig", "mask")))
        assert (grad_ours[mask == 0] == 0).all() and (grad_ours[mask == 1] != 0).any()
    assert ours.weight_mask.grad is None and not ours.weight_mask.requires_grad


@pytest.mark.parametrize("amount", [10, 0.25, 0])
def test_global_unstructured_matches_torch(amount):
    theirs = common_pruning.LinearBias()
    ours = _wrap_seq(nn.Sequential(nn.Linear(7, 5), nn.Linear(5, 6, bias=False),
                                   nn.Linear(6, 3), nn.Linear(3, 3), nn.Linear(3, 10, bias=False)))
    _load_torch_state(ours, theirs)
    pairs = lambda model: [(model.seq[i], "weight") for i in range(5)] + [(model.seq[0], "bias")]
    prune.global_unstructured(pairs(ours), pruning_method=prune.L1Unstructured, amount=amount)
    tprune.global_unstructured(pairs(theirs), pruning_method=tprune.L1Unstructured,
                               amount=amount)
    _assert_same_state(ours, theirs)
    masks = [_np(b) for _, b in ours.named_buffers()]
    expected = amount if isinstance(amount, int) else round(amount * sum(m.size for m in masks))
    assert sum(int((m == 0).sum()) for m in masks) == expected
    # a second global round only looks at the entries still unpruned, with importance scores
    scores = {(m, n): Tensor(np.abs(_np(getattr(m, n))) + 1) for m, n in pairs(ours)[:2]}
    tscores = {(m, n): torch.abs(getattr(m, n).detach()) + 1 for m, n in pairs(theirs)[:2]}
    prune.global_unstructured(pairs(ours), prune.L1Unstructured, importance_scores=scores,
                              amount=0.2)
    tprune.global_unstructured(pairs(theirs), tprune.L1Unstructured, importance_scores=tscores,
                               amount=0.2)
    _assert_same_state(ours, theirs)
    _assert_same_forward(ours, theirs, (4, 7))


def _wrap_seq(seq):
    """``seq`` as the ``.seq`` child of a model, as common_pruning's models hold it."""
    return _Twin(lambda self, x: self.seq(x), seq=seq)


def test_global_unstructured_random_counts():
    ours = _wrap_seq(nn.Sequential(nn.Linear(7, 5), nn.Linear(5, 6)))
    pairs = [(ours.seq[0], "weight"), (ours.seq[1], "weight")]
    prune.global_unstructured(pairs, pruning_method=prune.RandomUnstructured, amount=0.5)
    zeros = sum(int((_np(m.weight_mask) == 0).sum()) for m, _ in pairs)
    assert zeros == round(0.5 * 65)


@pytest.mark.parametrize("mask_dtype", [torch.int64, torch.bool, torch.float64])
def test_custom_from_mask_matches_torch(mask_dtype):
    ours, theirs, input_shape = _pair("linear")
    mask = torch.tensor([1, 0, 1, 1, 0]).to(mask_dtype)
    prune.custom_from_mask(ours, "bias", mask=Tensor(mask.numpy()))
    tprune.custom_from_mask(theirs, "bias", mask=mask)
    _assert_same_state(ours, theirs)  # the mask buffer takes the parameter's dtype
    _assert_same_forward(ours, theirs, input_shape)


@pytest.mark.parametrize("amount,shape", [(0.5, (3, 5)), (0.5, (3, 3)), (4, (3, 5)),
                                          (1.0, (2, 2))])
def test_random_unstructured_counts_as_torch(amount, shape):
    ours, theirs = nn.Linear(shape[1], shape[0]), torch.nn.Linear(shape[1], shape[0])
    _both("random_unstructured", ours, theirs, "weight", amount=amount)
    zeros = int((_np(ours.weight_mask) == 0).sum())
    assert zeros == int((_np(theirs.weight_mask) == 0).sum())  # half-to-even rounding alike
    np.testing.assert_array_equal(_np(ours.weight), _np(ours.weight_orig) * _np(ours.weight_mask))
    _both("random_unstructured", ours, theirs, "weight", amount=0.5)
    assert int((_np(ours.weight_mask) == 0).sum()) == int((_np(theirs.weight_mask) == 0).sum())


@pytest.mark.parametrize("dim,amount", [(0, 2), (1, 0.5), (-1, 2), (2, 1)])
def test_random_structured_prunes_whole_channels(dim, amount):
    ours, theirs, _ = _pair("conv2d")
    _both("random_structured", ours, theirs, "weight", amount=amount, dim=dim)
    mask = _np(ours.weight_mask)
    channels = np.moveaxis(mask, dim, 0).reshape(mask.shape[dim], -1)
    assert all(len(set(row)) == 1 for row in channels)  # all kept or all pruned
    pruned = int((channels[:, 0] == 0).sum())
    tmask = _np(theirs.weight_mask)
    assert pruned == int((np.moveaxis(tmask, dim, 0).reshape(tmask.shape[dim], -1)[:, 0]
                          == 0).sum())
    # a second round keeps the first one's channels pruned and prunes among the rest
    prune.random_structured(ours, "weight", amount=1, dim=dim)
    again = np.moveaxis(_np(ours.weight_mask), dim, 0).reshape(mask.shape[dim], -1)
    assert (again[channels[:, 0] == 0] == 0).all()
    assert int((again[:, 0] == 0).sum()) == pruned + 1


def test_structured_amount_zero_as_torch():
    """Nothing pruned with amount 0 (random: no random channel drawn), but ln_structured still
    computes the norms first, so a norm that cannot be taken fails as in torch."""
    ours, theirs, _ = _pair("conv2d")
    _both("random_structured", ours, theirs, "weight", amount=0, dim=1)
    _assert_same_state(ours, theirs)
    assert (_np(ours.weight_mask) == 1).all()
    _errors_alike(lambda: prune.ln_structured(ours, "weight", amount=0, n="nuc", dim=0),
                  lambda: tprune.ln_structured(theirs, "weight", amount=0, n="nuc", dim=0))
    _assert_same_state(ours, theirs)


def test_l1_ties_prune_the_same_count_and_only_the_smallest():
    values = torch.tensor([[3.0, 1.0, -1.0, 1.0], [2.0, -2.0, 0.5, 0.5], [1.0, 1.0, 4.0, -1.0]])
    ours, theirs = nn.Linear(4, 3), torch.nn.Linear(4, 3)
    with torch.no_grad():
        theirs.weight.copy_(values)
    _load_torch_state(ours, theirs)
    _both("l1_unstructured", ours, theirs, "weight", amount=5)  # both 0.5s and 3 of the six |1|s
    mask, tmask = _np(ours.weight_mask), _np(theirs.weight_mask)
    assert (mask == 0).sum() == (tmask == 0).sum() == 5
    scores = np.abs(values.numpy())
    assert scores[mask == 0].max() <= scores[mask == 1].min()
    assert sorted(scores[mask == 0]) == sorted(scores[tmask == 0])


@pytest.mark.parametrize("kind", ["linear", "lstm"])
def test_torch_pruned_state_dict_loads_into_fastdl(kind):
    ours, theirs, input_shape = _pair(kind)
    names = ["weight", "bias"] if kind == "linear" else ["weight_ih_l0", "weight_hh_l1"]
    for name in names:
        tprune.random_unstructured(theirs, name, amount=0.4)
        prune.identity(ours, name)
    _load_torch_state(ours, theirs)
    _assert_same_forward(ours, theirs, input_shape)  # the pre-hook applies the loaded masks
    _assert_same_state(ours, theirs)
    for name in names:
        np.testing.assert_array_equal(_np(getattr(ours, name)), _np(getattr(theirs, name)))


def test_common_pruning_lstm_model_pruned_and_trained_like_torch():
    torch.manual_seed(SEED % 2**31)
    theirs = common_pruning.LSTMLinearModel(3, 4, 2, 1)
    ours = _Twin(lambda self, x: self.linear(self.lstm(x)[0]), lstm=nn.LSTM(3, 4, 1),
                 linear=nn.Linear(4, 2))
    _load_torch_state(ours, theirs)
    for model, p in ((ours, prune), (theirs, tprune)):
        p.l1_unstructured(model.lstm, "weight_hh_l0", amount=0.5)
        p.ln_structured(model.linear, "weight", amount=1, n=2, dim=0)
    _assert_same_state(ours, theirs)
    x = np.random.default_rng(SEED).standard_normal((5, 2, 3)).astype(np.float32)
    out_ours, out_theirs = ours(Tensor(x)), theirs(torch.from_numpy(x))[0]
    np.testing.assert_allclose(_np(out_ours), _np(out_theirs), rtol=1e-5, atol=1e-6)
    out_ours.sum().backward()
    out_theirs.sum().backward()
    np.testing.assert_allclose(_np(ours.lstm.weight_hh_l0_orig.grad),
                               _np(theirs.lstm.weight_hh_l0_orig.grad), rtol=1e-5, atol=1e-6)


def test_remove_makes_pruning_permanent():
    ours, theirs, input_shape = _pair("linear")
    _both("l1_unstructured", ours, theirs, "weight", amount=0.5)
    _both("ln_structured", ours, theirs, "weight", amount=1, n=1, dim=1)
    orig = ours.weight_orig
    pruned = _np(ours.weight).copy()
    assert prune.remove(ours, "weight") is ours
    tprune.remove(theirs, "weight")
    _assert_same_state(ours, theirs)
    assert ours.weight is orig and isinstance(ours.weight, nn.Parameter)  # optimizers keep it
    np.testing.assert_array_equal(_np(ours.weight), pruned)
    assert not prune.is_pruned(ours) and not ours._forward_pre_hooks
    _assert_same_forward(ours, theirs, input_shape)
    with pytest.raises(ValueError, match="Parameter 'weight' of module Linear.* has to be pruned "
                                         "before pruning can be removed"):
        prune.remove(ours, "weight")


def test_is_pruned_looks_into_submodules_and_pickle_keeps_pruning():
    model = _wrap_seq(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2)))
    assert not prune.is_pruned(model)
    prune.l1_unstructured(model.seq[2], "weight", amount=2)
    assert prune.is_pruned(model) and not prune.is_pruned(model.seq[0])
    # weight = weight_orig * weight_mask is a graph result, which torch refuses to deep-copy
    for pruned in (model, tprune.l1_unstructured(torch.nn.Linear(3, 2), "weight", amount=2)):
        with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
            copy.deepcopy(pruned)
    seq = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    prune.l1_unstructured(seq[2], "weight", amount=2)
    clone = pickle.loads(pickle.dumps(seq))
    assert prune.is_pruned(clone)
    with fastdl.no_grad():
        clone[2].weight_orig.fill_(1.0)
    clone(fastdl.ones(1, 3))  # the copy's hook recomputes the copy's weight
    np.testing.assert_array_equal(_np(clone[2].weight), _np(clone[2].weight_mask))
    assert not np.array_equal(_np(seq[2].weight), _np(clone[2].weight))


def test_prune_method_and_containers_as_torch():
    t = np.arange(1.0, 13.0).reshape(3, 4) * np.array([1, -1, 1, -1])
    ours = prune.L1Unstructured(amount=5).prune(Tensor(t))
    theirs = tprune.L1Unstructured(amount=5).prune(torch.from_numpy(t))
    np.testing.assert_array_equal(_np(ours), _np(theirs))
    scores = np.flip(np.abs(t)).copy()
    ours = prune.LnStructured(amount=1, n=1, dim=0).prune(Tensor(t),
                                                          importance_scores=Tensor(scores))
    theirs = tprune.LnStructured(amount=1, n=1, dim=0).prune(
        torch.from_numpy(t), importance_scores=torch.from_numpy(scores))
    np.testing.assert_array_equal(_np(ours), _np(theirs))
    _errors_alike(lambda: prune.L1Unstructured(1).prune(Tensor(t), importance_scores=Tensor(t.T)),
                  lambda: tprune.L1Unstructured(1).prune(torch.from_numpy(t),
                                                         importance_scores=torch.from_numpy(t.T)))
    a, b = prune.L1Unstructured(0.1), prune.Identity()
    a._tensor_name = b._tensor_name = "weight"
    container = prune.PruningContainer(a)
    container.add_pruning_method(b)
    assert len(container) == 2 and container[1] is b and list(container) == [a, b]
    c = prune.Identity()
    c._tensor_name = "bias"
    with pytest.raises(ValueError, match="Can only add pruning methods acting on the parameter "
                                         "named 'weight' to PruningContainer .* Found 'bias'"):
        container.add_pruning_method(c)
    with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
        container.add_pruning_method("l1")
    with pytest.raises(TypeError, match="abstract"):
        prune.BasePruningMethod()


def _errors_alike(call_ours, call_theirs):
    """Both raise the same exception type with the same message; returns the message."""
    with pytest.raises(Exception) as theirs:
        call_theirs()
    with pytest.raises(type(theirs.value)) as ours:
        call_ours()
    assert str(ours.value) == str(theirs.value)
    return str(ours.value)


# "too many": one more unit than there are (35 weights, or 5 / 7 channels along dim 0 / 1)
BAD_AMOUNTS = [-1, 1.5, -0.1, "0.5", None, "too many", float("nan")]


@pytest.mark.parametrize("fn_name,kwargs", [("l1_unstructured", {}),
                                            ("random_unstructured", {}),
                                            ("ln_structured", dict(n=2, dim=0)),
                                            ("random_structured", dict(dim=1))])
@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_bad_amounts_raise_as_torch(fn_name, kwargs, amount):
    ours, theirs, _ = _pair("linear")
    if amount == "too many":
        amount = 1 + (theirs.weight.shape[kwargs["dim"]] if "dim" in kwargs else 35)
    message = _errors_alike(lambda: getattr(prune, fn_name)(ours, "weight", amount, **kwargs),
                            lambda: getattr(tprune, fn_name)(theirs, "weight", amount, **kwargs))
    assert message
    # a failed first pruning leaves the module as torch leaves it
    _assert_same_state(ours, theirs)
    assert not prune.is_pruned(ours)


def test_bad_arguments_raise_as_torch():
    cases = [
        ("ln_structured", "bias", dict(amount=1, n=2, dim=0)),      # 1-d: no channels
        ("random_structured", "bias", dict(amount=1, dim=0)),
        ("ln_structured", "weight", dict(amount=1, n=2, dim=2)),    # dim out of range
        ("ln_structured", "weight", dict(amount=1, n=2, dim=-3)),
        ("l1_unstructured", "weight", dict(amount=1, importance_scores="shape")),
        ("custom_from_mask", "weight", dict(mask="shape")),
        ("l1_unstructured", "no_such_tensor", dict(amount=1)),
    ]
    for fn_name, name, kwargs in cases:
        ours, theirs, _ = _pair("linear")
        kw_ours, kw_theirs = dict(kwargs), dict(kwargs)
        for key in ("importance_scores", "mask"):
            if kwargs.get(key) == "shape":
                kw_theirs[key] = torch.ones(5, 6)
                kw_ours[key] = fastdl.ones(5, 6)
        call_ours = lambda: getattr(prune, fn_name)(ours, name, **kw_ours)
        call_theirs = lambda: getattr(tprune, fn_name)(theirs, name, **kw_theirs)
        _errors_alike(call_ours, call_theirs)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_failed_second_pruning_as_torch():
    """A pruning that fails on an already pruned tensor leaves it as torch does: the `_orig`
    and `_mask` stay, and the unregistered hook is not put back (torch's behaviour)."""
    ours, theirs, _ = _pair("conv2d")
    _both("l1_unstructured", ours, theirs, "weight", amount=3)
    _errors_alike(lambda: prune.ln_structured(ours, "weight", amount=1, n=2, dim=4),
                  lambda: tprune.ln_structured(theirs, "weight", amount=1, n=2, dim=4))
    _assert_same_state(ours, theirs)
    assert not prune.is_pruned(ours) and not tprune.is_pruned(theirs)
    # with the hook gone, pruning again takes the first-time path, and the plain `weight`
    # cannot become `weight_orig` (the messages name each library's classes)
    for p, model in ((prune, ours), (tprune, theirs)):
        with pytest.raises(TypeError, match="to parameter 'weight_orig'"):
            p.l1_unstructured(model, "weight", amount=1)
    _assert_same_state(ours, theirs)


def test_pruning_a_buffer_raises_type_error_as_torch():
    """Only parameters can be pruned (the tensor moves to a ``_orig`` parameter); the messages
    name torch's and fastdl's own classes, so only the types are compared."""
    ours, theirs = nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    with pytest.raises(TypeError, match="running_mean_orig"):
        tprune.l1_unstructured(theirs, "running_mean", amount=1)
    with pytest.raises(TypeError, match="running_mean_orig"):
        prune.l1_unstructured(ours, "running_mean", amount=1)
    assert not prune.is_pruned(ours) and "running_mean" in dict(ours.named_buffers())


def test_global_unstructured_bad_arguments_raise_as_torch():
    ours, theirs, _ = _pair("linear")
    _errors_alike(lambda: prune.global_unstructured(3, prune.L1Unstructured, amount=1),
                  lambda: tprune.global_unstructured(3, tprune.L1Unstructured, amount=1))
    _errors_alike(lambda: prune.global_unstructured([(ours, "weight")], prune.L1Unstructured,
                                                    importance_scores=[1], amount=1),
                  lambda: tprune.global_unstructured([(theirs, "weight")], tprune.L1Unstructured,
                                                     importance_scores=[1], amount=1))
    # torch walks `parameters` more than once: a generator is spent, leaving nothing to prune
    # (torch's message is torch.cat's, ours parameters_to_vector's: the types agree)
    for p, model in ((prune, ours), (tprune, theirs)):
        with pytest.raises(ValueError):
            p.global_unstructured(((model, "weight") for _ in range(1)), p.L1Unstructured,
                                  amount=1)
        with pytest.raises(ValueError):
            p.global_unstructured([], p.L1Unstructured, amount=1)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE supported'):
        prune.global_unstructured([(ours, "weight")], prune.LnStructured, amount=1, n=1)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE supported'):
        tprune.global_unstructured([(theirs, "weight")], tprune.LnStructured, amount=1, n=1)
    assert not prune.is_pruned(ours)


def test_module_docstring_example_runs():
    result = doctest.testmod(prune, extraglobs={"fastdl": fastdl}, report=True,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
