"""`fastdl bench attention --quick` runs end to end (wall time and --cpu-time) and prints every
row of its table."""
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
