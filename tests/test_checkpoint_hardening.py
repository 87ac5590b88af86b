"""Checkpoints: nothing lost, nothing amplified (issue #9). Crafted files, special files,
symlinks, reserved names, bf16/f8 entries, self-containing objects, load_state_dict atomicity."""
import json
import os
import stat
import struct

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.tensor import Tensor


def _write_safetensors(path, header: dict, data: bytes = b""):
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + data)


def _crafted(path, structure, arrays=None):
    """A file whose fastdl.structure metadata is ``structure`` (a JSON-able object)."""
    arrays = {"w": np.arange(4, dtype=np.float32)} if arrays is None else arrays
    header, data = {}, b""
    for name, a in arrays.items():
        b = a.tobytes()
        header[name] = {"dtype": {"float32": "F32", "int64": "I64"}[str(a.dtype)],
                        "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    header["__metadata__"] = {"fastdl.structure": json.dumps(structure)}
    _write_safetensors(path, header, data)


def test_many_structure_entries_share_one_array(tmp_path):
    # 2,000 references to one 256 KiB tensor: one array in memory, not 500 MiB of copies
    big = np.zeros(65536, np.float32)
    node = {"t": "tensor", "key": "w"}
    _crafted(tmp_path / "f.safetensors", {"version": 1, "root": {"t": "list",
                                                                 "items": [node] * 2000}},
             {"w": big})
    out = fastdl.load(tmp_path / "f.safetensors")
    assert len(out) == 2000 and all(t is out[0] for t in out)
    arrays = {"a": {"t": "ndarray", "key": "w"}, "b": {"t": "ndarray", "key": "w"}}
    _crafted(tmp_path / "g.safetensors", {"version": 1, "root": {"t": "dict", "items": [
        ["a", arrays["a"]], ["b", arrays["b"]]]}}, {"w": big})
    out = fastdl.load(tmp_path / "g.safetensors")
    assert out["a"] is out["b"]


def test_shared_tensor_saved_once_and_loaded_as_one(tmp_path):
    t = Tensor(np.arange(3, dtype=np.float32))
    fastdl.save({"a": t, "b": t, "c": [t]}, tmp_path / "s.safetensors")
    from safetensors.numpy import load_file
    assert len(load_file(str(tmp_path / "s.safetensors"))) == 1
    out = fastdl.load(tmp_path / "s.safetensors")
    assert out["a"] is out["b"] is out["c"][0]


def test_overlapping_entries_are_rejected(tmp_path):
    # two entries over the same bytes would be read (and allocated) twice each
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    _write_safetensors(tmp_path / "o.safetensors", header, bytes(16))
    with pytest.raises(ValueError, match=r"o\.safetensors.*tile the data"):
        fastdl.load(tmp_path / "o.safetensors")


def _bad_structures():
    node = {"t": "tensor", "key": "w"}
    deep = node
    for _ in range(400):  # past the 256-level bound, within json.dumps's recursion
        deep = {"t": "list", "items": [deep]}
    return {
        "no root": {"version": 1},
        "list root": [1, 2],
        "unhashable key": {"version": 1, "root": {"t": "dict", "items": [[[1], node]]}},
        "missing key": {"version": 1, "root": {"t": "tensor", "key": "nope"}},
        "key is a list": {"version": 1, "root": {"t": "tensor", "key": ["w"]}},
        "unknown kind": {"version": 1, "root": {"t": "pickle"}},
        "node not a dict": {"version": 1, "root": "w"},
        "items not a list": {"version": 1, "root": {"t": "list", "items": 3}},
        "dict item not a pair": {"version": 1, "root": {"t": "dict", "items": [["a"]]}},
        "value holds a dict": {"version": 1, "root": {"t": "value", "v": {"a": 1}}},
        "too deep": {"version": 1, "root": deep},
        "wrong version": {"version": 99, "root": node},
    }


@pytest.mark.parametrize("case", sorted(_bad_structures()))
def test_bad_structure_is_one_value_error_naming_the_file(tmp_path, case):
    path = tmp_path / "bad.safetensors"
    _crafted(path, _bad_structures()[case])
    with pytest.raises(ValueError, match=r"fastdl\.load: '.*bad\.safetensors' is not a valid"):
        fastdl.load(path)


@pytest.mark.parametrize("case", ["short", "huge header length", "not json", "header a list",
                                  "bad dtype", "bad shape", "size mismatch", "past the end",
                                  "negative shape", "bad metadata", "truncated data",
                                  "deep json"])
def test_bad_header_is_one_value_error_naming_the_file(tmp_path, case):
    path = tmp_path / "bad.safetensors"
    ok = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    if case == "short":
        path.write_bytes(b"\x01\x02")
    elif case == "huge header length":
        path.write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    elif case == "not json":
        path.write_bytes(struct.pack("<Q", 4) + b"{{{{")
    elif case == "deep json":
        raw = b"[" * 100000 + b"]" * 100000
        path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    elif case == "header a list":
        _write_safetensors(path, [1, 2])
    elif case == "bad metadata":
        _write_safetensors(path, {"__metadata__": {"a": 1}, "w": ok}, bytes(8))
    elif case == "truncated data":
        _write_safetensors(path, {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                           bytes(8))
    else:
        entry = dict(ok)
        entry.update({"bad dtype": {"dtype": "Q7"}, "bad shape": {"shape": "2"},
                      "size mismatch": {"shape": [3]},
                      "past the end": {"data_offsets": [0, 800]},
                      "negative shape": {"shape": [-2]}}[case])
        _write_safetensors(path, {"w": entry}, bytes(8))
    with pytest.raises(ValueError, match=r"bad\.safetensors"):
        fastdl.load(path)


def test_bf16_loads_as_float32_and_f8_names_its_dtype(tmp_path):
    values = np.array([1.5, -2.0, 3.140625, 0.0], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    _write_safetensors(tmp_path / "b.safetensors",
                       {"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}, bf16)
    w = fastdl.load(tmp_path / "b.safetensors")["w"]
    assert w.dtype == np.float32 and w.shape == (2, 2)
    np.testing.assert_array_equal(w.numpy().ravel(), values)
    _write_safetensors(tmp_path / "f8.safetensors",
                       {"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\x00\x01")
    with pytest.raises(ValueError, match="F8_E4M3.*float8"):
        fastdl.load(tmp_path / "f8.safetensors")


def test_bf16_from_torch_file(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    t = torch.randn(3, 5).to(torch.bfloat16)
    save_file({"t": t}, str(tmp_path / "t.safetensors"))
    got = fastdl.load(tmp_path / "t.safetensors")["t"]
    np.testing.assert_array_equal(got.numpy(), t.float().numpy())


def test_metadata_key_is_rejected_at_save(tmp_path):
    with pytest.raises(ValueError, match="__metadata__.*reserved"):
        fastdl.save({"__metadata__": Tensor(np.ones(2, np.float32))}, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()
    assert not list(tmp_path.iterdir())  # no temporary left behind


@pytest.mark.parametrize("make", ["dict", "list", "nested"])
def test_self_containing_object_is_a_clear_error(tmp_path, make):
    d = {"a": 1}
    if make == "dict":
        d["self"] = d
    elif make == "list":
        items = [1]
        items.append(items)
        d["items"] = items
    else:
        inner = {"x": Tensor(np.ones(1, np.float32))}
        inner["back"] = [inner]
        d["inner"] = inner
    with pytest.raises(ValueError, match="contains itself"):
        fastdl.save(d, tmp_path / "c.safetensors")


def test_repeated_but_acyclic_containers_are_fine(tmp_path):
    shared = {"lr": 0.1}
    fastdl.save({"a": shared, "b": shared}, tmp_path / "r.safetensors")
    out = fastdl.load(tmp_path / "r.safetensors")
    assert out["a"] == out["b"] == shared


def test_save_writes_through_a_symlink_and_keeps_the_mode(tmp_path):
    target = tmp_path / "real.safetensors"
    fastdl.save({"w": Tensor(np.ones(2, np.float32))}, target)
    os.chmod(target, 0o644)
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    fastdl.save({"w": Tensor(np.full(2, 7.0, np.float32))}, link)
    assert link.is_symlink()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    np.testing.assert_array_equal(fastdl.load(target)["w"].numpy(), [7.0, 7.0])


def test_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        fastdl.save({"w": Tensor(np.ones(2, np.float32))}, tmp_path / "n.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "n.safetensors").st_mode) == 0o644


def test_save_refuses_special_files(tmp_path):
    # (Never aimed at /dev/null or another real device: a save that does not refuse replaces
    # the node with a file, for every process on the machine.)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        fastdl.save({"w": Tensor(np.ones(2, np.float32))}, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(ValueError, match="directory"):
        fastdl.save({"w": Tensor(np.ones(2, np.float32))}, tmp_path)
    link = tmp_path / "link-to-fifo"
    link.symlink_to(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        fastdl.save({"w": Tensor(np.ones(2, np.float32))}, link)
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_save_target_check_refuses_a_device_node():
    # the check save() runs before writing anything, on a device node (read-only use of it)
    from fastdl.serialization import _target_of
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("/dev/null is not a character device here")
    with pytest.raises(ValueError, match="device or other special file"):
        _target_of("/dev/null")


def test_load_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO, not a regular file"):
        fastdl.load(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        fastdl.load("/dev/zero")


def test_load_state_dict_failure_leaves_the_model_untouched():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    new = {k: Tensor(np.full(v.shape, 9.0, np.float32)) for k, v in model.state_dict().items()}
    new["1.bias"] = np.array(["x", "y"])  # right shape, the last entry: fails after the others
    with pytest.raises(RuntimeError, match='"1.bias"'):
        model.load_state_dict(new)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), before[k])
    new["1.bias"] = np.array([1, 2])  # integers convert, as torch's copy_ does
    model.load_state_dict(new)
    assert model[1].bias.tolist() == [1.0, 2.0] and model[0].weight.detach().numpy().max() == 9
