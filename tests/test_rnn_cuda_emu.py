"""The CUDA recurrent kernels (csrc/cuda/rnn: gate kernels and sequence drivers on our CUDA GEMM)
run by the emulator, against the CPU kernels: outputs, final states, every workspace array the
backward reads, and every gradient, for each mode, both directions, with and without lengths,
under two schedules. Sizes are small (emulation is slow) and odd."""
import numpy as np
import pytest

import fastdl
from emulated_gpu import load_device_tests
from rnn_cases import GATES, assert_matches, cpu_kernels as _cpu, cuda_driver, rnn_arrays as _arrays

emu = fastdl.cuda.emulator()
SCHEDULES = ("forward", "warp_at_a_time")
def _emulated(mode, a, lengths, reverse, schedule):
    return cuda_driver(emu, mode, a, lengths, reverse, schedule=schedule, seed=3)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("mode", list(GATES))
@pytest.mark.parametrize("reverse,lengths", [(False, None), (True, [5, 3, 3]),
                                             (False, [5, 4, 1])])
def test_emulated_matches_cpu_float64(mode, reverse, lengths, schedule):
    a = _arrays(mode, 5, 3, 4, 7, np.float64, 1)
    L = None if lengths is None else np.array(lengths, np.int64)
    cpu_out, cpu_grads = _cpu(mode, a, L, reverse)
    emu_out, emu_grads = _emulated(mode, a, L, reverse, schedule)
    assert_matches(emu_out, cpu_out, lengths, 1e-12, 1e-12)
    assert_matches(emu_grads, cpu_grads, lengths, 1e-10, 1e-11)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_emulated_matches_cpu_float32(mode):
    a = _arrays(mode, 4, 5, 3, 9, np.float32, 2)
    cpu_out, cpu_grads = _cpu(mode, a, None, False)
    emu_out, emu_grads = _emulated(mode, a, None, False, "random")
    for k in ("y", "hT"):
        np.testing.assert_allclose(emu_out[k], cpu_out[k], rtol=1e-4, atol=1e-5, err_msg=k)
    for k, v in cpu_grads.items():
        np.testing.assert_allclose(emu_grads[k], v, rtol=1e-3, atol=1e-4, err_msg=k)


@pytest.mark.parametrize("mode", list(GATES))
def test_emulated_backward_without_input_gradient(mode):
    """dx=None: the input's product is skipped, every other gradient is unchanged."""
    a = _arrays(mode, 4, 3, 5, 6, np.float64, 4)
    L = np.array([4, 4, 2], np.int64)
    _, want = _cpu(mode, a, L, False)
    del want["dx"]
    _, got = cuda_driver(emu, mode, a, L, False, need_dx=False)
    assert_matches(got, want, None, 1e-10, 1e-11)


def test_emulated_rnn_bad_input():
    a = _arrays("gru", 3, 2, 2, 3, np.float64, 0)
    y, hT = np.empty((3, 2, 3)), np.empty((2, 3))
    ws0, ws1, hp = np.empty((3, 2, 9)), np.empty((3, 2, 3)), np.empty((3, 2, 3))
    with pytest.raises(ValueError, match="mode"):
        emu.rnn_forward("lstmx", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None, None,
                        False, y, hT, None, ws0, ws1, hp)
    with pytest.raises(ValueError, match="ws1"):
        emu.rnn_forward("gru", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None, None,
                        False, y, hT, None, ws0, None, hp)
    with pytest.raises(ValueError, match="decreasing"):
        emu.rnn_forward("gru", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None,
                        np.array([1, 3]), False, y, hT, None, ws0, ws1, hp)
    with pytest.raises(TypeError, match="dtype"):
        emu.rnn_forward("gru", a["x"].astype(np.float32), a["w_ih"], a["w_hh"], None, None,
                        a["h0"], None, None, False, y, hT, None, ws0, ws1, hp)


# ---------------------------------------------------------------------------------------------
# The op layer's cuda= forwards (fastdl.nn.functional.rnn): with the emulator standing in for
# _C_cuda (same functions and arguments; the schedule injected) and each op's cuda= forward
# swapped in for its CPU one, nn.LSTM / GRU / RNN forward and backward through fastdl's autograd
# must equal the CPU path (float64) -- odd sizes, two layers, both directions, packed lengths.

def _swap_in_cuda_forwards(monkeypatch, schedule):
    from fastdl import backend
    from fastdl.nn.functional import rnn as R
    used = set()

    class Kernels:
        def __getattr__(self, name):
            used.add(name)
            fn = getattr(emu, name)
            return lambda *a, **kw: fn(*a, schedule=schedule, seed=5, **kw)

    monkeypatch.setattr(backend, "cuda_kernels", lambda: Kernels())
    for op in set(R._FORWARD_OPS.values()) | set(R._BACKWARD_OPS.values()):
        assert op.cuda is not None, f"{op.name} has no cuda= forward"
        monkeypatch.setattr(op, "cpu", op.cuda)  # multi-output ops: no fast-path closures
    return used


def _run_module(module, x, h, lengths):
    """Output, final states and every gradient (input, initial states, parameters)."""
    from fastdl.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    xt = fastdl.tensor(x, requires_grad=True)
    hs = [fastdl.tensor(a, requires_grad=True) for a in h]
    inp = xt if lengths is None else pack_padded_sequence(xt, lengths, enforce_sorted=False)
    out, states = module(inp, tuple(hs) if len(hs) == 2 else hs[0])
    if lengths is not None:
        out = pad_packed_sequence(out)[0]
    states = states if isinstance(states, tuple) else (states,)
    r = np.random.default_rng(7)
    loss = (out * fastdl.tensor(r.standard_normal(out.shape))).sum()
    for s in states:
        loss = loss + (s * fastdl.tensor(r.standard_normal(s.shape))).sum()
    loss.backward()
    res = {"out": out.detach().numpy()}
    res.update({f"state{i}": s.detach().numpy() for i, s in enumerate(states)})
    res["dx"] = xt.grad.numpy()
    res.update({f"dh{i}": t.grad.numpy() for i, t in enumerate(hs)})
    res.update({n: p.grad.numpy() for n, p in module.named_parameters()})
    return res


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("mode,lengths", [("LSTM", None), ("GRU", [5, 2, 4]),
                                          ("RNN", None), ("LSTM", [3, 5, 1])])
def test_op_layer_cuda_forwards_match_cpu(monkeypatch, mode, lengths, schedule):
    T, B, I, H = 5, 3, 4, 7
    fastdl.manual_seed(3)
    kw = dict(num_layers=2, bidirectional=True)
    module = getattr(fastdl.nn, mode)(I, H, **kw).to(dtype=fastdl.float64)
    if mode == "RNN":
        module = fastdl.nn.RNN(I, H, nonlinearity="relu", **kw).to(dtype=fastdl.float64)
    r = np.random.default_rng(11)
    x = r.standard_normal((T, B, I))
    h = [r.standard_normal((4, B, H)) for _ in range(2 if mode == "LSTM" else 1)]
    L = None if lengths is None else np.array(lengths, np.int64)
    want = _run_module(module, x, h, L)
    module.zero_grad()
    used = _swap_in_cuda_forwards(monkeypatch, schedule)
    got = _run_module(module, x, h, L)
    assert used == {"rnn_forward", "rnn_backward"}
    assert set(got) == set(want)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-10, atol=1e-11, err_msg=k)


def test_op_layer_cuda_projection_is_a_clear_error(monkeypatch):
    _swap_in_cuda_forwards(monkeypatch, "forward")
    m = fastdl.nn.LSTM(3, 6, proj_size=2)
    with pytest.raises(NotImplementedError, match="proj_size"):
        m(fastdl.randn(4, 2, 3))


# ---------------------------------------------------------------------------------------------
# The GPU tests (test_rnn_cuda_device.py) run only where a GPU is lent: run their kernel checks
# here, with numpy standing in for cupy and the emulator for _C_cuda (stream= dropped).

def test_gpu_tests_dry_run_on_the_emulator(monkeypatch):
    mod = load_device_tests(monkeypatch, emu, "test_rnn_cuda_device.py")
    for mode in GATES:
        mod.test_rnn_on_gpu_matches_cpu_and_emulator(mode, True, [9, 6, 6, 2, 1], np.float64)
    mod.test_rnn_on_gpu_matches_cpu_and_emulator("gru", False, None, np.float32)
    mod.test_rnn_kernels_run_on_a_non_default_stream()


# ---------------------------------------------------------------------------------------------
# `fastdl bench cuda`'s rnn family without a GPU: its rows are built and validated as on a GPU,
# with numpy for cupy, CPU PyTorch for cuDNN and the emulator for _C_cuda (small problems).

SMALL_ROWS = {"LSTM": ("lstm", 5, 3, 4, 7), "GRU": ("gru", 4, 2, 5, 6)}


def test_bench_cuda_rnn_cases_validate_against_torch_on_the_emulator():
    pytest.importorskip("torch")
    from fastdl.bench import _cuda_rnn, cuda as bench_cuda
    assert "rnn" in bench_cuda.FAMILIES
    cases = _cuda_rnn.rnn_cases(np, __import__("torch"), emu, SMALL_ROWS)
    assert [c.name for c in cases] == ["LSTM forward", "LSTM fwd+bwd", "GRU forward",
                                      "GRU fwd+bwd"]
    for case in cases:
        error, tolerance = case.check()
        assert error <= tolerance, (case.name, error, tolerance)
        assert case.flops > 0 and case.vendor_name == "cuDNN"
    assert cases[0].flops == 2.0 * 5 * 3 * 4 * 7 * (4 + 7) and cases[1].flops == 3 * cases[0].flops


def test_bench_cuda_rnn_a_wrong_kernel_fails_validation():
    pytest.importorskip("torch")
    from fastdl.bench import _cuda_rnn

    class Broken:
        def __getattr__(self, name):
            fn = getattr(emu, name)

            def wrong(*args, **kw):
                fn(*args, **kw)
                # forward: y; backward: dw_hh
                args[{"rnn_forward": 10, "rnn_backward": 14}[name]][...] *= 1.01
            return wrong

    for case in _cuda_rnn.rnn_cases(np, __import__("torch"), Broken(), {"G": SMALL_ROWS["GRU"]}):
        error, tolerance = case.check()
        assert error > tolerance, case.name


def test_real_cuda_module_has_the_rnn_drivers_and_rejects_host_arrays():
    """Where nvcc built fastdl._C_cuda (CI), its rnn functions exist with the emulator's
    arguments (plus stream=) and refuse numpy arrays before anything runs."""
    cuda_mod = pytest.importorskip("fastdl._C_cuda", reason="fastdl was built without nvcc")
    a = _arrays("gru", 3, 2, 2, 3, np.float32, 0)
    e = lambda *s: np.empty(s, np.float32)  # noqa: E731
    with pytest.raises(TypeError, match="x must be an array in CUDA device"):
        cuda_mod.rnn_forward("gru", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None,
                             None, False, e(3, 2, 3), e(2, 3), None, e(3, 2, 9), e(3, 2, 3),
                             e(3, 2, 3), stream=0)
    with pytest.raises(TypeError, match="CUDA device"):
        cuda_mod.rnn_backward("gru", a["x"], a["w_ih"], a["w_hh"], None, False, e(3, 2, 9),
                              e(3, 2, 3), e(3, 2, 3), e(3, 2, 3), e(2, 3), None, e(3, 2, 2),
                              e(9, 2), e(9, 3), e(9), e(9), e(2, 3), None)
