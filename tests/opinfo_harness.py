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
    if isinstance(v, torch.layout):  # fastdl's tensors are all strided: "strided" names it
        if v is not torch.strided:
            raise Unsupported(f"layout {v}")
        return "strided"
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


class Tally:
    """What one test compared: forward outputs, leaf gradients, samples both libraries
    rejected, gradients torch cannot compute, which tolerance overrides were needed (a
    comparison that fails with ``TOLERANCES`` but passes with the override), and the value
    checks of ops whose values cannot match torch's."""

    def __init__(self):
        self.forward = 0            # samples whose outputs were compared
        self.gradients = 0          # leaf gradients compared
        self.rejected = 0           # samples torch and fastdl both raised on
        self.no_torch_derivative = []  # "leaf i: torch's message"
        self.overrides_needed = set()  # (dtype, "forward" | "gradient"), see _assert_close
        self.tied_indices = 0       # samples whose indices agreed only up to equal values
        # ops whose values cannot match torch's (opinfo_random.py): samples whose values were
        # checked against the op's support, and samples whose values differ from torch's
        self.values_checked = 0
        self.values_differ = 0


# An override counts as needed when some comparison uses more than 1/OVERRIDE_HEADROOM of the
# default tolerance: summation order (OpenBLAS's kernel, our SIMD path and cache blocking)
# changes with the CPU, so an error just inside the default here can cross it on another
# machine. (matmul's float32 forward error is 0.98 of the default on an AMD EPYC, 0.74 with
# FASTDL_SIMD=scalar.) Below that, the override hides nothing but regressions: it is stale.
OVERRIDE_HEADROOM = 2


def _assert_close(actual, desired, tolerances, dtype, part, what, tally):
    """assert_allclose with the tolerance for ``dtype``/``part`` (0 forward, 1 gradient); notes
    in ``tally`` when that tolerance is an override the default (with headroom) is not enough."""
    tol = tolerances.get(dtype, EXACT)[part]
    np.testing.assert_allclose(actual, desired, rtol=tol[0], atol=tol[1], equal_nan=True,
                               err_msg=what)
    default = TOLERANCES.get(dtype, EXACT)[part]
    if tally is not None and tol != default and not np.allclose(
            actual, desired, rtol=default[0] / OVERRIDE_HEADROOM,
            atol=default[1] / OVERRIDE_HEADROOM, equal_nan=True):
        tally.overrides_needed.add((dtype, ("forward", "gradient")[part]))


def assert_same_tensor_kind(t, f, what):
    """f is a fastdl Tensor of torch tensor t's shape and dtype."""
    assert isinstance(f, fastdl.Tensor), f"{what} is {type(f).__name__}, torch returns a Tensor"
    assert tuple(f.shape) == tuple(t.shape), \
        f"{what} has shape {tuple(f.shape)}, torch {tuple(t.shape)}"
    assert _dtype_name(f) == _dtype_name(t), \
        f"{what} has dtype {_dtype_name(f)}, torch {_dtype_name(t)}"


def compare_outputs(t_out, f_out, tolerances, what, tally=None):
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
        assert_same_tensor_kind(t, f, f"{what}: output {i}")
        _assert_close(_as_numpy(f), _as_numpy(t), tolerances, t.dtype, 0,
                      f"{what}: output {i} values", tally)
    if tally is not None:
        tally.forward += 1


def _not_implemented(error):
    """torch has no derivative for this input ("derivative for aten::floor_divide is not
    implemented", "the derivative for 'other' is not implemented")."""
    return isinstance(error, RuntimeError) and "not implemented" in str(error)


def _dense(gradient):
    """torch returns some zero gradients as a ZeroTensor (sgn's, of a real input), and an
    Embedding(sparse=True)'s weight gradient as a sparse tensor; neither has a numpy view: as
    the dense values they stand for (fastdl's gradients are dense)."""
    if gradient is not None and gradient._is_zerotensor():
        return torch.zeros(gradient.shape, dtype=gradient.dtype)
    if gradient is not None and gradient.is_sparse:
        return gradient.to_dense()
    return gradient


def torch_gradients(total, leaves, skipped=None, create_graph=False):
    """torch's gradients of ``total`` w.r.t. each leaf (None where unused). Where torch has no
    derivative for some input ("derivative for aten::remainder is not implemented"), the leaves
    are taken one at a time and only those torch cannot differentiate get ``NotImplemented``,
    with a note appended to ``skipped``; the other leaves' gradients are still compared."""
    try:
        return [_dense(g) for g in torch.autograd.grad(total, leaves, allow_unused=True,
                                                       retain_graph=True,
                                                       create_graph=create_graph)]
    except RuntimeError as e:
        if not _not_implemented(e):
            raise
    grads = []
    for i, leaf in enumerate(leaves):
        try:
            grads.append(_dense(torch.autograd.grad(total, [leaf], allow_unused=True,
                                                    retain_graph=True,
                                                    create_graph=create_graph)[0]))
        except RuntimeError as e:
            if not _not_implemented(e):
                raise
            grads.append(NotImplemented)
            if skipped is not None:
                skipped.append(f"leaf {i}: {e}")
    return grads


def compare_gradients(conv, t_out, f_out, tolerances, rng, what, tally=None):
    """Backpropagate the same random-weighted sum of the float outputs through both libraries
    and compare the gradients of every float leaf (except those torch has no derivative for)."""
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
    t_grads = torch_gradients(t_total, [t for t, _ in conv.leaves],
                              None if tally is None else tally.no_torch_derivative)
    f_total.backward()
    for i, ((t_leaf, f_leaf), tg) in enumerate(zip(conv.leaves, t_grads)):
        if tg is NotImplemented:
            continue
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
        _assert_close(fg.numpy(), tg.numpy(), tolerances, tg.dtype, 1,
                      f"{what}: leaf {i} gradient", tally)
        if tally is not None:
            tally.gradients += 1


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


class Ledger:
    """Which allow-list entries and tolerance overrides the tests of this process used, and
    whether they were needed, for a final staleness check.

    A test case (one parametrized test) fills a ``Ledger.Record`` and commits it when it ends
    without an unexpected failure. An entry is judged only when every case that can use it has
    been committed in this process; entries of cases deselected with ``-k``, run by another
    pytest-xdist worker or failed are left unchecked (their cases report for themselves).
    """

    class Record:
        def __init__(self):
            self.entries = {}  # entry -> [samples it matched, samples that needed it]

        def hit(self, entry, needed):
            counts = self.entries.setdefault(entry, [0, 0])
            counts[0] += 1
            counts[1] += bool(needed)

    def __init__(self):
        self.committed = set()
        self.entries = {}

    def commit(self, case, record):
        self.committed.add(case)
        for entry, (hits, needed) in record.entries.items():
            counts = self.entries.setdefault(entry, [0, 0])
            counts[0] += hits
            counts[1] += needed

    def stale(self, cases_of_entry):
        """``cases_of_entry``: entry -> the cases that can use it. Returns (stale entries with
        why, entries left unchecked)."""
        stale, unchecked = [], []
        for entry, cases in cases_of_entry.items():
            if not cases:
                stale.append(f"{entry}: no test case can use it")
                continue
            if not set(cases) <= self.committed:
                unchecked.append(entry)
                continue
            hits, needed = self.entries.get(entry, (0, 0))
            if not hits:
                stale.append(f"{entry}: matches no sample any more")
            elif not needed:
                stale.append(f"{entry}: matches {hits} samples, none of which needs it")
        return stale, unchecked
