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
written with fastdl ops, so ``create_graph=True`` works through it.
"""
from __future__ import annotations

from fastdl.autograd import grad_mode
from fastdl.autograd.engine import Node


class FunctionCtx:
    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class Function:
    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of Function must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("subclasses of Function must implement backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        from fastdl.tensor import Tensor

        tensor_args = tuple(a for a in args if isinstance(a, Tensor))
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        prev = grad_mode.enabled
        grad_mode.enabled = False
        try:
            out = cls.forward(ctx, *args)
        finally:
            grad_mode.enabled = prev
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a fastdl.Tensor, "
                            f"got {type(out).__name__}")
        if prev and any(t._requires_grad for t in tensor_args):
            out = out.detach()
            n_args = len(args)

            def backward(g):
                grads = cls.backward(ctx, g)
                if not isinstance(grads, tuple):
                    grads = (grads,)
                if len(grads) != n_args:
                    raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} "
                                       f"gradients, expected {n_args} (one per forward input)")
                return tuple(gr for a, gr in zip(args, grads) if isinstance(a, Tensor))

            backward.__name__ = f"{cls.__name__}Backward"
            out._requires_grad = True
            out._grad_fn = Node(backward, tensor_args)
        return out
