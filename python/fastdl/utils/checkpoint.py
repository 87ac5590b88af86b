"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

``checkpoint(function, *args, use_reentrant=...)`` keeps only ``function``'s inputs alive; its
intermediate activations are recomputed, by running ``function`` again with grad enabled, when
the backward pass reaches it. Both of torch's variants, each with torch's rules:

- ``use_reentrant=True`` (torch's default when ``use_reentrant`` is not passed, with the same
  warning): ``function`` runs under ``no_grad``; one node ("CheckpointFunctionBackward") stands
  for it, with edges to the tensor arguments only. Its backward recomputes on detached copies of
  the arguments and runs a nested backward from the recomputed outputs, which accumulates into
  the ``.grad`` of every leaf it reaches (the parameters used inside) -- hence the refusal inside
  ``autograd.grad``/``backward(inputs=...)``, no keyword arguments, gradients only through tensors
  returned directly or in a returned tuple, and no graph for a double backward.
- ``use_reentrant=False``: ``function`` runs with grad enabled (as in torch, it sees grad mode
  on); when it returns, its recorded graph is cut off: each output that requires grad gets one
  node ("CheckpointBackward") whose edges are the tensors the graph was built from -- tensor
  arguments (in any tuple/list/dict) and any other tensor it reached (parameters, captured
  tensors). The intermediates are then unreferenced and freed. Its backward recomputes and
  returns those tensors' gradients to the engine, so ``autograd.grad``, keyword arguments,
  tensors in nested outputs and ``create_graph=True`` all work. torch frees the intermediates as
  the forward goes (saved-tensor hooks); here they live until ``function`` returns, so the peak
  inside one checkpointed call is that of the plain call -- the memory after it is the same.

``preserve_rng_state=True`` replays fastdl's default generator (``fastdl.get_rng_state``) so a
dropout inside draws the same mask in the recompute; the surrounding state is restored after
it. cupy's generator is not replayed (torch replays the CUDA generators). The autocast state of
the forward is replayed too.
"""
from __future__ import annotations

import contextlib
import warnings

from fastdl.amp import _dispatch as _amp
from fastdl.autograd import engine as _engine
from fastdl.autograd.grad_mode import grad_wanted, state as _grad_state
from fastdl.autograd.graph import Node, _modified_error, version_of
from fastdl.autograd.op import OpDef, _record
from fastdl.tensor import Tensor, _wrap

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "set_checkpoint_debug_enabled",
           "set_checkpoint_early_stop", "detach_variable", "check_backward_validity",
           "noop_context_fn"]

_DEFAULT_DETERMINISM_MODE = "default"
_DETERMINISM_CHECKS = ("default", "none")
_checkpoint_debug_enabled = None
_enable_checkpoint_early_stop = None

_REENTRANT_GRAD_MSG = (
    "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or passing an "
    "`inputs` parameter to .backward(). To resolve this error, you can either set "
    "use_reentrant=False, or call .backward() without passing the `inputs` argument.")


class CheckpointError(RuntimeError):
    """The recomputation did not produce what the forward did (torch's CheckpointError)."""


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Override every checkpoint's ``debug`` flag in this block (``None``: defer to the flag).
    With debug on, a determinism error lists the forward's and the recompute's output tensors."""
    global _checkpoint_debug_enabled
    prev = _checkpoint_debug_enabled
    _checkpoint_debug_enabled = enabled
    try:
        yield
    finally:
        _checkpoint_debug_enabled = prev


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool):
    """Accepted for torch's API; fastdl always recomputes the whole function (torch's early stop
    only stops the recompute once the tensors it needs exist)."""
    global _enable_checkpoint_early_stop
    prev = _enable_checkpoint_early_stop
    _enable_checkpoint_early_stop = enable
    try:
        yield
    finally:
        _enable_checkpoint_early_stop = prev


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs):
    """Detached copies of the tensors in the tuple ``inputs``, keeping ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(_detached(x) if isinstance(x, Tensor) else x for x in inputs)


def check_backward_validity(inputs):
    if not any(x._requires_grad for x in inputs if isinstance(x, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)


def _detached(x):
    d = x.detach()
    d._requires_grad = x._requires_grad
    return d


# ---- the state replayed by the recomputation ----

class _Replay:
    """The default generator's state (when preserved) and the autocast settings at forward."""

    def __init__(self, preserve_rng_state):
        from fastdl.global_flags import get_rng_state
        self.rng = get_rng_state() if preserve_rng_state else None
        devices = _amp.thread_state()["devices"]
        self.autocast = {d: s.copy() for d, s in devices.items()}

    @contextlib.contextmanager
    def __call__(self):
        from fastdl.global_flags import get_rng_state, set_rng_state
        outer_rng = None
        if self.rng is not None:
            outer_rng = get_rng_state()
            set_rng_state(self.rng)
        amp_state = _amp.thread_state()
        suspended = amp_state["suspended"]
        amp_state["suspended"] = False  # the backward pass suspends autocast; the forward ran with it
        restore = [(d, _amp.enter_region(d, s.copy())) for d, s in self.autocast.items()]
        prev_grad = _grad_state.enabled
        _grad_state.enabled = True
        try:
            yield
        finally:
            _grad_state.enabled = prev_grad
            for d, prev in reversed(restore):
                _amp.exit_region(d, prev)
            amp_state["suspended"] = suspended
            if outer_rng is not None:
                set_rng_state(outer_rng)


def _check_versions(tensors, versions):
    for t, v in zip(tensors, versions):
        if version_of(t) != v:
            raise _modified_error(t._data, version_of(t), v, "Checkpoint", "input")


def _select_nodes(node, outputs):
    """Give each output its own grad_fn: the node itself for one output, else a select node per
    output carrying its index into the node (as the op layer's multi-output ops do)."""
    if len(outputs) == 1:
        outputs[0]._grad_fn = node
        outputs[0]._requires_grad = True
        return
    node.n_outputs = len(outputs)
    for i, t in enumerate(outputs):
        select = Node(_SELECT, (_wrap(t._data),), (i,), (node,))
        select.edge_nrs = (i,)
        t._grad_fn = select
        t._requires_grad = True


def _pass_gradient(ctx, g):
    return (g,)


def _unreachable(*arrays):
    raise AssertionError("a checkpoint node is only recorded, never applied")


# ---- use_reentrant=True ----

class _ReentrantState:
    __slots__ = ("function", "args", "positions", "out_positions", "replay", "versions")


def _reentrant(function, preserve_rng_state, args):
    check_backward_validity(args)
    st = _ReentrantState()
    st.replay = _Replay(preserve_rng_state)
    st.positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
    tensor_args = tuple(args[i] for i in st.positions)
    prev = _grad_state.enabled
    _grad_state.enabled = False
    try:
        out = function(*args)
    finally:
        _grad_state.enabled = prev
    if not grad_wanted(*tensor_args):
        return out
    # like a torch autograd.Function: a tensor or the tensors of a returned tuple are its outputs
    single = isinstance(out, Tensor)
    items = [out] if single else list(out) if isinstance(out, tuple) else []
    st.out_positions = tuple(i for i, o in enumerate(items)
                             if isinstance(o, Tensor) and o._data.dtype.kind == "f")
    if not st.out_positions:
        return out
    st.function = function
    st.args = tuple(None if isinstance(a, Tensor) else a for a in args)
    st.versions = tuple(version_of(t) for t in tensor_args)
    node = _record(_REENTRANT_OP, tensor_args, None)
    node.state = st
    wired = []
    for i in st.out_positions:
        items[i] = items[i].detach()
        wired.append(items[i])
    _select_nodes(node, wired)
    return items[0] if single else tuple(items)


def _reentrant_backward(node, g):
    if not _engine.is_checkpoint_valid():
        raise RuntimeError(_REENTRANT_GRAD_MSG)
    st = node.state
    grads = (g,) if node.n_outputs == 1 else g
    _check_versions(node.inputs, st.versions)
    args = list(st.args)
    detached = []
    for pos, t in zip(st.positions, node.inputs):
        args[pos] = _detached(t)
        detached.append(args[pos])
    with st.replay():
        out = st.function(*args)
    items = (out,) if isinstance(out, Tensor) else tuple(out)
    roots, root_grads = [], []
    for k, pos in enumerate(st.out_positions):
        o = items[pos] if pos < len(items) else None
        if isinstance(o, Tensor) and o._requires_grad:
            roots.append(o)
            # torch hands a Function's backward zeros for the outputs no gradient reached
            root_grads.append(grads[k] if grads[k] is not None else _zeros_like(o))
    if not roots:
        raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                           "necessary")
    _engine.run_backward(roots, root_grads, retain_graph=False, create_graph=False)
    return tuple(d._grad for d in detached)


def _zeros_like(t):
    from fastdl.creation import zeros_like
    return zeros_like(t)


# ---- use_reentrant=False ----

def _tensors_in(value, out):
    """Append the tensors in ``value`` (nested tuples, lists and dict values) to ``out``."""
    if isinstance(value, Tensor):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _tensors_in(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors_in(v, out)
    return out


def _map_tensors(fn, value):
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, tuple):
        items = [_map_tensors(fn, v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_map_tensors(fn, v) for v in value]
    if isinstance(value, dict):
        return {k: _map_tensors(fn, v) for k, v in value.items()}
    return value


class _State:
    __slots__ = ("function", "args", "kwargs", "replay", "recompute_context", "n_flat",
                 "out_positions", "out_meta", "inputs", "versions", "boundary_input", "check",
                 "debug")


def _non_reentrant(function, preserve_rng_state, context_fn, determinism_check, debug, args,
                   kwargs):
    if _checkpoint_debug_enabled if _checkpoint_debug_enabled is not None else debug:
        if context_fn is not noop_context_fn:
            raise ValueError("debug=True is incompatible with non-default context_fn")
        debug = True
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, "
                         f"but got {determinism_check}")
    forward_context, recompute_context = context_fn()
    if not _grad_state.enabled:
        return function(*args, **kwargs)
    st = _State()
    st.replay = _Replay(preserve_rng_state)
    finished = False
    with forward_context:
        out = function(*args, **kwargs)
        finished = True
    if not finished:
        raise RuntimeError("torch.utils.checkpoint: the forward context provided by context_fn "
                           "suppressed an exception raised during the checkpointed forward. "
                           "This is not supported because checkpoint cannot return a value "
                           "for a failed forward.")
    st.inputs = _tensors_in((args, kwargs), [])
    flat = _tensors_in(out, [])
    stops = {}  # id(grad_fn or leaf) of each input tensor -> its index in st.inputs
    for i, t in enumerate(st.inputs):
        stops.setdefault(id(t.grad_fn if t.grad_fn is not None else t), i)
    wired, positions, seen = [], [], set()
    for pos, t in enumerate(flat):
        fn = t.grad_fn  # (a view's is brought up to date first)
        if fn is None or id(fn) in stops or id(t) in seen:
            continue  # no history, an input returned as it is, or a repeat
        seen.add(id(t))
        wired.append(t)
        positions.append(pos)
    if not wired:
        return out
    boundary, st.boundary_input = _boundary([t._grad_fn for t in wired], st.inputs, stops)
    st.function, st.args, st.kwargs = function, args, kwargs
    st.recompute_context = recompute_context
    st.n_flat = len(flat)
    st.out_positions = tuple(positions)
    st.out_meta = tuple(_meta(t) for t in flat)
    st.versions = tuple(version_of(t) for t in st.inputs)
    st.check = determinism_check != "none"
    st.debug = bool(debug)
    node = _record(_OP, tuple(boundary), None)
    node.state = st
    for t in wired:
        if t._view is not None:  # the view record holds its base and so the whole graph
            t._vc = _version_counter(t)
            t._view = None
    _select_nodes(node, wired)
    return out


def _version_counter(t):
    from fastdl.autograd.graph import version_counter
    return version_counter(t)


def _boundary(roots, inputs, stops):
    """The tensors the graph below ``roots`` was built from: inputs (where the walk stops) and
    leaves reached otherwise (parameters, captured tensors), each once, in the order met."""
    boundary, which, index = [], [], {}

    def add(key, tensor, input_index):
        if key not in index:
            index[key] = len(boundary)
            boundary.append(tensor)
            which.append(input_index)

    stack, visited = list(roots), {id(r) for r in roots}
    while stack:
        node = stack.pop()
        for e in node.edges:
            if e is None:
                continue
            i = stops.get(id(e))
            if i is not None:
                add(id(e), inputs[i], i)
            elif e.__class__ is not Node:
                add(id(e), e, -1)
            elif id(e) not in visited:
                visited.add(id(e))
                stack.append(e)
    return boundary, tuple(which)


def _meta(t):
    return tuple(t._data.shape), t._data.dtype, t.device


def _backward(node, g):
    st = node.state
    grads = (g,) if node.n_outputs == 1 else g
    _check_versions(st.inputs, st.versions)
    create_graph = _grad_state.enabled
    boundary = node.inputs
    replaced = {}
    for b, i in enumerate(st.boundary_input):
        if i >= 0:
            t = boundary[b]
            # a clone keeps the recomputed graph attached to the input for a double backward
            replaced[id(st.inputs[i])] = t.clone() if create_graph else _detached(t)

    def swap(t):
        r = replaced.get(id(t))
        return r if r is not None else _detached(t) if t._requires_grad else t

    args, kwargs = _map_tensors(swap, st.args), _map_tensors(swap, st.kwargs)
    with st.replay(), st.recompute_context:
        out = st.function(*args, **kwargs)
    flat = _tensors_in(out, [])
    if st.check:
        _check_recomputed(st, flat)
    roots, root_grads = [], []
    for k, pos in enumerate(st.out_positions):
        if grads[k] is not None and pos < len(flat) and flat[pos]._requires_grad:
            roots.append(flat[pos])
            root_grads.append(grads[k])
    targets = [replaced[id(st.inputs[i])] if i >= 0 else boundary[b]
               for b, i in enumerate(st.boundary_input)]
    if not roots:
        return (None,) * len(targets)
    # the hooks of the leaves reached (parameters) run once, in the outer pass that owns them
    hooked = [(t, t._hooks) for t in targets if t._grad_fn is None and t._hooks]
    for t, _ in hooked:
        t._hooks = None
    try:
        # (a reentrant checkpoint inside is as valid as in the pass that reached this node)
        return _engine.run_backward(roots, root_grads, retain_graph=True,
                                    create_graph=create_graph, targets=targets,
                                    accumulate=False, allow_unused=True,
                                    checkpoint_valid=_engine.is_checkpoint_valid())
    finally:
        for t, hooks in hooked:
            t._hooks = hooks


def _check_recomputed(st, flat):
    meta = tuple(_meta(t) for t in flat)
    if meta == st.out_meta:
        return
    detail = ""
    if st.debug:
        detail = (f"\nforward outputs (shape, dtype, device): {list(st.out_meta)}"
                  f"\nrecomputed outputs: {list(meta)}")
    raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors "
                          "have different metadata than during the forward pass: the function "
                          f"returned {st.n_flat} tensors in the forward and {len(flat)} in the "
                          "recomputation, or their shapes, dtypes or devices differ. Pass "
                          "determinism_check='none' to skip this check." + detail)


_REENTRANT_OP = OpDef("checkpoint_function", _unreachable, None, _reentrant_backward, (), False,
                      False, False, 1)
_REENTRANT_OP.node_name = "CheckpointFunctionBackward"
_OP = OpDef("checkpoint", _unreachable, None, _backward, (), False, False, False, 1)
_SELECT = OpDef("checkpoint.select", _unreachable, None, _pass_gradient, (), False, False, False,
                1)


# ---- the public functions ----

def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check=_DEFAULT_DETERMINISM_MODE, debug=False, early_stop=True,
               **kwargs):
    """``function(*args, **kwargs)`` whose intermediate activations are recomputed in the
    backward pass instead of kept (see the module docstring for the two variants).

    >>> from fastdl.utils.checkpoint import checkpoint
    >>> x = fastdl.tensor([1.0, 2.0], requires_grad=True)
    >>> y = checkpoint(lambda t: (t * t).sin(), x, use_reentrant=False)
    >>> y.sum().backward(); x.grad.allclose(2 * x * (x * x).cos())
    True
    """
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
            "exception. use_reentrant=False is recommended, but if you need to preserve the "
            "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return _reentrant(function, preserve, args)
    return _non_reentrant(function, preserve, context_fn, determinism_check, debug, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (an ``nn.Sequential`` or a list of modules/functions) in order on
    ``input``, checkpointing all but the last of ``segments`` equal chunks.

    >>> from fastdl.utils.checkpoint import checkpoint_sequential
    >>> net = fastdl.nn.Sequential(fastdl.nn.Linear(3, 3), fastdl.nn.Tanh(), fastdl.nn.Linear(3, 1))
    >>> y = checkpoint_sequential(net, 2, fastdl.ones(2, 3), use_reentrant=False)
    >>> y.shape
    (2, 1)
    """
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should "
            "be passed explicitly. In version 2.9 we will raise an exception if use_reentrant "
            "is not passed. use_reentrant=False is recommended, but if you need to preserve the "
            "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    from fastdl.nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
