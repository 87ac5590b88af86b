"""``vmap`` (torch.func.vmap / torch.vmap) by running the function once per batch entry.

fastdl has no batched-tensor dispatch, so ``vmap(f)(x)`` calls ``f`` on ``x.select(in_dim, i)``
for every ``i`` and stacks the outputs along ``out_dims``: the values, shapes, dtypes and
gradients (``select`` and ``stack`` are differentiable) are torch's. What differs: the calls
run one after another (``chunk_size`` is validated and changes nothing), and ``f`` sees
ordinary tensors, so code torch's vmap rejects (``.item()``, data-dependent branches) runs
here. ``randomness='error'`` is detected from the default CPU generator's state changing in a
call, 'same' replays the generator's state for every entry, 'different' lets it run on.
An out_dim of None is accepted when every entry's output is equal (torch's test is whether
the output is batched).
"""
from __future__ import annotations

import functools

from fastdl._pytree import tree_flatten as _leaves, tree_unflatten
from fastdl.tensor import Tensor

_RANDOMNESS = ("error", "different", "same")


def _fn_name(func):
    return getattr(func, "__name__", repr(func))


def _dims_for(dims, tree, what):
    """One dim per leaf of ``tree``: an int/None applies to all of a subtree, a tuple (list,
    dict) must match the subtree's structure."""
    if dims is None or (isinstance(dims, int) and not isinstance(dims, bool)):
        return [dims] * len(_leaves(tree)[0])
    same_kind = (isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list))
                 and len(dims) == len(tree)) or \
        (isinstance(dims, dict) and isinstance(tree, dict) and set(dims) == set(tree))
    if not same_kind:
        raise ValueError(f"{what} is not compatible with the structure of the "
                         f"{'inputs' if what == 'in_dims' else 'outputs'}: {what} {dims!r}")
    keys = list(tree) if isinstance(tree, dict) else range(len(tree))
    out = []
    for k in keys:
        out += _dims_for(dims[k], tree[k], what)
    return out


def _check_randomness(randomness):
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over a dimension of its inputs: ``vmap(f)(x)[i] == f(x[i])``.

    ``in_dims``: an int (or None: not mapped) for every argument, or a tuple with one per
    argument (nested to match tuple/list/dict arguments); keyword arguments are passed
    unmapped. ``out_dims``: where the mapped dimension goes in each output. ``randomness``:
    'error' (a random op inside raises), 'different' or 'same' (every entry draws the same).

    Shape: an input mapped at dim d of size B gives outputs with a dim of size B at out_dims.

    >>> x, w = fastdl.randn(5, 3), fastdl.randn(3)
    >>> fastdl.vmap(fastdl.dot, in_dims=(0, None))(x, w).shape
    (5,)
    >>> fastdl.vmap(lambda r: r.sum(), in_dims=1)(x).shape
    (3,)
    """
    _check_randomness(randomness)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")
    if not callable(func):
        raise RuntimeError(f"vmap: func must be callable, got {type(func).__name__}")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return _vmapped_call(func, in_dims, out_dims, randomness, args, kwargs)
    return wrapped


def _vmapped_call(func, in_dims, out_dims, randomness, args, kwargs):
    name = _fn_name(func)
    where = f"vmap({name}, in_dims={in_dims!r}, ...)(<inputs>)"
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add "
                         "inputs, or you are trying to vmap over a function with no inputs. "
                         "The latter is unsupported.")
    if not (isinstance(in_dims, tuple) or isinstance(in_dims, int)
            and not isinstance(in_dims, bool)):
        raise ValueError(f"{where}: expected `in_dims` to be int or a (potentially nested) "
                         f"tuple matching the structure of inputs, got: {type(in_dims)}.")
    leaves, spec = _leaves(args)
    dims = _dims_for(in_dims, args, "in_dims")
    sizes = []
    for leaf, d in zip(leaves, dims):
        if d is None:
            continue
        if not isinstance(leaf, Tensor):
            raise ValueError(f"{where}: Got in_dim={d} for an input but the input is of type "
                             f"{type(leaf)}. We cannot vmap over non-Tensor arguments, please "
                             "use None as the respective in_dim")
        n = leaf.ndim
        if not -n <= d < n:
            raise ValueError(f"{where}: Got in_dim={d} for some input, but that input is a "
                             f"Tensor of dimensionality {n} so expected in_dim to satisfy "
                             f"-{n} <= in_dim < {n}.")
        sizes.append(leaf.shape[d])
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    size = sizes[0]
    from fastdl.global_flags import get_rng_state, set_rng_state
    start_state = get_rng_state() if randomness != "different" else None
    results = []
    for i in range(max(size, 1)):
        # a batch of 0 still runs f once (on zeros) to learn the outputs' shapes
        entry = [leaf if d is None else
                 (leaf.select(d, i) if size else _zeros_entry(leaf, d)) for leaf, d in
                 zip(leaves, dims)]
        if randomness == "same":
            set_rng_state(start_state)
        results.append(func(*tree_unflatten(entry, spec), **kwargs))
        if randomness == "error" and not get_rng_state().equal(start_state):
            raise RuntimeError("vmap: called random operation while in randomness error mode. "
                               "Please either use the 'same' or 'different' randomness flags "
                               "on vmap or perform the randomness operation out of vmap")
    return _stack_outputs(func, results, out_dims, size)


def _zeros_entry(leaf, d):
    from fastdl.creation import zeros
    shape = leaf.shape[:d % leaf.ndim] + leaf.shape[d % leaf.ndim + 1:]
    return zeros(shape, dtype=leaf.dtype, device=leaf.device)


def _stack_outputs(func, results, out_dims, size):
    from fastdl.functional.shape import stack
    name = _fn_name(func)
    out_leaves, spec = _leaves(results[0])
    dims = _dims_for(out_dims, results[0], "out_dims")
    per_entry = [_leaves(r)[0] for r in results]
    stacked = []
    for j, (leaf, d) in enumerate(zip(out_leaves, dims)):
        if d is None:
            if isinstance(leaf, Tensor) and any(
                    not isinstance(e[j], Tensor) or not leaf.equal(e[j]) for e in per_entry[1:]):
                raise ValueError(f"vmap({name}, ..., out_dims={out_dims!r})(<inputs>): can "
                                 "not return a BatchedTensor when out_dim is None")
            stacked.append(leaf)
            continue
        if not isinstance(leaf, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(leaf)}. Did you mean to set out_dims= to None for output?")
        if not -(leaf.ndim + 1) <= d <= leaf.ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-(leaf.ndim + 1)}, {leaf.ndim}], but got {d})")
        column = [e[j] for e in per_entry]
        out = stack(column, d)
        if size == 0:
            out = out.narrow(d, 0, 0)
        stacked.append(out)
    return tree_unflatten(stacked, spec)


__all__ = ["vmap"]
