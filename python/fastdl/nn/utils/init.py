"""``skip_init`` (``torch.nn.utils.skip_init``): a module built without running its
initializers."""
from __future__ import annotations

import inspect

from fastdl.nn import init


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` with its parameters and buffers left uninitialized
    (whatever ``numpy.empty`` gave them), for weights that are about to be loaded or set by a
    custom scheme. As torch, the class must take a ``device`` argument. torch builds the module
    on its "meta" device; fastdl instead turns every ``fastdl.nn.init`` initializer into a
    no-op during the construction, so nothing is drawn from the random generator, and values a
    constructor computes without those initializers are kept.

    >>> lin = fastdl.nn.utils.skip_init(fastdl.nn.Linear, 5, 1)
    >>> lin.weight.shape, lin.weight.requires_grad
    ((1, 5), True)
    """
    from fastdl.nn.modules.module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    with init.skipping_init():
        return module_cls(*args, **kwargs)
