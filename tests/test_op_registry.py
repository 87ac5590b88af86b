"""Every op in the op layer's REGISTRY is gradchecked in float64.

The sample table (``op_samples.py``) must name every registered op (a new ``defop`` without
samples fails ``test_every_registered_op_has_samples``) and nothing else. For each sample:
- ``test_sample_reaches_its_op``: running it records a node of its op (in its graph, or for an op
  only a double backward uses, in the graph of its first derivative), and differentiating that
  graph calls the op's backward;
- ``test_gradcheck``: autograd's Jacobian against central differences (float64); for
  piecewise-constant ops also that the gradient is exactly zero;
- ``test_gradgradcheck``: the same for the first derivatives (create_graph=True);
- ``test_matches_torch``: the value and a vector-Jacobian product against PyTorch (float64).
"""
from __future__ import annotations

import contextlib
import importlib.util
import zlib

import numpy as np
import pytest

import fastdl
import fastdl.nn  # noqa: F401  (registers the nn ops)
import fastdl.nn.functional
from fastdl.autograd.graph import Node
from fastdl.autograd.op import REGISTRY
from fastdl.testing import gradcheck, gradgradcheck
from op_samples import SAMPLES

TABLE: dict[str, list] = {}
for _s in SAMPLES:
    TABLE.setdefault(_s.op, []).append(_s)

HAVE_CUPY = importlib.util.find_spec("cupy") is not None


class _Lib:
    """The namespace a sample's ``fn(L, ...)`` is written against."""

    def __init__(self, T, F, nn, const, grad):
        self.T, self.F, self.nn, self.const, self._grad = T, F, nn, const, grad

    def grad(self, out, inputs, g):
        return tuple(self._grad(out, inputs, g, create_graph=True))


FASTDL = _Lib(fastdl, fastdl.nn.functional, fastdl.nn, fastdl.tensor, fastdl.autograd.grad)


def _torch_lib():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    return torch, _Lib(torch, F, torch.nn, torch.tensor, torch.autograd.grad)


def _select_names():
    """Select ops are registered when a multi-output op first runs: expected for each one."""
    return {name + ".select" for name, op in REGISTRY.items() if op.n_outputs != 1}


# ---- the table covers the registry, and only the registry ---------------------------------
def test_every_registered_op_has_samples():
    missing = sorted((set(REGISTRY) | _select_names()) - set(TABLE))
    assert not missing, f"registered ops without samples in tests/op_samples.py: {missing}"


def test_table_names_only_registered_ops():
    unknown = sorted(set(TABLE) - set(REGISTRY) - _select_names())
    assert not unknown, f"tests/op_samples.py has samples for ops that are not registered: " \
                        f"{unknown}"


def test_samples_are_well_formed():
    ids = [s.id for s in SAMPLES]
    assert len(ids) == len(set(ids)), "duplicate sample ids"
    for s in SAMPLES:
        assert s.check in ("gradgrad", "grad", "zero"), s.id
        assert set(s.xfail) <= {"reach", "grad", "gradgrad", "torch"}, s.id
        arrays = s.arrays()
        assert any(s.requires_grad(arrays)), f"{s.id}: no input requires grad"
        for a in arrays:
            assert a.dtype.kind != "f" or a.dtype == np.float64, f"{s.id}: {a.dtype} input"


# ---- helpers --------------------------------------------------------------------------------
def _params(kind, keep=lambda s: True):
    out = []
    for s in SAMPLES:
        if not keep(s):
            continue
        marks = []
        if kind in s.xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=s.xfail[kind]))
        if s.needs == "cupy" and not HAVE_CUPY:
            marks.append(pytest.mark.skip(reason="needs cupy (a CUDA device)"))
        out.append(pytest.param(s, id=s.id, marks=marks))
    return out


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _fastdl_inputs(s):
    arrays = s.arrays()
    return [fastdl.tensor(a.copy(), requires_grad=f)
            for a, f in zip(arrays, s.requires_grad(arrays))]


def _cotangents(s, shapes, salt):
    rng = np.random.default_rng([zlib.crc32(s.id.encode()), salt])
    return [rng.standard_normal(shape) for shape in shapes]


def recorded_ops(tensors):
    """Names of the ops recorded in the graphs that produced ``tensors``."""
    names, seen = set(), set()
    stack = [t._grad_fn for t in tensors if t is not None and t._grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        names.add(node.op.name)
        stack.extend(e for e in node.edges if isinstance(e, Node))
    return names


@contextlib.contextmanager
def spy_backward(name):
    """Count the calls of ``REGISTRY[name].backward`` (the engine looks it up per node)."""
    op = REGISTRY[name]
    original = op.backward
    calls = [0]

    def counting(ctx, g):
        calls[0] += 1
        return original(ctx, g)

    op.backward = counting
    try:
        yield calls
    finally:
        op.backward = original


def _grad_of(outs, wrt, cots, create_graph=False):
    pairs = [(o, c) for o, c in zip(outs, cots) if o is not None and o.requires_grad]
    return fastdl.autograd.grad([o for o, _ in pairs], wrt,
                                [fastdl.tensor(c) for _, c in pairs],
                                create_graph=create_graph, allow_unused=True)


# ---- per sample -----------------------------------------------------------------------------
@pytest.mark.parametrize("s", _params("reach"))
def test_sample_reaches_its_op(s):
    xs = _fastdl_inputs(s)
    wrt = [x for x in xs if x.requires_grad]
    outs = _flat(s.fn(FASTDL, *xs))
    found = recorded_ops(outs)
    if s.op not in found:  # an op only a double backward uses: look one derivative down
        assert s.check == "gradgrad", f"{s.id}: reached below the graph but not gradgradchecked"
        grads = _grad_of(outs, wrt, _cotangents(s, [o.shape for o in outs], 1), True)
        outs = [g for g in grads if g is not None and g.requires_grad]
        below = recorded_ops(outs)
        assert s.op in below, (f"{s.id}: no {s.op} node recorded; the sample's graph has "
                               f"{sorted(found)}, its first derivative's {sorted(below)}")
    assert s.op in REGISTRY
    with spy_backward(s.op) as calls:
        _grad_of(outs, wrt, _cotangents(s, [o.shape for o in outs], 2))
    assert calls[0] > 0, f"{s.id}: {s.op} is recorded but its backward never ran"


@pytest.mark.parametrize("s", _params("grad", lambda s: s.not_a_derivative is None))
def test_gradcheck(s):
    xs = _fastdl_inputs(s)
    assert gradcheck(lambda *a: s.fn(FASTDL, *a), xs, eps=s.eps, atol=s.atol, rtol=s.rtol)
    if s.check == "zero":
        outs = _flat(s.fn(FASTDL, *xs))
        wrt = [x for x in xs if x.requires_grad]
        for x, g in zip(wrt, _grad_of(outs, wrt, _cotangents(s, [o.shape for o in outs], 3))):
            assert g is None or not np.asarray(g.detach().numpy()).any(), \
                f"{s.id}: non-zero gradient of a piecewise-constant op"


@pytest.mark.parametrize("s", _params("gradgrad", lambda s: s.check == "gradgrad"))
def test_gradgradcheck(s):
    xs = _fastdl_inputs(s)
    fn = lambda *a: s.fn(FASTDL, *a)  # noqa: E731
    grad_outputs = None
    if s.grad_outputs is not None:
        shapes = [o.shape for o in _flat(fn(*xs))]
        rng = np.random.default_rng(0)
        grad_outputs = [fastdl.tensor(a, requires_grad=True) for a in s.grad_outputs(rng, shapes)]
    assert gradgradcheck(fn, xs, grad_outputs, eps=s.eps, atol=s.atol, rtol=s.rtol)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("s", _params("torch", lambda s: s.torch))
def test_matches_torch(s):
    torch, TORCH = _torch_lib()
    arrays = s.arrays()
    flags = s.requires_grad(arrays)
    f_in = [fastdl.tensor(a.copy(), requires_grad=f) for a, f in zip(arrays, flags)]
    t_in = [torch.tensor(a.copy(), requires_grad=f) for a, f in zip(arrays, flags)]
    f_out, t_out = _flat(s.fn(FASTDL, *f_in)), _flat(s.fn(TORCH, *t_in))
    assert len(f_out) == len(t_out)
    tol = dict(rtol=s.torch_rtol, atol=s.torch_atol)
    for i, (f, t) in enumerate(zip(f_out, t_out)):
        assert tuple(f.shape) == tuple(t.shape), f"output {i}: shape"
        assert str(f.dtype) == str(t.dtype).replace("torch.", ""), f"output {i}: dtype"
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), **tol,
                                   err_msg=f"{s.id}: output {i}")
    cots = _cotangents(s, [tuple(t.shape) for t in t_out], 4)
    f_wrt = [x for x in f_in if x.requires_grad]
    t_wrt = [x for x in t_in if x.requires_grad]
    f_grads = _grad_of(f_out, f_wrt, cots)
    t_pairs = [(o, c) for o, c in zip(t_out, cots) if o.requires_grad]
    t_grads = torch.autograd.grad([o for o, _ in t_pairs], t_wrt,
                                  [torch.tensor(c) for _, c in t_pairs], allow_unused=True)
    for i, (f, t) in enumerate(zip(f_grads, t_grads)):
        f = np.zeros(f_wrt[i].shape) if f is None else f.detach().numpy()
        t = np.zeros(tuple(t_wrt[i].shape)) if t is None else t.detach().numpy()
        np.testing.assert_allclose(f, t, **tol, err_msg=f"{s.id}: gradient of input {i}")
