"""A torch module or function and its fastdl twin, compared: conversion of arguments (nested
tensors become fastdl tensors with the same values, dtype and strides), state copying, and the
comparison of outputs, first and second derivatives. Shared by the tests that run PyTorch's own
test databases against fastdl (test_nn_conformance.py, test_common_nn_conformance.py)."""
from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import torch

import fastdl
from fastdl import nn as fnn
from fastdl.nn import functional as F

from opinfo_harness import OVERRIDE_HEADROOM, flatten_outputs, torch_gradients


# torch.testing.assert_close's float32 defaults are (rtol 1.3e-6, atol 1e-5); fastdl computes in
# a different order (its own GEMM, erf, fused backward formulas), so float32 gets a little room.
TOLERANCES = {torch.float32: dict(rtol=2e-5, atol=2e-5),
              torch.float64: dict(rtol=1e-9, atol=1e-10)}


_NP_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64,
              torch.int64: np.int64, torch.int32: np.int32, torch.int16: np.int16,
              torch.int8: np.int8, torch.uint8: np.uint8, torch.bool: np.bool_}


def _array_like(t):
    """A numpy copy of ``t`` (never sharing torch's memory), non-contiguous where ``t`` is."""
    a = t.detach().cpu().resolve_conj().resolve_neg().numpy()
    if t.is_contiguous() or t.numel() <= 1:
        return a.copy()
    holder = np.empty(a.shape + (2,), dtype=a.dtype)
    view = holder[..., 0]  # same values, every stride doubled: a non-contiguous view
    view[...] = a
    return view


def to_fastdl(x, memo=None):
    """fastdl twins of the tensors in ``x`` (nested); a tensor passed twice (a sample with
    input and target the same object) maps to one fastdl tensor, so gradients add up alike."""
    memo = {} if memo is None else memo
    if isinstance(x, torch.Tensor):
        if id(x) not in memo:
            memo[id(x)] = fastdl.Tensor(_array_like(x), requires_grad=x.requires_grad)
        return memo[id(x)]
    if isinstance(x, torch.dtype):
        return np.dtype(_NP_DTYPES[x])
    if isinstance(x, torch.nn.LinearCrossEntropyOptions):  # a dataclass: the same fields
        return fnn.LinearCrossEntropyOptions(**{f.name: to_fastdl(getattr(x, f.name))
                                               for f in dataclasses.fields(x)})
    if callable(x) and x is getattr(torch.nn.functional, getattr(x, "__name__", ""), None):
        return getattr(F, x.__name__)  # an activation passed to a constructor (F.gelu)
    if isinstance(x, tuple):
        return tuple(to_fastdl(v, memo) for v in x)
    if isinstance(x, list):
        return [to_fastdl(v, memo) for v in x]
    if isinstance(x, dict):
        return {k: to_fastdl(v, memo) for k, v in x.items()}
    return x


def fresh_leaves(x, memo=None):
    """``x`` (nested) with every tensor that requires grad replaced by a leaf on the same
    memory and strides. Samples may pass non-leaves (``x.log()``) or views whose autograd
    history is cut; gradients are wanted with respect to the values the op receives."""
    memo = {} if memo is None else memo
    if isinstance(x, torch.Tensor):
        if not x.requires_grad:
            return x
        if id(x) not in memo:
            memo[id(x)] = x.detach().requires_grad_(True)
        return memo[id(x)]
    if isinstance(x, (tuple, list)):
        return type(x)(fresh_leaves(v, memo) for v in x)
    if isinstance(x, dict):
        return {k: fresh_leaves(v, memo) for k, v in x.items()}
    return x


def _numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy(force=True)  # force: torch returns ZeroTensors too
    return np.asarray(x.detach().data)


def _tensors(args, kwargs):
    """Distinct tensors among (possibly nested) args and kwargs, in a fixed order."""
    found = []

    def walk(v):
        if isinstance(v, (torch.Tensor, fastdl.Tensor)):
            if not any(v is seen for seen in found):
                found.append(v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                walk(item)
        elif isinstance(v, dict):
            for key in sorted(v):
                walk(v[key])

    walk(list(args))
    walk(kwargs)
    return found


def _dtype_name(x):
    return str(x.dtype).replace("torch.", "")


def assert_same(fastdl_value, torch_value, dtype, what, tolerance=None, override_needed=None):
    """Same shape, dtype and values. With an override ``tolerance``, ``override_needed(bool)``
    is told whether the default tolerance (with OVERRIDE_HEADROOM) would have been enough."""
    assert isinstance(fastdl_value, fastdl.Tensor), \
        f"{what}: fastdl returned {type(fastdl_value).__name__}, not a Tensor"
    f_arr, t_arr = _numpy(fastdl_value), _numpy(torch_value)
    assert f_arr.shape == t_arr.shape, f"{what}: shape {f_arr.shape} != torch {t_arr.shape}"
    assert _dtype_name(f_arr) == _dtype_name(torch_value), \
        f"{what}: dtype {f_arr.dtype} != torch {torch_value.dtype}"
    if t_arr.dtype.kind == "f":
        np.testing.assert_allclose(f_arr, t_arr, equal_nan=True, err_msg=what,
                                   **(tolerance or TOLERANCES[dtype]))
        if tolerance is not None and override_needed is not None:
            default = TOLERANCES[dtype]
            override_needed(not np.allclose(f_arr, t_arr, equal_nan=True,
                                            rtol=default["rtol"] / OVERRIDE_HEADROOM,
                                            atol=default["atol"] / OVERRIDE_HEADROOM))
    else:
        np.testing.assert_array_equal(f_arr, t_arr, err_msg=what)


def compare_outputs(f_out, t_out, dtype, what, tolerance=None, override_needed=None):
    """assert_same for an output, or for each of a tuple of outputs (a max pool's values and
    indices); returns the (torch, fastdl) output that gradients are taken of: the first."""
    if isinstance(t_out, tuple):
        assert isinstance(f_out, tuple) and len(f_out) == len(t_out), \
            f"{what}: fastdl returned {type(f_out).__name__}, torch a tuple of {len(t_out)}"
        for i, (f, t) in enumerate(zip(f_out, t_out)):
            assert_same(f, t, dtype, f"{what} {i}", tolerance, override_needed)
        return t_out[0], f_out[0]
    assert_same(f_out, t_out, dtype, what, tolerance, override_needed)
    return t_out, f_out


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def compare_weighted_backward(t_out, f_out, pairs, dtype, what, tolerance=None,
                              override_needed=None):
    """Backward of sum(out * w) with the same random w on both sides; compare the gradients of
    ``pairs`` (name, torch leaf, fastdl leaf), except those torch has no derivative for.
    Returns how many gradients were compared."""
    if isinstance(t_out, (tuple, list)):  # several outputs (a recurrent layer's output and
        # states): one weighted sum over the float ones that carry a gradient
        both = [(t, f) for t, f in zip(flatten_outputs(t_out), flatten_outputs(f_out))
                if isinstance(t, torch.Tensor) and t.requires_grad]
        rng = _rng(what)
        ws = [rng.standard_normal(tuple(t.shape)).astype(_NP_DTYPES[t.dtype]) for t, _ in both]
        t_total = sum((t * torch.from_numpy(w)).sum() for (t, _), w in zip(both, ws))
        t_grads = torch_gradients(t_total, [t for _, t, _ in pairs])
        sum(((f * fastdl.Tensor(w.copy())).sum() for (_, f), w in zip(both, ws))).backward()
        return _compare_leaf_grads(pairs, t_grads, dtype, what, tolerance, override_needed)
    w = _rng(what).standard_normal(tuple(t_out.shape)).astype(_NP_DTYPES[t_out.dtype])
    t_grads = torch_gradients((t_out * torch.from_numpy(w)).sum(), [t for _, t, _ in pairs])
    (f_out * fastdl.Tensor(w.copy())).sum().backward()
    return _compare_leaf_grads(pairs, t_grads, dtype, what, tolerance, override_needed)


def _compare_leaf_grads(pairs, t_grads, dtype, what, tolerance, override_needed):
    compared = 0
    for (name, _, f_leaf), t_grad in zip(pairs, t_grads):
        if t_grad is NotImplemented:
            continue
        f_grad = f_leaf.grad
        if t_grad is None:
            assert f_grad is None or not np.any(_numpy(f_grad)), \
                f"{what}: fastdl has a nonzero gradient for {name}, torch has none"
            continue
        assert f_grad is not None, f"{what}: no fastdl gradient for {name}"
        assert_same(f_grad, t_grad, dtype, f"{what}: gradient of {name}", tolerance,
                    override_needed)
        compared += 1
    return compared


def load_torch_state(t_module, f_module, what):
    """fastdl's state_dict must have torch's keys, shapes and dtypes; then torch's values are
    copied in (numpy copies: the twins share no memory)."""
    t_state, f_state = t_module.state_dict(), f_module.state_dict()
    assert list(f_state) == list(t_state), \
        f"{what}: state_dict keys {list(f_state)} != torch {list(t_state)}"
    for key, value in t_state.items():
        f_value = f_state[key]
        assert tuple(f_value.shape) == tuple(value.shape) and \
            _dtype_name(_numpy(f_value)) == _dtype_name(value), \
            f"{what}: {key} is {tuple(f_value.shape)}:{f_value.dtype}, torch " \
            f"{tuple(value.shape)}:{value.dtype}"
    f_module.load_state_dict({k: _array_like(v) for k, v in t_state.items()})


def compare_module_forward(t_module, f_module, t_args, t_kwargs, dtype, what):
    f_args, f_kwargs = to_fastdl((t_args, t_kwargs))
    t_out = t_module(*t_args, **t_kwargs)
    f_out = f_module(*f_args, **f_kwargs)
    if isinstance(t_out, (tuple, list)):  # several outputs, nested (LSTM: out, (h_n, c_n);
        # MultiheadAttention: output, weights or None; pools: values, indices)
        t_flat, f_flat = flatten_outputs(t_out), flatten_outputs(f_out)
        assert len(f_flat) == len(t_flat), \
            f"{what}: fastdl returned {len(f_flat)} outputs, torch {len(t_flat)}"
        for i, (f, t) in enumerate(zip(f_flat, t_flat)):
            if t is None:
                assert f is None, f"{what}: output {i} is not None as torch's"
            else:
                assert_same(f, t, dtype, f"{what}: output {i}")
    else:
        assert_same(f_out, t_out, dtype, f"{what}: output")
    f_state = f_module.state_dict()
    for key, value in t_module.state_dict().items():
        assert_same(f_state[key], value, dtype, f"{what}: {key} after forward")
    return t_out, f_out, f_args, f_kwargs


def _second_order(grad_fn, out, leaves, w, v):
    """Gradients of sum(grad(sum(out * w)) * v) with respect to ``leaves``: a Hessian-vector
    product through the first backward (recorded with create_graph=True)."""
    firsts = grad_fn(out, leaves, w, create=True)
    total = None
    for first, v_i in zip(firsts, v):
        if first is None or first is NotImplemented or not first.requires_grad:
            continue  # that gradient does not depend on the inputs: no second-order term
        term = (first * v_i).sum()
        total = term if total is None else total + term
    if total is None:
        return [None] * len(leaves)
    return grad_fn(total, leaves, None, create=False)


def _torch_grad(out, leaves, w, create):
    """Where torch has no derivative for an input, its entry is NotImplemented."""
    outs = (out * w).sum() if w is not None else out
    return torch_gradients(outs, leaves, create_graph=create)


def _fastdl_grad(out, leaves, w, create):
    outs = (out * w).sum() if w is not None else out
    return fastdl.autograd.grad(outs, leaves, create_graph=create, allow_unused=True)


def compare_hessian_vector(t_out, f_out, t_leaves, f_leaves, what, zero_expected=False):
    """Compare (float64) the second-order gradients of the twins' outputs with respect to their
    leaves, a Hessian-vector product with the same random vectors on both sides; returns how
    many were compared. ``zero_expected``: the output is (piecewise) linear in the leaves, and
    torch's second-order gradients must be None or zero (else the caller's claim is stale)."""
    compared = 0
    rng = _rng(what)
    w = rng.standard_normal(tuple(t_out.shape))
    v = [rng.standard_normal(tuple(t.shape)) for t in t_leaves]
    t_second = _second_order(_torch_grad, t_out, t_leaves, torch.from_numpy(w),
                             [torch.from_numpy(a) for a in v])
    f_second = _second_order(_fastdl_grad, f_out, f_leaves, fastdl.Tensor(w),
                             [fastdl.Tensor(a) for a in v])
    for j, (t_g, f_g) in enumerate(zip(t_second, f_second)):
        if t_g is NotImplemented:
            continue  # torch has no derivative for this input
        assert not (zero_expected and t_g is not None and torch.any(t_g)), \
            f"{what}: torch's second-order gradient {j} is nonzero; remove the " \
            "ZERO_SECOND_DERIVATIVE entry"
        if t_g is None or f_g is None:
            other = f_g if t_g is None else t_g
            assert other is None or not np.any(_numpy(other)), \
                f"{what}: second-order gradient {j} is None on one side only"
            continue
        assert_same(f_g, t_g, torch.float64, f"{what}: second-order gradient {j}")
        compared += 1
    return compared
