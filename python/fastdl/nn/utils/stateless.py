"""Calling a module with other tensors in place of its parameters and buffers
(``torch.nn.utils.stateless``; :func:`fastdl.func.functional_call` is the current name)."""
from __future__ import annotations

import contextlib
import warnings

from fastdl.tensor import Tensor

# a name the module did not have before the call: deleted again afterwards
_MISSING = object()


def _swap_tensor(module, name: str, tensor):
    """Put ``tensor`` (or _MISSING: remove) under ``name`` in ``module`` and return what was
    there (torch's ``swap_tensor`` with allow_missing): registry entries are replaced in the
    registry, so a plain Tensor can stand in for a Parameter."""
    if tensor is not _MISSING and tensor is not None and not isinstance(tensor, Tensor):
        raise TypeError(f"{tensor} is not an instance of fastdl.Tensor")
    for registry in (module._parameters, module._buffers):
        if name in registry:
            original = registry[name]
            if tensor is _MISSING:
                del registry[name]
            else:
                registry[name] = tensor
            return original
    original = getattr(module, name, _MISSING)
    if original is not _MISSING and original is not None and not isinstance(original, Tensor):
        raise TypeError(f"attribute `{name}`: {original} is not an instance of fastdl.Tensor")
    if tensor is not _MISSING:
        object.__setattr__(module, name, tensor)
    elif original is not _MISSING:
        object.__delattr__(module, name)
    return original


def _swap_all(module, tensors: dict) -> dict:
    """Swap every dotted name of ``tensors`` in; returns the tensors swapped out."""
    swapped_out = {}
    for path, tensor in tensors.items():
        owner_path, _, name = path.rpartition(".")
        swapped_out[path] = _swap_tensor(module.get_submodule(owner_path), name, tensor)
    return swapped_out


def _untie(module, parameters_and_buffers: dict) -> dict:
    """``parameters_and_buffers`` extended to every name of a tied tensor (one tensor registered
    under several names) of which one name was given, as torch's ``tie_weights=True``."""
    names_of = {}  # id(tensor) -> the names it is registered under
    for name, tensor in [*module.named_parameters(remove_duplicate=False),
                         *module.named_buffers(remove_duplicate=False)]:
        names_of.setdefault(id(tensor), set()).add(name)
    tied = {name: names for names in names_of.values() if len(names) > 1 for name in names}
    given_tied = [name for name in parameters_and_buffers if name in tied]
    for name in given_tied:
        tied_names = tied[name]
        given_values = {id(parameters_and_buffers[n]) for n in tied_names
                        if n in parameters_and_buffers}
        if len(given_values) > 1:
            raise ValueError(f"functional_call got multiple values for keys "
                             f"{sorted(tied_names)}, which are tied. Consider using "
                             "tie_weights=False")
    untied = dict(parameters_and_buffers)
    for name in given_tied:
        for tied_name in tied[name]:
            untied[tied_name] = parameters_and_buffers[name]
    return untied


def _check_keys(module, keys) -> None:
    valid = {name for name, _ in [*module.named_parameters(remove_duplicate=False),
                                  *module.named_buffers(remove_duplicate=False)]}
    missing, unexpected = sorted(valid - set(keys)), sorted(set(keys) - valid)
    errors = []
    if unexpected:
        errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if errors:
        raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t"
                           + "\n\t".join(errors))


@contextlib.contextmanager
def reparametrized(module, parameters_and_buffers: dict, tie_weights: bool = False,
                   strict: bool = False):
    """Within the block ``module`` holds the given tensors under their dotted names; the
    originals come back afterwards, also when the block raised. As torch, the dict's entries
    are then updated to what the module held at the end (a buffer the forward re-bound)."""
    tensors = _untie(module, parameters_and_buffers) if tie_weights else parameters_and_buffers
    if strict:
        _check_keys(module, tensors)
    originals = {}
    try:
        originals = _swap_all(module, tensors)
        yield
    finally:
        # undone last to first: a module registered under two names (tied) gets its own
        # tensor back (torch restores in the order of the swaps, which leaves the given tensor
        # in a tied module)
        at_the_end = _swap_all(module, dict(reversed(originals.items())))
        parameters_and_buffers.update({name: at_the_end[name] for name in parameters_and_buffers
                                       if name in at_the_end})


def call_with(module, parameters_and_buffers: dict, args=None, kwargs=None, *,
              tie_weights: bool = True, strict: bool = False):
    """``module(*args, **kwargs)`` with ``parameters_and_buffers`` swapped in (the shared body
    of the two ``functional_call`` entry points)."""
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with reparametrized(module, parameters_and_buffers, tie_weights=tie_weights,
                        strict=strict):
        return module(*args, **kwargs)


def functional_call(module, parameters_and_buffers: dict, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Deprecated as in torch (a FutureWarning): use :func:`fastdl.func.functional_call`,
    which this calls with one dict."""
    warnings.warn("`fastdl.nn.utils.stateless.functional_call` is deprecated (as torch's is "
                  "since PyTorch 2.0). Please use `fastdl.func.functional_call` instead which "
                  "is a drop-in replacement.",
                  FutureWarning, stacklevel=2)
    return call_with(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights,
                     strict=strict)
