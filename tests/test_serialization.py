"""fastdl.save / fastdl.load: safetensors files that other readers can open."""
import math

import numpy as np
import pytest

import fastdl
from fastdl.tensor import Tensor


def _state_dict(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "layer1.weight": Tensor(rng.standard_normal((7, 5)).astype(np.float32)),
        "layer1.bias": Tensor(rng.standard_normal(7).astype(np.float32)),
        "norm.running_mean": Tensor(rng.standard_normal(3).astype(np.float64)),
        "norm.num_batches_tracked": Tensor(np.array(12, dtype=np.int64)),
        "embed.half": Tensor(rng.standard_normal((2, 3)).astype(np.float16)),
    }


def test_flat_state_dict_round_trip(tmp_path):
    sd = _state_dict()
    fastdl.save(sd, tmp_path / "model.safetensors")
    loaded = fastdl.load(str(tmp_path / "model.safetensors"))
    assert list(loaded) == list(sd)
    for name, t in sd.items():
        assert isinstance(loaded[name], Tensor)
        assert loaded[name].dtype == t.dtype and loaded[name].shape == t.shape
        np.testing.assert_array_equal(loaded[name].numpy(), t.numpy())


def test_flat_state_dict_readable_by_safetensors_numpy(tmp_path):
    from safetensors.numpy import load_file

    sd = _state_dict(1)
    fastdl.save(sd, tmp_path / "model.safetensors")
    loaded = load_file(str(tmp_path / "model.safetensors"))
    assert set(loaded) == set(sd)
    for name, t in sd.items():
        np.testing.assert_array_equal(loaded[name], t.numpy())


def test_flat_state_dict_readable_by_safetensors_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    sd = _state_dict(2)
    fastdl.save(sd, tmp_path / "model.safetensors")
    loaded = load_file(str(tmp_path / "model.safetensors"))
    for name, t in sd.items():
        assert isinstance(loaded[name], torch.Tensor)
        np.testing.assert_array_equal(loaded[name].numpy(), t.numpy())


def test_foreign_safetensors_file_loads_as_tensors(tmp_path):
    from safetensors.numpy import save_file

    arrays = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b.c": np.ones(4, np.float32)}
    save_file(arrays, str(tmp_path / "foreign.safetensors"))
    loaded = fastdl.load(tmp_path / "foreign.safetensors")
    assert set(loaded) == {"a", "b.c"}
    np.testing.assert_array_equal(loaded["a"].numpy(), arrays["a"])


def test_nested_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    checkpoint = {
        "model": _state_dict(4),
        "optimizer": {
            "state": {0: {"step": 7, "exp_avg": Tensor(rng.standard_normal((7, 5)).astype(np.float32))},
                      2: {"step": 7, "momentum_buffer": rng.standard_normal(3)}},
            "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "amsgrad": False,
                              "foreach": None, "params": [0, 1, 2]}],
        },
        "epoch": 12,
        "best": math.inf,
        "name": "run-7",
        "history": [0.5, 0.25, {"nested": np.float32(1.5)}],
        "a.b": Tensor(np.zeros(2, np.float32)),
        "a": {"b": Tensor(np.ones(2, np.float32), requires_grad=True)},
    }
    fastdl.save(checkpoint, tmp_path / "ckpt.safetensors")
    loaded = fastdl.load(tmp_path / "ckpt.safetensors")

    assert loaded["epoch"] == 12 and loaded["best"] == math.inf and loaded["name"] == "run-7"
    state = loaded["optimizer"]["state"]
    assert set(state) == {0, 2}  # int keys stay ints
    assert state[0]["step"] == 7
    np.testing.assert_array_equal(state[0]["exp_avg"].numpy(),
                                  checkpoint["optimizer"]["state"][0]["exp_avg"].numpy())
    assert isinstance(state[2]["momentum_buffer"], np.ndarray)  # arrays stay arrays
    np.testing.assert_array_equal(state[2]["momentum_buffer"],
                                  checkpoint["optimizer"]["state"][2]["momentum_buffer"])
    group = loaded["optimizer"]["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and group["foreach"] is None
    assert group["params"] == [0, 1, 2] and group["amsgrad"] is False
    nested_scalar = loaded["history"][2]["nested"]
    assert nested_scalar == np.float32(1.5) and nested_scalar.dtype == np.float32
    np.testing.assert_array_equal(loaded["a.b"].numpy(), np.zeros(2))
    np.testing.assert_array_equal(loaded["a"]["b"].detach().numpy(), np.ones(2))
    assert loaded["a"]["b"].requires_grad and not loaded["a.b"].requires_grad


def test_non_contiguous_and_shared_arrays(tmp_path):
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    sd = {"transposed": Tensor(base.T), "view": Tensor(base[:, ::2]), "same": Tensor(base)}
    fastdl.save(sd, tmp_path / "v.safetensors")
    loaded = fastdl.load(tmp_path / "v.safetensors")
    for name, t in sd.items():
        np.testing.assert_array_equal(loaded[name].numpy(), t.numpy())


def test_loaded_arrays_are_writable(tmp_path):
    fastdl.save({"w": Tensor(np.ones(3, np.float32))}, tmp_path / "w.safetensors")
    w = fastdl.load(tmp_path / "w.safetensors")["w"]
    w.data += 1
    np.testing.assert_array_equal(w.numpy(), np.full(3, 2.0))


def test_bad_input(tmp_path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        fastdl.save({"a": Tensor(np.ones(2, np.float32))}, 3)
    with pytest.raises(TypeError, match="path must be a str"):
        fastdl.load(None)
    with pytest.raises(TypeError, match="expects a dict"):
        fastdl.save([Tensor(np.ones(2, np.float32))], tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="cannot store a object .at layer.extra"):
        fastdl.save({"layer": {"extra": object()}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="keys must be str or int"):
        fastdl.save({(1, 2): 3}, tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="no such file"):
        fastdl.load(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="map_location"):
        fastdl.load(tmp_path / "x.safetensors", map_location="tpu")
