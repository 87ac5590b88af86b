"""pickle and copy.deepcopy of tensors and modules against torch 2.13.

Tensors: pickling keeps values, dtype, class, requires_grad and user attributes, drops grad,
grad_fn, hooks and retain_grad (the result is a leaf); deepcopy refuses non-leaves with torch's
error, keeps grad and keeps memory shared between a view and its base. Modules: hooks are pickled
(so prune / weight_norm / spectral_norm keep working after a round trip, and an unpicklable hook
fails the pickle); parametrized modules refuse pickling and deep-copy.
"""
import copy
import pickle
import warnings

import numpy as np
import pytest

import fastdl
from fastdl.nn.modules import _hooks

torch = pytest.importorskip("torch")
import torch.nn.utils.prune  # noqa: E402,F401  (torch.nn.utils does not import it)

W = np.array([[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]], dtype=np.float32)
B = np.array([0.1, -0.2], dtype=np.float32)
X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=np.float32)


def _rt(obj):
    return pickle.loads(pickle.dumps(obj))


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.data)


def _describe(t):
    """What a round trip must agree on (torch's dtype name without its ``torch.`` prefix)."""
    return dict(cls=type(t).__name__, dtype=str(t.dtype).replace("torch.", ""),
                shape=tuple(t.shape), values=_np(t).tolist(), requires_grad=t.requires_grad,
                is_leaf=t.is_leaf, grad_fn=t.grad_fn, grad=None if t.grad is None
                else _np(t.grad).tolist(), is_view=t._base is not None,
                attrs={k: v for k, v in t.__dict__.items() if not k.startswith("_")})


def _both(make):
    """``make(lib)`` for fastdl and torch, with the hook-loss warnings recorded."""
    out = []
    for lib in (fastdl, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = make(lib)
            except Exception as e:  # compared, not hidden: both must raise alike
                result = (type(e), str(e))
        out.append((result, [str(w.message).split(" at 0x")[0] for w in caught]))
    return out


def _nonleaf(lib):
    return lib.ones(2, requires_grad=True) * 2


def _leaf_with_grad(lib):
    t = lib.ones(2, requires_grad=True)
    t.grad = lib.tensor([5.0, 6.0])
    return t


def _retained(lib):
    y = lib.ones(2, requires_grad=True) * 3
    y.retain_grad()
    (y * y).sum().backward()
    return y


def _param(lib, requires_grad=True, attr=False):
    p = lib.nn.Parameter(lib.tensor([1.0, -1.0]), requires_grad=requires_grad)
    p.grad = lib.tensor([3.0, 4.0]) if requires_grad else None
    if attr:
        p.note = "kept"
    return p


def _with_attr(lib):
    t = lib.ones(2, requires_grad=True)
    t.note = 3
    return t


def _noncontiguous(lib):
    return lib.arange(6.0).reshape(2, 3).t()


TENSORS = {
    "non-leaf result": _nonleaf,
    "0-d non-leaf": lambda lib: (lib.ones(2, requires_grad=True) * 2).sum(),
    "float16 non-leaf": lambda lib: lib.ones(2, dtype=lib.float16, requires_grad=True) * 2,
    "leaf with grad": _leaf_with_grad,
    "retained non-leaf": _retained,
    "view": lambda lib: lib.arange(6.0)[2:4],
    "view of a grad leaf": lambda lib: lib.ones(3, requires_grad=True)[:2],
    "non-contiguous": _noncontiguous,
    "int64": lambda lib: lib.arange(3),
    "bool": lambda lib: lib.ones(2) > 0,
    "parameter": _param,
    "frozen parameter": lambda lib: _param(lib, requires_grad=False),
    "parameter with attribute": lambda lib: _param(lib, attr=True),
    "tensor with attribute": _with_attr,
    "buffer": lambda lib: lib.nn.Buffer(lib.ones(2), persistent=False),
}


@pytest.mark.parametrize("name", list(TENSORS))
def test_pickle_tensor_as_torch(name):
    ours, theirs = _both(lambda lib: _describe(_rt(TENSORS[name](lib))))
    assert ours == theirs
    assert ours[0]["is_leaf"] and ours[0]["grad"] is None


def test_pickle_buffer_keeps_its_flags():
    ours, theirs = _both(lambda lib: (isinstance(_rt(TENSORS["buffer"](lib)), lib.nn.Buffer),
                                      _rt(TENSORS["buffer"](lib)).persistent))
    assert ours == theirs == ((True, False), [])


def test_pickle_inside_containers_and_shared_references():
    def make(lib):
        y = _nonleaf(lib)
        back = _rt({"a": y, "pair": (y, [y * 3])})
        return (back["a"] is back["pair"][0], _describe(back["a"]),
                _describe(back["pair"][1][0]))
    ours, theirs = _both(make)
    assert ours == theirs and ours[0][0] is True


def test_unpickled_non_leaf_is_a_fresh_leaf_for_backward():
    def make(lib):
        y = _rt(_nonleaf(lib))
        (y * y).sum().backward()
        return _np(y.grad).tolist()
    ours, theirs = _both(make)
    assert ours == theirs == ([4.0, 4.0], [])


@pytest.mark.parametrize("leaf", [True, False])
def test_pickle_warns_about_dropped_tensor_hooks(leaf):
    def make(lib, mark=False):
        t = lib.ones(2, requires_grad=True)
        if not leaf:
            t = t * 2
        hook = _double
        if mark:
            hook = lib.utils.hooks.unserializable_hook(_Double())
        t.register_hook(hook)
        return _describe(_rt(t))["requires_grad"]
    ours, theirs = _both(make)
    assert ours == theirs
    assert ours[1] and ours[1][0].startswith("backward hook <function _double")
    ours, theirs = _both(lambda lib: make(lib, mark=True))
    assert ours == theirs == (True, [])


def _double(grad):
    return grad * 2


class _Double:
    def __call__(self, grad):
        return grad * 2


# -- deepcopy ---------------------------------------------------------------------------------
DEEPCOPY = {
    "non-leaf": _nonleaf,
    "view of a grad leaf": lambda lib: lib.ones(3, requires_grad=True)[:2],
    "list holding a non-leaf": lambda lib: [lib.ones(1), _nonleaf(lib)],
    "leaf whose grad is a non-leaf": lambda lib: _leaf_grad_nonleaf(lib),
    "leaf with grad": _leaf_with_grad,
    "view without grad": lambda lib: lib.arange(6.0)[1:3],
    "result under no_grad": lambda lib: _no_grad_result(lib),
    "non-contiguous": _noncontiguous,
    "parameter with grad and attribute": lambda lib: _param(lib, attr=True),
    "tensor with attribute": _with_attr,
    "buffer": lambda lib: lib.nn.Buffer(lib.ones(2), persistent=False),
}


def _leaf_grad_nonleaf(lib):
    t = lib.ones(2, requires_grad=True)
    t.grad = _nonleaf(lib)
    return t


def _no_grad_result(lib):
    a = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        return a * 2


@pytest.mark.parametrize("name", list(DEEPCOPY))
def test_deepcopy_tensor_as_torch(name):
    def make(lib):
        original = DEEPCOPY[name](lib)
        result = copy.deepcopy(original)
        if isinstance(result, list):
            return [_describe(t) for t in result]
        if result.grad is not None:  # a deep copy: the grads do not share memory
            result.grad.add_(1)
            assert _np(original.grad).tolist() != _np(result.grad).tolist()
        return _describe(result), np.shares_memory(_np(original), _np(result))
    ours, theirs = _both(make)
    assert ours == theirs
    if name in ("non-leaf", "view of a grad leaf", "list holding a non-leaf",
                "leaf whose grad is a non-leaf"):
        assert ours[0][0] is RuntimeError
        assert ours[0][1].startswith("Only Tensors created explicitly by the user")


def test_deepcopy_keeps_memory_shared_within_one_copy():
    def make(lib):
        base = lib.arange(6.0)
        seen = lib.ones(2)
        twin = seen.detach()
        base_c, view_c, rev_c, seen_c, twin_c, again = copy.deepcopy(
            [base, base[1:4], base.flip(0)[1:3] if lib is torch else base[::-1][3:5], seen,
             twin, base])
        view_c[0] = 100.0
        twin_c[1] = -1.0
        return (_np(base_c).tolist(), _np(rev_c).tolist(), _np(seen_c).tolist(),
                again is base_c, _np(base).tolist())
    ours, theirs = _both(make)
    # torch's flip copies, so its reversed entry does not alias; compare the rest
    assert ours[0][0] == theirs[0][0] == [0.0, 100.0, 2.0, 3.0, 4.0, 5.0]
    assert ours[0][2:] == theirs[0][2:] == ([1.0, -1.0], True, [0.0, 1, 2, 3, 4, 5])
    assert ours[0][1] == [2.0, 100.0]  # fastdl's [::-1] is a view: it sees the write


def test_deepcopy_memo_keeps_identity():
    def make(lib):
        t = lib.ones(2, requires_grad=True)
        g = lib.zeros(2)
        t.grad = g
        c = copy.deepcopy([t, t, g])
        return c[0] is c[1], c[0].grad is c[2]
    ours, theirs = _both(make)
    assert ours == theirs == ((True, True), [])


# -- modules ----------------------------------------------------------------------------------
def _linear(lib):
    m = lib.nn.Linear(3, 2)
    with lib.no_grad():
        m.weight.copy_(lib.tensor(W))
        m.bias.copy_(lib.tensor(B))
    return m


def _reparametrized(lib, kind, forward_first):
    m = _linear(lib)
    if kind == "prune":
        lib.nn.utils.prune.l1_unstructured(m, "weight", amount=2)
    elif kind == "weight_norm":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            m = lib.nn.utils.weight_norm(m)
    else:
        m = lib.nn.utils.spectral_norm(m)
        # its power iteration starts from random vectors: take torch's draw
        with lib.no_grad():
            m.weight_u.copy_(lib.tensor([0.6, 0.8]))
            m.weight_v.copy_(lib.tensor([0.48, 0.6, 0.64]))
    if forward_first:
        m(lib.tensor(X))
    return m


def _grown(m, kind):
    """Change the copy's stored parameter in place: its hook must recompute the weight."""
    with torch.no_grad() if isinstance(m, torch.nn.Module) else fastdl.no_grad():
        getattr(m, "weight_g" if kind == "weight_norm" else "weight_orig").mul_(2)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("forward_first", [False, True])
@pytest.mark.parametrize("kind", ["prune", "weight_norm", "spectral_norm"])
def test_reparametrized_module_round_trip_as_torch(kind, forward_first, how):
    def make(lib):
        m = _reparametrized(lib, kind, forward_first)
        c = _rt(m) if how == "pickle" else copy.deepcopy(m)
        x = lib.tensor(X)
        before = _np(c(x)).tolist()
        _grown(c, kind)
        after = _np(c(x)).tolist()
        return (before, after, _np(m(x)).tolist(), len(c._forward_pre_hooks),
                sorted(n for n, _ in c.named_parameters()),
                sorted(n for n, _ in c.named_buffers()))
    ours, theirs = _both(make)
    if isinstance(theirs[0][0], type):  # torch refuses to deepcopy a graph-result weight
        assert ours[0] == theirs[0]
        return
    np.testing.assert_allclose(ours[0][:3], theirs[0][:3], rtol=1e-5, atol=1e-6)
    assert ours[0][3:] == theirs[0][3:] and ours[0][3] == 1
    assert ours[0][0] != ours[0][1]  # the hook did run on the copy
    assert ours[1] == theirs[1]


def test_weight_norm_deepcopy_raises_as_torch_but_pickles():
    # documents the torch rule the parametrized test relies on
    ours, theirs = _both(lambda lib: copy.deepcopy(_reparametrized(lib, "weight_norm", False)))
    assert ours == theirs and ours[0][0] is RuntimeError


def test_module_with_unpicklable_hook_fails_to_pickle_as_torch():
    def make(lib):
        m = _linear(lib)
        m.register_forward_pre_hook(lambda mod, args: None)
        return pickle.dumps(m)
    ours, theirs = _both(make)
    assert ours[0][0] is theirs[0][0] is AttributeError
    assert "Can't pickle local object" in ours[0][1]


class _AddOne:
    def __call__(self, module, args, output):
        return output + 1


def test_loaded_hooks_keep_their_ids_against_new_registrations(monkeypatch):
    m = _linear(fastdl)
    m.register_forward_hook(_AddOne())
    data = pickle.dumps(m)
    monkeypatch.setattr(_hooks.RemovableHandle, "next_id", 0)  # as in a fresh process
    clone = pickle.loads(data)
    handle = clone.register_forward_hook(_AddOne())
    assert len(clone._forward_hooks) == 2
    x = fastdl.tensor(X)
    np.testing.assert_allclose(_np(clone(x)), _np(m(x)) + 1, rtol=1e-6)
    handle.remove()
    np.testing.assert_allclose(_np(clone(x)), _np(m(x)), rtol=1e-6)


def test_pickled_handle_removes_from_the_unpickled_module():
    def make(lib):
        m = _linear(lib)
        handle = m.register_forward_hook(_AddOne())
        m2, handle2 = _rt((m, handle))
        handle2.remove()
        return len(m2._forward_hooks), len(m._forward_hooks)
    ours, theirs = _both(make)
    assert ours == theirs == ((0, 1), [])


class _Symmetric:
    """Built per library (a parametrization is a Module)."""

    @staticmethod
    def make(lib):
        return {fastdl: _SymmetricF, torch: _SymmetricT}[lib]()


class _SymmetricF(fastdl.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)


class _SymmetricT(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)


def test_parametrized_module_refuses_pickle_and_deep_copies_as_torch():
    def make(lib):
        m = lib.nn.Linear(3, 3)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(np.arange(9.0, dtype=np.float32).reshape(3, 3)))
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _Symmetric.make(lib))
        try:
            pickle.dumps(m)
        except RuntimeError as e:
            refused = str(e)
        c = copy.deepcopy(m)
        with lib.no_grad():
            c.parametrizations.weight.original.mul_(2)
        return (refused, type(c).__name__, _np(c.weight).tolist(), _np(m.weight).tolist(),
                type(c) is type(m))
    ours, theirs = _both(make)
    assert ours == theirs
    assert ours[0][0].startswith("Serialization of parametrized modules is only supported")


def test_parametrizations_weight_norm_deepcopy_as_torch():
    def make(lib):
        m = lib.nn.utils.parametrizations.weight_norm(_linear(lib))
        c = copy.deepcopy(m)
        return _np(c(lib.tensor(X))).tolist(), sorted(n for n, _ in c.named_parameters())
    ours, theirs = _both(make)
    np.testing.assert_allclose(ours[0][0], theirs[0][0], rtol=1e-5)
    assert ours[0][1] == theirs[0][1] and ours[1] == theirs[1]


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_lazy_module_round_trip_as_torch(how):
    def make(lib):
        m = lib.nn.LazyLinear(2)
        c = _rt(m) if how == "pickle" else copy.deepcopy(m)
        placeholder = type(c.weight).__name__
        out = c(lib.tensor(X))
        return placeholder, tuple(out.shape), type(c).__name__, len(c._forward_pre_hooks)
    ours, theirs = _both(make)
    assert ours == theirs == (("UninitializedParameter", (2, 2), "Linear", 0), [])
