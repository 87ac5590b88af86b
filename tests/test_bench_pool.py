"""`fastdl bench pool --quick`: the harness runs every case at tiny sizes and prints its table."""
import pytest

pytest.importorskip("torch")

from fastdl.bench import pool  # noqa: E402


def test_quick_run_has_every_case_pass_and_thread_count():
    rows, bandwidth = pool.run(threads=(1, 2), quick=True, repeats=1)
    assert {(r["case"], r["pass"], r["threads"]) for r in rows} == {
        (c, p, t) for c in pool.CASES for p in ("fwd", "fwd+bwd") for t in (1, 2)}
    assert all(bw > 0 for bw in bandwidth.values())
    for r in rows:
        assert r["fastdl_ms"] > 0 and r["torch_ms"] > 0 and r["copy_ms"] > 0
        assert r["gbs"] > 0 and r["pct_bw"] > 0


def test_main_prints_markdown_table(capsys):
    pool.main(["--quick", "--threads", "1", "--repeats", "1", "--cases", "max_pool2d 2x2/s2"])
    out = capsys.readouterr().out
    assert "read bandwidth measured now" in out
    assert "| max_pool2d 2x2/s2 | fwd | 1 |" in out and "| max_pool2d 2x2/s2 | fwd+bwd | 1 |" in out
    assert "fastdl/copy" in out


def test_traffic_counts_indices_only_for_max_pool():
    fwd = pool._traffic_bytes("max_pool2d 2x2/s2", (1, 1, 4, 4), (1, 1, 2, 2), False)
    assert fwd == (16 + 4) * 4
    both = pool._traffic_bytes("max_pool2d 2x2/s2", (1, 1, 4, 4), (1, 1, 2, 2), True)
    assert both == fwd + 2 * 4 * 8 + 4 * 4 + 16 * 4
    avg = pool._traffic_bytes("avg_pool2d 3x3/s2 p1", (1, 1, 4, 4), (1, 1, 2, 2), True)
    assert avg == fwd + 4 * 4 + 16 * 4
