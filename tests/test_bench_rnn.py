"""`fastdl bench rnn --quick` runs end to end (tiny sizes) and reports every case."""
import pytest

pytest.importorskip("torch")


def test_bench_rnn_quick(capsys):
    from fastdl import cli
    from fastdl.bench import rnn
    assert "rnn" in cli._bench_names()
    rnn.main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    assert "peak GFLOP/s" in out
    for case in ("LSTM B=4", "GRU B=4", "LSTM B=1", "GRU B=1", "LSTM 2-layer bidir B=4"):
        assert case in out
    assert out.count("fwd+bwd") == 5


def test_flop_count():
    from fastdl.bench.rnn import FULL, _flops
    # one LSTM layer: 2 * T * B * 4H * (I + H)
    assert _flops("LSTM", 1, False, 32, FULL) == 2 * 128 * 32 * 2048 * (256 + 512)
    # second bidirectional layer reads 2H inputs
    two = _flops("LSTM", 2, True, 1, FULL)
    assert two == 2 * (2 * 128 * 2048 * (256 + 512)) + 2 * (2 * 128 * 2048 * (1024 + 512))


def test_bench_rnn_cpu_time_is_one_thread_only(capsys):
    from fastdl.bench import rnn
    rnn.main(["--quick", "--threads", "1", "--cpu-time"])
    out = capsys.readouterr().out
    assert "CPU time" in out and out.count("fwd+bwd") == 5
    with pytest.raises(SystemExit):
        rnn.main(["--quick", "--threads", "1,2", "--cpu-time"])
