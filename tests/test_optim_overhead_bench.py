"""The overhead benchmark runs, times every case in both libraries, and reports ratios."""
import re

import pytest

from fastdl.bench import overhead


def test_run_times_every_case():
    rows = overhead.run(min_time=0.001)
    names = [name for name, _, _ in rows]
    assert "MLP 64-128-10 fwd+bwd (batch 32)" in names
    assert "Linear(64, 128) forward" in names
    assert len(names) == len(set(names)) >= 10
    for name, ours_us, theirs_us in rows:
        assert 0 < ours_us < 1e6, name
        if theirs_us is not None:
            assert 0 < theirs_us < 1e6, name


def test_main_prints_markdown_table(capsys):
    pytest.importorskip("torch")
    overhead.main(["--min-time", "0.001"])
    out = capsys.readouterr().out
    assert "| case (1 thread) | fastdl µs | torch µs | fastdl / torch |" in out
    row = next(line for line in out.splitlines() if line.startswith("| MLP 64-128-10 fwd+bwd"))
    ours, theirs, ratio = (float(v) for v in re.findall(r"\| ([0-9.]+)", row))
    assert ratio == pytest.approx(ours / theirs, rel=0.05, abs=0.01)
    assert "geometric mean" in out


def test_format_without_torch():
    text = overhead.format_rows([("case", 3.0, None)])
    assert "| case | 3.00 | n/a | n/a |" in text


def test_profile_names_hot_functions():
    text = overhead.profile_mlp(repeats=3, top=5)
    assert "function calls" in text and "tottime" in text


def test_bad_min_time():
    with pytest.raises(SystemExit):
        overhead.main(["--min-time", "0"])
