"""The GNN models learn (tiny settings, a few seconds): node classification on a stochastic block
model beats an MLP that ignores the graph and a fixed bar, graph classification of cycles vs
trees beats chance, the karate-club example recovers the split; and `fastdl bench gnn --quick`
runs every case and prints its table."""
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import fastdl
from fastdl.data.graphs import cycles_and_trees, stochastic_block_model

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def node_example():
    return _load("gnn_node_classification")


@pytest.fixture(scope="module")
def mlp_baseline(node_example):
    return node_example.train("mlp", epochs=40, sizes=(60, 60, 60), p_in=0.2,
                              verbose=False)["accuracy"]


@pytest.mark.parametrize("name", ["gcn", "sage", "gat"])
def test_node_classifiers_beat_the_graph_blind_baseline(node_example, mlp_baseline, name):
    result = node_example.train(name, epochs=40, sizes=(60, 60, 60), p_in=0.2, verbose=False)
    # 3 classes: chance 0.33; the MLP sees only the weak features (~0.4)
    assert result["accuracy"] >= 0.75, result
    assert result["accuracy"] >= mlp_baseline + 0.2, (result, mlp_baseline)


def test_graph_classifier_tells_cycles_from_trees():
    result = _load("gnn_graph_classification").train("gcn", "max", epochs=40, graphs=40,
                                                     verbose=False)
    assert result["accuracy"] >= 0.8, result  # chance: 0.5


def test_karate_club_example():
    pytest.importorskip("networkx")
    result = _load("gnn_karate").train(epochs=60, verbose=False)
    assert result["accuracy"] >= 0.8, result  # the majority club: 0.5


def test_generators():
    x, ei, y = stochastic_block_model((4, 6), p_in=1.0, p_out=0.0, num_features=2)
    assert x.dtype == np.float32 and ei.shape == (2, 2 * (6 + 15)) and y.sum() == 6
    assert (y[ei[0]] == y[ei[1]]).all()
    x, ei, batch, y = cycles_and_trees(6, 4, 7, seed=3)
    assert (np.diff(batch) >= 0).all() and batch.max() == 5
    assert (batch[ei[0]] == batch[ei[1]]).all()
    sizes = np.bincount(batch)
    edges = np.bincount(batch[ei[0]], minlength=6) // 2
    np.testing.assert_array_equal(edges, np.where(y == 1, sizes, sizes - 1))


def test_model_arguments_are_checked():
    with pytest.raises(ValueError, match="heads"):
        fastdl.models.GAT(3, 10, heads=4)
    with pytest.raises(ValueError, match="conv"):
        fastdl.models.GraphClassifier(3, 8, 2, conv="cheb")
    with pytest.raises(ValueError, match="num_layers"):
        fastdl.models.GCN(3, 8, num_layers=0)


def test_bench_gnn_quick(capsys):
    pytest.importorskip("torch_geometric")
    from fastdl.bench import gnn
    rows = gnn.main(["--quick", "--repeats", "1", "--threads", "1"])
    out = capsys.readouterr().out
    assert {(r["case"], r["pass"]) for r in rows} == {(c, p) for c in gnn.CASES
                                                      for p in ("fwd", "fwd+bwd")}
    assert all(r["ms"]["fastdl"] > 0 and r["vs_pyg"] > 0 for r in rows)
    spmm = next(r for r in rows if r["case"] == "spmm" and r["pass"] == "fwd")
    assert spmm["gflops"] > 0 and spmm["pct_bw"] > 0 and spmm["vs_dense"] > 0
    assert "| spmm | fwd | 1 |" in out and "GFLOP/s fp32 peak" in out
