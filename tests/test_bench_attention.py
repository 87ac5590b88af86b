"""`fastdl bench attention --quick` runs end to end (wall time and --cpu-time) and prints every
row of its table; the onnxruntime peer computes the same attention."""
import pytest

pytest.importorskip("torch")


@pytest.mark.parametrize("extra", [[], ["--cpu-time"]], ids=["wall", "cpu-time"])
def test_bench_attention_quick(capsys, extra):
    from fastdl.bench import attention
    attention.main(["--quick", "--threads", "1"] + extra)
    out = capsys.readouterr().out
    assert out.count("| forward |") == 4 and out.count("| fwd+bwd |") == 4
    assert "causal vs non-causal, L=160, fwd+bwd, 1 thread(s)" in out
    assert "peak" in out and ("CPU time" in out) == bool(extra)


def test_onnxruntime_forward_matches_torch():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import numpy as np
    import torch

    from fastdl.bench.attention import _onnxruntime_forward
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 40, 16), dtype=np.float32) for _ in range(3))
    for causal in (False, True):
        ref = torch.nn.functional.scaled_dot_product_attention(
            *(torch.tensor(a) for a in (q, k, v)), is_causal=causal).numpy()
        np.testing.assert_allclose(_onnxruntime_forward(q, k, v, causal, 1)()[0], ref,
                                   rtol=1e-5, atol=1e-5)


def test_percent_of_peak_marks_cells_above_the_peak():
    from fastdl.bench.attention import _pct
    assert _pct(150.0, 200.0) == "75.0"
    assert _pct(201.0, 200.0) == "100.5"  # within the burst's own noise: not marked
    assert _pct(340.0, 170.0) == "200.0*"
