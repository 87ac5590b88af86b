"""Conformance of ``fastdl.nn`` with PyTorch's older module test database,
``torch.testing._internal.common_nn``: ``module_tests``, ``get_new_module_tests()`` and
``criterion_tests`` (the entries torch's test_nn.py turns into NewModuleTest / CriterionTest), plus
the variants test_nn.py derives from them (``check_eval``: the module in eval mode;
``check_with_long_tensor``: the module and input as int64; ``check_sum_reduction``: a criterion
with reduction='sum').

Each entry's torch module is built as torch's test builds it, and its fastdl twin from the same
recipe: ``module_name`` + ``constructor_args`` is ``fastdl.nn.<module_name>`` with the same
arguments; a ``constructor`` callable (``lambda: nn.Conv2d(...)``, ``wrap_functional(lambda i:
F.nll_loss(i, t.type_as(i), reduction='none'))``) runs its own code with fastdl in place of
``torch``, ``torch.nn`` and ``torch.nn.functional`` (its closure's tensors become fastdl tensors).
torch's parameters and buffers are copied into the twin (``load_state_dict`` of numpy copies), the
input and target are drawn once per entry with a fixed seed, and in float64 and float32 (every
floating tensor cast to it) the outputs, the buffers after the forward and the gradients of the
inputs and parameters (of a randomly weighted sum of the output) are compared. In float64 also,
as torch's test does: non-contiguous inputs and output gradient (test_noncontig), a pickled copy
of the twin (where the entry has ``pickle``), and second-order gradients (a Hessian-vector
product, where the entry has torch run gradgradcheck). ``test_reprs`` compares the reprs.

Modules random in training (RReLU) are compared in eval mode (``RANDOM_IN_TRAINING``). What
fastdl deliberately cannot run is in ``ALLOWED`` with the reason and the error that shows it; such
a case still runs, and fails when it passes (the entry is stale) or fails differently. Nothing
else is skipped: ``test_every_entry_is_a_case`` checks that every entry and variant of torch's
lists is a test case here.
"""
from __future__ import annotations

import pickle
import re
import types
import warnings
import zlib
from typing import NamedTuple

import numpy as np
import pytest

import fastdl
from fastdl import nn as fnn
from fastdl.nn import functional as F

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch's test modules import it
from torch.testing._internal import common_nn  # noqa: E402

from nn_twins import (_NP_DTYPES, _compare_leaf_grads, _rng, _tensors,  # noqa: E402
                      compare_hessian_vector, compare_module_forward, compare_weighted_backward,
                      fresh_leaves, load_torch_state, to_fastdl)
from opinfo_harness import flatten_outputs, torch_gradients  # noqa: E402

# warnings the entries provoke on purpose (legacy reduce=False) or that concern torch's own
# implementation (its padding='same' copy, its nested-tensor fast path)
pytestmark = [pytest.mark.filterwarnings("ignore:size_average and reduce args"),
              pytest.mark.filterwarnings("ignore:Using padding='same'"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")]

DTYPES = (torch.float64, torch.float32)

# ---------------------------------------------------------------------------------------------
# What is deliberately not compared. Case name -> (reason, pattern the failure must match).
_LONG_CONV = ("integer convolution: fastdl's convolution kernels are templated on float32 and "
              "float64 only and refuse an int64 input with a TypeError (torch's CPU has a slow "
              "integer path; this variant checks that the int64 module gives the float module's "
              "output)", r"must be a float32 or float64 tensor, got dtype int64")
ALLOWED = {
    **{name + "_with_long_tensor": _LONG_CONV for name in (
        "Conv2d", "Conv2d_strided", "Conv2d_padding", "Conv2d_dilated", "Conv2d_no_bias",
        "Conv2d_zero_batch", "Conv2d_groups", "Conv2d_groups_thnn", "ConvTranspose2d",
        "ConvTranspose2d_dilated", "ConvTranspose2d_no_bias", "ConvTranspose2d_groups",
        "Conv3d", "Conv3d_no_bias", "Conv3d_1x1x1_no_bias", "Conv3d_stride",
        "Conv3d_stride_padding", "Conv3d_zero_batch", "Conv3d_groups")},
    **{name: ("complex input: fastdl tensors hold real numbers only",
              "fastdl tensors hold bool, integer or floating point data, not complex")
       for name in ("ReplicationPad3d_complex", "L1Loss_no_reduce_complex")},
    "NLLLoss_no_reduce_weights_ignore_index": (
        "its lambda calls weight.type_as(i.data): fastdl's Tensor.data is the underlying numpy "
        "array (its documented contract), not a detached Tensor, and type_as takes a Tensor "
        "as torch's does; nll_loss with a weight and an ignore_index that occurs in the target "
        "is compared in the nll_loss OpInfo samples (test_nn_conformance.py)",
        r"type_as\(\): argument 'other' \(position 1\) must be Tensor, not numpy.ndarray"),
}

# torch's reprs spell some things fastdl deliberately spells otherwise: pattern in torch's repr
# -> fastdl's spelling, with the reason. Stale (test_reprs fails) when no repr needs it.
REPR_SPELLINGS = {
    r"NonDynamicallyQuantizableLinear\(": (
        "Linear(", "MultiheadAttention.out_proj: torch's Linear subclass marking it for its "
        "quantization flow, which fastdl does not have"),
    r"torch\.Size\(\[([^\]]*)\]\)": (
        r"(\1)", "shapes: fastdl has no Size class, a module keeps the tuple it was given"),
}

# Modules whose training-mode forward draws random numbers (torch's generator and fastdl's
# differ, so values cannot match): their entries are compared in eval mode, where they are
# deterministic; tests/test_nn_layers_more.py checks the training-mode structure and statistics.
# Stale (test_random_in_training_is_still_random fails) when torch's training forward repeats.
RANDOM_IN_TRAINING = {
    "RReLU": "training draws each negative input's slope uniformly from [lower, upper]",
}


# ---------------------------------------------------------------------------------------------
# The cases: torch's entries and the variants its test_nn.py derives from them

class Case(NamedTuple):
    name: str        # torch's test name without "test_"
    criterion: bool  # a CriterionTest (module(input, target)) rather than a NewModuleTest
    params: dict     # the entry
    variant: str     # "", "eval", "long" or "sum_reduction"


def _entry_name(params):
    """torch's TestBase.get_name() (without "test_")."""
    if params.get("fullname"):
        return params["fullname"]
    return params["module_name"] + (f"_{params['desc']}" if params.get("desc") else "")


def _collect_cases():
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the new module tests draw the tensors their lambdas close over
        modules = list(common_nn.module_tests) + common_nn.get_new_module_tests()
    cases = []
    for params in modules:
        name = _entry_name(params)
        cases.append(Case(name, False, params, ""))
        if "check_eval" in params:  # test_nn.py tests on the key's presence, not its value
            cases.append(Case(name + "_eval", False, params, "eval"))
        if "check_with_long_tensor" in params:
            cases.append(Case(name + "_with_long_tensor", False, params, "long"))
    # (the no_batch_dim criteria's lambdas read common_nn's module-level loop variable
    # ``reduction`` when called, so all of them, "_none" and "_mean" too, build reduction='sum',
    # in torch's own test as here)
    for params in common_nn.criterion_tests:
        name = _entry_name(params)
        cases.append(Case(name, True, params, ""))
        if "check_sum_reduction" in params:
            cases.append(Case(name + "_sum_reduction", True, params, "sum_reduction"))
    return modules, cases


MODULE_ENTRIES, CASES = _collect_cases()


# ---------------------------------------------------------------------------------------------
# fastdl twins of torch constructors

def _is_torch_functional(fn):
    name = getattr(fn, "__name__", None)
    return callable(fn) and name is not None and fn is getattr(torch.nn.functional, name, None)


def _fastdl_value(value, memo):
    """``value`` (a closure cell's or a default's) for the fastdl twin of a function."""
    if isinstance(value, types.FunctionType) or _is_torch_functional(value):
        return _fastdl_function(value, memo)
    if isinstance(value, (list, tuple)):
        return type(value)(_fastdl_value(v, memo) for v in value)
    if isinstance(value, dict):
        return {k: _fastdl_value(v, memo) for k, v in value.items()}
    return to_fastdl(value, memo)  # tensors, dtypes; anything else as it is


def _fastdl_function(fn, memo):
    """``fn``'s code run against fastdl: ``torch``, ``nn`` and ``F`` in its globals are fastdl,
    fastdl.nn and fastdl.nn.functional, its closure's and defaults' values are converted. A
    torch.nn.functional function is fastdl's of the same name."""
    if _is_torch_functional(fn):
        return getattr(F, fn.__name__)
    namespace = dict(fn.__globals__)
    namespace.update(torch=fastdl, nn=fnn, F=F)
    closure = tuple(types.CellType(_fastdl_value(cell.cell_contents, memo))
                    for cell in fn.__closure__ or ())
    defaults = _fastdl_value(fn.__defaults__, memo) if fn.__defaults__ else None
    twin = types.FunctionType(fn.__code__, namespace, fn.__name__, defaults, closure)
    twin.__kwdefaults__ = _fastdl_value(fn.__kwdefaults__, memo) if fn.__kwdefaults__ else None
    return twin


def _functional_module(fn, kwargs):
    """common_nn.wrap_functional for fastdl."""
    class FunctionalModule(fnn.Module):
        def forward(self, *args):
            return fn(*args, **kwargs)
    return FunctionalModule


def _fastdl_constructor(params):
    if "constructor" not in params:
        return getattr(fnn, params["module_name"])
    constructor, memo = params["constructor"], {}
    if getattr(constructor, "__qualname__", "").startswith("wrap_functional."):
        cells = dict(zip(constructor.forward.__code__.co_freevars,
                         (c.cell_contents for c in constructor.forward.__closure__)))
        return _functional_module(_fastdl_function(cells["fn"], memo),
                                  _fastdl_value(cells["kwargs"], memo))
    return _fastdl_function(constructor, memo)


def _torch_constructor(params):
    return params.get("constructor") or getattr(torch.nn, params["module_name"])


# ---------------------------------------------------------------------------------------------
# Inputs, as torch's TestBase._get_arg draws them

def _draw(params, arg):
    if arg in params:
        return params[arg]
    if arg + "_fn" in params:
        return params[arg + "_fn"]()
    if arg + "_size" in params:
        def tensors(sizes):
            if isinstance(sizes, list):
                return [tensors(s) for s in sizes]
            return torch.randn(sizes)
        return tensors(params[arg + "_size"])
    return None


def _leaves(x, dtype, requires_grad):
    """Fresh copies of the tensors in ``x``; floating ones in ``dtype`` (None: as drawn) and,
    with ``requires_grad``, leaves that require grad (torch's InputVariableMixin)."""
    if isinstance(x, torch.Tensor):
        y = x.detach().clone()
        if y.is_floating_point():
            y = y.to(dtype or y.dtype).requires_grad_(requires_grad)
        return y
    if isinstance(x, (list, tuple)):
        return type(x)(_leaves(v, dtype, requires_grad) for v in x)
    return x


class Drawn(NamedTuple):
    module: object   # the torch module
    twin: object     # the fastdl module
    args: tuple      # torch's forward arguments


def _integer_valued_double(size):
    return torch.randint(-1000, 1000, size=size).double()


def build(case, dtype):
    """torch's module (as its test builds it, in the entry's default dtype), its fastdl twin with
    torch's state, and the forward arguments, with the floating ones in ``dtype`` (None: module
    and arguments in the dtypes torch's test has, which may mix float32 and float64)."""
    params = case.params
    torch_cls, fastdl_cls = _torch_constructor(params), _fastdl_constructor(params)
    constructor_args = params.get("constructor_args", ())
    kwargs = {"reduction": "sum"} if case.variant == "sum_reduction" else {}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(params.get("default_dtype") or previous)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(zlib.crc32(case.name.encode()))
            module = torch_cls(*constructor_args, **kwargs)
            if case.variant == "long":  # test_nn.py's integer-valued module and input
                with torch.no_grad():
                    for p in module.parameters():
                        p.copy_(_integer_valued_double(p.shape))
                inputs = _integer_valued_double(params["input_size"])
            else:
                inputs = _draw(params, "input")
            target = _draw(params, "target") if case.criterion else None
    finally:
        torch.set_default_dtype(previous)
    twin = fastdl_cls(*to_fastdl(constructor_args), **kwargs)
    if case.variant == "long":
        module.requires_grad_(False)  # as test_nn.py's reference_fn: int64 takes no gradient
        module = module._apply(lambda t: t.long())
        twin.requires_grad_(False)
        twin._apply_to_arrays(lambda a: a.astype(np.int64))
        args = (inputs.long(),)
    else:
        module = module.to(dtype) if dtype is not None else module
        floating = [v.dtype for v in module.state_dict().values() if v.is_floating_point()]
        twin.to(_NP_DTYPES[dtype or (floating[0] if floating else torch.float32)])
        inputs = _leaves(inputs, dtype, requires_grad=True)
        args = tuple(inputs) if isinstance(inputs, tuple) else (inputs,)
        if case.criterion:
            args += (_leaves(target, dtype, requires_grad=False),)
            args += tuple(params.get("extra_args", ()))
    load_torch_state(module, twin, case.name)
    training = case.variant != "eval" and type(module).__name__ not in RANDOM_IN_TRAINING
    module.train(training)
    twin.train(training)
    return Drawn(module, twin, args)


# ---------------------------------------------------------------------------------------------
# The comparison

def _noncontiguous(x):
    """torch's ModuleTest.noncontiguize: the same values (and requires_grad), strided along the
    first dimension of size > 1."""
    if isinstance(x, (list, tuple)):
        return type(x)(_noncontiguous(v) for v in x)
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        return x
    dim = next((d + 1 for d in range(x.dim()) if x.size(d) > 1), x.dim())
    y = torch.stack([torch.empty_like(x), x], dim).select(dim, 1).detach()
    return y.requires_grad_(x.requires_grad)


def _compare_pass(drawn, t_args, dtype, what, grad_output=None):
    """Forward of both twins on ``t_args`` (and their fastdl copies), outputs and buffers
    compared, then the gradients of the inputs and parameters: of a randomly weighted sum of the
    outputs, or, with ``grad_output`` (a function of the output's shape), of the output
    backpropagated from that tensor as it is (fastdl receives its strides too). Returns the
    number of gradients compared."""
    drawn.twin.zero_grad()
    t_out, f_out, f_args, _ = compare_module_forward(drawn.module, drawn.twin, t_args, {},
                                                     dtype, what)
    if not any(isinstance(t, torch.Tensor) and t.requires_grad for t in flatten_outputs(t_out)):
        return 0
    t_leaves = [t for t in _tensors(t_args, {}) if t.requires_grad]
    f_leaves = [f for f in _tensors(f_args, {}) if f.requires_grad]
    f_params = dict(drawn.twin.named_parameters())
    t_params = list(drawn.module.named_parameters())
    assert list(f_params) == [n for n, _ in t_params], f"{what}: parameter names differ"
    pairs = [(f"input {i}", t, f) for i, (t, f) in enumerate(zip(t_leaves, f_leaves))]
    pairs += [(f"parameter {n}", t, f_params[n]) for n, t in t_params]
    if grad_output is None:
        compared = compare_weighted_backward(t_out, f_out, pairs, dtype, what)
    else:
        grad = grad_output(t_out)
        t_grads = torch_gradients((t_out * grad).sum(), [t for _, t, _ in pairs])
        f_out.backward(to_fastdl(grad))
        compared = _compare_leaf_grads(pairs, t_grads, dtype, what, None, None)
    assert compared, f"{what}: the output requires grad, but no gradient was compared"
    return compared


def _noncontiguous_grad_output(what):
    rng = _rng(what)
    return lambda out: _noncontiguous(torch.from_numpy(
        rng.standard_normal(tuple(out.shape)).astype(_NP_DTYPES[out.dtype])))


def _floating_dtypes(drawn):
    tensors = _tensors(drawn.args, {}) + list(drawn.module.state_dict().values())
    return {t.dtype for t in tensors if t.is_floating_point()}


def run_case(case, dtype):
    """Compares one case; returns (outputs, gradients, second-order gradients) compared. In
    float64 also: non-contiguous inputs and output gradient (torch's test_noncontig), a pickled
    copy of the twin (torch's pickle check, where the entry has it) and second derivatives (where
    the entry has torch run gradgradcheck). ``dtype`` None: as torch's test draws them (mixed
    float32 and float64), held to the tolerance of the promoted dtype: each op computes in it,
    and what stays float32 (1 - a float32 target) rounds alike in both libraries."""
    drawn = build(case, dtype)
    what = f"{case.name} {dtype or 'as drawn'}"
    if dtype is None:
        dtype = max(_floating_dtypes(drawn), key=lambda d: d.itemsize)
        return 1, _compare_pass(drawn, drawn.args, dtype, what), 0
    outputs, gradients = 1, _compare_pass(drawn, drawn.args, dtype, what)
    if dtype != torch.float64:
        return outputs, gradients, 0
    nc_what = f"{what} non-contiguous"
    t_out = flatten_outputs(drawn.module(*fresh_leaves(drawn.args)))
    grad_output = _noncontiguous_grad_output(nc_what) if len(t_out) == 1 else None
    gradients += _compare_pass(drawn, _noncontiguous(fresh_leaves(drawn.args)), dtype, nc_what,
                               grad_output)
    outputs += 1
    if case.params.get("pickle", True):
        copy = pickle.loads(pickle.dumps(drawn.twin))
        with torch.no_grad(), fastdl.no_grad():
            compare_module_forward(drawn.module, copy, _leaves(drawn.args, None, False), {},
                                   dtype, f"{what} pickled")
        outputs += 1
    second = 0
    if case.params.get("check_gradgrad", True):
        t_args = fresh_leaves(drawn.args)
        f_args = to_fastdl(t_args)
        t_params, f_params = list(drawn.module.parameters()), list(drawn.twin.parameters())
        t_leaves = [t for t in _tensors(t_args, {}) if t.requires_grad] + t_params
        f_leaves = [f for f in _tensors(f_args, {}) if f.requires_grad] + f_params
        t_out, f_out = drawn.module(*t_args), drawn.twin(*f_args)
        second = compare_hessian_vector(t_out, f_out, t_leaves, f_leaves, what)
    return outputs, gradients, second


def _mixes_dtypes(case):
    """Whether torch's test runs the case on mixed float32/float64 tensors (a float64 input
    drawn under the float32 default, a target in another dtype than the input)."""
    if case.variant == "long" or case.name in ALLOWED:
        return False
    with warnings.catch_warnings():  # pytestmark's filters do not reach collection
        warnings.simplefilter("ignore")
        return len(_floating_dtypes(build(case, None))) > 1


# (case, dtype) pairs; the int64 variant has no floating dtype and runs once; a case torch runs
# on mixed dtypes runs so too (dtype None)
RUNS = [pytest.param(case, dtype, id=f"{case.name}-{str(dtype).replace('torch.', '')}")
        for case in CASES for dtype in ((torch.int64,) if case.variant == "long" else DTYPES)]
RUNS += [pytest.param(case, None, id=f"{case.name}-as_drawn") for case in CASES
         if _mixes_dtypes(case)]


@pytest.mark.parametrize("case, dtype", RUNS)
def test_entry(case, dtype):
    allowed = ALLOWED.get(case.name)
    if allowed is not None:
        reason, pattern = allowed
        try:
            run_case(case, dtype)
        except Exception as exc:  # noqa: BLE001 - the message is checked next
            assert re.search(pattern, f"{type(exc).__name__}: {exc}"), \
                f"{case.name} is allowed ({reason}) but fails otherwise: " \
                f"{type(exc).__name__}: {exc}"
            pytest.xfail(reason)
        pytest.fail(f"{case.name} passes: remove its ALLOWED entry")
    outputs, gradients, _ = run_case(case, dtype)
    assert outputs, f"{case.name}: no output was compared"


def test_every_entry_is_a_case():
    """Every entry of torch's three lists (and each variant test_nn.py derives) is one case with
    a distinct name, and every ALLOWED / RANDOM_IN_TRAINING key still names something."""
    names = [case.name for case in CASES]
    assert len(set(names)) == len(names), "two cases share a name"
    base = [c for c in CASES if not c.variant]
    assert len(base) == len(MODULE_ENTRIES) + len(common_nn.criterion_tests)
    assert not set(ALLOWED) - set(names), f"unknown ALLOWED names: {set(ALLOWED) - set(names)}"
    module_names = {c.params.get("module_name") for c in CASES}
    assert set(RANDOM_IN_TRAINING) <= module_names, "a RANDOM_IN_TRAINING module has no entry"


def test_random_in_training_is_still_random():
    """The entries of these modules are compared in eval mode because torch's training forward
    is random: it must still be (two forwards differ), else compare them in training mode."""
    for cls_name in RANDOM_IN_TRAINING:
        module = getattr(torch.nn, cls_name)()
        x = torch.randn(64, dtype=torch.float64)
        assert not torch.equal(module(x), module(x)), f"{cls_name}: training is deterministic"


def test_reprs():
    """Each twin's repr is its torch module's (with REPR_SPELLINGS applied to torch's): the
    constructor arguments land in the same attributes and extra_repr names the same options."""
    used, differ = set(), []
    for case in CASES:
        if case.name in ALLOWED:
            continue
        drawn = build(case, torch.float64)
        expected = repr(drawn.module)
        for pattern, (spelling, _) in REPR_SPELLINGS.items():
            expected, count = re.subn(pattern, spelling, expected)
            if count:
                used.add(pattern)
        if repr(drawn.twin) != expected:
            differ.append(f"{case.name}: {drawn.twin!r} != torch {expected}")
    assert not differ, "\n".join(differ)
    assert used == set(REPR_SPELLINGS), f"unused spellings: {set(REPR_SPELLINGS) - used}"
