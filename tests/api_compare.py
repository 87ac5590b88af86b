"""Helpers comparing a fastdl function with its torch counterpart on the same fresh inputs:
values, dtypes and shapes of every output, the gradients of a random-weighted sum of the
outputs, and a float64 gradcheck (used by the test_tensor_api_* files)."""
import numpy as np
import torch

import fastdl
from fastdl.testing import gradcheck

TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
                np.dtype(np.int64): torch.int64, np.dtype(np.int32): torch.int32,
                np.dtype(np.bool_): torch.bool}


def as_numpy(x):
    if isinstance(x, fastdl.Tensor):
        return x.detach().numpy()
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def assert_same(ours, theirs, rtol=1e-6, atol=1e-7):
    """Same structure, shapes, dtypes and values (NaN where torch has NaN)."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), (ours, theirs)
        for o, t in zip(ours, theirs):
            assert_same(o, t, rtol, atol)
        return
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, fastdl.Tensor), type(ours)
        assert tuple(ours.shape) == tuple(theirs.shape), (ours.shape, theirs.shape)
        assert TORCH_DTYPES[np.dtype(ours.dtype)] == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(as_numpy(ours).astype(np.float64) if as_numpy(ours).dtype != bool
                               else as_numpy(ours), as_numpy(theirs).astype(np.float64)
                               if as_numpy(theirs).dtype != bool else as_numpy(theirs),
                               rtol=rtol, atol=atol, equal_nan=True)


def pairs(rng, *arrays, requires_grad=False):
    """Each array as a (fastdl, torch) pair of leaves over copies of the same values."""
    out = []
    for a in arrays:
        grad = requires_grad and a.dtype.kind == "f"
        out.append((fastdl.tensor(a.copy(), requires_grad=grad),
                    torch.tensor(a.copy(), requires_grad=grad)))
    return out


def _flat_outputs(out):
    return [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if hasattr(o, "requires_grad") and o.requires_grad]


def check(rng, fn_ours, fn_torch, *arrays, grad=True, rtol=1e-6, atol=1e-7):
    """fn_ours(*fastdl inputs) against fn_torch(*torch inputs); with ``grad`` also the gradients
    of a random-weighted sum of the outputs and a float64 gradcheck of fn_ours."""
    ps = pairs(rng, *arrays, requires_grad=grad)
    ours = fn_ours(*[p[0] for p in ps])
    theirs = fn_torch(*[p[1] for p in ps])
    assert_same(ours, theirs, rtol, atol)
    if not grad:
        return ours
    t_outs = _flat_outputs(theirs)
    f_outs = _flat_outputs(ours)
    assert len(t_outs) == len(f_outs) and t_outs, "both must have differentiable outputs"
    weights = [rng.standard_normal(tuple(o.shape)) for o in t_outs]
    t_loss = sum((o * torch.tensor(w, dtype=o.dtype)).sum() for o, w in zip(t_outs, weights))
    f_loss = sum((o * fastdl.tensor(w.astype(o.dtype))).sum() for o, w in zip(f_outs, weights))
    t_loss.backward()
    f_loss.backward()
    for f_in, t_in in ps:
        if t_in.requires_grad:
            assert_same(f_in.grad if f_in.grad is not None else fastdl.zeros_like(f_in),
                        t_in.grad if t_in.grad is not None else torch.zeros_like(t_in),
                        rtol=1e-5, atol=1e-6)
    if not all(a.size for a in arrays):  # nothing to perturb (gradcheck needs elements)
        return ours
    if not all(torch.isfinite(o).all() for o in t_outs):  # NaN/inf: no finite differences
        return ours
    leaves = [fastdl.tensor(a.astype(np.float64) if a.dtype.kind == "f" else a,
                            requires_grad=a.dtype.kind == "f") for a in arrays]
    assert gradcheck(fn_ours, leaves)
    return ours
