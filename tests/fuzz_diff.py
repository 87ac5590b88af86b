"""Differential runner for the CNN-layer fuzzer: one case is ``build(lib)`` (lib is torch or
fastdl) returning a module or a function, plus input shapes. Both libraries get the same values
(module parameters and buffers copied from torch); outputs, index outputs, input and parameter
gradients and updated buffers must agree, and an error in torch must be an error of the same
type in fastdl."""
from __future__ import annotations

import numpy as np

import fastdl

torch = __import__("pytest").importorskip("torch")

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-10)}


def _np(t):
    if isinstance(t, fastdl.Tensor):
        return np.asarray(t.detach().data)
    return t.detach().numpy()


def _layout(lib, a, layout, grad):
    """A leaf tensor with a's values in the given memory layout (the kernels see the strides)."""
    if lib is torch:
        t = torch.tensor(a)
        if layout == "channels_last" and a.ndim in (4, 5):
            fmt = torch.channels_last if a.ndim == 4 else torch.channels_last_3d
            t = t.contiguous(memory_format=fmt)
        elif layout == "strided":
            holder = torch.zeros(a.shape + (2,), dtype=t.dtype)
            holder[..., 1] = t
            t = holder[..., 1]
        return t.requires_grad_(grad)
    if layout == "channels_last" and a.ndim in (4, 5):
        perm = (0,) + tuple(range(2, a.ndim)) + (1,)
        a = np.ascontiguousarray(a.transpose(perm)).transpose(np.argsort(perm))
    elif layout == "strided":
        holder = np.zeros(a.shape + (2,), a.dtype)
        holder[..., 1] = a
        a = holder[..., 1]
    return fastdl.Tensor(a, requires_grad=grad)


def _call(lib, build, arrays, layout, grad_mask, train, state):
    if lib is torch:  # fixed initial parameters (fastdl gets a copy), torch's RNG left alone
        with torch.random.fork_rng():
            torch.manual_seed(12345)
            obj = call = build(lib)
    else:
        obj = call = build(lib)
    if isinstance(obj, tuple):  # (module whose parameters count, the call to make)
        obj, call = obj
    if isinstance(obj, (torch.nn.Module, fastdl.nn.Module)):
        if arrays[0].dtype == np.float64:
            obj.double()
        if lib is torch:
            state.update({k: v.detach().numpy().copy() for k, v in obj.state_dict().items()})
        else:
            obj.load_state_dict({k: fastdl.tensor(v.copy()) for k, v in state.items()})
        obj.train(train)
    ins = [_layout(lib, a, layout, g) if a.dtype.kind == "f" else
           (torch.tensor(a) if lib is torch else fastdl.tensor(a))
           for a, g in zip(arrays, grad_mask)]
    out = call(*ins)
    return obj, ins, out


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _torch_numbers(build, arrays, layout, grad_mask, train, seed):
    """torch's outputs and gradients (of the same weighted sum as ``run``'s) as arrays."""
    obj, ins, out = _call(torch, build, arrays, layout, grad_mask, train, {})
    outs = [t for t in _flat(out) if t.dtype.is_floating_point]
    rng = np.random.default_rng(seed)
    live = [t for t in outs if t.requires_grad and t.numel()]
    if live:
        sum((t * torch.tensor(rng.standard_normal(tuple(t.shape)).astype(_np(t).dtype))).sum()
            for t in live).backward()
    leaves = [t for t in ins if t.requires_grad]
    if isinstance(obj, torch.nn.Module):
        leaves += list(obj.parameters())
    return [_np(t) for t in outs] + [_np(t.grad) for t in leaves if t.grad is not None]


def _torch_layouts_agree(build, arrays, layout, grad_mask, train, seed, tol):
    """False where torch's kernel for this memory layout disagrees with its contiguous one
    (seen: channels-last 3-D max pooling with dilation, NaN outputs and wrong indices)."""
    try:
        ref = _torch_numbers(build, arrays, "contiguous", grad_mask, train, seed)
        got = _torch_numbers(build, arrays, layout, grad_mask, train, seed)
    except Exception:  # noqa: BLE001 - run() compares the errors
        return True
    return len(ref) == len(got) and all(
        a.shape == b.shape and np.allclose(a, b, equal_nan=True, **tol) for a, b in zip(ref, got))


def run(build, arrays, *, layout="contiguous", grad=True, train=True, seed=0, check_grad=True,
        tol=None):
    """Compare fastdl with torch on ``build``; returns a short tag of what happened."""
    grad_mask = [grad and a.dtype.kind == "f" for a in arrays]
    tol = tol or TOL.get(arrays[0].dtype.type, TOL[np.float32])
    if layout != "contiguous" and not _torch_layouts_agree(build, arrays, layout, grad_mask,
                                                           train, seed, tol):
        return "skipped"
    state = {}
    try:
        t_obj, t_in, t_out = _call(torch, build, arrays, layout, grad_mask, train, state)
    except Exception as t_err:  # noqa: BLE001 - the type is what is compared
        if "Unsupported memory format" in str(t_err):  # torch's own limit, not an input error
            return "skipped"
        try:
            _call(fastdl, build, arrays, layout, grad_mask, train, state)
        except Exception as f_err:  # noqa: BLE001
            assert isinstance(f_err, type(t_err)) or (
                isinstance(t_err, NotImplementedError) and isinstance(f_err, RuntimeError)), (
                f"torch raised {type(t_err).__name__}: {t_err}\n"
                f"fastdl raised {type(f_err).__name__}: {f_err}")
            return "error"
        raise AssertionError(f"torch raised {type(t_err).__name__}: {t_err}; fastdl did not")
    f_obj, f_in, f_out = _call(fastdl, build, arrays, layout, grad_mask, train, state)
    t_out, f_out = _flat(t_out), _flat(f_out)
    assert len(t_out) == len(f_out)
    weights = []
    rng = np.random.default_rng(seed)
    for i, (t, f) in enumerate(zip(t_out, f_out)):
        assert tuple(f.shape) == tuple(t.shape), f"output {i}: {tuple(f.shape)} vs {tuple(t.shape)}"
        tn, fn = _np(t), _np(f)
        assert fn.dtype == tn.dtype, f"output {i}: dtype {fn.dtype} vs {tn.dtype}"
        if tn.dtype.kind == "f":
            np.testing.assert_allclose(fn, tn, equal_nan=True, err_msg=f"output {i}", **tol)
            # torch's backward of an empty output often fails, and of a max over padding
            # alone (-inf) sends gradient to other channels' pixels
            if t.requires_grad and tn.size and np.isfinite(tn).all():
                weights.append((t, f, rng.standard_normal(tn.shape).astype(tn.dtype)))
        else:
            np.testing.assert_array_equal(fn, tn, err_msg=f"output {i}")
    if isinstance(t_obj, torch.nn.Module):
        t_bufs = dict(t_obj.named_buffers())
        f_bufs = dict(f_obj.named_buffers())
        for k, v in t_bufs.items():
            np.testing.assert_allclose(_np(f_bufs[k]), _np(v), err_msg=f"buffer {k}", **tol)
    if not (check_grad and weights):
        return "forward"
    sum(((t * torch.tensor(w)).sum() for t, _, w in weights)).backward()
    sum(((f * fastdl.tensor(w)).sum() for _, f, w in weights)).backward()
    pairs = [(f"input {i}", t, f) for i, (t, f) in enumerate(zip(t_in, f_in)) if t.requires_grad]
    if isinstance(t_obj, torch.nn.Module):
        f_params = dict(f_obj.named_parameters())
        pairs += [(k, v, f_params[k]) for k, v in t_obj.named_parameters()]
    for name, t, f in pairs:
        if t.grad is None:
            assert f.grad is None or not np.any(_np(f.grad)), f"{name}: grad where torch has none"
            continue
        assert f.grad is not None, f"{name}: no gradient"
        np.testing.assert_allclose(_np(f.grad), _np(t.grad), equal_nan=True,
                                   err_msg=f"grad of {name}", **tol)
    return "grad"
