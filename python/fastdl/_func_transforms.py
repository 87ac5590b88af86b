"""torch.func's differentiation transforms (grad, grad_and_value, vjp, jvp, linearize, jacrev,
jacfwd, hessian) on fastdl's reverse-mode tape.

torch wraps a transform's inputs in per-level tensors; here a call lifts its differentiated
inputs instead: a tensor that does not require grad becomes a fresh leaf owned by the call
(a :class:`_Level`), one that does (an enclosing transform's input, or a tensor the caller
differentiates) becomes a view of itself, so the graph reaches the caller's tensors and nested
transforms (``grad(grad(f))``, ``jacfwd(jacrev(f))``) differentiate through each other. A
result keeps its graph only when it depends on something from outside the call (as torch's
unwrapped results do); otherwise it comes back detached.

Forward mode (``jvp``, ``linearize``, ``jacfwd``) is the double-vjp trick on reverse mode:
``u -> J^T u`` is linear in ``u``, so its vjp with the tangent ``t`` is ``J t``. Jacobians
are built one vector-Jacobian (jacrev) or Jacobian-vector product (jacfwd) at a time.
"""
from __future__ import annotations

import functools

import numpy as np

from fastdl._pytree import spec_pprint, spec_repr, tree_flatten, tree_unflatten
from fastdl.autograd.engine import grad as _engine_grad
from fastdl.autograd.functional import _vector_jacobian
from fastdl.autograd.grad_mode import enable_grad, is_grad_enabled
from fastdl.autograd.graph import Node
from fastdl.tensor import Tensor

_JVP = "jvp(f, primals, tangents)"


_levels_started = [0]


class _Level:
    """One transform call: the leaves it created, to tell its own graph from the caller's.

    Levels are numbered in the order they start and mark the leaves they create with their
    number: for a level, a leaf from itself or from a level started later (a transform nested
    inside it, whose leaves nothing differentiates once it has returned) is its own; any other
    leaf requiring grad is the caller's."""

    def __init__(self):
        _levels_started[0] += 1
        self.number = _levels_started[0]
        # id(lifted leaf) -> (the leaf, kept alive so its id stays unique; the caller's tensor
        # it stands for)
        self.own = {}
        self._clean = set()  # nodes known to reach none of the caller's leaves

    def lift(self, x):
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        if x.requires_grad:
            return x.view_as(x)  # differentiable here, and still connected to the caller's x
        leaf = x.detach().requires_grad_(True)
        leaf._func_level = self.number
        self.own[id(leaf)] = (leaf, x)
        return leaf

    def fresh_leaf(self, like):
        leaf = like.detach().new_zeros(like.shape).requires_grad_(True)
        leaf._func_level = self.number
        return leaf

    def reaches_outside(self, t) -> bool:
        """Whether ``t``'s graph reaches a leaf this call did not create."""
        if not isinstance(t, Tensor) or not t.requires_grad:
            return False
        root = t.grad_fn
        if root is None:
            return self._callers(t)
        stack, seen = [root], {root}
        while stack:
            node = stack.pop()
            for e in node.edges:
                if e is None or e in seen or e in self._clean:
                    continue
                if e.__class__ is not Node:
                    if self._callers(e):
                        return True
                    continue
                seen.add(e)
                stack.append(e)
        self._clean |= seen
        return False

    def _callers(self, leaf) -> bool:
        return getattr(leaf, "_func_level", 0) < self.number

    def unwrap(self, tree):
        """``tree`` with each tensor as the caller sees it (torch's _undo_create_differentiable:
        anything but tensors is an error)."""
        def one(t):
            if not isinstance(t, Tensor):
                raise RuntimeError(f"Expected tensors, got unsupported type {type(t)}")
            if id(t) in self.own:
                return self.own[id(t)][1]
            return t if not t.requires_grad or self.reaches_outside(t) else t.detach()
        leaves, spec = tree_flatten(tree)
        return tree_unflatten([one(t) for t in leaves], spec)

    def any_outside(self, tensors) -> bool:
        return any(self.reaches_outside(t) for t in tensors)


# ---------------------------------------------------------------- argnums


def _wrap_argnum(argnum, num_args: int) -> int:
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _normalize_argnums(argnums, num_args: int):
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if isinstance(argnums, int):
        return _wrap_argnum(argnums, num_args)
    argnums = tuple(_wrap_argnum(a, num_args) for a in argnums)
    if not argnums:
        raise RuntimeError("argnums must be non-empty")
    if len(set(argnums)) != len(argnums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return argnums


def _slice_argnums(args, argnums, as_tuple: bool = True):
    argnums = _normalize_argnums(argnums, len(args))
    if isinstance(argnums, int):
        return (args[argnums],) if as_tuple else args[argnums]
    return tuple(args[i] for i in argnums)


def _lift_argnums(level, args, argnums):
    """(args with the differentiated ones lifted, the lifted tree, its flat leaves); argnums
    None lifts every argument."""
    if argnums is None:
        leaves, spec = tree_flatten(args)
        lifted = [level.lift(x) for x in leaves]
        lifted_tree = tree_unflatten(lifted, spec)
        return lifted_tree, lifted_tree, lifted
    argnums = _normalize_argnums(argnums, len(args))
    positions = (argnums,) if isinstance(argnums, int) else argnums
    leaves, spec = tree_flatten(tuple(args[i] for i in positions))
    lifted = [level.lift(x) for x in leaves]
    new_args = list(args)
    for i, tree in zip(positions, tree_unflatten(lifted, spec)):
        new_args[i] = tree
    lifted_tree = tree_unflatten(lifted, spec)
    return tuple(new_args), lifted_tree[0] if isinstance(argnums, int) else lifted_tree, lifted


def _split_aux(output, has_aux: bool, api: str):
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if "
                           "has_aux is True")
    return output


def _check_tensor_outputs(flat, api: str):
    if (len(flat) == 1 and flat[0] is None) or not flat:
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output "
                           f"(got output = {flat})")
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(o)}")


# ---------------------------------------------------------------- grad, vjp


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """``f`` -> a function returning ``(gradient, value)`` of the scalar ``f`` with respect
    to the arguments at ``argnums`` (an int: that argument's gradient, shaped like it, a
    pytree for a pytree argument; a tuple: a tuple of those). With ``has_aux``, ``f``
    returns ``(value, aux)`` and the result is ``(gradient, (value, aux))``.

    >>> g, v = fastdl.func.grad_and_value(lambda x: (x ** 2).sum())(fastdl.tensor([1., 2.]))
    >>> g.tolist(), v.item()
    ([2.0, 4.0], 5.0)
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _grad_and_value(func, argnums, has_aux, args, kwargs)
    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """``f`` -> the function computing the gradient of the scalar tensor ``f`` returns with
    respect to the arguments at ``argnums`` (see :func:`grad_and_value`); with ``has_aux``
    it returns ``(gradient, aux)``. Transforms compose: ``grad(grad(f))`` is the second
    derivative, ``vmap(grad(f))`` gives per-sample gradients.

    >>> d2 = fastdl.func.grad(fastdl.func.grad(lambda x: x ** 3))
    >>> d2(fastdl.tensor(2.0)).item()
    12.0
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gradient, value = _grad_and_value(func, argnums, has_aux, args, kwargs)
        return (gradient, value[1]) if has_aux else gradient
    return wrapper


def _grad_and_value(func, argnums, has_aux, args, kwargs):
    api = "grad_and_value(f)(*args)"
    level = _Level()
    with enable_grad():  # a transform ignores a no_grad around it, not one inside f
        args, lifted_tree, lifted = _lift_argnums(level, args, argnums)
        output, aux = _split_aux(func(*args, **kwargs), has_aux, api)
        if not isinstance(output, Tensor):
            raise RuntimeError(f"{api}: Expected f(*args) to return a Tensor, got "
                               f"{type(output)}")
        if output.dim() != 0:
            raise RuntimeError(f"{api}: Expected f(*args) to return a scalar Tensor, got tensor "
                               f"with {output.dim()} dims. Maybe you wanted to use the vjp or "
                               "jacrev APIs instead?")
        # only a result that depends on the caller's tensors needs a graph of its own
        outside = level.reaches_outside(output)
        grads = _vector_jacobian((output,), lifted, (output.new_ones(()),), outside, False,
                                 "output", retain_graph=outside)
        gradient = tree_unflatten(level.unwrap(list(grads)), tree_flatten(lifted_tree)[1])
        value = level.unwrap(output)
        if has_aux:
            value = (value, level.unwrap(aux))
    return gradient, value


class _Pullback:
    """The recorded ``f(*primals)`` of vjp/jacrev: flat outputs and differentiated inputs."""

    def __init__(self, level, outputs, out_spec, inputs, in_spec):
        self.level, self.outputs, self.out_spec = level, outputs, out_spec
        self.inputs, self.in_spec = inputs, in_spec
        self.outside = level.any_outside(outputs)

    def __call__(self, cotangents, retain_graph=True, create_graph=None):
        if create_graph is None:
            create_graph = is_grad_enabled()
        flat, spec = tree_flatten(cotangents)
        if spec != self.out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree "
                               "structure of outputs to the function. cotangents: "
                               f"{spec_pprint(spec)}, primal output: "
                               f"{spec_pprint(self.out_spec)}")
        create_graph = create_graph and (self.outside or any(
            isinstance(c, Tensor) and c.requires_grad for c in flat))
        grads = _vector_jacobian(self.outputs, self.inputs, flat, create_graph, False, "output",
                                 retain_graph=retain_graph)
        if create_graph:
            grads = self.level.unwrap(list(grads))
        return tree_unflatten(grads, self.in_spec)


def _record(func, primals, argnums, has_aux, api):
    """``func`` run on the lifted primals: (level, lifted leaves, their spec, flat outputs,
    the outputs' spec, aux as the caller sees it)."""
    level = _Level()
    with enable_grad():  # a transform ignores a no_grad around it, not one inside f
        args, lifted_tree, lifted = _lift_argnums(level, primals, argnums)
        output, aux = _split_aux(func(*args), has_aux, api)
    if has_aux:
        aux = level.unwrap(aux)
    flat_out, out_spec = tree_flatten(output)
    _check_tensor_outputs(flat_out, api)
    return level, lifted, tree_flatten(lifted_tree)[1], flat_out, out_spec, aux


def _pullback(func, primals, argnums, has_aux):
    """(outputs as the caller sees them, _Pullback, aux) for vjp and jacrev."""
    level, lifted, spec, flat_out, out_spec, aux = _record(func, primals, argnums, has_aux,
                                                           "vjp(f, *primals)")
    for o in flat_out:
        if not o.is_floating_point():
            raise RuntimeError("vjp(f, ...): All outputs of f must be floating-point or "
                               f"complex Tensors, got Tensor with dtype "
                               f"torch.{np.dtype(o.dtype).name}")
    results = level.unwrap(tree_unflatten(flat_out, out_spec))
    return results, _Pullback(level, flat_out, out_spec, lifted, spec), aux


def vjp(func, *primals, has_aux: bool = False):
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` (shaped like the output, same
    pytree) returns a tuple with the vector-Jacobian product for each primal (pytrees too).
    ``vjp_fn(ct, retain_graph=True, create_graph=None)``: it may be called again; with grad
    mode on it records a graph when the cotangents or the primals need one. With
    ``has_aux`` ``f`` returns ``(output, aux)`` and vjp returns ``(output, vjp_fn, aux)``.

    >>> out, vjp_fn = fastdl.func.vjp(lambda x: x * x, fastdl.tensor([1., 3.]))
    >>> vjp_fn(fastdl.ones(2))[0].tolist()
    [2.0, 6.0]
    """
    output, pullback, aux = _pullback(func, primals, None, has_aux)
    return (output, pullback, aux) if has_aux else (output, pullback)


# ---------------------------------------------------------------- forward mode


class _Pushforward:
    """``J t`` for any tangents ``t`` of the recorded ``f`` (double vjp): the gradient of
    ``sum(outputs * u)`` keeps its graph in the dummy cotangents ``u``."""

    def __init__(self, level, outputs, inputs):
        self.level, self.outputs, self.inputs = level, outputs, inputs
        self.diff = [i for i, o in enumerate(outputs) if o.requires_grad]
        self.dummies = [level.fresh_leaf(outputs[i]) for i in self.diff]
        self.outside = level.any_outside(outputs)
        grads = _vector_jacobian([outputs[i] for i in self.diff], inputs, self.dummies, True,
                                 False, "output") if self.diff else ()
        self.grads = [g for g in grads if g.requires_grad]
        self.used = [j for j, g in enumerate(grads) if g.requires_grad]

    def __call__(self, tangents, strict=False):
        """The output tangents (None where an output does not depend on the inputs)."""
        create_graph = self.outside or any(t.requires_grad for t in tangents)
        result = [None] * len(self.outputs)
        if self.grads:
            with enable_grad():
                found = _engine_grad(self.grads, self.dummies, [tangents[j] for j in self.used],
                                     retain_graph=True, create_graph=create_graph,
                                     allow_unused=True)
            for i, t in zip(self.diff, found):
                result[i] = t
        for i, t in enumerate(result):
            if t is None:
                if strict:
                    raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f "
                                       "is independent of the inputs. This is not allowed with "
                                       "strict=True.")
                result[i] = self.outputs[i].detach().new_zeros(self.outputs[i].shape)
        return self.level.unwrap(result) if create_graph else result


def _check_same_structure(primals, tangents):
    flat_p, p_spec = tree_flatten(primals)
    flat_t, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{_JVP}: Expected primals and tangents to have the same python "
                           "structure. For example, if primals is a tuple of 3 tensors, tangents "
                           f"also must be. Got primals with structure {spec_repr(p_spec)} and "
                           f"tangents with structure {spec_repr(t_spec)}")
    for flat, name in ((flat_p, "primals"), (flat_t, "tangents")):
        if not flat:
            raise RuntimeError(f"{_JVP}: Expected {name} to contain at least one Tensor.")
        for x in flat:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{_JVP}: Expected {name} to only contain Tensors, got "
                                   f"{type(x)}")
    for p, t in zip(flat_p, flat_t):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError("Trying to set a forward gradient that has a different size than "
                               "that of the original Tensor, this is not supported. Tensor is of "
                               f"size {list(p.shape)} while the given forward gradient is of size "
                               f"{list(t.shape)}.")
    return flat_t


def _pushforward(func, primals, argnums, has_aux):
    """(the outputs' flat leaves and spec, _Pushforward, aux) for jvp, linearize, jacfwd."""
    level, lifted, _, flat_out, out_spec, aux = _record(func, primals, argnums, has_aux, _JVP)
    push = _Pushforward(level, flat_out, lifted)
    return level.unwrap(flat_out), out_spec, push, aux


def _jvp_with_argnums(func, primals, tangents, argnums, strict, has_aux):
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to "
                           "call f(*primals).")
    diff = primals if argnums is None else _slice_argnums(primals, argnums)
    flat_t = _check_same_structure(diff, tangents)
    outputs, out_spec, push, aux = _pushforward(func, primals, argnums, has_aux)
    result = (tree_unflatten(outputs, out_spec), tree_unflatten(push(flat_t, strict), out_spec))
    return result + (aux,) if has_aux else result


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(f(*primals), J @ tangents)``: the Jacobian-vector product, shaped like the output.
    ``primals`` is a tuple (of tensors or pytrees); ``tangents`` has the same structure and
    shapes. ``strict``: an output that does not depend on the inputs is an error instead of
    a zero tangent. With ``has_aux`` ``f`` returns ``(output, aux)`` and jvp returns
    ``(output, jvp_out, aux)``.

    fastdl has no forward-mode AD: this is the double-vjp trick (differentiate the linear map
    ``u -> J^T u`` in the direction of the tangents), two backward passes after the forward.

    >>> out, tangent = fastdl.func.jvp(lambda x: x ** 2, (fastdl.tensor([1., 2.]),),
    ...                                (fastdl.tensor([1., 1.]),))
    >>> tangent.tolist()
    [2.0, 4.0]
    """
    return _jvp_with_argnums(func, primals, tangents, None, strict, has_aux)


def linearize(func, *primals):
    """``(f(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is ``jvp(f, primals, tangents)[1]``
    without running ``f`` again (its graph is kept; by the double-vjp trick, see
    :func:`jvp`). Tangents must match the primals' structure, shapes and dtypes.

    >>> out, jvp_fn = fastdl.func.linearize(lambda x: x.sin(), fastdl.zeros(3))
    >>> jvp_fn(fastdl.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """
    flat_p, p_spec = tree_flatten(primals)
    outputs, out_spec, push, _ = _pushforward(func, primals, None, False)

    def jvp_fn(*tangents):
        flat_t, t_spec = tree_flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(f"Expected the tangents {spec_repr(t_spec)} to have the same "
                               f"argspec as the primals {spec_repr(p_spec)}")
        for idx, (t, p) in enumerate(zip(flat_t, flat_p)):
            for what, a, b in (("shape", tuple(t.shape), tuple(p.shape)),
                               ("device", t.device, p.device), ("dtype", t.dtype, p.dtype)):
                if a != b:
                    raise RuntimeError(f"tangent:{idx} with {what} {a} in flattened pytree "
                                       f"doesn't match the {what} {b} of the corresponding "
                                       "primal.")
        return tree_unflatten(push(flat_t), out_spec)
    return tree_unflatten(outputs, out_spec), jvp_fn
