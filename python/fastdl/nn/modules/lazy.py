"""Lazy modules: the input size is read from the first input (torch's LazyModuleMixin).

A lazy module's shape-dependent parameters start as ``UninitializedParameter``s (no values, only
a dtype and device). A forward pre-hook calls ``initialize_parameters(*inputs)`` on the first
call, which ``materialize``s them with the inferred shapes and initializes them as the eager
layer would; then the hooks go and the module becomes its eager class (``cls_to_become``:
LazyLinear becomes Linear). Loading a state_dict into a lazy module materializes its parameters
with the checkpoint's shapes first.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd import no_grad
from fastdl.nn.modules.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                                    ConvTranspose3d)
from fastdl.nn.modules.linear import Linear, _empty
from fastdl.nn.modules.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d,
                                            InstanceNorm1d, InstanceNorm2d, InstanceNorm3d)
from fastdl.nn.parameter import Parameter
from fastdl.tensor import Tensor


class _Uninitialized:
    """A tensor whose shape is not known yet: it holds an empty array of its dtype (and device)
    until ``materialize(shape)`` gives it memory and makes it a ``cls_to_become``."""

    __slots__ = ()
    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Allocate values of ``shape`` (uninitialized memory, as torch.empty) in the
        placeholder's dtype and device unless given, and become a ``cls_to_become``."""
        placeholder = self._data
        dtype = placeholder.dtype if dtype is None else dtype
        if device is None and type(placeholder) is not np.ndarray:
            device = "cuda"
        self._data = _empty(tuple(shape), dtype, device)._data
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol):
        # torch pickles a placeholder as its class and requires_grad only (the dtype and
        # device come back as the defaults)
        return (type(self), (self._requires_grad,))


class UninitializedParameter(_Uninitialized, Parameter):
    """A parameter of a lazy module before its shape is known.

    >>> p = fastdl.nn.UninitializedParameter()
    >>> p.materialize((2, 3)); type(p).__name__, p.shape
    ('Parameter', (2, 3))
    """

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        super().__init__(_empty((0,), dtype, device)._data, requires_grad=requires_grad)

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            device = None if type(self._data) is np.ndarray else "cuda"
            memo[id(self)] = type(self)(self._requires_grad, device, self._data.dtype)
        return memo[id(self)]


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer of a lazy module (LazyBatchNorm's running statistics) before its shape is
    known.

    >>> b = fastdl.nn.UninitializedBuffer()
    >>> b.materialize((4,)); type(b).__name__, b.shape
    ('Tensor', (4,))
    """

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        super().__init__(_empty((0,), dtype, device)._data, requires_grad=requires_grad)


def is_lazy(value) -> bool:
    return isinstance(value, _Uninitialized)


def _infer_parameters(module, args, kwargs):
    """The forward pre-hook: infer and materialize, then drop the hooks and the laziness."""
    module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._lazy_forward_hook.remove()
    module._lazy_load_hook.remove()
    del module._lazy_forward_hook, module._lazy_load_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


def _materialize_from_state_dict(module, state_dict, prefix, *rest):
    """The load pre-hook: lazy parameters and buffers take the checkpoint's shapes (values
    follow)."""
    for name, value in list(module._parameters.items()) + list(module._buffers.items()):
        key = prefix + name
        if is_lazy(value) and key in state_dict:
            value.materialize(tuple(state_dict[key].shape))
    module._adopt_shapes()


class LazyModuleMixin:
    """Laziness for a module class (listed before the eager class it extends). The subclass
    sets ``cls_to_become``, calls ``_start_lazy()`` at the end of ``__init__`` and defines
    ``initialize_parameters`` and ``_adopt_shapes`` (its size attributes from the weights)."""

    cls_to_become = None

    def _start_lazy(self) -> None:
        self._lazy_forward_hook = self.register_forward_pre_hook(_infer_parameters,
                                                                 with_kwargs=True)
        self._lazy_load_hook = self.register_load_state_dict_pre_hook(
            _materialize_from_state_dict)

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer still waits for its shape (torch's name)."""
        return any(is_lazy(v) for v in list(self._parameters.values())
                   + list(self._buffers.values()))

    def reset_parameters(self) -> None:
        # the eager initialization needs the shapes: it runs once they are known
        if not self.has_uninitialized_params() and self._sizes_known():
            super().reset_parameters()


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose ``in_features`` is the last dim of its first input.

    >>> m = fastdl.nn.LazyLinear(4)
    >>> m
    LazyLinear(in_features=0, out_features=4, bias=True)
    >>> m(fastdl.ones(2, 3)).shape, m
    ((2, 4), Linear(in_features=3, out_features=4, bias=True))
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.out_features = int(out_features)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        self._start_lazy()

    def _sizes_known(self) -> bool:
        return self.in_features != 0

    def _adopt_shapes(self) -> None:
        if not is_lazy(self.weight):
            self.in_features = self.weight.shape[1]

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        with no_grad():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    """``in_channels`` from dim 1 of a batched input (dim 0 of an unbatched one)."""

    def _lazy_init(self, out_channels, bias, device, dtype) -> None:
        self.out_channels = int(out_channels)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        self._start_lazy()

    def _sizes_known(self) -> bool:
        return self.in_channels != 0

    def _adopt_shapes(self) -> None:
        if not is_lazy(self.weight):
            rows = self.weight.shape[0]
            self.in_channels = rows if self._transposed else self.weight.shape[1] * self.groups

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        batched = self._dims + 2
        if input.ndim not in (batched - 1, batched):
            raise RuntimeError(f"Expected {batched - 1}D (unbatched) or {batched}D (batched) "
                               f"input to {type(self).__name__}, but got input of size: "
                               f"{list(input.shape)}")
        in_channels = input.shape[1] if input.ndim == batched else input.shape[0]
        if in_channels % self.groups:
            raise ValueError("in_channels must be divisible by groups")
        with no_grad():
            self.in_channels = in_channels
            if self._transposed:
                shape = (in_channels, self.out_channels // self.groups) + self.kernel_size
            else:
                shape = (self.out_channels, in_channels // self.groups) + self.kernel_size
            self.weight.materialize(shape)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


def _lazy_conv(eager, transposed):
    """The Lazy twin of a Conv/ConvTranspose class: the eager constructor with in_channels
    (and out_channels) 0, then uninitialized weight and bias."""
    if transposed:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                     groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                     dtype=None):
            eager.__init__(self, 0, 0, kernel_size, stride, padding, output_padding, groups,
                           False, dilation, padding_mode, device, dtype)
            self._lazy_init(out_channels, bias, device, dtype)
    else:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                     groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
            eager.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups, False,
                           padding_mode, device, dtype)
            self._lazy_init(out_channels, bias, device, dtype)
    name = f"Lazy{eager.__name__}"
    spatial = ", ".join(["6"] * eager._dims)
    weight_rows = "(5, 4)" if transposed else "(4, 5)"
    doc = (f"A {eager.__name__} whose ``in_channels`` is read from its first input.\n\n"
           f"    >>> m = fastdl.nn.{name}(4, 3)\n"
           f"    >>> m(fastdl.ones(2, 5, {spatial})).shape[1], m.weight.shape[:2]\n"
           f"    (4, {weight_rows})\n")
    return type(name, (_LazyConvMixin, eager), {"__init__": __init__, "cls_to_become": eager,
                                                "__doc__": doc, "__module__": __name__})


LazyConv1d = _lazy_conv(Conv1d, False)
LazyConv2d = _lazy_conv(Conv2d, False)
LazyConv3d = _lazy_conv(Conv3d, False)
LazyConvTranspose1d = _lazy_conv(ConvTranspose1d, True)
LazyConvTranspose2d = _lazy_conv(ConvTranspose2d, True)
LazyConvTranspose3d = _lazy_conv(ConvTranspose3d, True)


class _LazyBatchNormMixin(LazyModuleMixin):
    """``num_features`` from dim 1 of the first input; weight, bias and running statistics
    wait for it (torch's LazyBatchNorm arguments: no num_features)."""

    def __init__(self, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        # the eager constructor with a placeholder of one feature, then the shaped state
        # waits; bias=False leaves the eager constructor's bias None (a scale without shift)
        super().__init__(1, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)
        self.num_features = 0
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
        self._start_lazy()

    def _sizes_known(self) -> bool:
        return self.num_features != 0

    def _feature_dim(self, input) -> int:
        return 1

    def _adopt_shapes(self) -> None:
        for value in (self.weight, self.running_mean):
            if value is not None and not is_lazy(value):
                self.num_features = value.shape[0]

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        with no_grad():
            self.num_features = input.shape[self._feature_dim(input)]
            for value in (self.weight, self.bias, self.running_mean, self.running_var):
                if value is not None:
                    value.materialize((self.num_features,))
            self.reset_parameters()


class LazyBatchNorm1d(_LazyBatchNormMixin, BatchNorm1d):
    """A BatchNorm1d whose ``num_features`` is read from its first input.

    >>> m = fastdl.nn.LazyBatchNorm1d()
    >>> m(fastdl.randn(8, 3)).shape, m.running_mean.shape
    ((8, 3), (3,))
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNormMixin, BatchNorm2d):
    """A BatchNorm2d whose ``num_features`` is read from its first input.

    >>> fastdl.nn.LazyBatchNorm2d()(fastdl.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNormMixin, BatchNorm3d):
    """A BatchNorm3d whose ``num_features`` is read from its first input.

    >>> fastdl.nn.LazyBatchNorm3d()(fastdl.randn(2, 3, 2, 4, 4)).shape
    (2, 3, 2, 4, 4)
    """

    cls_to_become = BatchNorm3d


class _LazyInstanceNormMixin(_LazyBatchNormMixin):
    """torch's LazyInstanceNorm: affine and track_running_stats default to True (unlike the
    eager InstanceNorm). The features are read at dim 0 of an unbatched input (torch reads dim
    1 there, the length, and then fails its own size check)."""

    def _feature_dim(self, input) -> int:
        return 0 if input.ndim == self._ranks[0] else 1


class LazyInstanceNorm1d(_LazyInstanceNormMixin, InstanceNorm1d):
    """An InstanceNorm1d whose ``num_features`` is read from its first input.

    >>> m = fastdl.nn.LazyInstanceNorm1d()
    >>> m(fastdl.randn(2, 3, 5)).shape, m.weight.shape
    ((2, 3, 5), (3,))
    """

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNormMixin, InstanceNorm2d):
    """An InstanceNorm2d whose ``num_features`` is read from its first input.

    >>> fastdl.nn.LazyInstanceNorm2d()(fastdl.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNormMixin, InstanceNorm3d):
    """An InstanceNorm3d whose ``num_features`` is read from its first input.

    >>> fastdl.nn.LazyInstanceNorm3d()(fastdl.randn(2, 3, 2, 4, 4)).shape
    (2, 3, 2, 4, 4)
    """

    cls_to_become = InstanceNorm3d
