"""Smaller ``Module`` methods that torch users call: ``set_submodule``, ``share_memory``,
``bfloat16`` and ``compile``, as a mixin of ``Module`` (module.py keeps the core)."""
from __future__ import annotations


class ModuleExtrasMixin:
    """``set_submodule`` / ``share_memory`` / ``bfloat16`` / ``compile`` (relies on
    ``Module``'s ``get_submodule`` and ``__setattr__``)."""

    def set_submodule(self, target: str, module, strict: bool = False) -> None:
        """Put ``module`` at the dotted path ``target``, as torch 2.13: the parent path must
        exist; an existing attribute of that name must be a Module (it is replaced); with
        ``strict`` the attribute must already exist.

        >>> net = fastdl.nn.Sequential(fastdl.nn.Linear(2, 2), fastdl.nn.ReLU())
        >>> net.set_submodule("1", fastdl.nn.Tanh())
        >>> net
        Sequential(
          (0): Linear(in_features=2, out_features=2, bias=True)
          (1): Tanh()
        )
        >>> net.set_submodule("2", fastdl.nn.ReLU(), strict=True)
        Traceback (most recent call last):
        ...
        AttributeError: Sequential has no attribute `2`
        """
        from fastdl.nn.modules.module import Module
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def share_memory(self):
        """Returns ``self`` unchanged. torch moves every tensor to shared memory for
        ``torch.multiprocessing``; fastdl's tensors are numpy (or cupy) arrays, which
        multiprocessing pickles (or the GPU holds) without a shared-memory mode, so there is
        nothing to move. Workers that must see each other's updates need their own channel.

        >>> lin = fastdl.nn.Linear(2, 1)
        >>> lin.share_memory() is lin
        True
        """
        return self

    def bfloat16(self):
        """Raises TypeError, as ``fastdl.bfloat16`` does anywhere a storage dtype is needed:
        numpy has no bfloat16 type. ``float()`` or ``half()`` are the casts there are.

        >>> fastdl.nn.Linear(2, 1).bfloat16()
        Traceback (most recent call last):
        ...
        TypeError: fastdl.bfloat16 is not a storage dtype: ...
        """
        from fastdl.tensor import bfloat16
        raise bfloat16.error()

    def compile(self, *args, **kwargs) -> None:
        """Accepts ``torch.nn.Module.compile``'s arguments and changes nothing: fastdl has no
        graph compiler (its kernels are compiled ahead of time), so the module keeps running
        eagerly. Returns None, as torch's.

        >>> lin = fastdl.nn.Linear(2, 1)
        >>> lin.compile(mode="max-autotune") is None
        True
        """
        return None
