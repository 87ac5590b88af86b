"""`fastdl bench gpt --quick` runs end to end (both libraries, train and generate rows, the same
greedy tokens), its FLOP count, and the blocked tanh-GELU path the bench's MLP takes (large
arrays) against torch, forward and backward."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def test_bench_gpt_quick(capsys):
    from fastdl.bench import gpt
    assert gpt.main(["--quick", "--threads", "1", "--repeats", "1"]) == 0
    assert gpt.main(["--quick", "--threads", "1", "--repeats", "1", "--cpu-time"]) == 0
    out = capsys.readouterr().out
    assert out.count("| train | 1 |") == 2 and out.count("| generate | 1 |") == 2
    assert "minimum CPU time of 1" in out
    assert "note: greedy tokens agree" not in out  # same weights: same tokens


def test_flop_count():
    from fastdl.bench.gpt import FULL, flops
    E, L, T, B, V = 384, 6, 256, 8, 65
    params = L * 12 * E * E + V * E
    fwd = 2 * params * B * T + L * 4 * E * B * T * (T + 1) / 2
    assert flops(FULL, "train") == pytest.approx(3 * fwd)
    cfg = dict(FULL, prompt=2, new_tokens=2)  # prompt of 2 (causal), then 1 step with 3 keys
    assert flops(cfg, "generate") == pytest.approx(2 * params * 3 + L * 4 * E * (3 + 3))


@pytest.mark.parametrize("dtype,threads,rows", [(np.float32, 1, 70001), (np.float64, 1, 70001),
                                                (np.float32, 3, 300001)])
@pytest.mark.parametrize("contiguous_grad", [True, False])
def test_large_tanh_gelu_matches_torch(dtype, threads, rows, contiguous_grad):
    # rows x 3 elements: the C++ kernel's chunks with a ragged last one; at 3 threads 900003
    # elements are split between threads. A non-contiguous gradient takes the array version.
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((rows, 3)) * 3).astype(dtype)
    g = rng.standard_normal((3, rows)).astype(dtype).T
    if contiguous_grad:
        g = np.ascontiguousarray(g)
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(threads)
    try:
        _check_gelu(x, g, dtype)
    finally:
        fastdl.set_num_threads(before)


def _check_gelu(x, g, dtype):
    fx = fastdl.tensor(x, requires_grad=True)
    y = fastdl.nn.functional.gelu(fx, approximate="tanh")
    y.backward(fastdl.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(tx, approximate="tanh")
    ty.backward(torch.tensor(np.ascontiguousarray(g)))
    tol = 1e-5 if dtype == np.float32 else 1e-13  # 1 + tanh cancels for x << 0
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
