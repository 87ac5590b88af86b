"""Reverse-mode autograd: graph nodes and the engine that walks them in topological order.

Every op result that requires grad holds a ``Node`` (``tensor.grad_fn``). A node keeps the op's
input tensors and a backward closure mapping the output's gradient to one gradient per input.
Backward closures are written with differentiable fastdl ops, so running them with grad mode on
(``create_graph=True``) records the graph of the gradients themselves.
"""
from __future__ import annotations

import weakref

from fastdl.autograd import grad_mode

_FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved "
              "tensors after they have already been freed). The graph is freed after "
              "backward()/autograd.grad() unless you pass retain_graph=True.")


class Node:
    """One recorded op: ``backward_fn(grad_output) -> tuple of grads aligned with inputs``."""

    __slots__ = ("backward_fn", "inputs", "retained", "freed_name", "__weakref__")

    def __init__(self, backward_fn, inputs):
        self.backward_fn = backward_fn
        self.inputs = inputs
        self.retained = None  # weakref to the output tensor when it called retain_grad()

    def name(self) -> str:
        fn = self.backward_fn
        return getattr(self, "freed_name", "freed") if fn is None else fn.__name__

    @property
    def next_functions(self):
        return tuple((t._grad_fn, 0) for t in self.inputs if t._requires_grad)

    def __repr__(self):
        return f"<{self.name()}>"


def _topological_order(root_nodes):
    """Nodes reachable from the roots, each after every node that feeds its gradient."""
    order = []
    visited = set()
    for root in root_nodes:
        if root in visited:
            continue
        if root.backward_fn is None:
            raise RuntimeError(_FREED_MSG)
        visited.add(root)
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            for t in it:
                fn = t._grad_fn
                if fn is not None and fn not in visited:
                    if fn.backward_fn is None:
                        raise RuntimeError(_FREED_MSG)
                    visited.add(fn)
                    stack.append((fn, iter(fn.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()  # reverse post-order: a node comes before the nodes of its inputs
    return order


def _nodes_leading_to(order, target_nodes, target_leaves):
    """The subset of ``order`` whose backward can reach one of the targets."""
    needed = set()
    for node in reversed(order):  # inputs' nodes first
        for t in node.inputs:
            if t in target_leaves if t._grad_fn is None else (
                    t._grad_fn in needed or t._grad_fn in target_nodes):
                needed.add(node)
                break
    return needed


def _store_leaf_grad(t, g, create_graph, handed_out):
    """Accumulate ``g`` into ``t.grad`` without ever aliasing an array another grad uses."""
    if create_graph:
        t._grad = g if t._grad is None else t._grad + g
        return
    old = t._grad
    if old is None:
        data = g._data
        flags = data.flags
        if (not flags.writeable or not flags.owndata or id(data) in handed_out
                or not flags.c_contiguous):
            g = g.clone()
        elif g._grad_fn is not None or g._requires_grad:
            g = g.detach()
        handed_out.add(id(g._data))
        t._grad = g
    elif old._data.shape == g._data.shape and old._data.flags.writeable:
        old._data += g._data
    else:
        t._grad = old + g


def _make_root_grad(t, g, index):
    from fastdl.tensor import Tensor, _wrap

    if g is None:
        if t._data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; "
                               f"output {index} has shape {tuple(t._data.shape)}: pass a gradient")
        xp = _array_module(t._data)
        return _wrap(xp.ones(t._data.shape, dtype=t._data.dtype))
    if not isinstance(g, Tensor):
        from fastdl.tensor import tensor as _tensor
        g = _tensor(g, dtype=t._data.dtype)
    if g._data.shape != t._data.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[{index}] has a shape of "
                           f"{tuple(g._data.shape)} and output[{index}] has a shape of "
                           f"{tuple(t._data.shape)}")
    return g


def _array_module(data):
    import numpy as np
    if type(data) is np.ndarray:
        return np
    from fastdl import backend
    return backend.array_module(data)


def _as_tensor_list(x, what):
    from fastdl.tensor import Tensor
    if isinstance(x, Tensor):
        return [x]
    if x is None:
        return []
    items = list(x)
    for i, t in enumerate(items):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}] must be a fastdl.Tensor, got {type(t).__name__}")
    return items


def run_backward(outputs, grad_outputs, retain_graph, create_graph, targets=None,
                 accumulate=True, allow_unused=False):
    """Propagate gradients from ``outputs``; accumulate into leaves' ``.grad`` and/or return the
    gradients of ``targets`` (a list of tensors, for ``autograd.grad``)."""
    if retain_graph is None:
        retain_graph = create_graph
    grad_outputs = list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    grads = {}
    root_nodes = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        g = _make_root_grad(t, g, i)
        key = t._grad_fn if t._grad_fn is not None else t
        grads[key] = grads[key] + g if key in grads else g
        if t._grad_fn is not None:
            root_nodes.append(t._grad_fn)

    order = _topological_order(root_nodes)
    target_nodes = target_leaves = None
    needed = None
    captured = {}
    if targets is not None:
        target_nodes = {t._grad_fn for t in targets if t._grad_fn is not None}
        target_leaves = {t for t in targets if t._grad_fn is None}
        needed = _nodes_leading_to(order, target_nodes, target_leaves)

    handed_out = {id(g._data) for g in grads.values()}
    prev_mode = grad_mode.enabled
    grad_mode.enabled = create_graph
    try:
        for node in order:
            g = grads.pop(node, None)
            if g is None:
                continue
            if target_nodes is not None and node in target_nodes:
                captured[node] = g
            if node.retained is not None:
                owner = node.retained()
                if owner is not None:
                    _store_leaf_grad(owner, g, create_graph, handed_out)
            if needed is not None and node not in needed:
                continue
            fn = node.backward_fn
            inputs = node.inputs
            if fn is None:
                raise RuntimeError(_FREED_MSG)
            in_grads = fn(g)
            if not retain_graph:
                node.freed_name = fn.__name__
                node.backward_fn = None
                node.inputs = ()
            for t, gi in zip(inputs, in_grads):
                if gi is None or not t._requires_grad:
                    continue
                key = t._grad_fn if t._grad_fn is not None else t
                prev = grads.get(key)
                grads[key] = gi if prev is None else prev + gi

        if accumulate:
            for key, g in grads.items():
                if key.__class__ is not Node:
                    _store_leaf_grad(key, g, create_graph, handed_out)
    finally:
        grad_mode.enabled = prev_mode

    if targets is None:
        return None
    result = []
    for i, t in enumerate(targets):
        g = captured.get(t._grad_fn) if t._grad_fn is not None else grads.get(t)
        if g is None and not allow_unused:
            raise RuntimeError(f"One of the differentiated Tensors (inputs[{i}], shape "
                               f"{tuple(t._data.shape)}) appears to not have been used in the "
                               "graph. Set allow_unused=True if this is the desired behavior.")
        result.append(g)
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (torch.autograd.backward)."""
    outputs = _as_tensor_list(tensors, "tensors")
    if grad_tensors is not None and not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    if inputs is not None:
        targets = _as_tensor_list(inputs, "inputs")
        grads = run_backward(outputs, grad_tensors, retain_graph, create_graph, targets=targets,
                             accumulate=False, allow_unused=True)
        handed_out = set()
        prev_mode = grad_mode.enabled
        grad_mode.enabled = create_graph
        try:
            for t, g in zip(targets, grads):
                if g is not None:
                    _store_leaf_grad(t, g, create_graph, handed_out)
        finally:
            grad_mode.enabled = prev_mode
        return
    run_backward(outputs, grad_tensors, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (returned, not accumulated).

    With ``create_graph=True`` the returned gradients carry their own graph, so they can be
    differentiated again (gradient penalties, Hessian-vector products).
    """
    outs = _as_tensor_list(outputs, "outputs")
    ins = _as_tensor_list(inputs, "inputs")
    for i, t in enumerate(ins):
        if not t._requires_grad:
            raise RuntimeError(f"inputs[{i}] (shape {tuple(t._data.shape)}) does not require grad")
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    return run_backward(outs, grad_outputs, retain_graph, create_graph, targets=ins,
                        accumulate=False, allow_unused=allow_unused)


def retain_grad(t):
    t._retains_grad = True
    if t._grad_fn is not None:
        t._grad_fn.retained = weakref.ref(t)
