"""Reverse-mode automatic differentiation (torch.autograd's API)."""
from fastdl.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                                       set_grad_enabled)
from fastdl.autograd.engine import Node, backward, grad
from fastdl.autograd.function import Function, FunctionCtx

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode",
           "Function", "FunctionCtx", "Node"]


def __getattr__(name):
    # fastdl.testing imports fastdl.autograd, so its checks are bound on first use
    if name in ("gradcheck", "gradgradcheck"):
        from fastdl import testing
        return getattr(testing, name)
    if name == "functional":  # torch.autograd.functional is reachable without an import
        import importlib
        return importlib.import_module("fastdl.autograd.functional")
    raise AttributeError(f"module 'fastdl.autograd' has no attribute '{name}'")
