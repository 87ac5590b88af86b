"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``."""
from __future__ import annotations

import operator
from collections import OrderedDict

from fastdl.nn.modules.module import Module, _indent_after_first_line


def _normalize_index(index: int, length: int, kind: str) -> int:
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError(f"{kind}: index {index} is out of range for length {length}")
    return index + length if index < 0 else index


def _renumber(container, modules):
    """``modules`` registered under "0", "1", ... in order (Sequential's and ModuleList's
    positional names), replacing what the container held."""
    container._modules.clear()
    for position, module in enumerate(modules):
        container.add_module(str(position), module)
    return container


def _pop(container, key):
    module = container[key]
    del container[key]
    return module


class Sequential(Module):
    """Apply modules in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``; also accepts an
    ``OrderedDict`` of named modules.

    Shape: the first module's input, the last module's output.

    >>> nn = fastdl.nn
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> model(fastdl.ones(5, 3)).shape
    (5, 2)
    >>> len(model), type(model[1]).__name__
    (3, 'ReLU')
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        index = _normalize_index(index, len(self), "Sequential")
        return list(self._modules.values())[index]

    def __setitem__(self, index, module):
        key = list(self._modules.keys())[_normalize_index(index, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, index):
        if isinstance(index, slice):
            keys = list(self._modules.keys())[index]
        else:
            keys = [list(self._modules.keys())[_normalize_index(index, len(self), "Sequential")]]
        for key in keys:
            del self._modules[key]
        # Renumber (as PyTorch does) so that append() never collides with a surviving key.
        _renumber(self, list(self._modules.values()))

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Put ``module`` before position ``index`` (negative from the end), as torch.

        >>> m = fastdl.nn.Sequential(fastdl.nn.ReLU()).insert(0, fastdl.nn.Tanh())
        >>> [type(x).__name__ for x in m]
        ['Tanh', 'ReLU']
        """
        modules = list(self._modules.values())
        n = len(modules)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} modules")
        modules.insert(index if index >= 0 else index + n, module)
        return _renumber(self, modules)

    def extend(self, sequential) -> "Sequential":
        for module in sequential:
            self.append(module)
        return self

    def pop(self, key=-1) -> Module:
        """Remove and return the module at ``key`` (an index or a slice), renumbering the rest."""
        return _pop(self, key)

    def __add__(self, other) -> "Sequential":
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        return Sequential(*self, *other)


class ModuleList(Module):
    """A list of modules, registered so their parameters are found.

    >>> layers = fastdl.nn.ModuleList([fastdl.nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    >>> x = fastdl.ones(5, 2)
    >>> for layer in layers:
    ...     x = layer(x)
    >>> x.shape
    (5, 2)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[str(_normalize_index(index, len(self), "ModuleList"))]

    def __setitem__(self, index, module):
        self.add_module(str(_normalize_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index):
        modules = list(self._modules.values())
        del modules[index]
        _renumber(self, modules)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        _renumber(self, modules)

    def pop(self, key=-1) -> Module:
        """Remove and return the module at ``key``, renumbering the rest (torch's pop)."""
        return _pop(self, key)

    def __add__(self, other) -> "ModuleList":
        return ModuleList([*self, *other])

    def __repr__(self):
        """Runs of children with the same repr print once, as torch's ModuleList:
        ``(0-2): 3 x Linear(...)``. (torch's Sequential does not group; neither does ours.)"""
        child_reprs = [repr(module) for module in self]
        if not child_reprs:
            return f"{self._get_name()}()"
        runs = []  # [first index, last index, repr]
        for index, text in enumerate(child_reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = [_indent_after_first_line(f"({first}): {text}" if first == last
                                          else f"({first}-{last}): {last - first + 1} x {text}")
                 for first, last, text in runs]
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it instead")


class ModuleDict(Module):
    """A dict of modules by name, registered so their parameters are found.

    >>> d = fastdl.nn.ModuleDict({"enc": fastdl.nn.Linear(3, 4), "act": fastdl.nn.ReLU()})
    >>> list(d.keys()), len(list(d.parameters()))
    (['enc', 'act'], 2)
    >>> d["act"](d["enc"](fastdl.ones(1, 3))).shape
    (1, 4)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self._modules[key]
        return module

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for entry in items:
            if len(entry) != 2:
                raise ValueError(f"ModuleDict.update expects (name, module) pairs, got {entry!r}")
            self[entry[0]] = entry[1]

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); index it instead")
