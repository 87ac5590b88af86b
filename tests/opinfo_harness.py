"""Run one PyTorch OpInfo sample in torch and in fastdl and compare outputs and gradients.

Used by ``test_opinfo_conformance.py``. A sample (``SampleInput(input, args, kwargs)``) is turned
into two independent copies: torch leaves (fresh, so gradients start from zero) and fastdl tensors
holding the same values and dtype. Nested lists/tuples, Python scalars, slices, ``torch.Size`` and
``torch.dtype`` are converted; anything fastdl deliberately has no counterpart for (complex values,
devices, memory formats) raises ``Unsupported`` with the reason, which the test looks up in its
allow-list.
"""
from __future__ import annotations

import numpy as np
import torch

import fastdl


class Unsupported(Exception):
    """A sample uses a feature fastdl deliberately does not have (the message says which)."""


_TORCH_TO_NUMPY = {torch.float16: np.float16, torch.float32: np.float32,
                   torch.float64: np.float64, torch.int8: np.int8, torch.uint8: np.uint8,
                   torch.int16: np.int16, torch.int32: np.int32, torch.int64: np.int64,
                   torch.bool: np.bool_}

# forward (rtol, atol), gradient (rtol, atol): torch's assert_close defaults for the forward
# pass; gradients are sums over many products, whose rounding differs with summation order.
# Chosen by each output's (gradient's) dtype; integer and bool results must match exactly.
TOLERANCES = {torch.float32: ((1.3e-6, 1e-5), (1e-5, 1e-5)),
              torch.float64: ((1e-7, 1e-7), (1e-7, 1e-7))}
EXACT = ((0, 0), (0, 0))


class Converted:
    """The two copies of one sample plus the pairs of leaves to compare gradients of."""

    def __init__(self, sample):
        self.leaves = []  # (torch leaf, fastdl leaf) for every float tensor that requires grad
        self._memo = {}
        self.torch_args = (self._torch(sample.input), self._torch(tuple(sample.args)),
                           self._torch(dict(sample.kwargs)))
        self.fastdl_args = (self._fastdl(sample.input), self._fastdl(tuple(sample.args)),
                            self._fastdl(dict(sample.kwargs)))

    def _pair(self, t):
        key = id(t)
        if key not in self._memo:
            if t.is_complex():
                raise Unsupported("complex tensor")
            if t.dtype not in _TORCH_TO_NUMPY:
                raise Unsupported(f"dtype {t.dtype}")
            grad = t.requires_grad and t.is_floating_point()
            array = t.detach().cpu().numpy().copy()
            t_leaf = torch.tensor(array, requires_grad=grad)
            f_leaf = fastdl.tensor(array.copy(), requires_grad=grad)
            if grad:
                self.leaves.append((t_leaf, f_leaf))
            self._memo[key] = (t, t_leaf, f_leaf)  # keep t alive: ids must stay unique
        return self._memo[key]

    def _torch(self, x):
        return _map(x, lambda t: self._pair(t)[1], lambda v: v)

    def _fastdl(self, x):
        return _map(x, lambda t: self._pair(t)[2], _fastdl_value)


_MEMORY_FORMATS = {torch.preserve_format: fastdl.preserve_format,
                   torch.contiguous_format: fastdl.contiguous_format}


def _fastdl_value(v):
    if isinstance(v, torch.dtype):
        if v not in _TORCH_TO_NUMPY:
            raise Unsupported(f"dtype {v}")
        return np.dtype(_TORCH_TO_NUMPY[v])
    if isinstance(v, torch.Size):
        return tuple(v)
    if isinstance(v, complex):
        raise Unsupported("complex scalar")
    if isinstance(v, torch.device):
        if v.type not in ("cpu", "cuda"):
            raise Unsupported(f"device {v.type}")
        return str(v)
    if isinstance(v, torch.memory_format):
        if v not in _MEMORY_FORMATS:
            raise Unsupported("channels_last memory formats")
        return _MEMORY_FORMATS[v]
    if isinstance(v, (bool, int, float, str, slice, type(None), type(Ellipsis))):
        return v
    raise Unsupported(f"argument of type {type(v).__name__}")


def _map(x, on_tensor, on_value):
    if isinstance(x, torch.Tensor):
        return on_tensor(x)
    if isinstance(x, torch.Size):
        return on_value(x)
    if isinstance(x, dict):
        return {k: _map(v, on_tensor, on_value) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_map(v, on_tensor, on_value) for v in x)
    return on_value(x)


def flatten_outputs(out):
    if isinstance(out, (list, tuple)):
        return [y for x in out for y in flatten_outputs(x)]
    return [out]


def _as_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, fastdl.Tensor):
        return np.asarray(x.detach().numpy())
    return x


def _dtype_name(x):
    if isinstance(x, torch.Tensor):
        return str(x.dtype).replace("torch.", "")
    return str(x.dtype)


def compare_outputs(t_out, f_out, tolerances, what):
    """Same structure, shapes, dtypes and values (NaNs in the same places)."""
    t_flat, f_flat = flatten_outputs(t_out), flatten_outputs(f_out)
    assert len(t_flat) == len(f_flat), \
        f"{what}: fastdl returned {len(f_flat)} outputs, torch {len(t_flat)}"
    for i, (t, f) in enumerate(zip(t_flat, f_flat)):
        if not isinstance(t, torch.Tensor):
            assert not isinstance(f, fastdl.Tensor), \
                f"{what}: output {i} is a Tensor, torch returns {type(t).__name__} {t!r}"
            assert type(f) is type(t) and (f == t or (f != f and t != t)), \
                f"{what}: output {i} is {f!r}, torch {t!r}"
            continue
        assert isinstance(f, fastdl.Tensor), \
            f"{what}: output {i} is {type(f).__name__}, torch returns a Tensor"
        assert tuple(f.shape) == tuple(t.shape), \
            f"{what}: output {i} has shape {tuple(f.shape)}, torch {tuple(t.shape)}"
        assert _dtype_name(f) == _dtype_name(t), \
            f"{what}: output {i} has dtype {_dtype_name(f)}, torch {_dtype_name(t)}"
        tol = tolerances.get(t.dtype, EXACT)[0]
        np.testing.assert_allclose(_as_numpy(f), _as_numpy(t), rtol=tol[0], atol=tol[1],
                                   equal_nan=True, err_msg=f"{what}: output {i} values")


def compare_gradients(conv, t_out, f_out, tolerances, rng, what):
    """Backpropagate the same random-weighted sum of the float outputs through both libraries
    and compare the gradients of every float leaf."""
    pairs = [(t, f) for t, f in zip(flatten_outputs(t_out), flatten_outputs(f_out))
             if isinstance(t, torch.Tensor) and t.requires_grad]
    if not pairs or not conv.leaves:
        return
    t_total, f_total = 0, None
    for t, f in pairs:
        assert isinstance(f, fastdl.Tensor) and f.requires_grad, \
            f"{what}: torch's output requires grad, fastdl's does not"
        w = rng.standard_normal(tuple(t.shape)).astype(_TORCH_TO_NUMPY[t.dtype])
        t_total = t_total + (t * torch.from_numpy(w)).sum()
        term = (f * fastdl.tensor(w)).sum()
        f_total = term if f_total is None else f_total + term
    t_leaves = [t for t, _ in conv.leaves]
    try:
        t_grads = torch.autograd.grad(t_total, t_leaves, allow_unused=True)
    except RuntimeError as e:
        if "not implemented" in str(e):  # e.g. torch has no derivative of remainder's divisor
            return
        raise
    f_total.backward()
    for i, ((t_leaf, f_leaf), tg) in enumerate(zip(conv.leaves, t_grads)):
        fg = f_leaf.grad
        if tg is None:
            assert fg is None or not np.any(fg.numpy()), \
                f"{what}: leaf {i} has a non-zero fastdl gradient, torch none"
            continue
        if fg is None:
            assert not torch.any(tg), f"{what}: leaf {i} has no fastdl gradient"
            continue
        assert tuple(fg.shape) == tuple(tg.shape), \
            f"{what}: leaf {i} gradient shape {tuple(fg.shape)}, torch {tuple(tg.shape)}"
        assert fg.dtype == f_leaf.dtype, \
            f"{what}: leaf {i} gradient dtype {fg.dtype}, leaf {f_leaf.dtype}"
        tol = tolerances.get(tg.dtype, EXACT)[1]
        np.testing.assert_allclose(fg.numpy(), tg.numpy(), rtol=tol[0], atol=tol[1],
                                   equal_nan=True, err_msg=f"{what}: leaf {i} gradient")


def describe(sample):
    """A short, readable description of a sample for failure messages."""
    def d(x):
        if isinstance(x, torch.Tensor):
            return f"T{tuple(x.shape)}:{str(x.dtype).replace('torch.', '')}"
        if isinstance(x, (list, tuple)):
            inner = ", ".join(d(v) for v in x)
            return f"[{inner}]" if isinstance(x, list) else f"({inner})"
        if isinstance(x, dict):
            return "{" + ", ".join(f"{k}={d(v)}" for k, v in x.items()) + "}"
        return repr(x)
    return f"input={d(sample.input)} args={d(tuple(sample.args))} kwargs={d(dict(sample.kwargs))}"
