"""Nested containers of tensors (torch.utils._pytree's model, the part the transforms need).

Tuples (named tuples too), lists and dicts are nodes; everything else, None included, is a
leaf. A spec is None for a leaf or ``(type, children)``, children being specs for a
tuple/list and ``(key, spec)`` pairs for a dict, so two trees have the same structure exactly
when their specs are equal.
"""
from __future__ import annotations


def tree_flatten(tree):
    """The leaves of ``tree`` in order, and its spec."""
    if isinstance(tree, (tuple, list)):
        out, specs = [], []
        for t in tree:
            leaves, spec = tree_flatten(t)
            out += leaves
            specs.append(spec)
        return out, (type(tree), tuple(specs))
    if isinstance(tree, dict):
        out, specs = [], []
        for k in tree:
            leaves, spec = tree_flatten(tree[k])
            out += leaves
            specs.append((k, spec))
        return out, (dict, tuple(specs))
    return [tree], None


def tree_unflatten(leaves, spec):
    """The tree of ``spec`` with ``leaves`` in its leaves' places."""
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        kind, children = s
        if kind is dict:
            return {k: build(c) for k, c in children}
        values = [build(c) for c in children]
        # a named tuple's constructor takes its fields one by one
        return kind(*values) if hasattr(kind, "_fields") else kind(values)
    return build(spec)


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def spec_pprint(spec) -> str:
    """``spec`` as torch's treespec_pprint writes it: ``*`` for a leaf, e.g. ``(*, [*])``."""
    if spec is None:
        return "*"
    kind, children = spec
    if kind is dict:
        return "{" + ", ".join(f"{k!r}: {spec_pprint(c)}" for k, c in children) + "}"
    inner = ", ".join(spec_pprint(c) for c in children)
    if kind is list:
        return f"[{inner}]"
    return f"({inner},)" if len(children) == 1 else f"({inner})"


def spec_repr(spec) -> str:
    """``spec`` as torch's TreeSpec repr writes it (on one line)."""
    if spec is None:
        return "*"
    kind, children = spec
    if kind is dict:
        keys = [k for k, _ in children]
        return (f"TreeSpec(dict, {keys!r}, ["
                + ", ".join(spec_repr(c) for _, c in children) + "])")
    return (f"TreeSpec({kind.__name__}, None, ["
            + ", ".join(spec_repr(c) for c in children) + "])")
