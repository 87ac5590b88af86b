"""Pruning (``torch.nn.utils.prune``): zero out entries or whole channels of a module's tensor.

Pruning ``module.<name>`` moves the parameter to ``<name>_orig``, stores a 0/1 buffer
``<name>_mask`` and, in a forward pre-hook (the pruning method itself), recomputes the plain
attribute ``<name> = <name>_mask * <name>_orig`` before each forward, so gradients reach
``<name>_orig`` only through the kept entries. Pruning the same tensor again combines the masks
in a :class:`PruningContainer`: the new method only sees the entries (unstructured) or channels
(structured) that are still unpruned. :func:`remove` makes the pruning permanent.

>>> from fastdl.nn.utils import prune
>>> m = prune.l1_unstructured(fastdl.nn.Linear(4, 3), "weight", amount=5)
>>> int((m.weight_mask == 0).sum())
5
>>> sorted(name for name, _ in m.named_parameters()), [name for name, _ in m.named_buffers()]
(['bias', 'weight_orig'], ['weight_mask'])
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

import fastdl
from fastdl.nn.utils.convert_parameters import parameters_to_vector


class BasePruningMethod(ABC):
    """A pruning technique: subclasses define ``compute_mask`` (and ``PRUNING_TYPE``:
    ``"unstructured"``, ``"structured"`` with a ``dim`` attribute, or ``"global"``). An applied
    method is the module's forward pre-hook for the tensor it prunes."""

    # Set by apply(); left undefined before (as torch) so a misuse fails loudly.
    _tensor_name: str

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The mask for importance scores ``t``, respecting the earlier ``default_mask`` (ones
        when nothing was pruned yet); same shape as ``t``."""

    def apply_mask(self, module):
        """``<name>_mask * <name>_orig`` of ``module`` (the pruned tensor)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, on top of any pruning already
        applied to it, and return the method now acting as its hook (a
        :class:`PruningContainer` when the tensor was pruned before)."""
        method = _combine_with_existing(cls, module, name, *args, **kwargs)
        orig = getattr(module, name)
        importance_scores = _scores_for(orig, importance_scores, f"parameter {name} of {module}")

        first_time = not isinstance(method, PruningContainer)
        if first_time:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = fastdl.ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone(
                memory_format=fastdl.contiguous_format)

        try:
            mask = method.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            # A failed first pruning leaves the module as it was (the parameter back in place).
            if first_time:
                module.register_parameter(name, getattr(module, name + "_orig"))
                del module._parameters[name + "_orig"]
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` times the mask ``compute_mask`` gives for it (or for ``importance_scores``)."""
        importance_scores = _scores_for(t, importance_scores, "tensor t")
        default_mask = default_mask if default_mask is not None else fastdl.ones_like(t)
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module) -> None:
        """Make the pruning permanent: ``<name>`` becomes a parameter again (the same object
        that was ``<name>_orig``, so optimizers keep it) holding the masked values; the
        ``_orig`` parameter and ``_mask`` buffer go. The hook itself is dropped by
        :func:`remove`."""
        if self._tensor_name is None:
            raise AssertionError(
                f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        if hasattr(module, self._tensor_name):
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.data = weight.data
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


def _scores_for(t, importance_scores, what):
    """The scores that decide what to prune of ``t``: ``importance_scores`` (checked to have
    ``t``'s shape), or ``t`` itself."""
    if importance_scores is None:
        return t
    if importance_scores.shape != t.shape:
        raise AssertionError(f"importance_scores should have the same shape as {what}, got "
                             f"{_size(importance_scores.shape)} vs {_size(t.shape)}")
    return importance_scores


def _size(shape) -> str:
    """A shape the way torch prints it in messages (``torch.Size([3, 4])``)."""
    return f"torch.Size({list(shape)})"


def _combine_with_existing(cls, module, name, *args, **kwargs):
    """A new ``cls(*args, **kwargs)`` for ``name``; when ``name`` already has a pruning hook,
    that hook is unregistered and the new method appended to it (as a container)."""
    old_keys = [key for key, hook in module._forward_pre_hooks.items()
                if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
    if len(old_keys) > 1:
        raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} of "
                             f"module {module}. Use a PruningContainer.")
    old_method = module._forward_pre_hooks[old_keys[0]] if old_keys else None
    for key in old_keys:
        del module._forward_pre_hooks[key]

    method = cls(*args, **kwargs)
    method._tensor_name = name
    if isinstance(old_method, PruningContainer):
        old_method.add_pruning_method(method)
        return old_method
    if old_method is not None:
        container = PruningContainer(old_method)
        container.add_pruning_method(method)
        return container
    return method


class PruningContainer(BasePruningMethod):
    """The pruning methods applied in turn to one tensor (iterative pruning). Built from one
    method (whose tensor it adopts) or several; ``compute_mask`` applies only the latest
    method, to what the earlier ones left unpruned."""

    def __init__(self, *args) -> None:
        self._pruning_methods: tuple = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
        for method in args:
            self.add_pruning_method(method)

    def add_pruning_method(self, method) -> None:
        """Append ``method`` (a :class:`BasePruningMethod` acting on this container's
        tensor)."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(
                f"Can only add pruning methods acting on the parameter named "
                f"'{self._tensor_name}' to PruningContainer {self}. Found "
                f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """``default_mask`` with the latest method's mask written over the part still
        unpruned: the entries where it is 1 (unstructured), the channels along the method's
        ``dim`` not entirely zero (structured), or everything (global)."""
        method = self._pruning_methods[-1]
        new_mask = default_mask.to(dtype=t.dtype)
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            slc = default_mask == 1
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to '
                                     "have the attribute `dim` defined.")
            n_dims = t.dim()
            dim = method.dim + n_dims if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
            keep_channel = default_mask.sum(dim=[d for d in range(n_dims) if d != dim]) != 0
            slc = [slice(None)] * n_dims
            slc[dim] = keep_channel  # a dim past the end fails here, with torch's IndexError
            slc = tuple(slc)
        elif kind == "global":
            slc = (slice(None),) * len(t.shape)
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        partial_mask = method.compute_mask(t[slc], default_mask=default_mask[slc])
        new_mask[slc] = partial_mask.to(dtype=new_mask.dtype)
        return new_mask


class Identity(BasePruningMethod):
    """Prunes nothing: the reparametrization with a mask of ones."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):  # type: ignore[override]
        return super().apply(module, name)


class _AmountMethod(BasePruningMethod):
    """A method pruning ``amount`` units (an int count or a fraction in [0, 1])."""

    def __init__(self, amount) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def _count(self, tensor_size: int) -> int:
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        _validate_pruning_amount(nparams_toprune, tensor_size)
        return nparams_toprune

    def _zero_entries(self, scores, default_mask, largest):
        """``default_mask`` with the entries at the ``amount`` largest (smallest) ``scores``
        zeroed."""
        nparams_toprune = self._count(scores.nelement())
        mask = default_mask.clone(memory_format=fastdl.contiguous_format)
        if nparams_toprune != 0:  # topk of k=0 would be fine, but torch skips it: so do we
            topk = fastdl.topk(scores.view(-1), k=nparams_toprune, largest=largest)
            mask.view(-1)[topk.indices] = 0
        return mask


class RandomUnstructured(_AmountMethod):
    """Prunes ``amount`` of the (unpruned) entries, chosen at random."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return self._zero_entries(fastdl.rand_like(t), default_mask, largest=True)

    @classmethod
    def apply(cls, module, name, amount):  # type: ignore[override]
        return super().apply(module, name, amount=amount)


class L1Unstructured(_AmountMethod):
    """Prunes the ``amount`` (unpruned) entries of smallest absolute value."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return self._zero_entries(fastdl.abs(t), default_mask, largest=False)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):  # type: ignore[override]
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _StructuredMethod(_AmountMethod):
    """A method pruning whole channels (slices along ``dim``) of a tensor of 2+ dims."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1) -> None:
        super().__init__(amount)
        self.dim = dim

    def _channel_counts(self, t):
        """(channels along ``dim``, how many to prune), after torch's checks."""
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        tensor_size = t.shape[self.dim]
        return tensor_size, self._count(tensor_size)

    def _keep_channels(self, t, default_mask, kept):
        """Ones on the channels ``kept`` (a bool mask or indices along ``dim``) selects, zeros
        elsewhere, times ``default_mask``."""
        mask = fastdl.zeros_like(t)
        slc = [slice(None)] * t.dim()
        slc[self.dim] = kept
        mask[tuple(slc)] = 1
        mask *= default_mask.to(dtype=mask.dtype)
        return mask


class RandomStructured(_StructuredMethod):
    """Prunes ``amount`` of the channels along ``dim``, chosen at random."""

    def compute_mask(self, t, default_mask):
        nchannels, nchannels_toprune = self._channel_counts(t)
        if nchannels_toprune == 0:  # kthvalue needs k >= 1
            return default_mask
        prob = fastdl.rand(nchannels, device=t.device)
        threshold = fastdl.kthvalue(prob, k=nchannels_toprune).values
        return self._keep_channels(t, default_mask, prob > threshold)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):  # type: ignore[override]
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_StructuredMethod):
    """Prunes the ``amount`` channels along ``dim`` of smallest L``n`` norm (``n`` as ``p`` of
    :func:`fastdl.norm`: a number, ``inf``, ``-inf``, ``'fro'`` or ``'nuc'``)."""

    def __init__(self, amount, n, dim=-1) -> None:
        super().__init__(amount, dim)
        self.n = n

    def compute_mask(self, t, default_mask):
        nchannels, nchannels_toprune = self._channel_counts(t)
        # The norms come before the amount-0 shortcut so that a bad `n` fails either way.
        norm = _compute_norm(t, self.n, self.dim)
        topk = fastdl.topk(norm, k=nchannels - nchannels_toprune, largest=True)
        if nchannels_toprune == 0:
            return default_mask
        return self._keep_channels(t, default_mask, topk.indices)

    @classmethod
    def apply(cls, module, name, amount, n, dim,  # type: ignore[override]
              importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes with a given ``mask`` (same shape as the tensor; any dtype, 0 prunes)."""

    PRUNING_TYPE = "global"

    def __init__(self, mask) -> None:
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if default_mask.shape != self.mask.shape:
            raise AssertionError(f"default_mask shape {_size(default_mask.shape)} must match "
                                 f"self.mask shape {_size(self.mask.shape)}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):  # type: ignore[override]
        return super().apply(module, name, mask=mask)


def identity(module, name):
    """Reparametrize ``module.<name>`` for pruning without pruning anything (a mask of ones).
    Returns the module."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` (int count or fraction) of ``module.<name>``'s unpruned entries at
    random. Returns the module."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` unpruned entries of ``module.<name>`` with the smallest
    ``|importance_scores|`` (default: the tensor itself). Returns the module."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` channels along ``dim`` of ``module.<name>`` at random. Returns the
    module."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` channels along ``dim`` of ``module.<name>`` whose
    ``importance_scores`` (default: the tensor) have the smallest L``n`` norm. Returns the
    module."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune the ``(module, name)`` pairs in ``parameters`` together: ``pruning_method`` (an
    unstructured method class, built from ``kwargs`` such as ``amount``) sees all their
    unpruned entries (or ``importance_scores[(module, name)]``) as one vector, and each tensor
    gets its slice of the resulting mask through :func:`custom_from_mask`."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")

    # `parameters` is walked three times, as torch does (a generator is spent after the first).
    relevant_importance_scores = parameters_to_vector(
        [importance_scores.get((module, name), getattr(module, name))
         for (module, name) in parameters])
    default_mask = parameters_to_vector(
        [getattr(module, name + "_mask", fastdl.ones_like(getattr(module, name)))
         for (module, name) in parameters])

    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    final_mask = container.compute_mask(relevant_importance_scores, default_mask)

    pointer = 0
    for module, name in parameters:
        param = getattr(module, name)
        num_param = param.numel()
        custom_from_mask(module, name, mask=final_mask[pointer:pointer + num_param].view_as(param))
        pointer += num_param


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` with the given ``mask`` (0 prunes). Returns the module."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent and drop its hook (the pruned entries
    stay zero). Returns the module."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module) -> bool:
    """Whether ``module`` or a submodule has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for _, submodule in module.named_modules()
               for hook in submodule._forward_pre_hooks.values())


def _validate_pruning_amount_init(amount) -> None:
    """``amount`` is a real number: a non-negative int or a fraction in [0, 1]."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    # Written so that NaN passes, as in torch (it fails later, in round()).
    if (amount < 0 if isinstance(amount, numbers.Integral)
            else float(amount) > 1.0 or float(amount) < 0.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _validate_pruning_amount(amount, tensor_size) -> None:
    """An int ``amount`` is at most the number of units there are."""
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to "
                         f"prune={tensor_size}")


def _validate_structured_pruning(t) -> None:
    """Channels need a tensor of at least 2 dims."""
    if len(t.shape) <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {_size(t.shape)} with {len(t.shape)} dims")


def _compute_nparams_toprune(amount, tensor_size):
    """The count an int ``amount`` is, or a fraction of ``tensor_size`` rounded half to even
    (Python's ``round``, as torch)."""
    if isinstance(amount, numbers.Integral):
        return amount
    return round(amount * tensor_size)


def _validate_pruning_dim(t, dim) -> None:
    if dim >= t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {_size(t.shape)}")


def _compute_norm(t, n, dim):
    """The L``n`` norm of ``t`` over every dim except ``dim``: one value per channel."""
    dims = list(range(t.dim()))
    dims.remove(dims[dim])
    return fastdl.norm(t, p=n, dim=dims)

