"""Module hooks: the handle every ``register_*hook`` returns, the global hook registries, and
``BackwardHook``, which implements ``register_full_backward_hook`` the way PyTorch does.

``BackwardHook`` passes the module's tensor inputs through one multi-output identity op and its
tensor outputs through another (both named ``BackwardHookFunctionBackward`` in the graph, as in
torch). In backward the output node is reached first: its backward packs the gradients w.r.t. the
outputs into ``grad_output`` (one entry per output, None for a non-tensor output or one that got
no gradient), runs the backward pre-hooks (which may replace it) and passes the gradients on.
The input node's backward then has the gradients w.r.t. the inputs: it calls the hooks with
``grad_input`` (one entry per positional argument, None for a non-tensor) and ``grad_output``,
and passes on what they return. As in torch, an input tensor that got no gradient (unused, or
not requiring grad) is given zeros in ``grad_input``; when no input requires grad, the hooks are
called from the output node with ``grad_input`` all None.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict

from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.autograd.graph import version_counter
from fastdl.autograd.op import defop


class RemovableHandle:
    """Removes the hook it was returned for (``handle.remove()`` or ``with handle:``).

    Like torch's: each hook is keyed by the handle's unique ``id`` in an ordered dict (so the
    same function can be registered twice and ``prepend`` can move it first); ``extra_dict``
    are the flag dicts (with_kwargs, always_call) the id is also removed from. Only weak
    references are kept, so a handle does not keep its module alive."""

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if extra_dict is None:
            extra_dict = ()
        elif isinstance(extra_dict, dict):
            extra_dict = (extra_dict,)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self) -> None:
        hooks_dict = self.hooks_dict_ref()
        if hooks_dict is not None:
            hooks_dict.pop(self.id, None)
        for ref in self.extra_dict_ref:
            extra = ref()
            if extra is not None:
                extra.pop(self.id, None)

    def __getstate__(self):
        # torch's form: the dicts themselves (the weak references do not pickle)
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        # a dict that was gone when pickling comes back as a dead reference
        self.hooks_dict_ref = weakref.ref(OrderedDict() if state[0] is None else state[0])
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        extra = state[2] if len(state) > 2 and state[2] is not None else ()
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra if d is not None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def reserve_ids(*hook_dicts) -> None:
    """Move the handle counter past the ids used in ``hook_dicts`` (hooks that were loaded)."""
    for hooks in hook_dicts:
        if hooks:
            RemovableHandle.next_id = max(RemovableHandle.next_id, max(hooks) + 1)


def add_hook(hooks, hook, prepend=False, extra=()):
    """Register ``hook`` in the ordered dict ``hooks`` (first when ``prepend``); ``extra`` are
    flag dicts in which its id is set."""
    handle = RemovableHandle(hooks, extra_dict=tuple(extra) or None)
    hooks[handle.id] = hook
    for d in extra:
        d[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


# -- global hooks (torch.nn.modules.module.register_module_*_hook) ---------------------------
global_forward_pre_hooks: OrderedDict = OrderedDict()
global_forward_hooks: OrderedDict = OrderedDict()
global_forward_hooks_with_kwargs: OrderedDict = OrderedDict()
global_forward_hooks_always_called: OrderedDict = OrderedDict()
global_backward_pre_hooks: OrderedDict = OrderedDict()
global_backward_hooks: OrderedDict = OrderedDict()


def any_global_hooks() -> bool:
    return bool(global_forward_pre_hooks or global_forward_hooks or global_backward_pre_hooks
                or global_backward_hooks)


# -- BackwardHook ------------------------------------------------------------------------------
def _identity_forward(*arrays_and_hook):
    return arrays_and_hook[:-1]  # the arrays themselves: outputs share memory with inputs


def _inputs_backward(ctx, grads):
    if not isinstance(grads, tuple):  # one tensor input: a single-output node
        grads = (grads,)
    return ctx.args[0]._grad_input_reached(ctx.inputs, grads)


def _outputs_backward(ctx, grads):
    if not isinstance(grads, tuple):
        grads = (grads,)
    return ctx.args[0]._grad_output_reached(grads)


# n_outputs is the number of tensors each application passes through (fixed per node).
module_inputs_hook = defop("module_inputs_backward_hook", forward=_identity_forward,
                           backward=_inputs_backward, n_outputs=-1)
module_outputs_hook = defop("module_outputs_backward_hook", forward=_identity_forward,
                            backward=_outputs_backward, n_outputs=-1)
module_inputs_hook.node_name = module_outputs_hook.node_name = "BackwardHookFunctionBackward"


def _pack_with_none(indices, values, size):
    res = [None] * size
    for idx, val in zip(indices, values):
        res[idx] = val
    return tuple(res)


class BackwardHook:
    """One module call's full backward hooks (torch.utils.hooks.BackwardHook)."""

    __slots__ = ("module", "user_hooks", "user_pre_hooks", "grad_outputs", "n_outputs",
                 "output_tensors_index", "n_inputs", "input_tensors_index")

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    def _apply_on_tensors(self, op, args):
        """Pass the tensors among ``args`` through ``op`` (one node); (new args, their indices),
        or (args, None) when no tensor requires grad or grad mode is off."""
        from fastdl.tensor import Tensor

        indices, tensors = [], []
        requires_grad = False
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                indices.append(i)
                tensors.append(arg)
                requires_grad = requires_grad or arg._requires_grad
        if not (requires_grad and _grad_state.enabled):
            return args, None
        new = op.apply(tuple(tensors), self)
        for t, src in zip(new, tensors):
            t._vc = version_counter(src)  # same memory, so in-place writes are seen by both
            if not src._requires_grad:  # torch's mark_non_differentiable
                t._requires_grad = False
                t._grad_fn = None
                t._output_nr = 0
        arg_list = list(args)
        for i, t in zip(indices, new):
            arg_list[i] = t
        out = tuple(arg_list) if type(args) is tuple else type(args)(*arg_list)
        return out, indices

    def setup_input_hook(self, args):
        res, indices = self._apply_on_tensors(module_inputs_hook, args)
        self.n_inputs = len(args)
        self.input_tensors_index = indices
        return res

    def setup_output_hook(self, result):
        is_tuple = isinstance(result, tuple)
        args = result if is_tuple else (result,)
        res, indices = self._apply_on_tensors(module_outputs_hook, args)
        self.n_outputs = len(args)
        self.output_tensors_index = indices
        return res if is_tuple else res[0]

    # -- called by the identity nodes' backward ----------------------------------------------
    def _grad_output_reached(self, grads):
        self.grad_outputs = _pack_with_none(self.output_tensors_index, grads, self.n_outputs)
        expected = len(self.grad_outputs)
        for pre_hook in self.user_pre_hooks:
            replaced = pre_hook(self.module, self.grad_outputs)
            if replaced is None:
                continue
            if len(replaced) != expected:
                raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(replaced)}, but expected {expected}")
            self.grad_outputs = tuple(replaced)
        grad_outputs = self.grad_outputs
        if self.input_tensors_index is None:
            # No input requires grad: the input node does not exist, call the hooks now.
            grad_inputs = (None,) * self.n_inputs
            for hook in self.user_hooks:
                res = hook(self.module, grad_inputs, grad_outputs)
                if res is not None and not (isinstance(res, tuple)
                                            and all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_tensors_index)

    def _grad_input_reached(self, inputs, grads):
        if any(g is None for g in grads):  # torch materializes a Function's missing grads
            from fastdl.tensor import _wrap
            from fastdl.autograd.engine import _array_module
            grads = tuple(_wrap(_array_module(x._data).zeros_like(x._data)) if g is None else g
                          for x, g in zip(inputs, grads))
        if self.grad_outputs is None:
            # The gradient reached the inputs without passing through this call's outputs
            # (e.g. double backward): no hook call, as in torch.
            return grads
        res = _pack_with_none(self.input_tensors_index, grads, self.n_inputs)
        for hook in self.user_hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(res)}")
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_tensors_index)
