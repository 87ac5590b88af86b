"""Recording fused ops: array forward, array backward, and a composed twin for create_graph.

A fused op computes its forward and its first-order backward directly on arrays (one graph node,
no intermediate Tensors). When a backward runs with grad mode on (``create_graph=True``), the
gradient itself must carry a graph, so the op is recomputed from differentiable fastdl ops (its
"composed" twin) and differentiated with ``autograd.grad(create_graph=True)``. The twin is the
op's definition in plain ops, so higher derivatives are exact without hand-written formulas.
"""
from __future__ import annotations

from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.autograd.engine import grad as _autograd_grad
from fastdl.functional._core import record
from fastdl.tensor import _wrap


def _grads_through(composed, inputs, g):
    wanted = [t for t in inputs if t._requires_grad]
    grads = iter(_autograd_grad(composed(*inputs), wanted, g, create_graph=True,
                                allow_unused=True))
    return tuple(next(grads) if t._requires_grad else None for t in inputs)


def fused(out, inputs, array_backward, composed, name):
    """Wrap ``out`` as the result of ``inputs`` (Tensors); record a node if grad is needed.

    ``array_backward(g_array)`` returns one array (or None) per input: only inputs with
    ``_requires_grad`` need one. ``composed(*inputs)`` recomputes the output from fastdl ops.
    """
    def backward(g):
        if _grad_state.enabled:
            return _grads_through(composed, inputs, g)
        return tuple(None if a is None else _wrap(a) for a in array_backward(g._data))

    backward.__name__ = name
    return record(out, backward, inputs)
