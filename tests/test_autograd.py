"""The autograd engine: accumulation, graph freeing, errors, autograd.grad, create_graph."""
import numpy as np
import pytest

import fastdl
from fastdl import autograd


def _f64(*shape, seed=0):
    return fastdl.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_gradient_accumulates_across_uses_and_calls():
    x = _f64(3)
    y = x * x + x * 3.0 + x.exp()  # x used three times
    y.sum().backward()
    expected = 2 * x.data + 3 + np.exp(x.data)
    np.testing.assert_allclose(x.grad.data, expected)
    (x * 2.0).sum().backward()  # a second backward adds into .grad
    np.testing.assert_allclose(x.grad.data, expected + 2)


def test_shared_gradient_arrays_are_not_aliased_between_leaves():
    a, b = _f64(4), _f64(4, seed=1)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 3  # what clip_grad_norm_ does in place
    np.testing.assert_allclose(b.grad.data, np.ones(4))
    assert a.grad.data.flags.writeable and b.grad.data.flags.writeable


def test_broadcast_gradients_reduced_to_input_shape():
    x, b = _f64(4, 3), _f64(3, seed=2)
    col = _f64(4, 1, seed=3)
    ((x + b) * col).sum().backward()
    assert b.grad.shape == (3,) and col.grad.shape == (4, 1)
    np.testing.assert_allclose(b.grad.data, col.data.sum() * np.ones(3))
    np.testing.assert_allclose(col.grad.data, (x.data + b.data).sum(1, keepdims=True))


def test_backward_twice_needs_retain_graph():
    x = _f64(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_nonscalar_backward_needs_gradient():
    x = _f64(2, 3)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        y.backward(fastdl.ones(3, 2, dtype=fastdl.float64))
    g = np.arange(6.0).reshape(2, 3)
    y.backward(fastdl.tensor(g))
    np.testing.assert_allclose(x.grad.data, 2 * g)


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        fastdl.ones(3).sum().backward()


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        fastdl.tensor([1, 2, 3], requires_grad=True)
    t = fastdl.tensor([1, 2])
    with pytest.raises(RuntimeError, match="floating point"):
        t.requires_grad = True


def test_no_grad_and_enable_grad_nest_and_decorate():
    x = _f64(2)
    with fastdl.no_grad():
        assert not fastdl.is_grad_enabled()
        with fastdl.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert fastdl.is_grad_enabled()

    @fastdl.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and fastdl.is_grad_enabled()
    with fastdl.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert fastdl.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = _f64(3)
    y = (x * 2).detach() * x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


def test_retain_grad_on_intermediate():
    x = _f64(3)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    np.testing.assert_allclose(x.grad.data, 18 * x.data)


def test_autograd_grad_returns_without_accumulating():
    x, w = _f64(3), _f64(3, seed=1)
    y = (x * w).sum()
    gx, gw = autograd.grad(y, [x, w])
    np.testing.assert_allclose(gx.data, w.data)
    np.testing.assert_allclose(gw.data, x.data)
    assert x.grad is None and w.grad is None


def test_autograd_grad_wrt_intermediate_and_unused():
    x = _f64(3)
    h = x.exp()
    y = (h * 2).sum()
    (gh,) = autograd.grad(y, h, retain_graph=True)
    np.testing.assert_allclose(gh.data, 2 * np.ones(3))
    z = _f64(2, seed=5)
    with pytest.raises(RuntimeError, match="not have been used"):
        autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx.data, 2 * np.exp(x.data))


def test_create_graph_second_derivative():
    x = _f64(4)
    y = (x ** 3).sum()
    (g,) = autograd.grad(y, x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    (h,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)


def test_gradient_penalty_through_mlp_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xs, w1, w2 = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 1))

    def run(lib, tensor):
        x = tensor(xs, requires_grad=True)
        a, b = tensor(w1, requires_grad=True), tensor(w2, requires_grad=True)
        out = ((x @ a).tanh() @ b).sigmoid().sum()
        (gx,) = lib.autograd.grad(out, x, create_graph=True)
        penalty = ((gx * gx).sum(1).sqrt() - 1) ** 2
        penalty.mean().backward()
        return a.grad, b.grad

    fa, fb = run(fastdl, lambda d, requires_grad: fastdl.tensor(d, requires_grad=requires_grad))
    ta, tb = run(torch, lambda d, requires_grad: torch.tensor(d, requires_grad=requires_grad))
    np.testing.assert_allclose(fa.data, ta.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fb.data, tb.numpy(), rtol=1e-9, atol=1e-12)


def test_hessian_vector_product_of_softmax_cross_entropy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits, v = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    target = np.array([1, 4, 0])

    def hvp(lib, tensor):
        z = tensor(logits, requires_grad=True)
        lp = z.log_softmax(1)
        loss = -lp[lib_arange(lib, 3), tensor(target)].mean()
        (g,) = lib.autograd.grad(loss, z, create_graph=True)
        (h,) = lib.autograd.grad((g * tensor(v)).sum(), z)
        return h

    def lib_arange(lib, n):
        return lib.arange(n)

    f = hvp(fastdl, lambda d, requires_grad=False: fastdl.tensor(d, requires_grad=requires_grad))
    t = hvp(torch, lambda d, requires_grad=False: torch.tensor(d, requires_grad=requires_grad))
    np.testing.assert_allclose(f.data, t.numpy(), rtol=1e-9, atol=1e-12)


def test_function_subclass():
    class Cube(autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x * x * x * scale

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x * ctx.scale, None

    x = _f64(3)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data ** 2)
    assert fastdl.testing.gradcheck(lambda t: Cube.apply(t, 0.5), (_f64(2, 2),))


def test_inplace_rules():
    p = fastdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        p.add_(1.0)
    with fastdl.no_grad():
        p.mul_(3.0).add_(fastdl.ones(3), alpha=2)
    np.testing.assert_allclose(p.data, 5 * np.ones(3))
    q = fastdl.zeros(2, 3)
    q.fill_(2.0)
    q.copy_(fastdl.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(q.data, [[1, 2, 3], [1, 2, 3]])
    q.zero_()
    assert not q.data.any()
    h = p * 2
    h.mul_(2)  # in-place on a non-leaf is recorded (torch's semantics)
    h.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), 4 * np.ones(3))
    with pytest.raises(RuntimeError, match="add_"):
        q.add_(fastdl.ones(4))


def test_graph_is_released_after_backward():
    import gc
    import weakref
    x = _f64(100)
    y = (x.exp() * 2).sum()
    node = weakref.ref(y.grad_fn)
    y.backward()
    del y
    gc.collect()
    assert node() is None
