"""``fastdl.compile``: ``torch.compile``'s signature, returning what it is given, so that
scripts written for torch run unchanged."""
from __future__ import annotations


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend=None, mode=None,
            options=None, name=None, disable: bool = False, recompile_limit=None,
            isolate_recompiles: bool = False, shapes_spec=None):
    """Returns ``model`` (a Module or a function) itself: fastdl has no graph compiler (its
    kernels are compiled ahead of time), so it keeps running eagerly and gives the same
    results; the arguments are accepted for torch's sake and otherwise ignored. Called
    without a model it is a decorator, as torch's. Unlike torch, a Module is not wrapped in
    an ``OptimizedModule``: its state-dict keys keep their names (no ``_orig_mod.`` prefix).

    >>> net = fastdl.nn.Linear(2, 1)
    >>> fastdl.compile(net, mode="reduce-overhead") is net
    True
    >>> @fastdl.compile(fullgraph=True)
    ... def double(x):
    ...     return x * 2
    >>> double(fastdl.ones(2)).tolist()
    [2.0, 2.0]
    """
    if model is None:
        def decorate(fn):
            if fn is None:
                raise RuntimeError("Model can't be None")
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable,
                           recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return decorate
    if mode is not None and options is not None:  # torch's argument check
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    return model
