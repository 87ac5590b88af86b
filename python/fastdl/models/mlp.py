"""``MLP``: a multilayer perceptron composed from ``fastdl.nn``."""
from __future__ import annotations

from collections import OrderedDict

from fastdl import nn

_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
                "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softplus": nn.Softplus}


def _activation_factory(activation):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of "
                             f"{sorted(_ACTIVATIONS)} or pass a Module class/factory")
        return _ACTIVATIONS[activation]
    if isinstance(activation, nn.Module):
        raise TypeError("MLP: pass the activation's class or a factory (e.g. nn.ReLU), not an "
                        "instance: every hidden layer needs its own module")
    if not callable(activation):
        raise TypeError(f"MLP: activation must be a name or a callable returning a Module, got "
                        f"{type(activation).__name__}")
    return activation


class MLP(nn.Sequential):
    """Linear -> activation (-> Dropout) for each hidden width, then a final Linear.

    ``hidden`` is an int (one hidden layer) or a sequence of widths. Layers are named
    ``fc0, act0, drop0, fc1, ...`` so state dicts read naturally.
    """

    def __init__(self, in_features: int, hidden, out_features: int, activation="relu",
                 dropout: float = 0.0, bias: bool = True):
        widths = [hidden] if isinstance(hidden, int) else list(hidden)
        if any(not isinstance(w, int) or w <= 0 for w in widths):
            raise ValueError(f"MLP: hidden widths must be positive ints, got {hidden!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        make_activation = _activation_factory(activation)
        layers = OrderedDict()
        previous = in_features
        for i, width in enumerate(widths):
            layers[f"fc{i}"] = nn.Linear(previous, width, bias=bias)
            layers[f"act{i}"] = make_activation()
            if dropout > 0:
                layers[f"drop{i}"] = nn.Dropout(dropout)
            previous = width
        layers[f"fc{len(widths)}"] = nn.Linear(previous, out_features, bias=bias)
        super().__init__(layers)
        self.in_features = in_features
        self.out_features = out_features
