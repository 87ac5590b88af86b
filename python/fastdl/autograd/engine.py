"""Reverse-mode autograd: the engine that walks the recorded graph in topological order.

Nodes (``graph.Node``) are recorded by the op layer (``autograd.op``); each holds its op, whose
backward formula is written with registered ops, and fixed edges to the nodes (or leaves) that
produced its inputs. Running the formulas with grad mode on (``create_graph=True``) records the
graph of the gradients themselves.
"""
from __future__ import annotations

import gc
import weakref

from fastdl.autograd import anomaly_mode as _anomaly
from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.autograd.graph import FREED_MSG as _FREED_MSG, Node
from fastdl.autograd.op import sync_view


def _topological_order(root_nodes):
    """Nodes reachable from the roots, each after every node that feeds its gradient."""
    order = []
    visited = set()
    for root in root_nodes:
        if root in visited:
            continue
        if root.inputs is None:
            raise RuntimeError(_FREED_MSG)
        visited.add(root)
        stack = [(root, iter(root.edges))]
        while stack:
            node, it = stack[-1]
            for fn in it:
                if fn.__class__ is Node and fn not in visited:
                    if fn.inputs is None:
                        raise RuntimeError(_FREED_MSG)
                    visited.add(fn)
                    stack.append((fn, iter(fn.edges)))
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
        for e in node.edges:
            if e is None:
                continue
            if e in target_leaves if e.__class__ is not Node else (
                    e in needed or e in target_nodes):
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
        # cupy's flags have no `writeable`: its arrays always are
        if (not getattr(flags, "writeable", True) or not flags.owndata or id(data) in handed_out
                or not flags.c_contiguous):
            g = g.clone()
        elif g._grad_fn is not None or g._requires_grad:
            g = g.detach()
        handed_out.add(id(g._data))
        t._grad = g
    elif old._data.shape == g._data.shape and getattr(old._data.flags, "writeable", True):
        old._data += g._data
    else:
        t._grad = old + g


def _run_post_accumulate_hooks(t):
    for hook in tuple(t._post_accumulate_hooks):  # a hook may remove itself
        hook(t)


# One list per running backward (a hook may start a nested one): callbacks queued while it runs
# are called, in order, once it has stored every leaf's gradient (DistributedDataParallel's
# gradient all-reduce waits for that).
_callback_lists = []


def queue_callback(callback):
    """Call ``callback()`` when the running backward pass has finished storing the leaves'
    gradients (torch's ``Variable._execution_engine.queue_callback``)."""
    if not _callback_lists:
        raise RuntimeError("queue_callback can only be called during a backward pass")
    _callback_lists[-1].append(callback)


def _with_queued_callbacks(run, *args):
    """``run(*args)``, then the callbacks queued while it ran."""
    callbacks = []
    _callback_lists.append(callbacks)
    try:
        result = run(*args)
    finally:
        _callback_lists.pop()
    for callback in callbacks:
        callback()
    return result


def _run_hooks(hooks, g):
    for hook in hooks:
        result = hook(g)
        if result is not None:
            g = result
    return g


def _add_grad(grads, key, nr, gi):
    if key.__class__ is Node and key.n_outputs > 1:
        slots = grads.get(key)
        if slots is None:
            slots = grads[key] = [None] * key.n_outputs
        slots[nr] = gi if slots[nr] is None else slots[nr] + gi
        return
    prev = grads.get(key)
    grads[key] = gi if prev is None else prev + gi


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


# One entry per running backward (nested ones included): False when it computes the gradients
# of chosen inputs only (autograd.grad, backward(inputs=...)). The reentrant checkpoint's
# backward accumulates into every leaf it reaches, which is wrong inside such a pass (torch
# refuses it).
_checkpoint_valid = []


def is_checkpoint_valid() -> bool:
    """False inside a backward pass that computes only chosen inputs' gradients
    (``torch.autograd._is_checkpoint_valid``)."""
    return not _checkpoint_valid or _checkpoint_valid[-1]


def run_backward(outputs, grad_outputs, retain_graph, create_graph, targets=None,
                 accumulate=True, allow_unused=False, checkpoint_valid=None):
    """Propagate gradients from ``outputs``; accumulate into leaves' ``.grad`` and/or return the
    gradients of ``targets`` (a list of tensors, for ``autograd.grad``). ``checkpoint_valid``
    overrides what ``is_checkpoint_valid`` answers while it runs (default: whether no targets).

    Python's cyclic garbage collector is paused while it runs: a backward frees the graph by
    reference counts (it leaves no cycles; tests/test_autograd_gc.py), so a collection triggered
    by its allocations would only rescan the whole heap. With torch imported (~290k objects) a
    full collection takes ~130 ms, and they came every ~17 ResNet-18 steps (~7 ms a step)."""
    from fastdl.amp._dispatch import suspended as autocast_suspended  # (amp imports Tensor)
    paused = gc.isenabled()
    if paused:
        gc.disable()
    _checkpoint_valid.append(targets is None if checkpoint_valid is None else checkpoint_valid)
    try:
        # a backward inside an autocast region runs its ops as recorded (torch's rule)
        with autocast_suspended():
            return _with_queued_callbacks(_run_backward, outputs, grad_outputs, retain_graph,
                                          create_graph, targets, accumulate, allow_unused)
    finally:
        _checkpoint_valid.pop()
        if paused:
            gc.enable()


def _run_backward(outputs, grad_outputs, retain_graph, create_graph, targets=None,
                  accumulate=True, allow_unused=False):
    if retain_graph is None:
        retain_graph = create_graph
    grad_outputs = list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    grads = {}
    root_nodes = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if t._view is not None:
            sync_view(t)
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        g = _make_root_grad(t, g, i)
        key = t._grad_fn if t._grad_fn is not None else t
        _add_grad(grads, key, 0, g)
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

    handed_out = set()
    for g in grads.values():
        if g.__class__ is not list:
            handed_out.add(id(g._data))
    check_nan = _anomaly.checking_nan()  # read once: off the per-node path
    prev_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    try:
        for node in order:
            g = grads.pop(node, None)
            if g is None:
                continue
            if node.pre_hooks:
                g = _run_hooks(node.pre_hooks, g)
            if target_nodes is not None and node in target_nodes:
                captured[node] = g
            if node.retained is not None:
                for ref in node.retained:
                    owner = ref()
                    if owner is not None:
                        _store_leaf_grad(owner, g, create_graph, handed_out)
            if needed is not None and node not in needed:
                continue
            inputs = node.inputs
            if inputs is None:
                raise RuntimeError(_FREED_MSG)
            if node.op.saves:
                node.check_saved()
            if node.n_outputs == 1:
                in_grads = node.op.backward(node, g)
            else:
                in_grads = node.op.backward(node, tuple(g))
            if check_nan:
                _anomaly.check_nan(node, in_grads)
            edges, nrs = node.edges, node.edge_nrs
            if not retain_graph:
                node.release()
            for i, gi in enumerate(in_grads):
                e = edges[i]
                if gi is None or e is None:
                    continue
                if gi._data.shape != inputs[i]._data.shape:
                    raise RuntimeError(f"Function {node.name()} returned an invalid gradient at "
                                       f"index {i} - got {list(gi._data.shape)} but expected "
                                       f"shape compatible with {list(inputs[i]._data.shape)}")
                if nrs is None:  # only select nodes have edges into multi-output nodes
                    prev = grads.get(e)
                    grads[e] = gi if prev is None else prev + gi
                else:
                    _add_grad(grads, e, nrs[i], gi)

        for key, g in grads.items():
            if key.__class__ is not Node:
                if key._hooks:
                    g = grads[key] = _run_hooks(key._hooks, g)
                if accumulate:
                    _store_leaf_grad(key, g, create_graph, handed_out)
                    if key._post_accumulate_hooks:
                        _run_post_accumulate_hooks(key)
    finally:
        _grad_state.enabled = prev_mode

    if targets is None:
        return None
    result = []
    for i, t in enumerate(targets):
        if t._grad_fn is not None:
            g = captured.get(t._grad_fn)
        else:
            g = grads.get(t)
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
        _with_queued_callbacks(_backward_into_inputs, outputs, grad_tensors, retain_graph,
                               create_graph, _as_tensor_list(inputs, "inputs"))
        return
    run_backward(outputs, grad_tensors, retain_graph, create_graph)


def _backward_into_inputs(outputs, grad_tensors, retain_graph, create_graph, targets):
    grads = run_backward(outputs, grad_tensors, retain_graph, create_graph, targets=targets,
                         accumulate=False, allow_unused=True)
    handed_out = set()
    prev_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    try:
        for t, g in zip(targets, grads):
            if g is not None:
                _store_leaf_grad(t, g, create_graph, handed_out)
                if t._post_accumulate_hooks:
                    _run_post_accumulate_hooks(t)
    finally:
        _grad_state.enabled = prev_mode


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
    node = t._grad_fn
    if node is not None:
        if node.retained is None:
            node.retained = []
        node.retained.append(weakref.ref(t))
