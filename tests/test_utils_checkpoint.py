"""fastdl.utils.checkpoint against torch.utils.checkpoint: the same gradients as the plain call
and as torch's (both variants), torch's warnings and errors, RNG replay of a dropout inside,
nesting, no_grad, and that the intermediates of a checkpointed call are freed."""
import gc
import warnings
import weakref

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

torch = pytest.importorskip("torch")
import torch.utils.checkpoint as tcp  # noqa: E402

BOTH = pytest.mark.parametrize("reentrant", [True, False], ids=["reentrant", "non_reentrant"])
rng = np.random.default_rng(0)


class _Twin:
    """The same leaves in fastdl and in torch (float64)."""

    def __init__(self, *shapes, grad=None):
        self.arrays = [rng.standard_normal(s) for s in shapes]
        grad = [True] * len(shapes) if grad is None else grad
        self.fd = [fastdl.tensor(a, requires_grad=g) for a, g in zip(self.arrays, grad)]
        self.th = [torch.tensor(a, requires_grad=g) for a, g in zip(self.arrays, grad)]


def _mlp(L, w1, b1, w2, b2):
    F = L.nn.functional

    def fn(x):
        return F.linear(L.tanh(F.linear(x, w1, b1)), w2, b2)
    return fn


def _grads(ts):
    return [None if t.grad is None else np.asarray(t.grad.detach().numpy()) for t in ts]


def _close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


@BOTH
def test_mlp_gradients_match_plain_call_and_torch(reentrant):
    tw = _Twin((4, 5), (6, 5), (6,), (3, 6), (3,))
    x, *params = tw.fd
    y = checkpoint(_mlp(fastdl, *params), x, use_reentrant=reentrant)
    (y * y).sum().backward()
    got = _grads(tw.fd)
    for t in tw.fd:
        t.grad = None
    y_plain = _mlp(fastdl, *params)(x)
    (y_plain * y_plain).sum().backward()
    _close(got, _grads(tw.fd))
    tx, *tparams = tw.th
    ty = tcp.checkpoint(_mlp(torch, *tparams), tx, use_reentrant=reentrant)
    (ty * ty).sum().backward()
    _close(got, _grads(tw.th))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    assert y.grad_fn.name() == ("CheckpointFunctionBackward" if reentrant else "CheckpointBackward")


def _multi(a, b, scale, flag):
    # non-tensor arguments in and out; b does not require grad
    prod = a * b * scale
    return prod.sin(), flag, (a.exp() * b).sum(), (a > 0).long()


@BOTH
def test_several_outputs_and_non_tensor_arguments(reentrant):
    tw = _Twin((3, 4), (3, 4), grad=[True, False])
    outs = {}
    for name, (a, b), ck in (("fd", tw.fd, checkpoint), ("th", tw.th, tcp.checkpoint)):
        out = ck(_multi, a, b, 0.5, "tag", use_reentrant=reentrant)
        assert isinstance(out, tuple) and out[1] == "tag"
        assert out[0].requires_grad and out[2].requires_grad and not out[3].requires_grad
        (out[0].sum() * 2 + out[2]).backward()
        outs[name] = _grads((a, b))
    _close(outs["fd"], outs["th"])
    assert outs["fd"][1] is None


@BOTH
def test_an_output_without_gradient(reentrant):
    """Only one of two outputs reaches the loss: torch's reentrant form hands zeros for the other."""
    tw = _Twin((5,))
    for (x,), ck in ((tw.fd, checkpoint), (tw.th, tcp.checkpoint)):
        first, _ = ck(lambda t: (t * 3, t * t), x, use_reentrant=reentrant)
        first.sum().backward()
    _close(_grads(tw.fd), _grads(tw.th))


def test_keyword_arguments_non_reentrant_only():
    tw = _Twin((4,), (4,))
    for (a, b), ck in ((tw.fd, checkpoint), (tw.th, tcp.checkpoint)):
        y = ck(lambda t, *, other, p: (t * other) ** p, a, other=b, p=3, use_reentrant=False)
        y.sum().backward()
        with pytest.raises(ValueError, match="^Unexpected keyword arguments: other,p$"):
            ck(lambda t, **k: t, a, other=b, p=3, use_reentrant=True)
    _close(_grads(tw.fd), _grads(tw.th))


def test_nested_structures_of_inputs_and_outputs_non_reentrant():
    tw = _Twin((3,), (3,), (3,))

    def fn(pair, d):
        a, b = pair
        return {"s": a * b, "l": [d["c"].cos() * a]}

    for (a, b, c), ck in ((tw.fd, checkpoint), (tw.th, tcp.checkpoint)):
        out = ck(fn, (a, b), {"c": c}, use_reentrant=False)
        (out["s"].sum() + out["l"][0].sum()).backward()
    _close(_grads(tw.fd), _grads(tw.th))


def test_use_reentrant_none_warns_as_torch_and_is_reentrant():
    x = fastdl.ones(2, requires_grad=True)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        y = checkpoint(lambda t: t * 2, x)
        z = checkpoint_sequential([lambda t: t * 2, lambda t: t + 1], 2, x)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        tx = torch.ones(2, requires_grad=True)
        tcp.checkpoint(lambda t: t * 2, tx)
        tcp.checkpoint_sequential([lambda t: t * 2, lambda t: t + 1], 2, tx)
    assert [(w.category, str(w.message)) for w in ours] == \
        [(w.category, str(w.message)) for w in theirs]
    assert len(ours) == 2
    assert y.grad_fn.name() == "CheckpointFunctionBackward"
    assert z.grad_fn.next_functions[0][0].name() == "CheckpointFunctionBackward"


def _warning_texts(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return [str(x.message) for x in w], out


@pytest.mark.parametrize("no_grad", [False, True])
def test_reentrant_warns_when_no_input_requires_grad(no_grad):
    results = []
    for L, ck in ((fastdl, checkpoint), (torch, tcp.checkpoint)):
        w = L.ones(3, requires_grad=True)  # a parameter inside does not count (torch's rule)
        ctx = L.no_grad() if no_grad else L.enable_grad()
        with ctx:
            texts, y = _warning_texts(lambda: ck(lambda t: t * w, L.ones(3), use_reentrant=True))
            texts2, y2 = _warning_texts(lambda: ck(lambda t: t * w, L.ones(3),
                                                   use_reentrant=False))
        results.append((texts, y.requires_grad, texts2, y2.requires_grad))
    assert results[0] == results[1]
    assert results[0][0] == ["None of the inputs have requires_grad=True. Gradients will be None"]


def test_reentrant_refuses_grad_and_backward_inputs_as_torch():
    msgs = []
    for L, ck in ((fastdl, checkpoint), (torch, tcp.checkpoint)):
        x = L.ones(3, requires_grad=True)
        for call in (lambda y: L.autograd.grad(y.sum(), x),
                     lambda y: y.sum().backward(inputs=[x])):
            y = ck(lambda t: t.sin(), x, use_reentrant=True)
            with pytest.raises(RuntimeError) as e:
                call(y)
            msgs.append(str(e.value))
    assert msgs[:2] == msgs[2:]
    assert "use_reentrant=True" in msgs[0]


def test_non_reentrant_with_autograd_grad_of_inputs_and_parameters():
    tw = _Twin((4, 5), (6, 5), (6,), (3, 6), (3,))
    got = []
    for L, ck, (x, *params) in ((fastdl, checkpoint, tw.fd), (torch, tcp.checkpoint, tw.th)):
        y = ck(_mlp(L, *params), x, use_reentrant=False)
        gs = L.autograd.grad((y ** 2).sum(), [x, params[0], params[3]])
        got.append([np.asarray(g.detach().numpy()) for g in gs])
        assert all(p.grad is None for p in params)  # nothing accumulated on the side
    _close(*got)


def test_non_reentrant_double_backward_matches_torch():
    tw = _Twin((4,), (4,))
    got = []
    for L, ck, (x, w) in ((fastdl, checkpoint, tw.fd), (torch, tcp.checkpoint, tw.th)):
        y = ck(lambda t: (t ** 3) * w.sin(), x, use_reentrant=False)
        gx, = L.autograd.grad(y.sum(), x, create_graph=True)
        assert gx.requires_grad
        ggx, ggw = L.autograd.grad((gx * gx).sum(), [x, w])
        got.append([np.asarray(g.detach().numpy()) for g in (gx, ggx, ggw)])
    _close(*got)


@pytest.mark.parametrize("outer,inner", [(True, True), (False, False), (True, False),
                                         (False, True)])
def test_nested_checkpoints(outer, inner):
    tw = _Twin((3, 4), (4, 4))
    for L, ck, (x, w) in ((fastdl, checkpoint, tw.fd), (torch, tcp.checkpoint, tw.th)):
        def block(t):
            h = ck(lambda u: (u @ w).tanh(), t, use_reentrant=inner)
            return (h @ w).sin()
        with warnings.catch_warnings():  # an inner reentrant call warns in the outer no_grad
            warnings.simplefilter("ignore")
            y = ck(block, x, use_reentrant=outer)
            (y ** 2).sum().backward()
    _close(_grads(tw.fd), _grads(tw.th))


@BOTH
def test_under_no_grad_just_calls_the_function(reentrant):
    x = fastdl.ones(3, requires_grad=True)
    seen = []

    def fn(t):
        seen.append(fastdl.is_grad_enabled())
        return t * 2

    with fastdl.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = checkpoint(fn, x, use_reentrant=reentrant)
    assert not y.requires_grad and y.grad_fn is None and seen == [False]
    assert y.tolist() == [2.0, 2.0, 2.0]


@BOTH
def test_function_sees_torchs_grad_mode(reentrant):
    seen = []

    def fn(t):
        seen.append(fastdl.is_grad_enabled())
        return t * 2

    y = checkpoint(fn, fastdl.ones(2, requires_grad=True), use_reentrant=reentrant)
    y.sum().backward()
    # torch: the reentrant forward runs under no_grad, the non-reentrant one does not
    assert seen == ([False, True] if reentrant else [True, True])


def _dropout_block(L, w):
    F = L.nn.functional
    return lambda t: F.dropout(F.linear(t, w).relu(), p=0.5, training=True).sum(0)


@BOTH
def test_preserve_rng_state_replays_dropout(reentrant):
    x = fastdl.tensor(rng.standard_normal((64, 32)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((32, 32)), requires_grad=True)
    fastdl.manual_seed(5)
    y = checkpoint(_dropout_block(fastdl, w), x, use_reentrant=reentrant)
    (y * y).sum().backward()
    after_ckpt = fastdl.get_rng_state()
    got = _grads((x, w))
    x.grad = w.grad = None
    fastdl.manual_seed(5)
    y_plain = _dropout_block(fastdl, w)(x)
    (y_plain * y_plain).sum().backward()
    _close(got, _grads((x, w)))
    # the recompute's draws are not taken from the caller's stream
    assert fastdl.equal(after_ckpt, fastdl.get_rng_state())


@BOTH
def test_without_preserve_rng_state_the_recompute_draws_anew(reentrant):
    x = fastdl.tensor(rng.standard_normal((64, 32)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((32, 32)), requires_grad=True)
    fastdl.manual_seed(5)
    y = checkpoint(_dropout_block(fastdl, w), x, use_reentrant=reentrant,
                   preserve_rng_state=False)
    (y * y).sum().backward()
    got = _grads((x, w))
    x.grad = w.grad = None
    fastdl.manual_seed(5)
    y_plain = _dropout_block(fastdl, w)(x)
    (y_plain * y_plain).sum().backward()
    assert not np.allclose(got[1], _grads((x, w))[1])


class _Tracked:
    """Layers that keep a weak reference to every tensor they produce."""

    def __init__(self, L, n, width, seed=1):
        r = np.random.default_rng(seed)
        self.ws = [L.tensor(r.standard_normal((width, width)) / np.sqrt(width),
                            requires_grad=True) for _ in range(n)]
        self.refs = []
        self.L = L

    def layers(self):
        def make(w):
            def layer(t):
                h = self.L.nn.functional.linear(t, w)
                out = self.L.tanh(h)
                if self.L is fastdl:
                    self.refs.extend([weakref.ref(h._data), weakref.ref(out._data)])
                return out
            return layer
        return [make(w) for w in self.ws]


@BOTH
def test_intermediates_are_freed(reentrant):
    net = _Tracked(fastdl, 1, 8)
    x = fastdl.ones(2, 8, dtype=fastdl.float64, requires_grad=True)
    layer = net.layers()[0]

    def fn(t):
        return (layer(t) * 3).sin()

    y = checkpoint(fn, x, use_reentrant=reentrant)
    gc.collect()
    assert [r() for r in net.refs] == [None, None]
    y.sum().backward()
    net.refs.clear()
    y_plain = fn(x)  # the control: a plain call's graph keeps them
    assert all(r() is not None for r in net.refs)
    del y_plain


@BOTH
@pytest.mark.parametrize("segments", [2, 3, 6])
def test_checkpoint_sequential_deep_mlp(reentrant, segments):
    n, width = 12, 16
    ours, theirs = _Tracked(fastdl, n, width), _Tracked(torch, n, width)
    x = fastdl.tensor(np.linspace(-1, 1, 4 * width).reshape(4, width), requires_grad=True)
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    y = checkpoint_sequential(ours.layers(), segments, x, use_reentrant=reentrant)
    ty = tcp.checkpoint_sequential(theirs.layers(), segments, tx, use_reentrant=reentrant)
    gc.collect()
    alive = sum(r() is not None for r in ours.refs)
    # the segments' outputs (kept as the next one's input) and the last segment's activations
    last = n - (n // segments) * (segments - 1)
    assert alive == (segments - 1) + 2 * last
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    _close(_grads([x] + ours.ws), _grads([tx] + theirs.ws))


def test_checkpoint_sequential_takes_an_nn_sequential():
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 7),
                               torch.nn.Tanh(), torch.nn.Linear(7, 2)).double()
    net = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 7), nn.Tanh(),
                        nn.Linear(7, 2)).double()
    with fastdl.no_grad():
        for p, tp in zip(net.parameters(), tnet.parameters()):
            p.copy_(fastdl.tensor(tp.detach().numpy()))
    xa = rng.standard_normal((3, 5))
    checkpoint_sequential(net, 2, fastdl.tensor(xa), use_reentrant=False).sum().backward()
    tcp.checkpoint_sequential(tnet, 2, torch.tensor(xa), use_reentrant=False).sum().backward()
    _close(_grads(list(net.parameters())), _grads(list(tnet.parameters())))
    with pytest.raises(ValueError, match="^Unexpected keyword arguments: foo$"):
        checkpoint_sequential(net, 2, fastdl.tensor(xa), use_reentrant=False, foo=1)


def test_argument_errors_match_torch():
    x = fastdl.ones(2, requires_grad=True)
    tx = torch.ones(2, requires_grad=True)
    cases = [dict(use_reentrant=True, debug=True),
             dict(use_reentrant=True, context_fn=lambda: (None, None)),
             dict(use_reentrant=False, determinism_check="shapes"),
             dict(use_reentrant=False, debug=True, context_fn=lambda: (None, None))]
    for kw in cases:
        with pytest.raises(ValueError) as ours:
            checkpoint(lambda t: t * 2, x, **kw)
        with pytest.raises(ValueError) as theirs:
            tcp.checkpoint(lambda t: t * 2, tx, **kw)
        assert str(ours.value) == str(theirs.value)


def test_context_fn_wraps_forward_and_recompute():
    import contextlib
    log = []

    def ctx(name):
        @contextlib.contextmanager
        def cm():
            log.append(name)
            yield
        return cm()

    for L, ck in ((fastdl, checkpoint), (torch, tcp.checkpoint)):
        x = L.ones(3, requires_grad=True)
        y = ck(lambda t: t.sin() * 2, x, use_reentrant=False,
               context_fn=lambda: (ctx("fwd"), ctx("recompute")))
        y.sum().backward()
    assert log == ["fwd", "recompute"] * 2


def test_determinism_check_catches_a_different_recompute():
    calls = []

    def fn(t):
        calls.append(1)
        return t[: 3 if len(calls) == 1 else 2] * 2

    x = fastdl.ones(4, requires_grad=True)
    y = checkpoint(fn, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match="determinism_check='none'"):
        y.sum().backward()
    assert issubclass(CheckpointError, RuntimeError)


def test_debug_flag_context_manager():
    from fastdl.utils.checkpoint import set_checkpoint_debug_enabled
    calls = []

    def fn(t):
        calls.append(1)
        return t[: 3 if len(calls) == 1 else 2] * 2

    with set_checkpoint_debug_enabled(True):
        y = checkpoint(fn, fastdl.ones(4, requires_grad=True), use_reentrant=False)
    with pytest.raises(CheckpointError, match="recomputed outputs"):
        y.sum().backward()


@BOTH
def test_input_modified_in_place_before_backward_raises(reentrant):
    for L, ck in ((fastdl, checkpoint), (torch, tcp.checkpoint)):
        x = L.ones(3, requires_grad=True)
        h = x * 2
        y = ck(lambda t: t.sin(), h, use_reentrant=reentrant)
        with L.no_grad():
            h.mul_(3)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@BOTH
def test_retain_graph_and_second_backward(reentrant):
    tw = _Twin((4,), (4,))
    for (x, w), ck in ((tw.fd, checkpoint), (tw.th, tcp.checkpoint)):
        y = ck(lambda t: (t * w).exp(), x, use_reentrant=reentrant)
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        with pytest.raises(RuntimeError):
            y.sum().backward()
    _close(_grads(tw.fd), _grads(tw.th))


@BOTH
def test_parameter_hooks_run_once(reentrant):
    w = fastdl.ones(3, requires_grad=True)
    calls = []
    w.register_hook(lambda g: calls.append(g.tolist()))
    y = checkpoint(lambda t: t * w, fastdl.ones(3, requires_grad=True), use_reentrant=reentrant)
    y.sum().backward()
    assert calls == [[1.0, 1.0, 1.0]] and w.grad.tolist() == [1.0, 1.0, 1.0]


@BOTH
def test_autocast_state_is_replayed(reentrant):
    lin = nn.Linear(8, 4)
    x = fastdl.tensor(rng.standard_normal((5, 8)).astype(np.float32), requires_grad=True)
    with fastdl.autocast("cpu"):
        y = checkpoint(lin, x, use_reentrant=reentrant)
    assert y.dtype == fastdl.float16
    y.float().sum().backward()
    got = _grads([x, lin.weight])
    x.grad = lin.weight.grad = lin.bias.grad = None
    with fastdl.autocast("cpu"):
        y_plain = lin(x)
    y_plain.float().sum().backward()
    _close(got, _grads([x, lin.weight]))


def test_reentrant_recompute_without_differentiable_output_raises_as_torch():
    msgs = []
    for L, ck in ((fastdl, checkpoint), (torch, tcp.checkpoint)):
        calls = []

        def fn(t):
            calls.append(1)
            return t * 2 if len(calls) == 1 else t.detach() * 2

        y = ck(fn, L.ones(2, requires_grad=True), use_reentrant=True)
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]
