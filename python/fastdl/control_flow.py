"""torch's control-flow operators ``cond`` and ``while_loop`` in eager mode.

torch compiles these to capture both branches (or the loop body) as graphs; fastdl runs them
as Python control flow with torch's argument checks. What torch's tracing checks beyond that
is partly done: ``while_loop`` checks that the body keeps each carried tensor's shape and dtype;
``cond`` runs only the branch ``pred`` picks, so a mismatch between the two branches' outputs,
or a branch returning its input unchanged (torch's aliasing error), is not detected.
Gradients flow through whichever ops ran.
"""
from __future__ import annotations

from fastdl._pytree import tree_flatten as _leaves
from fastdl.tensor import Tensor


def _only_tensor_leaves(tree, allow_int=False):
    leaves = _leaves(tree)[0]
    ok = (Tensor, int) if allow_int else (Tensor,)
    return all(isinstance(x, ok) and not isinstance(x, bool) for x in leaves)


def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``. ``pred``: a Python
    bool/number or a one-element tensor; ``operands``: a tuple or list of tensors (possibly in
    nested tuples, lists, dicts).

    >>> x = fastdl.tensor([1.0, -2.0])
    >>> fastdl.cond(x.sum() > 0, lambda a: a * 2, lambda a: a - 1, (x,))
    tensor([ 0., -3.])
    """
    if isinstance(pred, (bool, int, float)):  # torch's eager path: a constant picks a branch
        return true_fn(*operands) if pred else false_fn(*operands)
    if not isinstance(pred, Tensor):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got "
                           f"{pred}.")
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")
    if not isinstance(operands, (tuple, list)) or not _only_tensor_leaves(operands):
        raise RuntimeError(f"Expect operands to be a tuple of possibly nested dict/list/tuple "
                           f"that only consists of tensor leaves, but got {operands}.")
    return true_fn(*operands) if bool(pred.item()) else false_fn(*operands)


def _check_pred(pred):
    if isinstance(pred, bool):
        return pred
    if isinstance(pred, Tensor) and pred.ndim == 0 and pred.dtype.kind == "b":
        return bool(pred.item())
    raise RuntimeError(f"cond_fn must return a boolean scalar tensor or a boolean but got "
                       f"{pred}")


def _check_carried(out, carried):
    if not isinstance(out, tuple):
        raise RuntimeError(f"body_fn should return a tuple but got {type(out)}")
    if len(out) != len(carried):
        raise RuntimeError(f"body_fn should return the same number of elements as "
                           f"carried_inputs, got {len(out)} vs {len(carried)}")
    new, old = _leaves(out)[0], _leaves(tuple(carried))[0]
    if len(new) != len(old):
        raise RuntimeError("Expected body_fn_output and carried_inputs to have the same "
                           "structure")
    for i, (a, b) in enumerate(zip(new, old)):
        if isinstance(a, Tensor) != isinstance(b, Tensor):
            raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same "
                               f"metadata but found: pair[{i}] differ in type: "
                               f"{type(a).__name__} vs {type(b).__name__}")
        if isinstance(a, Tensor):
            for what, x, y in (("shape", a.shape, b.shape), ("dtype", a.dtype, b.dtype)):
                if x != y:
                    raise RuntimeError(f"Expected body_fn_output and carried_inputs to have "
                                       f"same metadata but found: pair[{i}] differ in "
                                       f"'{what}: {x} vs {y}'")


def while_loop(cond_fn, body_fn, carried_inputs):
    """Run ``carried = body_fn(*carried)`` while ``cond_fn(*carried)`` is true and return the
    final carried values as a tuple. ``carried_inputs``: a tuple or list of tensors and ints
    (possibly nested); ``cond_fn`` returns a bool or a 0-d bool tensor; ``body_fn`` returns a
    tuple of the carried values' structure, each tensor keeping its shape and dtype.

    >>> i, x = fastdl.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2),
    ...                          (fastdl.tensor(0), fastdl.ones(2)))
    >>> i, x
    (tensor(3), tensor([8., 8.]))
    """
    if not callable(cond_fn) or not callable(body_fn):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list but got "
                           f"{type(carried_inputs)}")
    if not _only_tensor_leaves(carried_inputs, allow_int=True):
        raise RuntimeError(f"Expect carried_inputs to be a tuple of possibly nested "
                           f"dict/list/tuple that only consists of tensor or int leaves, but "
                           f"got {carried_inputs}.")
    carried = tuple(carried_inputs)
    if not _check_pred(cond_fn(*carried)):
        # torch returns copies, never the caller's own tensors
        return tuple(v.clone() if isinstance(v, Tensor) else v for v in carried)
    while True:
        out = body_fn(*carried)
        _check_carried(out, carried)
        carried = out
        if not _check_pred(cond_fn(*carried)):
            return carried


__all__ = ["cond", "while_loop"]
