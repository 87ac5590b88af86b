"""The op layer: every differentiable op is declared once, with ``defop``.

An op declaration gives
- its forward per backend: ``cpu`` for numpy arrays (our C++ kernel where one exists), ``cuda``
  for cupy arrays (our CUDA kernel), or one array-API ``forward`` serving both (numpy code that
  cupy runs through ``__array_ufunc__``/``__array_function__``, used where no kernel exists yet);
- the dtypes it takes (``float_only``: integer or bool inputs raise a TypeError);
- its ``backward(ctx, grad)``, written with other registered ops and returning one gradient (or
  None) per tensor input. Because it uses registered ops, the same formula runs on arrays when
  nothing records and builds a graph under ``create_graph=True``: double backward needs no second
  implementation;
- what the formula reads: ``saves`` (indices of inputs whose *values* it uses; they are
  version-checked; a dict ``{i: (j, ...)}`` says input i is read only for the gradients of
  inputs j, so it is checked only when one of those is wanted) and ``saves_output``; ``view``
  ops return memory shared with input 0;
- optionally ``inplace(target, *others, *args)``, writing the result into ``target`` without a
  temporary, for the ``x.add_(y)`` form (``apply_inplace``).

Intermediates a backward needs besides inputs and output (gelu's Phi(x), a normalization's mean
and 1/std) travel in a ``Saved`` passed as the op's last argument: the forward fills it, the
backward (or a dedicated backward op given the same ``Saved``) reads it. They derive from inputs
the op declares in ``saves``, so the version checks on those inputs guard them too.

The public function (``fastdl.mul``, ``Tensor.__mul__`` ...) parses arguments and applies torch's
type promotion, then calls ``OP.apply((tensors...), *args)`` (or ``OP.unary`` / ``OP.binary``,
the same without the tuple); forward gets the arrays followed by the args. Worked example (the whole definition of ``mul``)::

    def _mul_backward(ctx, g):
        a, b = ctx.inputs
        wants_a, wants_b = ctx.edges
        return (None if wants_a is None else grad_for(mul(g, b), a),
                None if wants_b is None else grad_for(mul(g, a), b))

    mul_op = defop("mul", forward=np.multiply, backward=_mul_backward,
                   saves={0: (1,), 1: (0,)},  # each factor is read for the other's gradient
                   inplace=lambda a, b: np.multiply(a, b, out=a, casting="same_kind"))

Device dispatch happens in ``apply`` and nowhere else: numpy inputs take ``cpu``, cupy inputs
take ``cuda``, a mixture raises a TypeError naming the devices.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.grad_mode import grad_wanted, state as _grad_state
from fastdl.autograd.graph import Node, version_counter

REGISTRY: dict = {}

_ndarray = np.ndarray
_new = object.__new__
_wrap = None  # fastdl.tensor._wrap, bound by fastdl.tensor once Tensor exists (no import cycle)


def bind_tensor_factory(wrap):
    global _wrap
    _wrap = wrap
    from fastdl.autograd import graph
    graph._wrap = wrap


class Saved:
    """Intermediates a forward leaves for its backward (see the module docstring)."""

    __slots__ = ("values",)

    def __init__(self):
        self.values = None

    def __repr__(self):
        return "<saved>"


class OpDef:
    __slots__ = ("name", "cpu", "cuda", "backward", "saves", "saves_for", "saves_output", "view",
                 "inplace_checks_overlap",
                 "float_only", "node_name", "n_outputs", "inplace", "unary", "binary")

    def __init__(self, name, cpu, cuda, backward, saves, saves_output, view, float_only,
                 n_outputs, inplace=None):
        self.name = name
        self.inplace = inplace
        # in-place ops refuse a partially overlapping input, as torch's do, except x[k] = v
        # (torch's index_put_ reads its value whole first, and so does numpy)
        self.inplace_checks_overlap = name not in ("setitem", "fill")
        self.cpu = cpu
        self.cuda = cuda
        self.backward = backward
        # saves: input indices, or {index: indices of the inputs whose gradient reads it} so a
        # saved value nobody's gradient needs is not version-checked (mul's b for a's grad only)
        self.saves_for = dict(saves) if isinstance(saves, dict) else None
        self.saves = tuple(saves)
        self.saves_output = saves_output
        self.view = view
        self.float_only = float_only
        self.n_outputs = n_outputs
        self.node_name = "".join(p.capitalize() for p in name.split("_")) + "Backward"
        self._build_fast_paths()

    def __repr__(self):
        return f"<op {self.name}>"

    def _build_fast_paths(self):
        """``self.unary(x, *args)`` and ``self.binary(x, y, *args)``: ``apply`` for one or two
        numpy tensors, as closures over the op's declaration (no per-call lookups of it).
        Everything else (cupy arrays, several outputs, more inputs) takes the general path."""
        op, cpu, state = self, self.cpu, _grad_state
        saves, float_only, view, saves_output = (bool(self.saves), self.float_only, self.view,
                                                 self.saves_output)
        if self.n_outputs != 1:
            self.unary = lambda x, *args: self._apply_general((x,), args)
            self.binary = lambda x, y, *args: self._apply_general((x, y), args)
            return

        def unary(x, *args):
            if x._view is not None:
                sync_view(x)
            d = x._data
            if type(d) is not _ndarray:
                return op._apply_general((x,), args)
            if float_only and d.dtype.kind != "f":
                op._dtype_error((d,))
            try:
                t = _wrap(cpu(d, *args) if args else cpu(d))
            except ValueError as e:
                raise _shape_error(e, op.name) from None
            if view:
                _share_memory_identity(t, x, op, args)
            if x._requires_grad and state.enabled:
                fn = x._grad_fn
                node = _new(Node)
                node.op, node.inputs, node.args = op, (x,), args
                node.edges = (x if fn is None else fn,)
                if saves and (x._vc is not None and x._vc.value or x._view is not None):
                    _snapshot_saved(node, op, (x,))
                if saves_output:
                    op._save_output(t, node)
                t._requires_grad = True
                t._grad_fn = node
            return t

        def binary(x, y, *args):
            if x._view is not None:
                sync_view(x)
            if y._view is not None:
                sync_view(y)
            dx, dy = x._data, y._data
            if type(dx) is not _ndarray or type(dy) is not _ndarray:
                return op._apply_general((x, y), args)
            if float_only and (dx.dtype.kind != "f" or dy.dtype.kind != "f"):
                op._dtype_error((dx, dy))
            try:
                t = _wrap(cpu(dx, dy, *args) if args else cpu(dx, dy))
            except ValueError as e:
                raise _shape_error(e, op.name) from None
            if view:
                _share_memory_identity(t, x, op, args)
            if (x._requires_grad or y._requires_grad) and state.enabled:
                fx, fy = x._grad_fn, y._grad_fn
                node = _new(Node)
                node.op, node.inputs, node.args = op, (x, y), args
                node.edges = (fx if fx is not None else x if x._requires_grad else None,
                              fy if fy is not None else y if y._requires_grad else None)
                if saves and (x._vc is not None and x._vc.value or x._view is not None or
                              y._vc is not None and y._vc.value or y._view is not None):
                    _snapshot_saved(node, op, (x, y))
                if saves_output:
                    op._save_output(t, node)
                t._requires_grad = True
                t._grad_fn = node
            return t

        self.unary = unary
        self.binary = binary

    def forward_for(self, datas):
        """The forward serving these arrays (the one place device dispatch happens)."""
        for d in datas:
            if type(d) is not _ndarray:
                break
        else:
            return self.cpu
        from fastdl import backend
        device = backend.device_of_arrays(datas, self.name)
        if device == "cpu":
            return self.cpu
        if self.cuda is None:
            raise RuntimeError(f"{self.name}: no CUDA kernel for this op yet (got cupy arrays)")
        return self.cuda

    def apply(self, inputs, *args):
        """Run the forward on the inputs' arrays; record a node when a gradient is wanted."""
        if len(inputs) == 1:
            return self.unary(inputs[0], *args)
        if len(inputs) == 2:
            return self.binary(inputs[0], inputs[1], *args)
        return self._apply_general(inputs, args)

    def _apply_general(self, inputs, args):
        datas = []
        on_cpu = True
        for x in inputs:
            if x._view is not None:
                sync_view(x)
            d = x._data
            if type(d) is not _ndarray:
                on_cpu = False
            datas.append(d)
        forward = self.cpu if on_cpu else self.forward_for(datas)
        if self.float_only:
            for d in datas:
                if d.dtype.kind != "f":
                    self._dtype_error(datas)
        try:
            out = forward(*datas, *args)
        except ValueError as e:
            raise _shape_error(e, self.name) from None
        if self.n_outputs != 1:
            return self._wrap_outputs(inputs, args, out)
        t = _wrap(out)
        if self.view:
            _share_memory_identity(t, inputs[0], self, args)
        if grad_wanted(*inputs):
            self._attach(t, _record(self, inputs, args))
        return t

    def _dtype_error(self, datas):
        raise TypeError(f"{self.name}: expected floating point tensors, got "
                        f"{[str(x.dtype) for x in datas]}")

    def _attach(self, t, node):
        if self.saves_output:
            self._save_output(t, node)
        t._requires_grad = True
        t._grad_fn = node

    @staticmethod
    def _save_output(t, node):
        node.out = t._data
        # The counter is linked when the output first gets one (graph.version_counter); a
        # view's base may already have one.
        vc = t._vc if t._view is None else version_counter(t)
        node.out_vc = vc
        node.out_version = 0 if vc is None else vc.value

    def select_op(self):
        """The identity op between one output of this multi-output op and its node (it carries
        the output index); named like this op's node, as PyTorch shows one node."""
        op = REGISTRY.get(self.name + ".select")
        if op is None:
            op = defop(self.name + ".select", forward=_unreachable, backward=_pass_gradient)
            op.node_name = self.node_name
        return op

    def _wrap_outputs(self, inputs, args, outs):
        """A multi-output op: one node for the op, and per output a select node whose single
        edge carries the output's index into it, so every tensor's ``grad_fn`` has one output."""
        ts = tuple(_wrap(o) for o in outs)
        if self.view:  # shares memory but cannot be taken again as one view: counter only
            for t in ts:
                t._vc = version_counter(inputs[0])
        if grad_wanted(*inputs):
            node = _record(self, inputs, args)
            node.n_outputs = len(ts)
            for i, t in enumerate(ts):
                if t._data.dtype.kind == "f":
                    select = Node(self.select_op(), (_wrap(t._data),), (i,), (node,))
                    select.edge_nrs = (i,)
                    t._requires_grad = True
                    t._grad_fn = select
        return ts

    def apply_inplace(self, target, others, *args):
        """``target <- op(target, *others)`` written into target's memory, with torch's rules.

        Allowed unless the target is a leaf that requires grad (or a view of one) while grad
        mode is on. When a gradient is wanted the target gets a new history: a node whose input
        0 is the target's previous history (its value copied first if the formula reads it).
        """
        for x in (target,) + tuple(others):
            if x._view is not None:
                sync_view(x)
        recording = grad_wanted(target, *others)
        if recording:
            _check_inplace_target(target)
        if others and self.inplace_checks_overlap:
            _check_no_partial_overlap(target, others, self.name)
        if recording:
            if target._view is not None:  # the base gets the new history, views follow it
                return _inplace_on_view(self, target, others, args)
        datas = [target._data] + [o._data for o in others]
        if not recording:
            self._write(datas, args, target)
            version_counter(target).value += 1
            return target
        before = target
        if 0 in self.saves:  # the formula reads the old value, which is about to be overwritten
            before = _wrap(target._data.copy())
            before._requires_grad = target._requires_grad
            before._grad_fn = target._grad_fn
        inputs = (before,) + tuple(others)
        node = _record(self, inputs, args)
        if not target._requires_grad:  # a plain tensor written from one that needs grad
            node.edges = (None,) + node.edges[1:]
        self._write(datas, args, target)
        version_counter(target).value += 1
        if self.saves_output:
            self._save_output(target, node)
        target._requires_grad = True
        target._grad_fn = node
        return target

    def _write(self, datas, args, target):
        forward = self.forward_for(datas)  # also the device check
        if self.inplace is not None:
            try:
                self.inplace(*datas, *args)
            except (TypeError, ValueError) as e:  # numpy's casting and read-only complaints
                hint = "; it is a broadcast view: clone() it first" if "read-only" in str(e) \
                    else ""
                raise RuntimeError(f"{self.name}_: cannot write the result into the tensor of "
                                   f"shape {tuple(datas[0].shape)} and dtype {datas[0].dtype}: "
                                   f"{e}{hint}") from None
            return
        try:
            out = forward(*datas, *args)
        except ValueError as e:
            raise _shape_error(e, self.name) from None
        _write_into(target, out, self.name)


def _shape_error(error, name):
    """numpy's broadcasting complaint as PyTorch's RuntimeError; other ValueErrors (an op's own
    argument checks) unchanged."""
    if "broadcast" in str(error):
        return RuntimeError(f"{name}: {error}")
    return error


def _check_no_partial_overlap(target, others, name):
    """torch refuses an in-place op whose input overlaps the written tensor without being the
    very same elements (x.mul_(x) is fine, x.mul_(x[1:2]) is not)."""
    td = target._data
    for o in others:
        od = o._data
        if od is td or (td.base is None and od.base is None):
            continue  # the same array, or two arrays that own their memory
        if not _may_share_memory(td, od):
            continue
        if (_data_address(od) == _data_address(td) and od.shape == td.shape
                and od.strides == td.strides):
            continue
        raise RuntimeError(f"{name}_: unsupported operation: some elements of the input tensor "
                           "and the written-to tensor refer to a single memory location. Please "
                           "clone() the tensor before performing the operation.")


def _may_share_memory(a, b):
    if type(a) is _ndarray:
        return type(b) is _ndarray and np.may_share_memory(a, b)
    from fastdl import backend
    return backend.array_module(a).may_share_memory(a, b)


def _data_address(a):
    return a.ctypes.data if type(a) is _ndarray else a.data.ptr


def _record(op, inputs, args):
    """A node for ``op`` applied to ``inputs``, its edges fixed now (see graph.py)."""
    edges = []
    for x in inputs:
        fn = x._grad_fn
        edges.append(fn if fn is not None else x if x._requires_grad else None)
    node = Node(op, inputs, args, tuple(edges))
    if op.saves:
        for x in inputs:
            if x._vc is not None and x._vc.value or x._view is not None:
                _snapshot_saved(node, op, inputs)
                break
    return node


def _snapshot_saved(node, op, inputs):
    # A saved input without a counter is at version 0 (a later write creates the counter at
    # 1), so a snapshot is only stored when some input already has a counter (a view, a
    # detached or an in-place-written tensor).
    versions = None
    saves = op.saves
    for i, x in enumerate(inputs):
        if x._view is not None:
            x = x._view[0]
        vc = x._vc
        if vc is not None and vc.value and i in saves:
            if versions is None:
                versions = [0] * len(inputs)
            versions[i] = vc.value
    if versions is not None:
        node.saved_versions = versions


def _share_memory_identity(t, source, op, args):
    """A view result shares its source's version counter and remembers how it was taken from
    its base (``(base, op, args, source's view record)``), so it can be taken again."""
    base = t._data.base
    if base is None:
        return
    src = source._data
    if base is not src and base is not src.base:
        return  # the op had to copy (a reshape of a non-contiguous array, advanced indexing)
    parent = source._view
    base = source if parent is None else parent[0]
    t._view = (base, op, args, parent, base._grad_fn)


def sync_view(x):
    """Give view ``x`` the current history of its base when the base got a new one since the
    view was taken (an in-place write on the base or through a sibling view): the view is taken
    again from the base, as PyTorch regenerates a stale view's grad_fn."""
    view = x._view
    base = view[0]
    if base._grad_fn is view[4]:
        return
    prev = _grad_state.enabled
    _grad_state.enabled = True  # the history must be recorded even under no_grad
    try:
        fresh = replay_view(view, base)
    finally:
        _grad_state.enabled = prev
    x._grad_fn = fresh._grad_fn
    x._requires_grad = fresh._requires_grad
    x._view = view[:4] + (base._grad_fn,)


def replay_view(view, base):
    """Take the view described by ``view`` (a ``_view`` record) from ``base`` again."""
    _, op, args, parent, _ = view
    source = base if parent is None else replay_view(parent, base)
    return op.apply((source,), *args)


def _check_inplace_target(target):
    if target._requires_grad and target._grad_fn is None:
        raise RuntimeError(f"a leaf Variable that requires grad (shape "
                           f"{tuple(target._data.shape)}) is being used in an in-place operation; "
                           "wrap the update in `with fastdl.no_grad():`")
    view = target._view
    if view is not None and view[0]._requires_grad and view[0]._grad_fn is None:
        raise RuntimeError(f"a view of a leaf Variable that requires grad (shape "
                           f"{tuple(view[0]._data.shape)}) is being used in an in-place "
                           "operation; wrap the update in `with fastdl.no_grad():`")


def _write_into(target, out, name):
    data = target._data
    if out is data:
        return
    if out.shape != data.shape:
        raise RuntimeError(f"{name}_: the result has shape {tuple(out.shape)}, which cannot be "
                           f"written in place into a tensor of shape {tuple(data.shape)}")
    if out.dtype != data.dtype and not np.can_cast(out.dtype, data.dtype, "same_kind"):
        raise RuntimeError(f"{name}_: result type {out.dtype} can't be cast to the desired "
                           f"output type {data.dtype}")
    try:
        data[...] = out
    except ValueError as e:  # a broadcast (read-only) view
        raise RuntimeError(f"{name}_: cannot write into this tensor ({e}); clone() it first") \
            from None


def _view_region_backward(ctx, g):
    view = ctx.args[0]
    return zero_view_region.apply((g,), view), replay_view(view, g)


def _zero_view_region_forward(g, view):
    from fastdl.autograd.grad_mode import no_grad
    out = g.copy()
    with no_grad():
        replay_view(view, _wrap(out))._data[...] = 0
    return out


def _zero_view_region_backward(ctx, g):
    return (zero_view_region.apply((g,), ctx.args[0]),)


def _copy_slices_forward(base, value, view):
    raise AssertionError("copy_slices is only recorded, its write happens in place")


def _inplace_on_view(op, view_t, others, args):
    """In-place on a view of a tensor that requires grad: the base gets the new history
    (``base <- base with the view's region replaced by op(view, *others)``, PyTorch's
    CopySlices), and the view then reads its history off the new base."""
    base = view_t._view[0]
    view = view_t._view
    before = view_t
    if 0 in op.saves:  # the formula reads the view's old value, about to be overwritten
        before = _wrap(view_t._data.copy())
        before._requires_grad = view_t._requires_grad
        before._grad_fn = view_t._grad_fn
    value = op.apply((before,) + tuple(others), *args)  # recorded on the view's old history
    if value._data.shape != view_t._data.shape:
        raise RuntimeError(f"{op.name}_: output with shape {list(view_t._data.shape)} doesn't "
                           f"match the broadcast shape {list(value._data.shape)}")
    node = _record(copy_slices, (base, value), (view,))
    view_t._data[...] = value._data  # writes into base's memory
    version_counter(base).value += 1
    base._requires_grad = True
    base._grad_fn = node
    fresh = replay_view(view, base)
    view_t._grad_fn = fresh._grad_fn
    view_t._requires_grad = True
    view_t._view = view[:4] + (node,)
    return view_t


def defop(name, *, forward=None, cpu=None, cuda=None, backward, saves=(), saves_output=False,
          view=False, float_only=False, n_outputs=1, inplace=None):
    """Declare an op (see the module docstring); returns its ``OpDef``."""
    if forward is not None:
        cpu = cpu or forward
        cuda = cuda or forward
    if cpu is None:
        raise ValueError(f"op {name}: needs a CPU forward")
    if name in REGISTRY:
        raise ValueError(f"op {name} is already defined")
    if saves_output and n_outputs != 1:
        raise ValueError(f"op {name}: saves_output is for single-output ops (a multi-output "
                         "op keeps what its backward needs in a Saved argument)")
    op = OpDef(name, cpu, cuda, backward, saves, saves_output, view, float_only, n_outputs,
               inplace)
    REGISTRY[name] = op
    return op


copy_slices = defop("copy_slices", forward=_copy_slices_forward, backward=_view_region_backward)
zero_view_region = defop("zero_view_region", forward=_zero_view_region_forward,
                         backward=_zero_view_region_backward)


def _unreachable(*arrays):
    raise AssertionError("only recorded, never applied")


def _pass_gradient(ctx, g):
    return (g,)
