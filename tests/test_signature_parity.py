"""fastdl's parameter lists (names, order, kinds, defaults) equal torch's for every public
callable of torch.nn.functional, every torch.nn module's ``__init__`` and every class of
torch.optim and torch.optim.lr_scheduler.

What fastdl deliberately lacks is in ``MISSING`` and where fastdl deliberately takes more in
``EXTENDED``, each with its reason; an entry that no longer applies fails the test, so both
lists shrink as fastdl catches up. torch callables whose parameters Python cannot see (C
builtins, ``*args, **kwargs`` dispatchers such as max_pool2d's boolean_dispatch or
nn.LSTM's overloads) have nothing to compare and are left out."""
import inspect
import warnings

import pytest

torch = pytest.importorskip("torch")

import fastdl  # noqa: E402

# torch names fastdl does not provide, and why
MISSING = {
    "F.grouped_mm": "grouped bfloat16/float8 GEMMs for mixture-of-experts kernels: fastdl has "
                    "no bfloat16 or float8 dtypes",
    "F.scaled_grouped_mm": "float8 scaled grouped GEMM: fastdl has no float8 dtypes",
    "F.scaled_mm": "float8 scaled GEMM: fastdl has no float8 dtypes",
    "nn.Container": "torch's long-deprecated pre-Module container (warns on use); "
                    "nn.Sequential/ModuleDict replace it",
    "nn.DataParallel": "single-process multi-GPU replication: fastdl's data parallelism is "
                       "one process per replica (nn.parallel.DistributedDataParallel over MPI)",
}

# callables whose fastdl version takes more parameters than torch's, and why
EXTENDED = {
    "F.dropout": "keyword-only generator= for reproducible masks (torch's dropout draws from "
                 "the global generator only)",
}

# torch.nn.functional's namespace re-exports torch's own plumbing; not nn ops
_PLUMBING = {"assert_int_or_pair", "boolean_dispatch", "handle_torch_function",
             "has_torch_function", "has_torch_function_unary", "has_torch_function_variadic"}


def _parameters(fn):
    """[(name, kind, default)] without ``self``; None where Python cannot see them."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = [p for p in signature.parameters.values() if p.name != "self"]
    if [p.kind for p in params] == [inspect.Parameter.VAR_POSITIONAL,
                                    inspect.Parameter.VAR_KEYWORD]:
        return None  # a dispatcher: the real lists are behind it
    return [(p.name, p.kind, _default(p.default)) for p in params]


def _default(value):
    """A default in a form both libraries can be compared in: their functions (e.g.
    Transformer's activation=F.relu) by name, numbers by value (0 == 0.0)."""
    if callable(value) and hasattr(value, "__name__"):
        return ("callable", value.__name__)
    return value


def _entries():
    """(name, torch callable, fastdl callable or None) for everything compared."""
    import torch.nn.functional as TF
    import fastdl.nn.functional as FF
    for name in sorted(dir(TF)):
        fn = getattr(TF, name)
        if name.startswith("_") or name in _PLUMBING or not inspect.isroutine(fn):
            continue  # (also the typing names the module imports)
        yield f"F.{name}", fn, getattr(FF, name, None)
    for name in sorted(dir(torch.nn)):
        cls = getattr(torch.nn, name)
        if isinstance(cls, type) and issubclass(cls, torch.nn.Module):
            ours = getattr(fastdl.nn, name, None)
            yield f"nn.{name}", cls.__init__, ours and ours.__init__
    for module, ours_module, prefix in (
            (torch.optim, fastdl.optim, "optim"),
            (torch.optim.lr_scheduler, fastdl.optim.lr_scheduler, "lr_scheduler")):
        for name in sorted(dir(module)):
            cls = getattr(module, name)
            if isinstance(cls, type) and not name.startswith("_") and \
                    cls.__module__.startswith(module.__name__):
                ours = getattr(ours_module, name, None)
                yield f"{prefix}.{name}", cls.__init__, ours and ours.__init__


def _differences():
    missing, extended, different = set(), set(), {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entries = list(_entries())
    for name, theirs, ours in entries:
        if ours is None:
            missing.add(name)
            continue
        want, got = _parameters(theirs), _parameters(ours)
        if want is None or got == want:
            continue
        if got is not None and got[:len(want)] == want and all(
                kind == inspect.Parameter.KEYWORD_ONLY for _, kind, _ in got[len(want):]):
            extended.add(name)
        else:
            different[name] = (want, got)
    return missing, extended, different


def test_parameter_lists_match_torch():
    missing, extended, different = _differences()
    assert not different, "parameter lists that differ from torch's (torch, fastdl):\n" + \
        "\n".join(f"{name}:\n  torch  {want}\n  fastdl {got}"
                  for name, (want, got) in sorted(different.items()))
    assert missing == set(MISSING), (
        f"missing from fastdl without a MISSING entry: {sorted(missing - set(MISSING))}; "
        f"stale MISSING entries: {sorted(set(MISSING) - missing)}")
    assert extended == set(EXTENDED), (
        f"extra keyword-only parameters without an EXTENDED entry: "
        f"{sorted(extended - set(EXTENDED))}; stale EXTENDED entries: "
        f"{sorted(set(EXTENDED) - extended)}")


def test_the_comparison_sees_a_difference():
    def theirs(input, p=0.5, training=True):
        pass

    def ours(input, p=0.4, training=True):
        pass
    assert _parameters(theirs) != _parameters(ours)
    assert _parameters(lambda x, p=0: None) == _parameters(lambda x, p=0.0: None)
    assert _parameters(torch.nn.LSTM.__init__) is None  # a (*args, **kwargs) dispatcher
