"""``check_op``: run one function in fastdl and in PyTorch (the oracle) on the same fresh random
inputs and compare the outputs AND the gradients (after tinygrad's ``helper_test_op``).

    check_op([(3, 4), (4,)], lambda a, b: a * b + 1)                 # same code for both
    check_op([(2, 5)], lambda x: torch.cat([x, x], 1), lambda x: fastdl.cat([x, x], 1))

Inputs are float64 draws from ``low..high`` (seeded), cast to ``dtype`` for both libraries; the
backward pass uses a random upstream gradient so every output element is weighted differently.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastdl

_TOL = {np.float32: (1e-5, 1e-4), np.float64: (1e-10, 1e-8)}


def _to_numpy(x):
    if hasattr(x, "detach") and hasattr(x, "cpu") and not isinstance(x, fastdl.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, fastdl.Tensor):
        return np.asarray(x.detach().data)
    return np.asarray(x)


def _flatten(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check_op(shapes, torch_fn, fastdl_fn=None, *, dtype=np.float32, low=-2.0, high=2.0,
             vals=None, grad=True, atol=None, rtol=None, grad_atol=None, grad_rtol=None, seed=0,
             forward_only_outputs=()):
    """Compare ``fastdl_fn`` (default: ``torch_fn`` itself) against torch on random inputs.

    ``vals`` overrides the random inputs with given arrays. Outputs listed (by position) in
    ``forward_only_outputs`` are compared but not differentiated (e.g. argmax indices).
    Returns the fastdl outputs for further checks.
    """
    torch = pytest.importorskip("torch")
    fastdl_fn = fastdl_fn or torch_fn
    rng = np.random.default_rng(seed)
    if vals is None:
        vals = [rng.uniform(low, high, size=s) for s in shapes]
    arrays = [np.asarray(v).astype(dtype) if np.asarray(v).dtype.kind == "f" else np.asarray(v)
              for v in vals]
    differentiable = [a.dtype.kind == "f" and grad for a in arrays]
    t_in = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, differentiable)]
    f_in = [fastdl.tensor(a.copy(), requires_grad=d) for a, d in zip(arrays, differentiable)]

    t_out = _flatten(torch_fn(*t_in))
    f_out = _flatten(fastdl_fn(*f_in))
    assert len(t_out) == len(f_out), f"{len(f_out)} outputs from fastdl, {len(t_out)} from torch"
    a_tol, r_tol = _TOL.get(np.dtype(dtype).type, (1e-5, 1e-4))
    atol = a_tol if atol is None else atol
    rtol = r_tol if rtol is None else rtol
    for i, (t, f) in enumerate(zip(t_out, f_out)):
        assert isinstance(f, fastdl.Tensor), f"output {i} is {type(f).__name__}, not a Tensor"
        tn, fn = _to_numpy(t), _to_numpy(f)
        assert fn.shape == tn.shape, f"output {i}: shape {fn.shape} != torch {tn.shape}"
        assert str(fn.dtype) == str(tn.dtype).replace("torch.", ""), \
            f"output {i}: dtype {fn.dtype} != torch {tn.dtype}"
        np.testing.assert_allclose(fn, tn, atol=atol, rtol=rtol, err_msg=f"output {i} (forward)")

    if not any(differentiable):
        return f_out
    pairs = [(t, f) for i, (t, f) in enumerate(zip(t_out, f_out))
             if i not in forward_only_outputs and t.requires_grad]
    if not pairs:
        return f_out
    t_total, f_total = 0, None
    for t, f in pairs:
        w = rng.standard_normal(tuple(t.shape)).astype(dtype)
        t_total = t_total + (t * torch.tensor(w)).sum()
        term = (f * fastdl.tensor(w)).sum()
        f_total = term if f_total is None else f_total + term
    t_total.backward()
    f_total.backward()
    g_atol = atol * 10 if grad_atol is None else grad_atol
    g_rtol = rtol * 10 if grad_rtol is None else grad_rtol
    for i, (t, f) in enumerate(zip(t_in, f_in)):
        if not differentiable[i]:
            continue
        if t.grad is None:
            assert f.grad is None or not np.any(f.grad.data), f"input {i}: fastdl has a grad, torch none"
            continue
        assert f.grad is not None, f"input {i}: torch has a gradient, fastdl none"
        assert f.grad.shape == tuple(t.grad.shape), \
            f"input {i}: grad shape {f.grad.shape} != torch {tuple(t.grad.shape)}"
        assert f.grad.dtype == f.dtype, f"input {i}: grad dtype {f.grad.dtype} != {f.dtype}"
        np.testing.assert_allclose(f.grad.data, t.grad.numpy(), atol=g_atol, rtol=g_rtol,
                                   err_msg=f"input {i} (gradient)")
    return f_out


@pytest.fixture
def one_thread():
    """Run a test at one thread and put the count back: tiny kernels only wait for a second
    thread on a busy 2-core host (an 8x4x6x4 attention call: ~50 ms at 2 threads, 0.07 ms at 1)."""
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(1)
    yield
    fastdl.set_num_threads(before)
