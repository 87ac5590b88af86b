"""``Function``: user-defined ops with a hand-written backward (like torch.autograd.Function).

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x

    y = Cube.apply(x)

``forward`` runs with grad mode off and returns one Tensor; ``backward`` returns one gradient
(or None) per ``forward`` argument after ``ctx``. ``backward`` is differentiable when it is
written with fastdl ops, so ``create_graph=True`` works through it. Each Function subclass is an
op of the op layer (recorded by the same ``Node`` as every built-in op).
"""
from __future__ import annotations

from fastdl.autograd.grad_mode import grad_wanted, state as _grad_state
from fastdl.autograd.op import OpDef, _record


class FunctionCtx:
    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


def _function_backward(node, g):
    cls, n_args, tensor_positions = node.args
    grads = cls.backward(node.state, g)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != n_args:
        raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} gradients, expected "
                           f"{n_args} (one per forward input)")
    return tuple(grads[i] for i in tensor_positions)


def _unreachable_forward(*arrays):
    raise AssertionError("a Function's forward runs through Function.apply")


class Function:
    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of Function must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("subclasses of Function must implement backward(ctx, grad)")

    @classmethod
    def _op(cls):
        op = cls.__dict__.get("_fastdl_op")
        if op is None:
            op = OpDef(cls.__name__, _unreachable_forward, None, _function_backward, (), False,
                       False, False, 1)
            op.node_name = f"{cls.__name__}Backward"
            cls._fastdl_op = op
        return op

    @classmethod
    def apply(cls, *args):
        from fastdl.tensor import Tensor

        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        tensor_args = tuple(args[i] for i in positions)
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            out = cls.forward(ctx, *args)
        finally:
            _grad_state.enabled = prev
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a fastdl.Tensor, "
                            f"got {type(out).__name__}")
        if grad_wanted(*tensor_args):  # grad mode is back to the caller's here
            out = out.detach()
            node = _record(cls._op(), tensor_args, (cls, len(args), positions))
            node.state = ctx
            out._requires_grad = True
            out._grad_fn = node
        return out
