"""``fastdl.save`` / ``fastdl.load`` in the safetensors format.

A flat ``{name: Tensor}`` state dict is written under its own names, so any safetensors reader
(``safetensors.numpy.load_file``, ``safetensors.torch.load_file``) gets the same dict back.
Nested objects (an optimizer's state dict, a checkpoint holding model + optimizer + epoch) are
flattened: every array becomes one safetensors entry and the shape of the tree (dict keys with
their types, lists, tuples, plain Python values) is stored as JSON in the file's metadata under
``fastdl.structure``, which ``fastdl.load`` uses to rebuild the object. A tensor referenced twice
is stored once and loads as one tensor.

Loading treats the file as untrusted: fastdl parses the safetensors header itself (a file is an
8-byte little-endian header length, a JSON header, then the data), checks that the entries tile
the data exactly (so no entry is read twice and nothing is allocated beyond the file's size),
bounds the structure's depth and size, refuses what is not a regular file (a FIFO would block),
and turns every parse failure into one ``ValueError`` naming the file. bfloat16 entries load as
float32 (numpy has no bfloat16; the conversion is exact); float8 entries raise, naming the dtype.

Saving writes a temporary file next to the target and renames it over the target: a symlink is
written through (its target is replaced, the link stays), an existing file keeps its permission
bits, and a device node, FIFO or directory is refused.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
from collections import OrderedDict
from typing import Any

import numpy as np

STRUCTURE_KEY = "fastdl.structure"
_FORMAT_VERSION = 1
_MAX_DEPTH = 256  # nesting of the structure (dicts in lists in dicts ...)
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
_RESERVED_NAME = "__metadata__"  # the safetensors header's metadata entry

# safetensors dtype names -> numpy (little-endian); BF16 is read as uint16 and widened.
_DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2", "I32": "<i4",
           "U32": "<u4", "I64": "<i8", "U64": "<u8", "F16": "<f2", "F32": "<f4", "F64": "<f8",
           "BF16": "<u2"}


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
        self.stored: dict[int, tuple] = {}  # id(tensor or array) -> (object, entry name)
        self.open_containers: set[int] = set()  # ids of the dicts/lists on the current path

    def _entry_name(self, path: list[str]) -> str:
        name = ".".join(path) if path else "tensor"
        if name == _RESERVED_NAME:
            raise ValueError(f"fastdl.save: the key {_RESERVED_NAME!r} is reserved by the "
                             "safetensors format (its header's metadata entry); rename it")
        candidate, n = name, 1
        while candidate in self.arrays:
            candidate = f"{name}#{n}"
            n += 1
        return candidate

    def _store(self, obj, array, path, kind: str) -> dict:
        seen = self.stored.get(id(obj))
        if seen is not None:  # the same tensor or array again: one entry, loaded as one object
            return {"t": kind, "key": seen[1]}
        name = self._entry_name(path)
        self.arrays[name] = _host_array(array)
        self.stored[id(obj)] = (obj, name)
        return {"t": kind, "key": name}

    def encode(self, obj, path: list[str]) -> dict:
        where = ".".join(path) or "<root>"
        if len(path) > _MAX_DEPTH:
            raise ValueError(f"fastdl.save: the object is nested more than {_MAX_DEPTH} levels "
                             f"deep (at {where[:200]})")
        if isinstance(obj, self.Tensor):
            node = self._store(obj, obj.data, path, "tensor")
            if obj.requires_grad:
                node["requires_grad"] = True
            return node
        if isinstance(obj, np.ndarray) or type(obj).__module__.split(".")[0] == "cupy":
            return self._store(obj, obj, path, "ndarray")
        if isinstance(obj, np.generic):
            return self._store(obj, np.asarray(obj), path, "npscalar")
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self.open_containers:
                raise ValueError(f"fastdl.save: the {type(obj).__name__} at {where} contains "
                                 "itself (a reference cycle); a checkpoint must be a tree")
            self.open_containers.add(id(obj))
            try:
                return self._encode_container(obj, path, where)
            finally:
                self.open_containers.discard(id(obj))
        raise TypeError(f"fastdl.save cannot store a {type(obj).__name__} (at {where}); it stores "
                        "Tensors, numpy/cupy arrays, dicts, lists, tuples, and None/bool/int/"
                        "float/str values")

    def _encode_container(self, obj, path, where):
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"fastdl.save: dict keys must be str or int, got "
                                    f"{type(key).__name__} {key!r} at {where}")
                items.append([key, self.encode(value, path + [str(key)])])
            return {"t": "dict", "items": items}
        kind = "list" if isinstance(obj, list) else "tuple"
        return {"t": kind, "items": [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}


def _target_of(path: str) -> tuple[str, int]:
    """Where ``save`` writes (a symlink's final target) and the permission bits to give it:
    an existing file's own, else what a new file gets under the umask. Special files refuse."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return real, 0o666 & ~umask
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device or other special file")
        raise ValueError(f"fastdl.save: {path!r} is {kind}, not a regular file; refusing to "
                         "replace it")
    return real, stat.S_IMODE(st.st_mode)


def save(obj: Any, path) -> None:
    """Write ``obj`` (a state dict or a nested checkpoint) to ``path`` as safetensors.

    ``obj``: a dict of Tensors, numpy/cupy arrays, numpy scalars, None/bool/int/float/str, and
    dicts (str or int keys), lists and tuples of these. The file is written next to ``path`` and
    renamed over it (a crash never leaves half a file); a symlink is written through.

    >>> import os, tempfile
    >>> model = fastdl.nn.Linear(3, 2)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "model.safetensors")
    ...     fastdl.save(model.state_dict(), path)
    ...     sorted(fastdl.load(path))
    ['bias', 'weight']
    """
    from safetensors.numpy import save_file

    path = _check_path(path, "save")
    if not isinstance(obj, dict):
        raise TypeError(f"fastdl.save expects a dict (e.g. a state_dict), got {type(obj).__name__}")
    flattener = _Flattener()
    structure = flattener.encode(obj, [])
    metadata = {STRUCTURE_KEY: json.dumps({"version": _FORMAT_VERSION, "root": structure}),
                "format": "pt"}
    target, mode = _target_of(path)
    fd, tmp = tempfile.mkstemp(prefix=".fastdl-save-", dir=os.path.dirname(target) or ".")
    os.close(fd)
    try:
        save_file(flattener.arrays, tmp, metadata=metadata)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class _Corrupt(Exception):
    """A defect of the file's contents (load turns it into a ValueError naming the file)."""


class _Reader:
    """The safetensors entries of an open file, each read once (validated header: known
    dtypes, shapes matching byte counts, entries tiling the data region exactly)."""

    def __init__(self, f, file_size: int) -> None:
        self.f = f
        raw = f.read(8)
        if len(raw) != 8:
            raise _Corrupt("shorter than the 8-byte header length")
        n = int.from_bytes(raw, "little")
        if n > min(_MAX_HEADER_BYTES, file_size - 8):
            if raw.startswith(b"PK\x03\x04") or raw[:1] == b"\x80":
                raise _Corrupt("it is a torch.save (zip or pickle) file, which fastdl does not "
                               "unpickle (untrusted code); read it with torch.load(path, "
                               "weights_only=True) and pass the state dict to load_state_dict, "
                               "or convert it with safetensors.torch.save_file")
            raise _Corrupt(f"header length {n} exceeds the file ({file_size} bytes) or the "
                           f"{_MAX_HEADER_BYTES}-byte limit")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise _Corrupt(f"the header is not valid JSON ({e})") from None
        if not isinstance(header, dict):
            raise _Corrupt("the header is not a JSON object")
        metadata = header.pop(_RESERVED_NAME, None) or {}
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise _Corrupt("the header's __metadata__ is not a str -> str map")
        self.metadata = metadata
        self.data_start, data_size = 8 + n, file_size - 8 - n
        self.entries = {}
        spans = []
        for name, e in header.items():
            if not isinstance(e, dict) or set(e) - {"dtype", "shape", "data_offsets"}:
                raise _Corrupt(f"entry {name!r} is not a {{dtype, shape, data_offsets}} object")
            dtype, shape, offsets = e.get("dtype"), e.get("shape"), e.get("data_offsets")
            if dtype not in _DTYPES:
                hint = (" (float8 tensors are not supported: numpy has no float8 dtype; convert "
                        "them to float16/32 before saving)" if str(dtype).startswith("F8") else "")
                raise _Corrupt(f"entry {name!r} has dtype {dtype!r}, which fastdl cannot "
                               f"load{hint}")
            if (not isinstance(shape, list) or len(shape) > 64 or not all(
                    type(d) is int and d >= 0 for d in shape)):
                raise _Corrupt(f"entry {name!r} has shape {shape!r}")
            if (not isinstance(offsets, list) or len(offsets) != 2 or not all(
                    type(o) is int for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
                raise _Corrupt(f"entry {name!r} has data_offsets {offsets!r}")
            count = 1
            for d in shape:
                count *= d
            itemsize = np.dtype(_DTYPES[dtype]).itemsize
            if count * itemsize != offsets[1] - offsets[0]:
                raise _Corrupt(f"entry {name!r}: shape {shape} of {dtype} needs "
                               f"{count * itemsize} bytes, data_offsets give "
                               f"{offsets[1] - offsets[0]}")
            self.entries[name] = (dtype, tuple(shape), offsets[0], offsets[1])
            spans.append((offsets[0], offsets[1], name))
        end = 0
        for begin, stop, name in sorted(spans):
            if begin != end:  # overlapping entries would be read (and allocated) twice
                raise _Corrupt(f"entry {name!r} starts at byte {begin} of the data, expected "
                               f"{end} (entries must tile the data without overlap or gaps)")
            end = stop
        if end != data_size:
            raise _Corrupt(f"the entries cover {end} bytes of data, the file holds {data_size}")
        self.cache: dict[str, np.ndarray] = {}

    def array(self, name: str) -> np.ndarray:
        got = self.cache.get(name)
        if got is not None:
            return got
        if not isinstance(name, str) or name not in self.entries:
            raise _Corrupt(f"the structure names entry {name!r}, which the file does not have")
        dtype, shape, begin, stop = self.entries[name]
        out = np.empty(shape, np.dtype(_DTYPES[dtype]))
        self.f.seek(self.data_start + begin)
        view = memoryview(out.reshape(-1).view(np.uint8)) if out.size else None
        if view is not None and self.f.readinto(view) != stop - begin:
            raise _Corrupt(f"entry {name!r}: the file ended early")
        if dtype == "BF16":  # the upper half of a float32: widening is exact
            out = (out.astype(np.uint32) << 16).view(np.float32)
        out = out.astype(out.dtype.newbyteorder("="), copy=False)
        self.cache[name] = out
        return out


class _Rebuilder:
    def __init__(self, reader: _Reader, device) -> None:
        self.Tensor = _tensor_class()
        self.reader = reader
        self.device = device
        self.objects: dict = {}  # (kind, key) -> the one object loaded for it

    def _array(self, name):
        array = self.reader.array(name)
        if self.device == "cuda":
            from fastdl import backend

            cp = backend._cupy_module()
            if cp is None:
                raise RuntimeError("fastdl.load(map_location='cuda') needs cupy")
            array = cp.asarray(array)
        return array

    def _shared(self, kind, node, make):
        key = node.get("key")
        if not isinstance(key, str):
            raise _Corrupt(f"a {kind} node's key is {key!r}, not a string")
        ident = (kind, key, bool(node.get("requires_grad", False)))
        got = self.objects.get(ident)
        if got is None:
            got = self.objects[ident] = make(key)
        return got

    def decode(self, node, depth=0):
        if depth > _MAX_DEPTH:
            raise _Corrupt(f"the structure is nested more than {_MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise _Corrupt(f"a structure node is {type(node).__name__}, not a {{'t': kind}} object")
        kind = node["t"]
        if kind == "tensor":
            requires_grad = node.get("requires_grad", False)
            if not isinstance(requires_grad, bool):
                raise _Corrupt(f"requires_grad is {requires_grad!r}")
            return self._shared(kind, node, lambda key: self.Tensor(
                self._array(key), requires_grad=requires_grad))
        if kind == "ndarray":
            return self._shared(kind, node, self._array)
        if kind == "npscalar":
            return self._shared(kind, node, lambda key: self.reader.array(key)[()])
        if kind == "value":
            value = node.get("v")
            if value is not None and not isinstance(value, (bool, int, float, str)):
                raise _Corrupt(f"a value node holds a {type(value).__name__}")
            return value
        items = node.get("items")
        if kind in ("dict", "list", "tuple") and not isinstance(items, list):
            raise _Corrupt(f"a {kind} node has no list of items")
        if kind == "dict":
            out = {}
            for item in items:
                if (not isinstance(item, list) or len(item) != 2 or isinstance(item[0], bool)
                        or not isinstance(item[0], (str, int))):
                    raise _Corrupt(f"a dict item is {str(item)[:80]}, not a [str or int key, "
                                   "node] pair")
                out[item[0]] = self.decode(item[1], depth + 1)
            return out
        if kind == "list":
            return [self.decode(v, depth + 1) for v in items]
        if kind == "tuple":
            return tuple(self.decode(v, depth + 1) for v in items)
        raise _Corrupt(f"unknown node kind {str(kind)[:40]!r} in the file's structure")


def _open_regular(path: str):
    """``path`` opened for reading, refusing FIFOs, devices and directories before any read
    (opened non-blocking, so a FIFO without a writer cannot hang the call)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO"
                    if stat.S_ISFIFO(st.st_mode) else "a device or other special file")
            raise ValueError(f"fastdl.load: {path!r} is {kind}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def load(path, map_location=None) -> Any:
    """Read a file written by :func:`save` (or any safetensors file, as ``{name: Tensor}``).

    ``map_location``: None or "cpu" keeps arrays in host memory, "cuda" moves them to the GPU.
    A file that is not a valid safetensors/fastdl file raises one ``ValueError`` naming it;
    bfloat16 entries load as float32; a tensor stored once and referenced twice loads as one
    tensor.

    >>> import os, tempfile
    >>> model = fastdl.nn.Linear(3, 2)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "model.safetensors")
    ...     fastdl.save(model.state_dict(), path)
    ...     state = fastdl.load(path)  # {name: Tensor}
    >>> state["weight"].shape
    (2, 3)
    >>> model.load_state_dict(state)
    <All keys matched successfully>
    """
    path = _check_path(path, "load")
    device = "cpu" if map_location is None else str(map_location).split(":")[0]
    if device not in ("cpu", "cuda"):
        raise ValueError(f"fastdl.load: map_location must be None, 'cpu' or 'cuda', got "
                         f"{map_location!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"fastdl.load: no such file: {path!r}")
    f, size = _open_regular(path)
    with f:
        try:
            return _load_from(f, size, device)
        except _Corrupt as e:
            raise ValueError(f"fastdl.load: {path!r} is not a valid fastdl/safetensors file: "
                             f"{e}") from None
        except (KeyboardInterrupt, SystemExit, MemoryError, OSError):
            raise
        except BaseException as e:  # a parser's own failure (RecursionError, ...)
            raise ValueError(f"fastdl.load: {path!r} is not a valid fastdl/safetensors file: "
                             f"{type(e).__name__}: {e}") from None


def _load_from(f, size, device):
    reader = _Reader(f, size)
    rebuilder = _Rebuilder(reader, device)
    if STRUCTURE_KEY not in reader.metadata:
        return OrderedDict((name, rebuilder.decode({"t": "tensor", "key": name}))
                           for name in reader.entries)
    try:
        structure = json.loads(reader.metadata[STRUCTURE_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _Corrupt(f"corrupt {STRUCTURE_KEY} metadata: {exc}") from None
    if not isinstance(structure, dict) or "root" not in structure:
        raise _Corrupt(f"the {STRUCTURE_KEY} metadata is not a {{version, root}} object")
    if structure.get("version") != _FORMAT_VERSION:
        raise _Corrupt(f"structure version {structure.get('version')!r}, this fastdl reads "
                       f"{_FORMAT_VERSION}")
    return rebuilder.decode(structure["root"])
