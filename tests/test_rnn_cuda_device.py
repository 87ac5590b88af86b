"""The CUDA recurrent kernels on a real GPU (fastdl._C_cuda.rnn_forward / rnn_backward on cupy
arrays): every output, workspace array and gradient against the CPU kernels and against the same
source run by the emulator, for each mode, direction, with lengths, float32 and float64; a
non-default stream; host arrays rejected; and the op layer (nn.LSTM / nn.GRU on cupy tensors)
against the CPU modules.

These need a GPU: they skip elsewhere. bench/gpu_check.sh runs them on a lent GPU machine and
counts a skip there as a failure; tests/test_rnn_cuda_emu.py dry-runs the kernel checks on the
emulator so a mistake here shows before a loan.
"""
import numpy as np
import pytest

import fastdl
from rnn_cases import GATES, assert_matches, cpu_kernels, cuda_driver, rnn_arrays

if not fastdl.cuda.is_available():
    pytest.skip("needs a CUDA GPU (bench/gpu_check.sh runs these on one)", allow_module_level=True)
cp = pytest.importorskip("cupy")
from fastdl import _C_cuda as cuda_mod  # noqa: E402  (exists whenever a GPU is available)

emu = fastdl.cuda.emulator()
# float64: the GPU rounds differently (FMA contraction): 1e-10; float32 per-element tolerance
TOL = {np.float64: (1e-10, 1e-11), np.float32: (2e-3, 2e-4)}


def on_gpu(mode, a, lengths, reverse, **kw):
    return cuda_driver(cuda_mod, mode, a, lengths, reverse, dev=cp.asarray, host=cp.asnumpy, **kw)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("mode", list(GATES))
@pytest.mark.parametrize("reverse,lengths", [(False, None), (True, [9, 6, 6, 2, 1]),
                                             (False, [9, 9, 4, 4, 3])])
def test_rnn_on_gpu_matches_cpu_and_emulator(mode, reverse, lengths, dtype):
    a = rnn_arrays(mode, 9, 5, 13, 37, dtype, 4)
    L = None if lengths is None else np.array(lengths, np.int64)
    rtol, atol = TOL[dtype]
    got_out, got_grads = on_gpu(mode, a, L, reverse)
    cpu_out, cpu_grads = cpu_kernels(mode, a, L, reverse)
    assert_matches(got_out, cpu_out, lengths, rtol, atol)
    assert_matches(got_grads, cpu_grads, lengths, rtol * 10, atol * 10)
    emu_out, emu_grads = cuda_driver(emu, mode, a, L, reverse)
    assert_matches(got_out, emu_out, lengths, rtol, atol)
    assert_matches(got_grads, emu_grads, lengths, rtol * 10, atol * 10)


def test_rnn_kernels_run_on_a_non_default_stream():
    a = rnn_arrays("lstm", 6, 4, 8, 16, np.float32, 2)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        got_out, got_grads = on_gpu("lstm", a, None, False, stream=stream.ptr)
    stream.synchronize()
    cpu_out, cpu_grads = cpu_kernels("lstm", a, None, False)
    assert_matches(got_out, cpu_out, None, 2e-3, 2e-4)
    assert_matches(got_grads, cpu_grads, None, 2e-2, 2e-3)


def test_rnn_kernels_reject_host_arrays():
    a = rnn_arrays("gru", 3, 2, 2, 3, np.float32, 0)
    e = np.empty
    with pytest.raises(TypeError, match="CUDA device"):
        cuda_mod.rnn_forward("gru", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None,
                             None, False, e((3, 2, 3)), e((2, 3)), None, e((3, 2, 9)),
                             e((3, 2, 3)), e((3, 2, 3)))


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_modules_on_cupy_tensors_run_the_cuda_kernels(name):
    fastdl.manual_seed(0)
    cpu_m = getattr(fastdl.nn, name)(11, 19, num_layers=2, bidirectional=True)
    gpu_m = getattr(fastdl.nn, name)(11, 19, num_layers=2, bidirectional=True)
    gpu_m.load_state_dict(cpu_m.state_dict())
    gpu_m.cuda()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 11)).astype(np.float32)
    g = rng.standard_normal((7, 3, 38)).astype(np.float32)
    outs = []
    for m, wrap in ((cpu_m, np.asarray), (gpu_m, cp.asarray)):
        xt = fastdl.tensor(wrap(x), requires_grad=True)
        y = m(xt)[0]
        y.backward(fastdl.tensor(wrap(g)))
        outs.append((y, xt.grad, {n: p.grad for n, p in m.named_parameters()}))
    (y0, gx0, gp0), (y1, gx1, gp1) = outs
    assert fastdl.backend.is_cupy_array(y1._data)
    np.testing.assert_allclose(cp.asnumpy(y1._data), y0._data, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cp.asnumpy(gx1._data), gx0._data, rtol=1e-3, atol=1e-4)
    assert set(gp1) == set(gp0)
    for n in gp0:
        np.testing.assert_allclose(cp.asnumpy(gp1[n]._data), gp0[n]._data, rtol=1e-3,
                                   atol=1e-3, err_msg=n)
