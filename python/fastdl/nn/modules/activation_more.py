"""More activation modules (torch.nn's names, arguments, attributes and reprs): thin wrappers
over ``fastdl.nn.functional``; PReLU holds its learned slopes."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.modules.linear import _empty
from fastdl.nn.modules.module import Module


class _InplaceActivation(Module):
    """An activation whose only option is ``inplace``; ``shows_inplace`` says whether the repr
    mentions it (torch's Hardswish and Hardsigmoid do not)."""

    shows_inplace = True

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace and self.shows_inplace else ""


class SELU(_InplaceActivation):
    """scale * ELU(x, alpha) with the self-normalizing constants (Klambauer et al. 2017).

    >>> fastdl.nn.SELU()(fastdl.tensor([1.0])).tolist()
    [1.0507010221481323]
    """

    def forward(self, input):
        return F.selu(input, self.inplace)


class Mish(_InplaceActivation):
    """x * tanh(softplus(x)).

    >>> round(fastdl.nn.Mish()(fastdl.tensor([1.0])).item(), 4)
    0.8651
    """

    def forward(self, input):
        return F.mish(input, self.inplace)


class Hardswish(_InplaceActivation):
    """x * relu6(x + 3) / 6 (MobileNetV3).

    >>> fastdl.nn.Hardswish()(fastdl.tensor([-4.0, 0.0, 4.0])).tolist()
    [-0.0, 0.0, 4.0]
    """

    shows_inplace = False

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6.

    >>> fastdl.nn.Hardsigmoid()(fastdl.tensor([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.5, 1.0]
    """

    shows_inplace = False

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class CELU(Module):
    """x if x > 0 else alpha * (exp(x / alpha) - 1).

    >>> fastdl.nn.CELU(2.0)(fastdl.tensor([3.0])).tolist()
    [3.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Threshold(Module):
    """x if x > threshold else value.

    >>> fastdl.nn.Threshold(0.5, -1.0)(fastdl.tensor([0.2, 0.7])).tolist()
    [-1.0, 0.699999988079071]
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return (f"threshold={self.threshold}, value={self.value}"
                + (", inplace=True" if self.inplace else ""))


class _Shrink(Module):
    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """x where |x| > lambd, else 0.

    >>> fastdl.nn.Hardshrink()(fastdl.tensor([-1.0, 0.25, 2.0])).tolist()
    [-1.0, 0.0, 2.0]
    """

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class Softshrink(_Shrink):
    """x moved towards 0 by lambd, and 0 within [-lambd, lambd].

    >>> fastdl.nn.Softshrink()(fastdl.tensor([-1.0, 0.25, 2.0])).tolist()
    [-0.5, 0.0, 1.5]
    """

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class Tanhshrink(Module):
    """x - tanh(x).

    >>> fastdl.nn.Tanhshrink()(fastdl.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, input):
        return F.tanhshrink(input)


class Softsign(Module):
    """x / (1 + |x|).

    >>> fastdl.nn.Softsign()(fastdl.tensor([-3.0, 1.0])).tolist()
    [-0.75, 0.5]
    """

    def forward(self, input):
        return F.softsign(input)


class LogSigmoid(Module):
    """log(sigmoid(x)) without overflow.

    >>> fastdl.nn.LogSigmoid()(fastdl.tensor([-1000.0, 0.0])).tolist()
    [-1000.0, -0.6931471824645996]
    """

    def forward(self, input):
        return F.logsigmoid(input)


class GLU(Module):
    """a * sigmoid(b) with a, b the halves of the input along ``dim``.

    Shape: (*, 2n, *) -> (*, n, *) along ``dim``.

    >>> fastdl.nn.GLU()(fastdl.ones(3, 4)).shape
    (3, 2)
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim``.

    >>> [round(v, 4) for v in fastdl.nn.Softmin(0)(fastdl.tensor([0.0, 1.0])).tolist()]
    [0.7311, 0.2689]
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels of a (N, C, H, W) or (C, H, W) input, at each position.

    >>> fastdl.nn.Softmax2d()(fastdl.ones(2, 4, 3, 3)).sum(1).mean().item()
    1.0
    """

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             f"instead")
        return F.softmax(input, -3, _stacklevel=5)


class RReLU(Module):
    """Randomized leaky ReLU: random negative slopes in U(lower, upper) in training, their
    mean in eval.

    >>> fastdl.nn.RReLU(0.1, 0.3).eval()(fastdl.tensor([-1.0, 2.0])).tolist()
    [-0.20000000298023224, 2.0]
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return (f"lower={self.lower}, upper={self.upper}"
                + (", inplace=True" if self.inplace else ""))


class PReLU(Module):
    """x if x > 0 else a * x with learned slopes a: one shared (``num_parameters=1``) or one
    per channel (dim 1 of the input), all starting at ``init``.

    >>> m = fastdl.nn.PReLU(3)
    >>> m.weight.shape, m(fastdl.ones(2, 3, 4)).shape
    ((3,), (2, 3, 4))
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = _empty((num_parameters,), dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
