"""The norm family's kernels (_C.batch_norm_*, layer_norm_*, relu_*, sgd_update) against numpy and torch
references: float32 and float64, odd sizes, 1 and 2 threads, argument checks. Also run under
AddressSanitizer by .ci/sanitize.sh."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import _C


@pytest.fixture
def two_threads():
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(2)
    yield
    fastdl.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
# planes below 128 (forward) / 512 (backward) values take the small-plane path (blocks of whole
# channels, several blocks from (17, 300, 3, 3) on; (40, 130, 5, 7) has enough elements for 2
# threads there; (5, 70, 16, 16): backward small, forward per channel); the last shape has 2.2M
# elements, so 2 threads split its channels
@pytest.mark.parametrize("shape", [(3, 5, 7, 9), (2, 3), (17, 300, 3, 3), (40, 130, 5, 7),
                                   (5, 70, 16, 16), (1, 9, 1, 127), (4, 8, 263, 257)])
def test_batch_norm_kernels_match_numpy(dtype, threads, shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    c = shape[1]
    w, b = rng.uniform(0.5, 1.5, c).astype(dtype), rng.standard_normal(c).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    axes = (0,) + tuple(range(2, len(shape)))
    view = (1, c) + (1,) * (len(shape) - 2)
    mean = x.astype(np.float64).mean(axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axes, keepdims=True)
    xhat = (x - mean) / np.sqrt(var + 1e-5)
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(threads)
    try:
        out, m, v, s = np.empty_like(x), *(np.empty(c, dtype) for _ in range(3))
        _C.batch_norm_forward_train(x, w, b, out, m, v, s, 1e-5)
        gx, sg, sgx = np.empty_like(x), np.empty(c, dtype), np.empty(c, dtype)
        _C.batch_norm_backward_train(g, x, m, s, w, gx, sg, sgx)
    finally:
        fastdl.set_num_threads(before)
    # float32 against a float64 reference; two values per channel (shape (2, 3)) make the
    # gradient ill-conditioned, hence the absolute tolerance
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out, xhat * w.reshape(view) + b.reshape(view), **tol)
    np.testing.assert_allclose(m, mean.ravel(), **tol)
    np.testing.assert_allclose(v, var.ravel(), **tol)
    dy = g * w.reshape(view)
    ref = (dy - dy.mean(axes, keepdims=True) - xhat * (dy * xhat).mean(axes, keepdims=True)) \
        / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(gx, ref, **tol)
    np.testing.assert_allclose(sg, g.sum(axes), **tol)
    np.testing.assert_allclose(sgx, (g * xhat).sum(axes), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2, 3])
# (1, 1): one value per row (xhat 0, gradient 0); the last shape has 2.1M elements, so 2 and 3
# threads split its rows
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (3, 4, 17), (1, 33), (4097, 513)])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_layer_norm_kernels_match_numpy(dtype, threads, shape, affine):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    n = shape[-1]
    w = rng.uniform(0.5, 1.5, n).astype(dtype) if affine in ("both", "weight") else None
    b = rng.standard_normal(n).astype(dtype) if affine in ("both", "bias") else None
    g = rng.standard_normal(shape).astype(dtype)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    mean = x64.mean(-1, keepdims=True)
    invstd = 1 / np.sqrt(((x64 - mean) ** 2).mean(-1, keepdims=True) + 1e-5)
    xhat = (x64 - mean) * invstd
    rows = x.size // n
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(threads)
    try:
        out, m, s = np.empty_like(x), np.empty(rows, dtype), np.empty(rows, dtype)
        _C.layer_norm_forward(x, w, b, out, m, s, 1e-5)
        gx, gw, gb = np.empty_like(x), np.empty(n, dtype), np.empty(n, dtype)
        _C.layer_norm_backward(g, x, m, s, w, gx, gw, gb)
        gx_only = np.empty_like(x)
        _C.layer_norm_backward(g, x, m, s, w, gx_only, None, None)
        gw_only = np.empty(n, dtype)
        _C.layer_norm_backward(g, x, m, s, w, None, gw_only, None)
    finally:
        fastdl.set_num_threads(before)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    ref = xhat * (1 if w is None else w) + (0 if b is None else b)
    np.testing.assert_allclose(out, ref, **tol)
    np.testing.assert_allclose(m, mean.ravel(), **tol)
    np.testing.assert_allclose(s, invstd.ravel(), rtol=tol["rtol"])
    dy = g64 * (1 if w is None else w)
    ref_gx = (dy - dy.mean(-1, keepdims=True)
              - xhat * (dy * xhat).mean(-1, keepdims=True)) * invstd
    np.testing.assert_allclose(gx, ref_gx, **tol)
    np.testing.assert_array_equal(gx_only, gx)
    col = tuple(range(len(shape) - 1))
    sum_tol = dict(rtol=tol["rtol"], atol=tol["atol"] * np.sqrt(rows))
    np.testing.assert_allclose(gw, (g64 * xhat).sum(col), **sum_tol)
    np.testing.assert_allclose(gb, g64.sum(col), **sum_tol)
    np.testing.assert_array_equal(gw_only, gw)


def test_layer_norm_kernels_are_deterministic_across_threads():
    rng = np.random.default_rng(2)
    x, g = (rng.standard_normal((3001, 257)).astype(np.float32) for _ in range(2))
    results = []
    for threads in (1, 2, 3):
        fastdl.set_num_threads(threads)
        m, s = np.empty(3001, np.float32), np.empty(3001, np.float32)
        out, gx = np.empty_like(x), np.empty_like(x)
        gw, gb = np.empty(257, np.float32), np.empty(257, np.float32)
        _C.layer_norm_forward(x, None, None, out, m, s, 1e-5)
        _C.layer_norm_backward(g, x, m, s, None, gx, gw, gb)
        results.append((out, gx, gw, gb))
    fastdl.set_num_threads(1)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape,normalized", [((1, 1, 384), (384,)), ((2, 3, 5, 7), (5, 7)),
                                              ((4, 1), (1,))])
def test_layer_norm_without_a_gradient_gives_the_recorded_paths_bits(affine, shape, normalized):
    """F.layer_norm calls the kernel directly when no node is recorded (a decoding step): the
    same bits as the recorded path, and no history."""
    from fastdl.nn import functional as F
    rng = np.random.default_rng(4)
    x = fastdl.tensor(rng.standard_normal(shape).astype(np.float32))
    w = None if affine == "none" else fastdl.tensor(
        rng.standard_normal(normalized).astype(np.float32), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(normalized).astype(np.float32),
                      requires_grad=True) if affine == "both" else None
    recorded = F.layer_norm(x, normalized, w, b, 1e-3)
    with fastdl.no_grad():
        direct = F.layer_norm(x, normalized, w, b, 1e-3)
    assert direct.grad_fn is None and not direct.requires_grad
    assert (recorded.grad_fn is not None) == (affine != "none")
    np.testing.assert_array_equal(direct.numpy(), recorded.detach().numpy())


def test_layer_norm_kernels_check_their_arguments():
    x = np.ones((2, 3, 4), np.float32)
    r = np.empty(6, np.float32)
    with pytest.raises(ValueError, match=r"mean must have shape \(6,\)"):
        _C.layer_norm_forward(x, None, None, np.empty_like(x), np.empty(4, np.float32), r, 1e-5)
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        _C.layer_norm_forward(x, np.ones(3, np.float32), None, np.empty_like(x), r, r.copy(), 0.1)
    with pytest.raises(TypeError, match="same dtype"):
        _C.layer_norm_forward(x, None, None, np.empty(x.shape), r, r.copy(), 1e-5)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.layer_norm_forward(x[:, :, ::2], None, None, np.empty((2, 3, 2), np.float32), r,
                              r.copy(), 1e-5)
    with pytest.raises(ValueError, match="overlaps"):
        _C.layer_norm_forward(x, None, None, x, r, r.copy(), 1e-5)
    with pytest.raises(ValueError, match="overlaps"):
        _C.layer_norm_forward(x, None, None, np.empty_like(x), r, r, 1e-5)
    g = np.ones_like(x)
    with pytest.raises(ValueError, match="grad has shape"):
        _C.layer_norm_backward(np.ones((2, 4), np.float32), x, r, r.copy(), None, None,
                               np.empty(4, np.float32), None)
    with pytest.raises(ValueError, match="overlaps"):
        _C.layer_norm_backward(g, x, r, r.copy(), None, g, None, None)
    with pytest.raises(ValueError, match=r"grad_b must have shape \(4,\)"):
        _C.layer_norm_backward(g, x, r, r.copy(), None, None, None, np.empty(3, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("count", [1, 17, 65537, 300007])
def test_gelu_tanh_kernels_match_numpy(dtype, threads, count):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(count) * 4).astype(dtype)
    x[:3] = [0.0, -30.0, 30.0][:count] if count >= 3 else x[:3]
    g = rng.standard_normal(count).astype(dtype)
    x64 = x.astype(np.float64)
    k, c = np.sqrt(2 / np.pi), 0.044715
    t_ref = np.tanh(k * (x64 + c * x64 ** 3))
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(threads)
    try:
        out, t = np.empty_like(x), np.empty_like(x)
        _C.gelu_tanh_forward(x, out, t)
        gi = np.empty_like(x)
        _C.gelu_tanh_backward(g, x, t, gi)
        in_place = g.copy()
        _C.gelu_tanh_backward(in_place, x, t, in_place)
    finally:
        fastdl.set_num_threads(before)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(t, t_ref, **tol)
    np.testing.assert_allclose(out, 0.5 * x64 * (1 + t_ref), **tol)
    ref = g * (0.5 * (1 + t_ref) + 0.5 * x64 * (1 - t_ref ** 2) * k * (1 + 3 * c * x64 ** 2))
    np.testing.assert_allclose(gi, ref, **tol)
    np.testing.assert_array_equal(in_place, gi)
    nan = np.array([np.nan, 1.0], dtype)
    o, tt = np.empty_like(nan), np.empty_like(nan)
    _C.gelu_tanh_forward(nan, o, tt)
    assert np.isnan(o[0]) and not np.isnan(o[1])


def test_gelu_tanh_kernels_check_their_arguments():
    x = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="out has shape"):
        _C.gelu_tanh_forward(x, np.empty(20, np.float32), np.empty_like(x))
    with pytest.raises(ValueError, match="overlaps"):
        _C.gelu_tanh_forward(x, np.empty_like(x), x)
    with pytest.raises(TypeError, match="same dtype"):
        _C.gelu_tanh_backward(x, x, np.empty(x.shape), np.empty_like(x))
    with pytest.raises(ValueError, match="overlaps"):
        _C.gelu_tanh_backward(np.ones_like(x), x, np.ones_like(x), x)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.gelu_tanh_forward(x[:, ::2], np.empty((4, 3), np.float32), np.empty((4, 3), np.float32))


def test_norm_kernels_check_their_arguments():
    x = np.ones((2, 3, 4), np.float32)
    c = np.empty(3, np.float32)
    with pytest.raises(TypeError, match="same dtype"):
        _C.batch_norm_forward_train(x, None, None, np.empty_like(x), c, c.copy(),
                                    np.empty(3, np.float64), 1e-5)
    with pytest.raises(ValueError, match=r"mean must have shape \(3,\)"):
        _C.batch_norm_forward_train(x, None, None, np.empty_like(x), np.empty(4, np.float32),
                                    c, c.copy(), 1e-5)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.relu_forward(x[:, :, ::2], np.empty((2, 3, 2), np.float32))
    with pytest.raises(ValueError, match="overlaps"):
        _C.batch_norm_forward_train(x, None, None, x, c, c.copy(), c.copy(), 1e-5)
    p = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="grad has shape"):
        _C.sgd_update(p, np.ones(4, np.float32), None, 0.1, 0.0, 0.0, 0.0, False, False, False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_sgd_kernels(dtype, two_threads):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(2_300_001).astype(dtype)  # 2 threads, several chunks each
    x[:3] = [np.nan, 0.0, -0.0]
    out = np.empty_like(x)
    _C.relu_forward(x, out)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    g = rng.standard_normal(x.shape).astype(dtype)
    gi = np.empty_like(x)
    _C.relu_backward(g, out, gi)
    np.testing.assert_array_equal(gi, np.where(out <= 0, 0, g))
    # the fused SGD update on 2 threads against torch's formula written out in numpy
    p, buf = x[3:].copy(), np.empty_like(x[3:])
    grads = [g[3:], out[3:]]
    ref_p, ref_buf = p.astype(np.float64), None
    for i, grad in enumerate(grads):
        _C.sgd_update(p, grad, buf, 0.1, 0.9, 0.0, 0.01, True, False, i == 0)
        d = grad + 0.01 * ref_p
        ref_buf = d if ref_buf is None else 0.9 * ref_buf + d
        ref_p = ref_p - 0.1 * (d + 0.9 * ref_buf)
    np.testing.assert_allclose(p, ref_p, rtol=1e-5, atol=1e-6)
    # the plain-momentum loop (blocks of 2048) and the no-buffer loop, on 2 threads too
    p, buf = x[3:].copy(), np.empty_like(x[3:])
    ref_p, ref_buf = p.astype(np.float64), None
    for i, grad in enumerate(grads + [g[3:]]):
        _C.sgd_update(p, grad, buf, 0.1, 0.9, 0.25, 0.01, False, False, i == 0)
        d = grad + 0.01 * ref_p
        ref_buf = d if ref_buf is None else 0.9 * ref_buf + 0.75 * d
        ref_p = ref_p - 0.1 * ref_buf
    np.testing.assert_allclose(p, ref_p, rtol=1e-5, atol=1e-6)
    p = x[3:].copy()
    _C.sgd_update(p, g[3:], None, 0.1, 0.0, 0.0, 0.01, False, True, False)  # maximize
    np.testing.assert_allclose(p, x[3:] - 0.1 * (-g[3:] + 0.01 * x[3:]), rtol=1e-5, atol=1e-6)
    torch = pytest.importorskip("torch")
    for kw in (dict(momentum=0.9, nesterov=True, weight_decay=0.01),
               dict(momentum=0.5, dampening=0.3, maximize=True), dict(weight_decay=0.1)):
        p0 = rng.standard_normal(1000).astype(dtype)
        tp = torch.tensor(p0.copy(), requires_grad=True)
        fp = fastdl.nn.Parameter(p0.copy())
        t_opt = torch.optim.SGD([tp], lr=0.1, **kw)
        f_opt = fastdl.optim.SGD([fp], lr=0.1, **kw)
        for _ in range(3):
            grad = rng.standard_normal(1000).astype(dtype)
            tp.grad = torch.tensor(grad)
            fp.grad = fastdl.tensor(grad.copy())
            t_opt.step()
            f_opt.step()
        np.testing.assert_allclose(fp.detach().numpy(), tp.detach().numpy(), rtol=1e-6,
                                   atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled,maximize,amsgrad,weight_decay,beta1", [
    (False, False, False, 0.0, 0.9), (True, False, False, 0.01, 0.9),
    (False, True, True, 0.05, 0.9), (True, True, True, 0.1, 0.3)])  # beta1 0.3: lerp's other side
def test_adam_kernel_matches_the_formula(dtype, decoupled, maximize, amsgrad, weight_decay, beta1,
                                         two_threads):
    """_C.adam_update on 2 threads (several chunks each) over 3 steps against torch's Adam/AdamW
    update written out in float64."""
    rng = np.random.default_rng(4)
    n = 300_007
    p = rng.standard_normal(n).astype(dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    vmax = np.zeros_like(p) if amsgrad else None
    rp, rm, rv, rvmax = p.astype(np.float64), np.zeros(n), np.zeros(n), np.zeros(n)
    lr, beta2, eps = 0.01, 0.99, 1e-6
    for step in range(1, 4):
        grad = rng.standard_normal(n).astype(dtype)
        bc1, bc2s = 1 - beta1 ** step, np.sqrt(1 - beta2 ** step)
        _C.adam_update(p, grad, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled,
                       maximize, lr / bc1, bc2s)
        g = -grad.astype(np.float64) if maximize else grad.astype(np.float64)
        if decoupled:
            rp *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * rp
        rm += (1 - beta1) * (g - rm)
        rv = beta2 * rv + (1 - beta2) * g * g
        rvmax = np.maximum(rvmax, rv)
        rp -= lr / bc1 * rm / (np.sqrt(rvmax if amsgrad else rv) / bc2s + eps)
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p, rp, **tol)
    np.testing.assert_allclose(m, rm, **tol)
    np.testing.assert_allclose(v, rv, **tol)
    if amsgrad:
        np.testing.assert_allclose(vmax, rvmax, **tol)


def test_adam_kernel_checks_its_arguments():
    p = np.ones(6, np.float32)
    with pytest.raises(ValueError, match="exp_avg has shape"):
        _C.adam_update(p, p.copy(), np.zeros(5, np.float32), np.zeros_like(p), None, 0.1, 0.9,
                       0.99, 1e-8, 0.0, True, False, 0.1, 1.0)
    with pytest.raises(ValueError, match="overlaps"):
        _C.adam_update(p, p.copy(), p, np.zeros_like(p), None, 0.1, 0.9, 0.99, 1e-8, 0.0, True,
                       False, 0.1, 1.0)
    with pytest.raises(TypeError, match="same dtype"):
        _C.adam_update(p, p.copy(), np.zeros(6), np.zeros_like(p), None, 0.1, 0.9, 0.99, 1e-8,
                       0.0, True, False, 0.1, 1.0)
