"""The recorded graph: one ``Node`` per op application, saved tensors with version checks.

A node is also the ``ctx`` its op's backward formula reads: ``ctx.inputs`` (the input tensors,
checked against in-place modification when the op declared them saved), ``ctx.output`` (the
saved result, carrying this node as its ``grad_fn`` when the backward itself records a graph),
``ctx.args`` (the op's non-tensor arguments) and ``ctx.needs_input_grad``.

Edges are fixed when the node is recorded: ``edges[i]`` is the node that produced input ``i``,
the leaf tensor itself (its gradient is accumulated), or None (no gradient wanted). Recording the
edge rather than reading ``input._grad_fn`` at backward time is what lets an in-place op give a
tensor a new history without rewiring the consumers recorded before it.
"""
from __future__ import annotations

from fastdl.autograd.grad_mode import state as _grad_state

_wrap = None  # fastdl.tensor._wrap, bound by autograd.op.bind_tensor_factory

FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved "
             "tensors after they have already been freed). The graph is freed after "
             "backward()/autograd.grad() unless you pass retain_graph=True.")


class VersionCounter:
    """Bumped by every in-place write; a view shares its base's counter (same memory)."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def version_counter(t) -> VersionCounter:
    """The counter of ``t``'s memory: a view uses its base's (made on first need)."""
    view = t._view
    if view is not None:
        t = view[0]
    vc = t._vc
    if vc is None:
        vc = t._vc = VersionCounter()
        fn = t._grad_fn
        if fn is not None and fn.op.saves_output and fn.out_vc is None and fn.out is t._data:
            fn.out_vc = vc  # its node saved it as output before it had a counter (at 0)
    return vc


def version_of(t) -> int:
    view = t._view
    if view is not None:
        t = view[0]
    vc = t._vc
    return 0 if vc is None else vc.value


class Node:
    """One recorded application of ``op`` (an ``OpDef``)."""

    # out/out_vc/out_version are set only by ops that save their output (read only for those).
    __slots__ = ("op", "inputs", "args", "edges", "out", "out_vc", "out_version", "__dict__",
                 "__weakref__")

    # Fields most nodes never set are class-level defaults: recording a node costs four stores.
    edge_nrs = None  # (output index,) of a select node's edge into its multi-output node
    saved_versions = None  # per input: its version when saved (None: all at version 0)
    n_outputs = 1
    retained = None  # [weakref] to the output if it called retain_grad()
    pre_hooks = None  # hooks registered on the output (register_hook)
    state = None  # per-application data an op may keep (custom Functions' ctx)

    def __init__(self, op, inputs, args, edges):
        self.op = op
        self.inputs = inputs
        self.args = args
        self.edges = edges

    # ---- what backward formulas read ----
    @property
    def output(self):
        """The saved result of the op (a Tensor); part of the graph under create_graph."""
        if self.inputs is None:
            raise RuntimeError(FREED_MSG)
        vc = self.out_vc
        if vc is not None and vc.value != self.out_version:
            raise _modified_error(self.out, vc.value, self.out_version, self.op.name, "output")
        t = _wrap(self.out)
        t._vc = vc
        if _grad_state.enabled:
            t._requires_grad = True
            t._grad_fn = self
        return t

    @property
    def needs_input_grad(self):
        return tuple(e is not None for e in self.edges)

    def check_saved(self):
        """Raise if an input this node saved was modified in place after it was recorded."""
        if self.inputs is None:
            raise RuntimeError(FREED_MSG)
        saved = self.saved_versions  # None: every saved input was at version 0
        inputs = self.inputs
        saves_for = self.op.saves_for
        for i in self.op.saves:
            if i >= len(inputs):
                continue
            t = inputs[i]
            if saved is None and t._vc is None and t._view is None:
                continue  # never written: still at version 0
            if saves_for is not None and not self._read_for_wanted_grads(saves_for[i]):
                continue  # only the gradients of inputs that want none read it
            expected = 0 if saved is None else saved[i]
            if version_of(t) != expected:
                raise _modified_error(t._data, version_of(t), expected, self.op.name, "input")

    def _read_for_wanted_grads(self, readers):
        edges = self.edges
        for j in readers:
            if j < len(edges) and edges[j] is not None:
                return True
        return False

    def release(self):
        """Free what backward needed (retain_graph=False): a second backward raises."""
        self.inputs = None
        self.args = None
        if self.op.saves_output:
            self.out = None
        self.edges = ()

    # ---- torch's introspection API ----
    def name(self) -> str:
        return self.op.node_name

    @property
    def next_functions(self):
        return tuple((e if isinstance(e, Node) else None, 0) for e in self.edges if e is not None)

    def register_prehook(self, hook):
        """``hook(grad)`` runs on the gradient of the node's output before its backward; a
        non-None return replaces the gradient."""
        if self.pre_hooks is None:
            self.pre_hooks = []
        self.pre_hooks.append(hook)
        return RemovableHandle(self.pre_hooks, hook)

    def __repr__(self):
        return f"<{self.name()}>"


class RemovableHandle:
    """Returned by every ``register_*hook``: ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        hooks = self._hooks
        if hooks is None:
            return
        if isinstance(hooks, dict):
            hooks.pop(self._hook, None)
        else:
            for i, h in enumerate(hooks):
                if h is self._hook:
                    del hooks[i]
                    break
        self._hooks = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _modified_error(data, now, expected, op_name, what):
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{data.dtype}{list(data.shape)}], which is {what} of {op_name}, is at "
        f"version {now}; expected version {expected} instead. Hint: the in-place write came "
        f"after the op saved the tensor; use an out-of-place op or .clone() before writing.")
