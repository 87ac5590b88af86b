"""Conformance of ``fastdl.nn`` with PyTorch's own test samples.

Every sample of PyTorch's OpInfo database (``op_db``) for the ``nn.functional`` ops fastdl
implements, and of its ModuleInfo database (``module_db``) for the modules fastdl implements, is
run through fastdl and through torch (the oracle), in float32 and float64:

* functional ops: the op's reference inputs where it has them (its samples plus extremal values,
  large and non-contiguous tensors), else its samples; outputs compared (values, shapes, dtypes),
  tensors that torch updates in place (batch_norm's running statistics) compared afterwards, and
  the gradients of every input that requires grad after the backward of a randomly weighted sum
  of the output; in float64 also second derivatives (a Hessian-vector product through the
  first backward, which exercises the backward formulas' own backward under create_graph);
* modules: the fastdl twin is built from the same constructor arguments, its state_dict must have
  torch's keys, shapes and dtypes, then torch's parameters and buffers are copied in by
  ``load_state_dict``; forward in train (and eval where they differ, also after a training step),
  outputs, buffers, input and parameter gradients compared;
* error inputs (``error_inputs`` / ``module_error_inputs_func``): fastdl must raise a clear
  exception too (the same class where torch raises ValueError/TypeError/IndexError).

Samples that use features fastdl deliberately lacks are listed in ``ALLOWED_GAPS`` /
``SAMPLE_GAPS`` with the reason (a gap drops a whole sample or only its gradients); samples
failing on a bug outside fastdl.nn are in ``KNOWN_BUGS_ELSEWHERE`` (the op's test xfails with the
reason); nothing else is skipped. Every test must compare at least one output (and gradient,
where there is one), and ``test_no_stale_gaps_or_overrides`` (last) fails on a gap, tolerance
override or known bug no sample of this run needs any more.
Dropout is random, so its samples are checked for shapes, the keep/scale structure and drop-rate
statistics instead of values.
"""
from __future__ import annotations

import inspect
import math
from unittest import mock
from typing import Callable, NamedTuple

import numpy as np
import pytest

import fastdl
from fastdl import nn as fnn
from fastdl.nn import functional as F
from fastdl.nn.functional import multi_head_attention as mha_functional

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch's test databases import it
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402
from torch.testing._internal.common_modules import module_db  # noqa: E402

from opinfo_harness import Ledger, flatten_outputs  # noqa: E402
from nn_twins import (_NP_DTYPES, _dtype_name, _numpy, _rng, _tensors,  # noqa: E402
                      assert_same, compare_hessian_vector, compare_module_forward,
                      compare_outputs, compare_weighted_backward, fresh_leaves, load_torch_state,
                      to_fastdl)

# torch's notice that kl_div's 'mean' will change meaning: the samples use 'mean' on purpose
# and that linear_cross_entropy's chunking options do not apply to some samples (both warn alike)
pytestmark = [pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss"),
              pytest.mark.filterwarnings("ignore:linear_cross_entropy. ..options.. ignored")]

DTYPES = (torch.float32, torch.float64)
# Every sample runs today (the largest set, multi_margin_loss's reference inputs, has 202); the
# cap keeps the runtime bounded if torch's databases grow: every k-th sample, deterministically.
MAX_SAMPLES_PER_OP = 250

# ---------------------------------------------------------------------------------------------
# What is deliberately not run, with the reason. Keys: OpInfo "name[.variant]" or ModuleInfo
# class name.
ALLOWED_GAPS = {
    "nn.functional.silu.complex": "complex dtypes: fastdl tensors hold real numbers only",
    "nn.functional.batch_norm.without_cudnn": "a CUDA-only variant (toggles cuDNN) with the "
                                              "same samples as nn.functional.batch_norm, which "
                                              "runs here",
    "TransformerEncoder": "its samples construct it from a torch TransformerEncoderLayer object "
                          "(no fastdl twin of a module instance); fastdl's TransformerEncoder "
                          "runs inside the Transformer ModuleInfo samples and against torch in "
                          "tests/test_transformer.py",
}


class Gap(NamedTuple):
    """Samples of one op not (fully) compared. ``scope`` "sample": the sample is not compared
    at all; "gradients": its forward (outputs, argument tensors) is compared, its first and
    second derivatives are not; "gradgrad" (GRADGRAD_GAPS): only its second derivatives are
    not."""
    matches: Callable
    reason: str
    scope: str = "sample"


def _nan_input_gap(reason):
    """A gap for the gradients of samples with a NaN input (torch's own value there varies)."""
    return Gap(lambda sample: bool(torch.isnan(sample.input).any()), reason, scope="gradients")


# Single samples (or their gradients) not compared, keyed by OpInfo key. An entry is stale, and
# test_no_stale_gaps_or_overrides fails, when no sample matches it any more or when every
# matching sample would pass the comparison it drops.
SAMPLE_GAPS = {
    "nn.functional.elu": _nan_input_gap(
        "the gradient at a NaN input is implementation-defined in torch itself: its vectorized "
        "ELU backward gives NaN, its scalar tail loop 1 (see a 20-element NaN tensor); fastdl "
        "gives 1 everywhere (its test is x <= 0, as torch's scalar loop)"),
    "nn.functional.scaled_dot_product_attention": Gap(
        lambda sample: sample.kwargs.get("dropout_p", 0.0) > 0.0,
        "dropout_p > 0 draws a random dropout mask (torch's generator vs fastdl's): values "
        "cannot match; the dropout path is checked against torch with a shared mask in "
        "tests/test_attention.py",
        scope="sample"),
    **{f"nn.functional.{name}": _nan_input_gap(
        f"as elu ({name} is torch's elu with a scale): the gradient at a NaN input is NaN in "
        "torch's vectorized ELU backward and 1 in its scalar tail loop; fastdl's follows the "
        "scalar loop (its test is x <= 0)") for name in ("selu", "celu")},
    **{key: Gap(
        lambda sample: (sample.kwargs.get("training", False)
                        and 0.0 < sample.kwargs.get("p", 0.5) < 1.0),
        "random masks from fastdl's generator (torch's draws differ): values cannot match; "
        "tests/test_nn_layers_more.py checks the mask structure, the kept and dropped values, "
        "the gradient and the statistics")
       for key in ("nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout.with_train")},
    "nn.functional.rrelu": Gap(
        lambda sample: sample.kwargs.get("training", False),
        "training draws random slopes from fastdl's generator (torch's draws differ): values "
        "cannot match; tests/test_nn_layers_more.py checks that positives pass, each negative "
        "is scaled by its own slope in [lower, upper], the gradient is that slope, and eval"),
    **{f"nn.functional.{name}": _nan_input_gap(
        f"the gradient at a NaN input is implementation-defined in torch itself: its "
        f"vectorized {name} backward gives 0, its scalar tail loop passes the gradient (the "
        "9-element extremal samples); fastdl gives 0 everywhere")
       for name in ("hardshrink", "softshrink")},
    "nn.functional.relu6": _nan_input_gap(
        "the gradient at a NaN input is implementation-defined in torch itself: its hardtanh "
        "backward gives 0 for some NaNs of a tensor and passes the gradient for others (the "
        "9-element extremal sample: 0, 0, g); fastdl passes it (x <= 0 or x >= 6 is false)"),
    "nn.functional.hardtanh": _nan_input_gap(
        "as relu6 (torch's hardtanh backward): 0 at the NaNs its vectorized loop meets, the "
        "gradient at those of its scalar tail (float64 9-element sample: 0, 0, g; float32: g, "
        "g, g); fastdl passes it"),
}

# nn.functional ops whose OpInfo declares autograd support with nothing to differentiate; they
# are held to a forward comparison only and are not in the second-derivative test.
NO_GRADIENT = {
    "nn.functional.one_hot": "integer class indices in, an int64 one-hot tensor out (its OpInfo "
                             "leaves supports_autograd at the default)",
}

# Per-op tolerance overrides (float32 only), with the reason; applied to outputs, argument
# tensors and gradients. Stale (the final test fails) when no comparison needs more than
# 1/OVERRIDE_HEADROOM of the default tolerance any more.
TOLERANCE_OVERRIDES = {
    # A sample normalizes a single element: fastdl's xhat is exactly 0 (x - mean(x) = 0), so
    # weight's gradient is 0; torch's float32 mean leaves a ~1e-7 residue that 1/sqrt(eps) = 316
    # amplifies to ~5e-5 (torch's own float64 run gives 0, as fastdl does).
    ("nn.functional.layer_norm", torch.float32): dict(rtol=2e-5, atol=1e-4),
    # The broadcast sample (query (4, 3, 8) against (4, 4, 6, 8) keys) sums the query's gradient
    # over 4 broadcast copies of magnitude ~3 in float32: both libraries round differently by
    # ~2e-5 (the float64 samples agree to 1e-15).
    ("nn.functional.scaled_dot_product_attention", torch.float32): dict(rtol=2e-5, atol=6e-5),
}

# Samples failing because of a bug in a file outside fastdl.nn (another layer's owner fixes it):
# the op's test is marked xfail with the reason when these are its only failures; every other
# sample of the op is still checked. Key: OpInfo key -> (predicate on the sample, reason).
# Stale (the final test fails) once no matching sample fails any more.
KNOWN_BUGS_ELSEWHERE: dict = {}

# fastdl.nn.functional names without an OpInfo of their own, and why that is fine.
FUNCTIONAL_WITHOUT_OPINFO = {
    **{f"fractional_max_pool{d}d_with_indices": f"fractional_max_pool{d}d with return_indices="
                                                f"True (its samples run both ways); "
                                                "tests/test_fractional_pool.py"
       for d in (2, 3)},
    "gumbel_softmax": "no OpInfo in torch; tests/test_gumbel_softmax.py checks it against "
                      "torch given the same noise, and its sampling statistics",
    "dropout1d": "no OpInfo in torch; the same channel dropout as dropout2d/dropout3d (whose "
                 "samples run in test_dropout_samples), checked in tests/test_cnn_layers.py",
    **{f"{kind}_pool{d}d_with_indices": f"{kind}_pool{d}d with return_indices=True (the same "
                                         f"function, whose samples run both ways); "
                                         "tests/test_pooling.py"
       for kind in ("max", "adaptive_max") for d in (1, 2, 3)},
    "upsample": "torch's deprecated spelling of interpolate (whose samples run); "
                "tests/test_interpolate.py",
    "fold": "no OpInfo in torch; unfold's adjoint (unfold's samples run), checked against "
            "torch in tests/test_fold_grid_sample.py",
    "affine_grid": "no OpInfo in torch; checked against torch (2-D and 3-D, gradients) in "
                   "tests/test_fold_grid_sample.py",
    **{f"lp_pool{d}d": f"no OpInfo in torch; the LPPool{d}d ModuleInfo samples run it, and "
                       "tests/test_embedding_bag_lp_pool.py checks it against torch"
       for d in (1, 2, 3)},
    **{f"{name}_": f"{name}(inplace=True) (whose samples run out of place); the in-place form "
                  "against torch's in tests/test_nn_layers_more.py"
       for name in ("relu", "elu", "leaky_relu", "hardtanh", "selu", "celu", "threshold",
                    "rrelu")},
    "native_channel_shuffle": "the same function as channel_shuffle (whose samples run)",
    "conv_tbc": "torch.conv_tbc (nn.functional re-exports it), which has no OpInfo; checked "
                "against torch in tests/test_toplevel_aten_nn_more.py",
    **{name: "graph op (torch_geometric's, not torch's: no OpInfo); float64 samples against "
             "torch formulas in tests/op_samples_graph.py, layers against PyG in "
             "tests/test_gnn_layers.py"
       for name in ("edge_softmax", "global_add_pool", "global_max_pool", "global_mean_pool",
                    "scatter", "sddmm", "spmm")},
}

# fastdl.nn module classes without a ModuleInfo, and where they are covered instead.
MODULES_WITHOUT_MODULEINFO = {
    "TransformerDecoder": "no ModuleInfo in torch; it runs inside the Transformer ModuleInfo "
                          "samples and against torch in tests/test_transformer.py",
    "SinusoidalPositionalEncoding": "not a torch module; tests/test_transformer.py",
    "SyncBatchNorm": "no ModuleInfo in torch; one process against torch's BatchNorm, two MPI "
                     "ranks against torch on the whole batch in tests/test_sync_batchnorm.py",
    "NLLLoss2d": "no ModuleInfo in torch; torch's deprecated alias of NLLLoss (whose samples "
                 "run), checked in tests/test_torch_signature_gaps.py",
    **{name: "no ModuleInfo in torch; the module against torch's in tests/test_losses_more.py"
       for name in ("TripletMarginLoss", "TripletMarginWithDistanceLoss")},
    **{name: "no ModuleInfo in torch; the module against torch's in "
             "tests/test_fold_grid_sample.py" for name in ("Fold", "Unfold")},
    "EmbeddingBag": "no ModuleInfo in torch; the module against torch's in "
                    "tests/test_embedding_bag_lp_pool.py",
    "LearnedPositionalEmbedding": "not a torch module; tests/test_transformer.py",
    "RotaryEmbedding": "not a torch module; tests/test_transformer.py",
    "Module": "the base class; exercised by every module here and tests/test_nn_modules.py",
    "RNNBase": "the base class of RNN/LSTM/GRU (their ModuleInfos run); tests/test_rnn.py",
    "RNNCellBase": "the base class of the cells (their ModuleInfos run); tests/test_rnn.py",
    "Sequential": "container: tests/test_nn_modules.py",
    "ModuleList": "container: tests/test_nn_modules.py",
    "ModuleDict": "container: tests/test_nn_modules.py",
    "Identity": "no ModuleInfo in torch; tests/test_nn_modules.py",
    "Flatten": "no ModuleInfo in torch; tests/test_nn_modules.py",
    "Unflatten": "no ModuleInfo in torch; tests/test_nn_modules.py",
    "Dropout": "no ModuleInfo in torch; its functional samples run in test_dropout_samples and "
               "the module is checked in test_dropout_module",
    "Dropout1d": "no ModuleInfo in torch; tests/test_cnn_layers.py checks channel masks",
    "Dropout2d": "no ModuleInfo in torch; tests/test_cnn_layers.py checks channel masks",
    "Dropout3d": "no ModuleInfo in torch; tests/test_cnn_layers.py checks channel masks",
    **{name: "no ModuleInfo in torch; tests/test_nn_layers_more.py checks the module against "
             "torch's (outputs, gradients, repr, errors); its functional's OpInfo samples run "
             "here" for name in ("PixelShuffle", "PixelUnshuffle", "ChannelShuffle",
                                 "CosineSimilarity", "PairwiseDistance", "Hardsigmoid")},
    **{name: "random (no ModuleInfo in torch); tests/test_nn_layers_more.py checks eval mode "
             "exactly and the training-mode structure and statistics"
       for name in ("AlphaDropout", "FeatureAlphaDropout", "RReLU")},
    "ParameterList": "container: tests/test_nn_layers_more.py",
    **{name: "no ModuleInfo in torch; tests/test_nn_lazy.py checks it against torch's "
             "(inferred shapes, reprs before and after, state_dict loading, outputs)"
       for name in ("LazyLinear", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d")},
    **{name: "no ModuleInfo in torch; tests/test_nn_lazy_instance_norm.py checks it against "
             "torch's (defaults, inferred shapes, reprs, state_dict loading, outputs, gradients)"
       for name in ("LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d")},
    "ParameterDict": "container: tests/test_nn_layers_more.py",
    "CrossMapLRN2d": "no ModuleInfo in torch; tests/test_cross_map_lrn.py checks it against "
                     "torch's (values, gradients, repr, errors)",
    "AdaptiveLogSoftmaxWithLoss": "no ModuleInfo in torch; tests/test_adaptive_log_softmax.py "
                                  "checks it against torch's (state_dict, outputs, loss, "
                                  "gradients, log_prob, predict, errors)",
    **{name: "a torch_geometric layer (no torch ModuleInfo); tests/test_gnn_layers.py checks it "
             "against PyG 2.8 (state_dict, outputs, input and weight gradients)"
       for name in ("GCNConv", "SAGEConv", "GATConv")},
    **{name: "no ModuleInfo in torch; tests/test_pooling.py / test_interpolate.py check the "
             "module against torch's" for name in ("MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
                                                   "Upsample", "UpsamplingNearest2d",
                                                   "UpsamplingBilinear2d")},
}

def _triplet_with_torch_distance(anchor, positive, negative, distance_function=None, **kwargs):
    """The samples pass a torch nn.PairwiseDistance module as distance_function: the same
    distance (its p and eps) in fastdl."""
    if distance_function is not None:
        torch_distance = distance_function
        distance_function = lambda x1, x2: F.pairwise_distance(  # noqa: E731
            x1, x2, torch_distance.norm, torch_distance.eps)
    return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                               distance_function=distance_function, **kwargs)


def _fractional_with_torch_samples(d):
    """torch's OpInfo runs fractional_max_pool under wrapper_set_seed (manual_seed(42)), where
    the op draws its _random_samples with torch.rand; fastdl gets that same draw."""
    def call(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
             _random_samples=None):
        if _random_samples is None:
            n = 1 if input.ndim == d + 1 else input.shape[0]
            dtype = torch.float64 if input.dtype == fastdl.float64 else torch.float32
            with torch.random.fork_rng():
                torch.manual_seed(42)
                drawn = torch.rand(n, input.shape[-d - 1], d, dtype=dtype)
            _random_samples = fastdl.tensor(drawn.numpy())
        fn = F.fractional_max_pool2d if d == 2 else F.fractional_max_pool3d
        return fn(input, kernel_size, output_size, output_ratio, return_indices,
                  _random_samples=_random_samples)
    return call


def _mha_with_torch_dropout(*args, **kwargs):
    """torch's OpInfo runs multi_head_attention_forward under wrapper_set_seed
    (manual_seed(42)); the op's only random draw is its dropout's Bernoulli keep mask, so
    fastdl gets that same mask (torch's dropout of ones: the keep mask scaled by 1 / (1 - p))."""
    def torch_keep_mask(shape, p, dtype, device):
        with torch.random.fork_rng():
            torch.manual_seed(42)
            ones = torch.ones(shape, dtype=torch.float64 if dtype == np.float64 else torch.float32)
            return torch.nn.functional.dropout(ones, p).numpy()
    with mock.patch.object(mha_functional, "_draw_keep_mask", torch_keep_mask):
        return F.multi_head_attention_forward(*args, **kwargs)


# OpInfos whose ``op`` is a lambda reordering the arguments: the same reordering for fastdl.
ARGUMENT_ADAPTERS = {
    "embedding": lambda weight, idx, **kwargs: F.embedding(idx, weight, **kwargs),
    "embedding_bag": lambda weight, idx, **kwargs: F.embedding_bag(idx, weight, **kwargs),
    # torch's lambda only seeds its generator around the call; the arguments are unchanged
    "scaled_dot_product_attention": F.scaled_dot_product_attention,
    "triplet_margin_with_distance_loss": _triplet_with_torch_distance,
    "rrelu": F.rrelu,
    "alpha_dropout": F.alpha_dropout,
    "feature_alpha_dropout": F.feature_alpha_dropout,
    "fractional_max_pool2d": _fractional_with_torch_samples(2),
    "fractional_max_pool3d": _fractional_with_torch_samples(3),
    "multi_head_attention_forward": _mha_with_torch_dropout,
}

# OpInfos outside the nn.functional namespace that are fastdl.nn.functional functions.
PLAIN_OPINFO_NAMES = {"softmax", "log_softmax", "sigmoid", "tanh", "flatten"}



# ---------------------------------------------------------------------------------------------
# Which OpInfos and ModuleInfos run

def _functional_name(op):
    if op.name.startswith("nn.functional."):
        return op.name[len("nn.functional."):]
    return op.name if op.name in PLAIN_OPINFO_NAMES else None


def _fastdl_fn(op):
    name = _functional_name(op)
    return ARGUMENT_ADAPTERS.get(name) or getattr(F, name)


def _op_key(op):
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


FUNCTIONAL_OPINFOS = [op for op in op_db if _functional_name(op) in F.__all__]
# random masks: checked by test_dropout_samples instead of by value
DROPOUT_NAMES = ("dropout", "dropout2d", "dropout3d")
RUN_OPINFOS = [op for op in FUNCTIONAL_OPINFOS
               if _op_key(op) not in ALLOWED_GAPS and _functional_name(op) not in DROPOUT_NAMES]
MODULE_NAMES = [name for name in fnn.__all__
                if inspect.isclass(getattr(fnn, name))
                and issubclass(getattr(fnn, name), fnn.Module)]
MODULEINFOS = [mi for mi in module_db if mi.module_cls.__name__ in MODULE_NAMES
               and mi.module_cls.__module__.startswith("torch.nn")
               and mi.module_cls.__name__ not in ALLOWED_GAPS]


def _sample_dtype(op, dtype):
    """one_hot works on integer class indices, not floats."""
    return torch.int64 if _functional_name(op) == "one_hot" else dtype


# Modules whose ModuleInfo samples are a full product of flags (masks x norm_first x bias x
# batch_first ...) and cost ~0.1-0.2 s each: every k-th sample, so that each flag still varies
# (k odd, coprime with the factors of 2 in the products) while the suite stays fast.
MODULE_SAMPLE_CAPS = {"MultiheadAttention": 22, "TransformerEncoderLayer": 12,
                      "TransformerDecoderLayer": 12, "Transformer": 12}


def _capped(samples, cap=MAX_SAMPLES_PER_OP):
    samples = list(samples)
    step = math.ceil(len(samples) / cap) if samples else 1
    if step > 1 and step % 2 == 0:
        step += 1  # an odd stride walks every flag of a product of binary choices
    return samples[::step]


def _op_samples(op, dtype):
    """The op's reference inputs where it has them (its samples plus extremal values, larger
    and non-contiguous tensors), else its samples."""
    torch.manual_seed(0)
    sample_dtype = _sample_dtype(op, dtype)
    source = op.reference_inputs if op.reference_inputs_func is not None else op.sample_inputs
    return _capped(source("cpu", sample_dtype, requires_grad=sample_dtype.is_floating_point))


def test_every_functional_and_module_is_covered():
    with_opinfo = {_functional_name(op) for op in FUNCTIONAL_OPINFOS}
    missing = set(F.__all__) - with_opinfo - set(FUNCTIONAL_WITHOUT_OPINFO)
    assert not missing, f"fastdl.nn.functional names with no OpInfo and no listed reason: {missing}"
    with_moduleinfo = {mi.module_cls.__name__ for mi in MODULEINFOS}
    missing = (set(MODULE_NAMES) - with_moduleinfo - set(MODULES_WITHOUT_MODULEINFO)
               - set(ALLOWED_GAPS))  # a gapped ModuleInfo has its reason there
    assert not missing, f"fastdl.nn modules with no ModuleInfo and no listed reason: {missing}"
    stale = set(MODULES_WITHOUT_MODULEINFO) & with_moduleinfo
    assert not stale, f"modules listed as lacking a ModuleInfo that have one: {stale}"
    lambdas = {_functional_name(op) for op in RUN_OPINFOS
               if getattr(op.op, "__name__", "") == "<lambda>"}
    assert lambdas <= set(ARGUMENT_ADAPTERS), \
        f"OpInfos calling a lambda need an argument adapter: {lambdas - set(ARGUMENT_ADAPTERS)}"
    known = {_op_key(op) for op in op_db} | {mi.module_cls.__name__ for mi in module_db}
    unknown = (set(ALLOWED_GAPS) | set(SAMPLE_GAPS) | set(GRADGRAD_GAPS)
               | set(KNOWN_BUGS_ELSEWHERE) | set(TORCH_LACKS_SECOND_DERIVATIVE)) - known
    assert not unknown, f"ALLOWED_GAPS names no OpInfo/ModuleInfo: {unknown}"
    would_run = {_op_key(op) for op in FUNCTIONAL_OPINFOS} | {
        mi.module_cls.__name__ for mi in module_db if mi.module_cls.__name__ in MODULE_NAMES}
    stale = set(ALLOWED_GAPS) - would_run
    assert not stale, f"ALLOWED_GAPS entries for what fastdl does not implement: {stale}"
    run_keys = {_op_key(op) for op in RUN_OPINFOS}
    stale = (set(SAMPLE_GAPS) | set(KNOWN_BUGS_ELSEWHERE) | set(NO_GRADIENT)) - run_keys
    stale |= (set(ZERO_SECOND_DERIVATIVE) | set(GRADGRAD_GAPS)) - {
        _op_key(op) for op in GRADGRAD_OPINFOS}
    assert not stale, f"SAMPLE_GAPS/KNOWN_BUGS_ELSEWHERE/NO_GRADIENT/ZERO_SECOND_DERIVATIVE " \
                      f"entries for ops that do not run: {stale}"
    stale = {name for name, _ in TOLERANCE_OVERRIDES} - {op.name for op in RUN_OPINFOS}
    assert not stale, f"TOLERANCE_OVERRIDES for ops that do not run: {stale}"


# ---------------------------------------------------------------------------------------------
# nn.functional samples

LEDGER = Ledger()  # see test_no_stale_gaps_or_overrides at the end of this file


def _samples_case(op, dtype):
    return ("test_functional_samples", _op_key(op), dtype)


def _gradgrad_case(op):
    return ("test_functional_gradgrad_samples", _op_key(op))


def run_functional_sample(op, fastdl_fn, sample, dtype, what, record, gap=None):
    """Compare one sample's outputs, argument tensors and gradients; returns how many
    gradients were compared. A "gradients" ``gap`` drops the gradient comparison only (noting
    in ``record`` whether it would have failed)."""
    tolerance = TOLERANCE_OVERRIDES.get((op.name, dtype))
    entry = ("TOLERANCE_OVERRIDES", op.name, dtype)

    def override_needed(needed):
        record.hit(entry, needed)
    t_input, t_args, t_kwargs = fresh_leaves((sample.input, tuple(sample.args), sample.kwargs))
    f_input, f_args, f_kwargs = to_fastdl((t_input, t_args, t_kwargs))
    t_tensors = _tensors((t_input,) + t_args, t_kwargs)
    f_tensors = _tensors((f_input,) + tuple(f_args), f_kwargs)
    t_out = op.op(t_input, *t_args, **t_kwargs)
    f_out = fastdl_fn(f_input, *f_args, **f_kwargs)
    t_out, f_out = compare_outputs(f_out, t_out, dtype, f"{what}: output", tolerance,
                                   override_needed)
    for i, (t, f) in enumerate(zip(t_tensors, f_tensors)):
        # catches in-place updates (batch_norm's running statistics) and unwanted writes
        assert_same(f, t, dtype, f"{what}: argument tensor {i} after the call", tolerance,
                    override_needed)
    leaves = [(f"argument {i}", t, f) for i, (t, f) in enumerate(zip(t_tensors, f_tensors))
              if t.requires_grad]
    if not (leaves and t_out.requires_grad):
        return 0
    if gap is not None and gap.scope == "gradients":
        try:  # only to learn whether the gap is still needed
            compare_weighted_backward(t_out, f_out, leaves, dtype, what, tolerance)
        except Exception:  # noqa: BLE001 - any failure means the gap is still needed
            record.hit(("SAMPLE_GAPS", _op_key(op)), needed=True)
        return 0
    return compare_weighted_backward(t_out, f_out, leaves, dtype, what, tolerance,
                                     override_needed)


def _describe_args(v):
    if isinstance(v, torch.Tensor):
        return f"T{tuple(v.shape)}:{_dtype_name(v)}"
    if isinstance(v, (list, tuple)):
        return type(v)(_describe_args(x) for x in v)
    if isinstance(v, dict):
        return {k: _describe_args(x) for k, x in v.items()}
    return v


def _describe(sample):
    return (f"input={_describe_args(sample.input)} args={_describe_args(tuple(sample.args))} "
            f"kwargs={_describe_args(sample.kwargs)}")


def _gap(op, sample):
    gap = SAMPLE_GAPS.get(_op_key(op))
    return gap if gap is not None and gap.matches(sample) else None


def _expects_gradients(op):
    return op.supports_autograd and _op_key(op) not in NO_GRADIENT


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", RUN_OPINFOS, ids=_op_key)
def test_functional_samples(op, dtype):
    """Outputs, argument tensors and gradients of every sample. Fails also when no sample's
    output (or, for a differentiable op, no gradient) was compared."""
    fastdl_fn = _fastdl_fn(op)
    failures, known_failures = [], []
    samples = _op_samples(op, dtype)
    assert samples, f"{_op_key(op)} yielded no samples"
    known_bug, known_reason = KNOWN_BUGS_ELSEWHERE.get(_op_key(op), (None, ""))
    record = Ledger.Record()
    forwards = gradients = 0
    for i, sample in enumerate(samples):
        what = f"{_op_key(op)} {dtype} sample {i} ({_describe(sample)})"
        gap = _gap(op, sample)
        if gap is not None:
            record.hit(("SAMPLE_GAPS", _op_key(op)), needed=False)
        is_known, failed = known_bug is not None and known_bug(sample), False
        try:
            if gap is not None and gap.scope == "sample":
                try:  # not compared; run only to learn whether the gap is still needed
                    run_functional_sample(op, fastdl_fn, sample, dtype, what, Ledger.Record())
                except Exception:  # noqa: BLE001 - any failure means the gap is still needed
                    record.hit(("SAMPLE_GAPS", _op_key(op)), needed=True)
                continue
            gradients += run_functional_sample(op, fastdl_fn, sample, dtype, what, record, gap)
            forwards += 1
        except Exception as exc:  # collect all failures of this op, report them together
            message = f"{what}\n    {type(exc).__name__}: {exc}"
            (known_failures if is_known else failures).append(message)
            failed = True
        if is_known:
            record.hit(("KNOWN_BUGS_ELSEWHERE", _op_key(op)), needed=failed)
    assert not failures, f"{len(failures)}/{len(samples)} samples differ:\n" + "\n".join(failures)
    assert forwards or known_failures, f"{_op_key(op)} {dtype}: no sample's output was compared"
    if _expects_gradients(op):
        assert gradients or known_failures, f"{_op_key(op)} {dtype}: no gradient was compared"
    LEDGER.commit(_samples_case(op, dtype), record)
    if known_failures:
        pytest.xfail(f"{known_reason} ({len(known_failures)} samples)")


# OpInfos that declare gradgrad support torch itself lacks (their tests skip it by decorator):
# no second derivative to compare against.
TORCH_LACKS_SECOND_DERIVATIVE = {
    "nn.functional.ctc_loss": "torch raises 'derivative for aten::_ctc_loss_backward is not "
                              "implemented'; fastdl's backward is the computed gradient times "
                              "the incoming one, constant in log_probs",
    **{f"nn.functional.linear_cross_entropy.{variant}": "torch's chunked op has no second "
       "derivative (its OpInfo expects test_fn_gradgrad to fail); fastdl's chunks recompute "
       "through linear and cross_entropy, whose second derivatives the unchunked variant "
       "checks, and tests/test_linear_cross_entropy.py compares them with the unchunked path"
       for variant in ("chunked", "chunked_none")},
}
GRADGRAD_OPINFOS = [op for op in RUN_OPINFOS if op.supports_gradgrad and _expects_gradients(op)
                    and _op_key(op) not in TORCH_LACKS_SECOND_DERIVATIVE]
# Ops (piecewise) linear in every input that requires grad: the second derivative is zero, so
# torch's first gradients do not depend on the inputs and it has no second-order gradient to
# compare. Their test checks that fastdl's are None or zero too, on at least one sample, and
# fails if torch ever gives a nonzero one (then the entry is stale).
ZERO_SECOND_DERIVATIVE = {
    "nn.functional.fractional_max_pool2d": "a gather at the window maxima: linear",
    "nn.functional.fractional_max_pool3d": "a gather at the window maxima: linear",
    "nn.functional.relu": "piecewise linear",
    "nn.functional.leaky_relu": "piecewise linear",
    "flatten": "a view: linear",
    "nn.functional.embedding": "a row lookup: linear in weight (indices are integers)",
    "nn.functional.nll_loss": "linear in input (weight and target take no gradient)",
    "nn.functional.relu6": "piecewise linear",
    "nn.functional.hardtanh": "piecewise linear",
    "nn.functional.pad.constant": "copies and fills: linear",
    "nn.functional.margin_ranking_loss": "a hinge of input1 - input2: piecewise linear (the "
                                         "samples' target takes no gradient)",
    "nn.functional.hinge_embedding_loss": "input or a hinge of it: piecewise linear",
    "nn.functional.unfold": "copies blocks (im2col): linear",
    "nn.functional.grid_sample": "linear in input, the only input the samples differentiate "
                                 "(second derivatives through the grid: "
                                 "tests/test_fold_grid_sample.py against torch)",
    **{f"nn.functional.{name}": "piecewise linear" for name in ("threshold", "hardshrink",
                                                                "softshrink")},
    "nn.functional.rrelu": "piecewise linear: leaky_relu in eval, x times fixed noise in "
                           "training",
    **{f"nn.functional.{name}": "a permutation of the elements: linear"
       for name in ("pixel_shuffle", "pixel_unshuffle", "channel_shuffle")},
    **{f"nn.functional.{name}": "affine in the input (a fixed mask and shift)"
       for name in ("alpha_dropout", "feature_alpha_dropout.with_train",
                    "feature_alpha_dropout.without_train")},
    "nn.functional.pad.reflect": "a gather: linear",
    "nn.functional.pad.replicate": "a gather: linear",
    "nn.functional.pad.replicate_negative": "a gather (cropping): linear",
    "nn.functional.pad.circular": "a gather: linear",
    **{f"nn.functional.{name}": "piecewise linear: values picked at the argmax"
       for name in ("max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d",
                    "adaptive_max_pool2d", "adaptive_max_pool3d")},
    **{f"nn.functional.{name}": "linear: values put at given indices"
       for name in ("max_unpool1d", "max_unpool2d", "max_unpool3d", "max_unpool1d.grad",
                    "max_unpool2d.grad", "max_unpool3d.grad")},
    **{f"nn.functional.{name}": "linear: fixed weights over windows"
       for name in ("avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
                    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "interpolate.area")},
    **{f"nn.functional.{name}": "linear: fixed interpolation weights"
       for name in ("interpolate.nearest", "interpolate.nearest-exact", "interpolate.linear",
                    "interpolate.bilinear", "interpolate.bicubic", "interpolate.trilinear",
                    "upsample_bilinear", "upsample_nearest")},
}
GRADGRAD_SAMPLES_PER_OP = 12

# Samples whose second derivatives alone are not compared (their outputs and first gradients
# are), keyed by OpInfo key. Stale (the final test fails) when no matching sample fails.
GRADGRAD_GAPS = {
    "nn.functional.mish": Gap(
        lambda sample: bool((sample.input.detach().abs() > 700).any()),
        "torch's second derivative of mish is NaN for x > ~709 (its composite backward goes "
        "through softplus' double backward, which multiplies exp(x) = inf by a 0 mask); the "
        "true value, fastdl's, is 0. Moderate inputs are compared", scope="gradgrad"),
}



class _NothingToDifferentiate(Exception):
    pass


def compare_second_order(op, fastdl_fn, sample, what, zero_expected):
    """Compare one sample's second-order gradients; returns how many were compared. Raises
    _NothingToDifferentiate when the sample has no gradient at all."""
    t_input, t_args, t_kwargs = fresh_leaves((sample.input, tuple(sample.args), sample.kwargs))
    f_input, f_args, f_kwargs = to_fastdl((t_input, t_args, t_kwargs))
    t_leaves = [t for t in _tensors((t_input,) + t_args, t_kwargs) if t.requires_grad]
    f_leaves = [f for f in _tensors((f_input,) + tuple(f_args), f_kwargs) if f.requires_grad]
    t_out = op.op(t_input, *t_args, **t_kwargs)
    f_out = fastdl_fn(f_input, *f_args, **f_kwargs)
    if isinstance(t_out, tuple):  # (values, indices): the values are differentiated
        t_out, f_out = t_out[0], f_out[0]
    if not t_leaves or not t_out.requires_grad:
        raise _NothingToDifferentiate
    return compare_hessian_vector(t_out, f_out, t_leaves, f_leaves, what, zero_expected)


@pytest.mark.parametrize("op", GRADGRAD_OPINFOS, ids=_op_key)
def test_functional_gradgrad_samples(op):
    """Second derivatives (float64): fastdl's backward formulas are written with registered ops
    (dedicated backward ops have their own backward); this checks them against torch. Samples
    with a SAMPLE_GAPS entry (either scope) are left out, and those a GRADGRAD_GAPS entry
    matches are run only to learn whether the entry is still needed. Fails also when no
    second-order gradient was compared."""
    fastdl_fn = _fastdl_fn(op)
    known_bug, known_reason = KNOWN_BUGS_ELSEWHERE.get(_op_key(op), (None, ""))
    gradgrad_gap = GRADGRAD_GAPS.get(_op_key(op))
    failures, known_failures = [], []
    record = Ledger.Record()
    compared = checked = 0
    zero_expected = _op_key(op) in ZERO_SECOND_DERIVATIVE
    samples = [s for s in _op_samples(op, torch.float64) if _gap(op, s) is None]
    for i, sample in enumerate(samples[:GRADGRAD_SAMPLES_PER_OP]):
        what = f"{_op_key(op)} gradgrad sample {i} ({_describe(sample)})"
        if gradgrad_gap is not None and gradgrad_gap.matches(sample):
            try:
                compare_second_order(op, fastdl_fn, sample, what, zero_expected)
                needed = False
            except Exception:  # noqa: BLE001 - any failure means the gap is still needed
                needed = True
            record.hit(("GRADGRAD_GAPS", _op_key(op)), needed)
            continue
        is_known, failed = known_bug is not None and known_bug(sample), False
        try:
            compared += compare_second_order(op, fastdl_fn, sample, what, zero_expected)
            checked += 1
        except _NothingToDifferentiate:
            pass
        except Exception as exc:
            message = f"{what}\n    {type(exc).__name__}: {exc}"
            (known_failures if is_known else failures).append(message)
            failed = True
        if is_known:
            record.hit(("KNOWN_BUGS_ELSEWHERE", _op_key(op)), needed=failed)
    assert not failures, f"{len(failures)} samples differ:\n" + "\n".join(failures)
    if zero_expected:
        assert checked or known_failures, f"{_op_key(op)}: no sample's second-order gradients " \
                                          "were checked"
    else:
        assert compared or known_failures, \
            f"{_op_key(op)}: no second-order gradient was compared (if the op is linear in its " \
            "inputs, list it in ZERO_SECOND_DERIVATIVE)"
    LEDGER.commit(_gradgrad_case(op), record)
    if known_failures:
        pytest.xfail(f"{known_reason} ({len(known_failures)} samples)")


ERROR_OPINFOS = [op for op in FUNCTIONAL_OPINFOS
                 if op.error_inputs_func is not None and _op_key(op) not in ALLOWED_GAPS]
_CLEAR_ERRORS = (ValueError, TypeError, IndexError, RuntimeError)


def assert_clear_error(exc_info_value, torch_error_type, what):
    """fastdl reports bad input with TypeError/ValueError/IndexError; where torch does too, the
    class must match; torch's RuntimeError may be any of the clear classes."""
    expected = torch_error_type if torch_error_type in (ValueError, TypeError, IndexError) \
        else _CLEAR_ERRORS
    assert isinstance(exc_info_value, expected), \
        f"{what}: fastdl raised {type(exc_info_value).__name__}: {exc_info_value}; expected " \
        f"{getattr(expected, '__name__', expected)}"
    assert str(exc_info_value), f"{what}: empty error message"


@pytest.mark.parametrize("op", ERROR_OPINFOS, ids=_op_key)
def test_functional_error_inputs(op):
    fastdl_fn = _fastdl_fn(op)
    errors = list(op.error_inputs("cpu"))
    assert errors, f"{_op_key(op)} yielded no error inputs"
    for i, error in enumerate(errors):
        sample = error.sample_input
        what = f"{_op_key(op)} error input {i} ({_describe(sample)})"
        try:
            # inside the try: an input fastdl cannot hold (a complex tensor) is refused with a
            # clear TypeError when it is made, which is where fastdl's user meets the error
            f_input, f_args, f_kwargs = to_fastdl((sample.input, sample.args, sample.kwargs))
            fastdl_fn(f_input, *f_args, **f_kwargs)
        except Exception as exc:  # noqa: BLE001 - the class is checked next
            assert_clear_error(exc, error.error_type, what)
        else:
            pytest.fail(f"{what}: fastdl raised nothing; torch raises {error.error_type.__name__}"
                        f" matching {error.error_regex!r}")


# ---------------------------------------------------------------------------------------------
# Dropout: random masks, so structure and statistics instead of values

DROPOUT_OPINFOS = [op for op in FUNCTIONAL_OPINFOS if _functional_name(op) in DROPOUT_NAMES]


def _mask_rows(name, shape):
    """Rows that share one Bernoulli draw: one row per element for dropout; per (sample,
    channel) for dropout2d/3d (dropout3d takes a rank other than 5 as unbatched)."""
    size = math.prod(shape)
    if name == "dropout" or len(shape) < 2:
        return size
    if name == "dropout3d" and len(shape) != 5:
        return shape[0]
    return shape[0] * shape[1]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", DROPOUT_OPINFOS, ids=_op_key)
def test_dropout_samples(op, dtype):
    fastdl.manual_seed(0)
    name = _functional_name(op)
    samples = _op_samples(op, dtype)
    assert samples, f"{name} yielded no samples"
    for i, sample in enumerate(samples):
        what = f"{name} {dtype} sample {i} ({_describe(sample)})"
        p = sample.kwargs.get("p", 0.5)
        training = sample.kwargs.get("training", True)
        t_out = op.op(sample.input, *sample.args, **sample.kwargs)
        f_input = to_fastdl(sample.input)
        f_out = getattr(F, name)(f_input, *sample.args, **to_fastdl(sample.kwargs))
        x, y = _numpy(f_input), _numpy(f_out)
        assert y.shape == x.shape and _dtype_name(y) == _dtype_name(t_out), what
        if not training or p == 0:
            assert_same(f_out, t_out, dtype, what)  # the identity, like torch
            expected_grad_factor = np.ones_like(x)
        elif p == 1:
            assert_same(f_out, t_out, dtype, what)  # all zeros, like torch
            expected_grad_factor = np.zeros_like(x)
        else:
            kept = y != 0
            np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6, err_msg=what)
            rows = _mask_rows(name, x.shape)
            if x.size and rows != x.size:  # a channel is kept or dropped as a whole
                kept_rows = kept.reshape(rows, -1)
                nonzero = (x != 0).reshape(rows, -1)
                assert not np.any(kept_rows.any(axis=1, keepdims=True) & nonzero & ~kept_rows), \
                    f"{what}: a channel is partly dropped"
                kept = np.broadcast_to(kept_rows.any(axis=1, keepdims=True),
                                       kept_rows.shape).reshape(x.shape)
            expected_grad_factor = kept / (1 - p)
        w = _rng(what).standard_normal(x.shape).astype(x.dtype)
        (f_out * fastdl.Tensor(w.copy())).sum().backward()
        np.testing.assert_allclose(_numpy(f_input.grad), w * expected_grad_factor, rtol=1e-6,
                                   err_msg=f"{what}: gradient")


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    fastdl.manual_seed(1)
    n = 20000
    x = fastdl.ones(n, dtype=np.float64)
    y = _numpy(F.dropout(x, p=p))
    dropped = float(np.mean(y == 0))
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(dropped - p) < 5 * sigma, f"dropped fraction {dropped} for p={p}"
    assert set(np.unique(y)) <= {0.0, 1.0 / (1 - p)}
    assert abs(float(y.mean()) - 1.0) < 5 * math.sqrt(p / (1 - p) / n)  # scaling keeps the mean


def test_dropout_module():
    fastdl.manual_seed(2)
    m = fnn.Dropout(0.25)
    x = fastdl.randn(64, 33)
    y = m(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert 0.15 < float(np.mean(_numpy(y) == 0)) < 0.35
    m.eval()
    np.testing.assert_array_equal(_numpy(m(x)), _numpy(x))


# ---------------------------------------------------------------------------------------------
# Modules

def _module_key(mi):
    return mi.module_cls.__name__


def _module_samples(mi, dtype, training):
    torch.manual_seed(0)
    return _capped(mi.module_inputs_func(mi, device="cpu", dtype=dtype, requires_grad=True,
                                         training=training),
                   MODULE_SAMPLE_CAPS.get(_module_key(mi), MAX_SAMPLES_PER_OP))


def build_twins(mi, module_input, dtype, training, what):
    cargs, ckwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
    t_module = mi.module_cls(*cargs, **ckwargs).to(dtype)
    f_module = getattr(fnn, _module_key(mi))(*to_fastdl(cargs), **to_fastdl(ckwargs))
    f_module.to(_NP_DTYPES[dtype])  # as torch's module.to(dtype)
    forward = module_input.forward_input
    if getattr(t_module, "has_uninitialized_params", lambda: False)() and forward is not None:
        # a lazy module infers its parameters' shapes from its first input: both get the
        # sample's, then the materialized modules are compared as any other
        with torch.no_grad(), fastdl.no_grad():
            t_module(*forward.args, **forward.kwargs)
            f_module(*to_fastdl(tuple(forward.args)), **to_fastdl(dict(forward.kwargs)))
    load_torch_state(t_module, f_module, what)
    t_module.train(training)
    f_module.train(training)
    return t_module, f_module




def run_module_sample(mi, module_input, dtype, training, what):
    """Returns how many gradients (inputs and parameters) were compared."""
    compared = 0
    t_module, f_module = build_twins(mi, module_input, dtype, training, what)
    forward = module_input.forward_input
    t_args, t_kwargs = fresh_leaves((tuple(forward.args), dict(forward.kwargs)))
    t_out, f_out, f_args, f_kwargs = compare_module_forward(t_module, f_module, t_args, t_kwargs,
                                                            dtype, what)
    if any(isinstance(t, torch.Tensor) and t.requires_grad for t in flatten_outputs(t_out)):
        pairs = [(f"input {i}", t, f) for i, (t, f) in
                 enumerate(zip(_tensors(t_args, t_kwargs), _tensors(f_args, f_kwargs)))
                 if t.requires_grad]
        f_params = dict(f_module.named_parameters())
        assert list(f_params) == [n for n, _ in t_module.named_parameters()], \
            f"{what}: parameter names differ"
        pairs += [(f"parameter {n}", t, f_params[n]) for n, t in t_module.named_parameters()]
        compared = compare_weighted_backward(t_out, f_out, pairs, dtype, what)
    if training and mi.train_and_eval_differ:
        # eval after a training step: uses what training accumulated (running statistics)
        t_module.eval()
        f_module.eval()
        detached = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in t_args)
        detached_kw = {k: v.detach() if isinstance(v, torch.Tensor) else v
                       for k, v in t_kwargs.items()}
        with torch.no_grad(), fastdl.no_grad():
            compare_module_forward(t_module, f_module, detached, detached_kw, dtype,
                                   f"{what} then eval")
    return compared


def _module_modes(mi):
    return (True, False) if mi.train_and_eval_differ else (True,)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mi", MODULEINFOS, ids=_module_key)
def test_module_samples(mi, dtype):
    failures, total, gradients = [], 0, 0
    for training in _module_modes(mi):
        for i, module_input in enumerate(_module_samples(mi, dtype, training)):
            if module_input.forward_input is None:
                continue
            total += 1
            desc = getattr(module_input, "desc", "")
            what = (f"{_module_key(mi)} {dtype} {'train' if training else 'eval'} sample {i} "
                    f"{desc!r}")
            try:
                gradients += run_module_sample(mi, module_input, dtype, training, what)
            except Exception as exc:
                failures.append(f"{what}\n    {type(exc).__name__}: {exc}")
    assert total, f"{_module_key(mi)} yielded no samples"
    assert not failures, f"{len(failures)}/{total} samples differ:\n" + "\n".join(failures)
    assert gradients, f"{_module_key(mi)} {dtype}: no gradient was compared"


ERROR_MODULEINFOS = [mi for mi in MODULEINFOS if mi.module_error_inputs_func is not None]


@pytest.mark.parametrize("mi", ERROR_MODULEINFOS, ids=_module_key)
def test_module_error_inputs(mi):
    from torch.testing._internal.common_modules import ModuleErrorEnum
    errors = list(mi.module_error_inputs_func(mi, device="cpu", dtype=torch.float32,
                                              requires_grad=False, training=True))
    assert errors, f"{_module_key(mi)} yielded no error inputs"
    for i, error in enumerate(errors):
        module_input = error.module_error_input
        forward = module_input.forward_input
        what = (f"{_module_key(mi)} error input {i} (constructor "
                f"{module_input.constructor_input.args} {module_input.constructor_input.kwargs}, "
                f"forward {None if forward is None else _describe_args(forward.args)})")
        cls = getattr(fnn, _module_key(mi))
        constructing = error.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR
        try:
            module = cls(*to_fastdl(module_input.constructor_input.args),
                         **to_fastdl(module_input.constructor_input.kwargs))
            if not constructing:
                module(*to_fastdl(tuple(forward.args)), **to_fastdl(dict(forward.kwargs)))
        except Exception as exc:  # noqa: BLE001 - the class is checked next
            assert_clear_error(exc, error.error_type, what)
        else:
            pytest.fail(f"{what}: fastdl raised nothing; torch raises {error.error_type.__name__}"
                        f" matching {error.error_regex!r}")


# ---------------------------------------------------------------------------------------------
# Staleness of the lists above. Runs last (pytest keeps definition order); it judges only the
# entries whose every test case ran (and passed) in this process, so it is exact for a full
# run and silent about ops deselected with -k or run by another pytest-xdist worker.

def _ledger_entries():
    entries = {}
    for key, gap in SAMPLE_GAPS.items():
        entries[("SAMPLE_GAPS", key)] = {_samples_case(op, dtype) for op in RUN_OPINFOS
                                         if _op_key(op) == key for dtype in DTYPES}
    for name, dtype in TOLERANCE_OVERRIDES:
        entries[("TOLERANCE_OVERRIDES", name, dtype)] = {
            _samples_case(op, dtype) for op in RUN_OPINFOS if op.name == name}
    for key in GRADGRAD_GAPS:
        entries[("GRADGRAD_GAPS", key)] = {_gradgrad_case(op) for op in GRADGRAD_OPINFOS
                                           if _op_key(op) == key}
    for key in KNOWN_BUGS_ELSEWHERE:
        entries[("KNOWN_BUGS_ELSEWHERE", key)] = (
            {_samples_case(op, dtype) for op in RUN_OPINFOS if _op_key(op) == key
             for dtype in DTYPES}
            | {_gradgrad_case(op) for op in GRADGRAD_OPINFOS if _op_key(op) == key})
    return entries


def test_no_stale_gaps_or_overrides():
    """Every SAMPLE_GAPS, TOLERANCE_OVERRIDES and KNOWN_BUGS_ELSEWHERE entry must still be
    needed by some sample: a gap by a sample that fails the comparison it drops, an override by
    a comparison the default tolerance (with OVERRIDE_HEADROOM) does not cover, a known bug by
    a failing sample."""
    stale, unchecked = LEDGER.stale(_ledger_entries())
    assert not stale, "stale entries; remove them:\n" + "\n".join(stale)
    if unchecked and len(unchecked) == len(_ledger_entries()):
        pytest.skip(f"the tests using these entries did not all run in this process: "
                    f"{unchecked}")
