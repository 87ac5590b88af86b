"""``fastdl.save`` / ``fastdl.load`` in the safetensors format.

A flat ``{name: Tensor}`` state dict is written under its own names, so any safetensors reader
(``safetensors.numpy.load_file``, ``safetensors.torch.load_file``) gets the same dict back.
Nested objects (an optimizer's state dict, a checkpoint holding model + optimizer + epoch) are
flattened: every array becomes one safetensors entry and the shape of the tree (dict keys with
their types, lists, tuples, plain Python values) is stored as JSON in the file's metadata under
``fastdl.structure``, which ``fastdl.load`` uses to rebuild the object.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any

import numpy as np

STRUCTURE_KEY = "fastdl.structure"
_FORMAT_VERSION = 1


def _tensor_class():
    from fastdl.tensor import Tensor

    return Tensor


def _check_path(path, what: str) -> str:
    if isinstance(path, (str, os.PathLike)):
        return os.fspath(path)
    raise TypeError(f"fastdl.{what}: path must be a str or os.PathLike, got "
                    f"{type(path).__name__}")


def _host_array(array) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        array = array.get()  # cupy -> numpy
    # not np.ascontiguousarray: it turns 0-d arrays into shape (1,)
    return array if array.flags.c_contiguous else array.copy(order="C")


class _Flattener:
    def __init__(self) -> None:
        self.Tensor = _tensor_class()
        self.arrays: dict[str, np.ndarray] = {}

    def _entry_name(self, path: list[str]) -> str:
        name = ".".join(path) if path else "tensor"
        candidate, n = name, 1
        while candidate in self.arrays:
            candidate = f"{name}#{n}"
            n += 1
        return candidate

    def _store(self, array, path, kind: str) -> dict:
        name = self._entry_name(path)
        self.arrays[name] = _host_array(array)
        return {"t": kind, "key": name}

    def encode(self, obj, path: list[str]) -> dict:
        where = ".".join(path) or "<root>"
        if isinstance(obj, self.Tensor):
            node = self._store(obj.data, path, "tensor")
            if obj.requires_grad:
                node["requires_grad"] = True
            return node
        if isinstance(obj, np.ndarray) or type(obj).__module__.split(".")[0] == "cupy":
            return self._store(obj, path, "ndarray")
        if isinstance(obj, np.generic):
            return self._store(np.asarray(obj), path, "npscalar")
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"fastdl.save: dict keys must be str or int, got "
                                    f"{type(key).__name__} {key!r} at {where}")
                items.append([key, self.encode(value, path + [str(key)])])
            return {"t": "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {"t": kind,
                    "items": [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
        raise TypeError(f"fastdl.save cannot store a {type(obj).__name__} (at {where}); it stores "
                        "Tensors, numpy/cupy arrays, dicts, lists, tuples, and None/bool/int/"
                        "float/str values")


def save(obj: Any, path) -> None:
    """Write ``obj`` (a state dict or a nested checkpoint) to ``path`` as safetensors."""
    from safetensors.numpy import save_file

    path = _check_path(path, "save")
    if not isinstance(obj, dict):
        raise TypeError(f"fastdl.save expects a dict (e.g. a state_dict), got {type(obj).__name__}")
    flattener = _Flattener()
    structure = flattener.encode(obj, [])
    metadata = {STRUCTURE_KEY: json.dumps({"version": _FORMAT_VERSION, "root": structure}),
                "format": "pt"}
    save_file(flattener.arrays, path, metadata=metadata)


class _Rebuilder:
    def __init__(self, handle, device) -> None:
        self.Tensor = _tensor_class()
        self.handle = handle
        self.device = device

    def _array(self, name):
        array = self.handle.get_tensor(name)
        if self.device == "cuda":
            from fastdl import backend

            cp = backend._cupy_module()
            if cp is None:
                raise RuntimeError("fastdl.load(map_location='cuda') needs cupy")
            array = cp.asarray(array)
        return array

    def decode(self, node):
        kind = node["t"]
        if kind == "tensor":
            return self.Tensor(self._array(node["key"]),
                               requires_grad=node.get("requires_grad", False))
        if kind == "ndarray":
            return self._array(node["key"])
        if kind == "npscalar":
            return self.handle.get_tensor(node["key"])[()]
        if kind == "value":
            return node["v"]
        if kind == "dict":
            return {key: self.decode(value) for key, value in node["items"]}
        if kind == "list":
            return [self.decode(v) for v in node["items"]]
        if kind == "tuple":
            return tuple(self.decode(v) for v in node["items"])
        raise ValueError(f"fastdl.load: unknown node kind {kind!r} in the file's structure")


def load(path, map_location=None) -> Any:
    """Read a file written by :func:`save` (or any safetensors file, as ``{name: Tensor}``).

    ``map_location``: None or "cpu" keeps arrays in host memory, "cuda" moves them to the GPU.
    """
    from safetensors import safe_open

    path = _check_path(path, "load")
    device = "cpu" if map_location is None else str(map_location).split(":")[0]
    if device not in ("cpu", "cuda"):
        raise ValueError(f"fastdl.load: map_location must be None, 'cpu' or 'cuda', got "
                         f"{map_location!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"fastdl.load: no such file: {path!r}")
    with safe_open(path, framework="numpy") as handle:
        metadata = handle.metadata() or {}
        rebuilder = _Rebuilder(handle, device)
        if STRUCTURE_KEY not in metadata:
            return OrderedDict((name, rebuilder.decode({"t": "tensor", "key": name}))
                               for name in handle.keys())
        try:
            structure = json.loads(metadata[STRUCTURE_KEY])
        except json.JSONDecodeError as exc:
            raise ValueError(f"fastdl.load: corrupt {STRUCTURE_KEY} metadata in {path!r}: {exc}") \
                from None
        if structure.get("version") != _FORMAT_VERSION:
            raise ValueError(f"fastdl.load: {path!r} has structure version "
                             f"{structure.get('version')}, this fastdl reads {_FORMAT_VERSION}")
        return rebuilder.decode(structure["root"])
