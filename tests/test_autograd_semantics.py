"""Autograd semantics users rely on, each checked against PyTorch: in-place ops that really are
in place (and recorded on non-leaves), version counters, per-thread grad mode, tensor hooks."""
import threading

import numpy as np
import pytest

import fastdl
from fastdl import nn

torch = pytest.importorskip("torch")


def _pair(shape, seed, requires_grad=True):
    a = np.random.default_rng(seed).standard_normal(shape)
    return (fastdl.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy() if hasattr(ours, "detach")
                                          else ours),
                               theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


# ---- in-place ops keep identity ----
def test_handwritten_sgd_step_updates_the_models_parameter():
    fastdl.manual_seed(0)
    model = nn.Linear(3, 2)
    w = model.weight
    before = w.detach().numpy().copy()
    model(fastdl.ones(4, 3)).sum().backward()
    with fastdl.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    assert model.weight is w and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), before - 0.1 * w.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_augmented_assignment_keeps_identity_and_memory(op):
    x = fastdl.tensor(np.arange(1.0, 5.0))
    data, ident = x.data, id(x)
    y = x
    exec(f"y {op} 2.0", {}, {"y": y})  # noqa: S102  (the operator under test)
    ns = {"y": x}
    exec(f"y {op} fastdl.ones(4, dtype=np.float64)", {"fastdl": fastdl, "np": np}, ns)
    assert ns["y"] is x and id(x) == ident and x.data is data


@pytest.mark.parametrize("method,args", [("add_", (1.0,)), ("mul_", (2.0,)), ("zero_", ()),
                                         ("clamp_", (0.0, 1.0)), ("fill_", (3.0,)),
                                         ("sub_", (1.0,)), ("div_", (2.0,))])
def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad(method, args):
    p = fastdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(p, method)(*args)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        p[0] = 5.0
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        p[1:].add_(1.0)
    with fastdl.no_grad():
        getattr(p, method)(*args)
        p[0] = 5.0
    assert p.is_leaf and p.requires_grad


def _inplace_programs(lib, x, w):
    """Programs with in-place writes on non-leaves; written once for both libraries."""
    y = x * 2
    y.add_(w)            # both operands require grad
    y.mul_(x)            # the formula reads the old value of y
    y.clamp_(-1.5, 1.5)
    z = y.sin()
    z.sub_(y, alpha=0.5)
    z[0] = w[1] * 3      # __setitem__ recorded, value requires grad
    z[1, 1:] = 0.0
    z /= 1.5
    v = z[2]             # a view of a non-leaf, modified in place: the base's history changes
    v.mul_(w[0])
    return (z * z).sum()


def test_inplace_on_non_leaves_is_recorded_like_torch():
    xf, xt = _pair((4, 3), 1)
    wf, wt = _pair((4, 3), 2)
    lf, lt = _inplace_programs(fastdl, xf, wf), _inplace_programs(torch, xt, wt)
    _close(lf, lt)
    lf.backward()
    lt.backward()
    _close(xf.grad, xt.grad)
    _close(wf.grad, wt.grad)


def test_inplace_graph_gradchecks_and_gradgradchecks():
    def fn(x, w):
        y = x * 1.0
        y.mul_(w)
        y[0] = x[1] * w[2]
        y[1:].add_(x[:-1])
        return y

    x, w = _pair((3, 2), 3)[0], _pair((3, 2), 4)[0]
    assert fastdl.testing.gradcheck(fn, (x, w))
    assert fastdl.testing.gradgradcheck(fn, (x, w))


def test_inplace_write_from_a_tensor_requiring_grad_makes_a_non_leaf():
    wf, wt = _pair((3,), 5)
    buf_f, buf_t = fastdl.zeros(3, dtype=np.float64), torch.zeros(3, dtype=torch.float64)
    buf_f.add_(wf * 2)
    buf_t.add_(wt * 2)
    assert buf_f.requires_grad and not buf_f.is_leaf
    (buf_f * buf_f).sum().backward()
    (buf_t * buf_t).sum().backward()
    _close(wf.grad, wt.grad)


def test_inplace_result_type_must_fit():
    x = fastdl.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="int64|cast"):
        x += 0.5
    with pytest.raises(RuntimeError):
        x.div_(2)
    x += 1
    assert x.tolist() == [2, 3, 4]


def test_inplace_into_a_broadcast_view_raises_clearly():
    e = fastdl.ones(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="clone"):
        e.add_(1.0)


# ---- version counters ----
@pytest.mark.parametrize("modify", [
    lambda y: y.add_(1.0),
    lambda y: y.mul_(2.0),
    lambda y: y.__setitem__(0, 0.0),
    lambda y: y.view(-1).add_(1.0),     # through a view: the counter is shared
    lambda y: y[0].zero_(),
    lambda y: y.copy_(fastdl.ones(2, 2, dtype=np.float64)),
])
def test_backward_through_a_saved_tensor_modified_in_place_raises(modify):
    x = fastdl.tensor(np.ones((2, 2)), requires_grad=True)
    y = x * 3
    z = y * y          # saves y
    modify(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_a_saved_output_modified_in_place_raises_like_torch():
    for lib in (fastdl, torch):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        y = x.exp()        # exp saves its output
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_version_counter_counts_writes_and_is_shared_with_views():
    x = fastdl.zeros(4)
    v = x[1:]
    assert x._version == 0
    x.add_(1)
    v.mul_(2)
    x[0] = 3.0
    assert x._version == v._version == 3
    d = x.detach()
    d.zero_()
    assert x._version == 4


def test_inplace_that_nothing_saved_does_not_raise():
    x = fastdl.tensor(np.ones(3), requires_grad=True)
    y = x * 2
    z = y + 1          # add saves nothing
    y.add_(5)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.ones(3))


# ---- grad mode is per thread ----
def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside = threading.Event()
    release = threading.Event()
    results = {}

    def evaluator():
        with fastdl.no_grad():
            inside.set()
            release.wait(10)
            results["eval_records"] = (fastdl.ones(2, requires_grad=True) * 2).requires_grad

    t = threading.Thread(target=evaluator)
    t.start()
    inside.wait(10)
    results["main_records"] = (fastdl.ones(2, requires_grad=True) * 2).requires_grad
    release.set()
    t.join()
    assert results == {"eval_records": False, "main_records": True}
    assert fastdl.is_grad_enabled()


def test_two_threads_train_their_own_models_at_once():
    def train(seed, out):
        fastdl.manual_seed(seed)
        model = nn.Linear(4, 1)
        opt = fastdl.optim.SGD(model.parameters(), lr=0.1)
        x = fastdl.tensor(np.random.default_rng(seed).standard_normal((64, 4)).astype(np.float32))
        y = x.sum(1, keepdim=True)
        losses = []
        for _ in range(60):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            with fastdl.no_grad():  # the other thread keeps recording meanwhile
                losses.append(float(loss))
        out[seed] = losses

    out = {}
    threads = [threading.Thread(target=train, args=(s, out)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for losses in out.values():
        assert losses[-1] < 0.05 * losses[0]


def test_a_new_thread_starts_with_grad_enabled():
    seen = []
    with fastdl.no_grad():
        t = threading.Thread(target=lambda: seen.append(fastdl.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


# ---- tensor hooks ----
def test_register_hook_on_leaf_and_non_leaf_like_torch():
    results = []
    for lib in (fastdl, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        seen = []
        h1 = x.register_hook(lambda g: seen.append(("x", g.tolist())))
        y = x * x
        y.register_hook(lambda g: g * 10)            # replaces y's gradient
        y.register_hook(lambda g: seen.append(("y", g.tolist())))
        y.retain_grad()
        (y * 2).sum().backward()
        h1.remove()
        x.grad = None
        (x * 1).sum().backward()                      # removed hook is not called again
        results.append((seen, y.grad.tolist(), x.grad.tolist()))
    assert results[0] == results[1]


def test_hook_gradient_replacement_flows_to_autograd_grad():
    x = fastdl.tensor([1.0, -1.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda g: g + 1)
    (gx,) = fastdl.autograd.grad(y.sum(), x)
    assert gx.tolist() == [6.0, 6.0]


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fastdl.ones(2).register_hook(lambda g: g)


# ---- the op layer itself ----
def test_every_registered_op_has_a_cpu_forward_and_a_backward():
    from fastdl.autograd.op import REGISTRY
    assert len(REGISTRY) > 50
    for name, op in REGISTRY.items():
        assert callable(op.cpu) and callable(op.backward), name


def test_mixing_numpy_and_cupy_arrays_is_one_clear_error():
    from fastdl import backend
    fake_cupy = type("ndarray", (), {"__module__": "cupy._core.core"})()
    with pytest.raises(TypeError, match="same device"):
        backend.device_of_arrays([np.ones(2), fake_cupy], "mul")
    assert backend.device_of_arrays([np.ones(2), np.ones(3)], "mul") == "cpu"


def test_an_op_without_a_cuda_kernel_says_so():
    from fastdl.autograd.op import defop, REGISTRY
    op = defop("test_cpu_only_op", cpu=lambda d: d, backward=lambda ctx, g: (g,))
    try:
        fake_cupy = type("ndarray", (), {"__module__": "cupy._core.core"})()
        with pytest.raises(RuntimeError, match="no CUDA kernel"):
            op.forward_for([fake_cupy])
    finally:
        del REGISTRY["test_cpu_only_op"]


def test_backward_formulas_build_graphs_for_double_backward():
    x = fastdl.tensor([0.3, -0.7, 1.2], requires_grad=True)
    y = (x.exp() * x.sin()).sum()
    (g,) = fastdl.autograd.grad(y, x, create_graph=True)
    (gg,) = fastdl.autograd.grad(g.sum(), x)
    xt = torch.tensor([0.3, -0.7, 1.2], requires_grad=True)
    (gt,) = torch.autograd.grad((xt.exp() * xt.sin()).sum(), xt, create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-6)


class _CupyLikeFlags:
    """cupy's ndarray.flags: c_contiguous, f_contiguous and owndata, no `writeable`."""

    def __init__(self, a):
        self.c_contiguous, self.f_contiguous = a.flags.c_contiguous, a.flags.f_contiguous
        self.owndata = a.flags.owndata


class _CupyLikeArray(np.ndarray):
    @property
    def flags(self):
        return _CupyLikeFlags(np.asarray(self))


def test_leaf_gradients_are_stored_for_arrays_whose_flags_lack_writeable():
    # A GPU-only regression (gpu_check): every backward on cupy tensors raised AttributeError.
    from fastdl.autograd.engine import _store_leaf_grad
    x = fastdl.tensor(np.zeros(3), requires_grad=True)
    g = fastdl.tensor(np.arange(3.0).view(_CupyLikeArray))
    _store_leaf_grad(x, g, False, set())
    np.testing.assert_array_equal(np.asarray(x.grad._data), [0.0, 1.0, 2.0])
    _store_leaf_grad(x, fastdl.tensor(np.ones(3).view(_CupyLikeArray)), False, set())
    np.testing.assert_array_equal(np.asarray(x.grad._data), [1.0, 2.0, 3.0])
