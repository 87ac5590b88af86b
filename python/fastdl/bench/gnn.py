"""`fastdl bench gnn`: graph kernels and layers, fastdl vs torch_geometric (and torch.sparse, and a
dense matmul where the adjacency fits in memory), in one run.

Graph: synthetic power law, 100k nodes, 1M edges (``--quick``: 400 nodes, 3k edges); targets
drawn with P(node of rank k) ~ k^-0.9 (the largest in-degree is ~45k, ~8% of the nodes receive
nothing), sources uniform; float32, 64 features.

Cases (each timed forward without autograd, and forward + backward where marked):
- ``spmm``: out[i] = sum_e w_e x[src e] over the edges into i. fastdl: the CSR SpMM (CSR built
  once, as a layer's cached graph); PyG: its message passing (gather x[src] * w, then
  ``torch_geometric.utils.scatter`` sum); torch.sparse: ``torch.sparse.mm`` on the same CSR;
  dense: ``A @ x`` with A an n x n float32 array, only where it needs < 2 GB (never at full size:
  100k^2 * 4 B = 40 GB). fwd+bwd: gradients of x and w.
- ``scatter sum`` / ``scatter max``: (E, 64) edge rows reduced by target, index given raw each
  call (fastdl sorts it, O(E), inside the timed call); fwd+bwd: gradient of the edge rows.
- ``GCNConv`` / ``GATConv`` layers (64 -> 64; GAT with 8 heads of 8, self-loops added): whole
  forward, and forward + backward (input and every weight), same weights in both libraries.

FLOPs: SpMM 2 E F (a multiply-add per edge and feature), its backward 2x more (the transposed
SpMM and the per-edge dot products). Minimal bytes of a forward SpMM: x and out once (4 n F
each), the CSR (8 n + 12 E: rowptr, column, value); a scatter reads E F + writes n F floats and
reads E indices. "% BW" is against the read bandwidth measured in this run, "% peak" against the
FMA peak measured in this run, both at the same thread count. Timings are interleaved call by
call between libraries with a pause before each (``fastdl.bench.common.interleaved_seconds``),
medians of ``--repeats``: the machine is shared, so single timings mean little.
"""
from __future__ import annotations

import argparse
import platform

import numpy as np

import fastdl
from fastdl import _C
from fastdl.bench.common import interleaved_seconds, markdown_table, peak_gflops
from fastdl.bench.pool import _threads
from fastdl.nn.functional import graph as G
from fastdl.nn.functional._graph import Graph

FULL = dict(n=100_000, e=1_000_000, f=64)
QUICK = dict(n=400, e=3_000, f=8)
DENSE_LIMIT_BYTES = 2 << 30


def cpu_model():
    """The CPU's model name (/proc/cpuinfo), else platform's processor string."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def power_law_graph(n, e, seed=0, alpha=0.9):
    """(src, dst) int64: targets ~ rank^-alpha (power-law in-degrees), sources uniform."""
    r = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n + 1) ** alpha
    p /= p.sum()
    dst = r.permutation(n)[r.choice(n, e, p=p)]
    src = r.integers(0, n, e)
    return src.astype(np.int64), dst.astype(np.int64)


def _spmm_calls(src, dst, n, f, backward, seed=1):
    import torch
    from torch_geometric.utils import scatter
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, f)).astype(np.float32)
    w = r.random(src.shape[0]).astype(np.float32)
    csr = Graph(src, dst, n, n).by_dst
    fx, fw = fastdl.tensor(x, requires_grad=backward), fastdl.tensor(w, requires_grad=backward)
    tx, tw = torch.tensor(x, requires_grad=backward), torch.tensor(w, requires_grad=backward)
    ts, td = torch.tensor(src), torch.tensor(dst)
    g = np.ones((n, f), np.float32)
    fg, tg = fastdl.tensor(g), torch.tensor(g)

    def fd():
        if not backward:
            with fastdl.no_grad():
                return G.weighted_spmm(csr, fw, fx)
        fx.grad = fw.grad = None
        G.weighted_spmm(csr, fw, fx).backward(fg)

    def pyg():
        if not backward:
            with torch.no_grad():
                return scatter(tx[ts] * tw[:, None], td, 0, dim_size=n, reduce="sum")
        tx.grad = tw.grad = None
        scatter(tx[ts] * tw[:, None], td, 0, dim_size=n, reduce="sum").backward(tg)

    calls = {"fastdl": fd, "pyg": pyg}
    if not backward:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = torch.sparse_csr_tensor(torch.tensor(csr.rowptr), torch.tensor(csr.col),
                                        torch.tensor(w[csr.eid]), (n, n))

        def tsp():
            with torch.no_grad():
                return torch.sparse.mm(a, tx)
        calls["torch.sparse"] = tsp
        if n * n * 4 < DENSE_LIMIT_BYTES:
            dense = np.zeros((n, n), np.float32)
            np.add.at(dense, (dst, src), w)
            td_ = torch.tensor(dense)

            def dense_mm():
                with torch.no_grad():
                    return td_ @ tx
            calls["dense"] = dense_mm
        out_f = fd().numpy()
        out_t = pyg().numpy()
        if not np.allclose(out_f, out_t, rtol=1e-3, atol=1e-3):
            raise AssertionError("spmm: fastdl and PyG disagree")
    return calls


def _scatter_calls(dst, n, f, reduce, backward, seed=2):
    import torch
    from torch_geometric.utils import scatter
    e = dst.shape[0]
    m = np.random.default_rng(seed).standard_normal((e, f)).astype(np.float32)
    fm, tm = fastdl.tensor(m, requires_grad=backward), torch.tensor(m, requires_grad=backward)
    fi, ti = fastdl.tensor(dst), torch.tensor(dst)
    g = np.ones((n, f), np.float32)
    fg, tg = fastdl.tensor(g), torch.tensor(g)

    def fd():
        if not backward:
            with fastdl.no_grad():
                return fastdl.nn.functional.scatter(fm, fi, dim_size=n, reduce=reduce)
        fm.grad = None
        fastdl.nn.functional.scatter(fm, fi, dim_size=n, reduce=reduce).backward(fg)

    def pyg():
        if not backward:
            with torch.no_grad():
                return scatter(tm, ti, 0, dim_size=n, reduce=reduce)
        tm.grad = None
        scatter(tm, ti, 0, dim_size=n, reduce=reduce).backward(tg)

    if not backward and not np.allclose(fd().numpy(), pyg().numpy(), rtol=1e-4, atol=1e-4):
        raise AssertionError(f"scatter {reduce}: fastdl and PyG disagree")
    return {"fastdl": fd, "pyg": pyg}


def _layer_calls(kind, src, dst, n, f, backward, seed=3):
    import torch
    import torch_geometric.nn as gnn
    torch.manual_seed(seed)
    if kind == "GATConv":
        pt, fl = gnn.GATConv(f, f // 8, heads=8), fastdl.nn.GATConv(f, f // 8, heads=8)
    else:
        pt, fl = gnn.GCNConv(f, f), fastdl.nn.GCNConv(f, f)
    fl.load_state_dict({k: fastdl.tensor(v.detach().numpy()) for k, v in pt.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal((n, f)).astype(np.float32)
    ei = np.stack([src, dst])
    fx, tx = fastdl.tensor(x, requires_grad=backward), torch.tensor(x, requires_grad=backward)
    fe, te = fastdl.tensor(ei), torch.tensor(ei)

    def fd():
        if not backward:
            with fastdl.no_grad():
                return fl(fx, fe)
        fx.grad = None
        fl.zero_grad()
        fl(fx, fe).sum().backward()

    def pyg():
        if not backward:
            with torch.no_grad():
                return pt(tx, te)
        tx.grad = None
        pt.zero_grad()
        pt(tx, te).sum().backward()

    if not backward and not np.allclose(fd().numpy(), pyg().numpy(), rtol=1e-3, atol=1e-3):
        raise AssertionError(f"{kind}: fastdl and PyG disagree")
    return {"fastdl": fd, "pyg": pyg}


def _counts(case, n, e, f, backward):
    """(FLOPs, minimal bytes) of a case (None where not meaningful)."""
    if case == "spmm":
        flops = 2.0 * e * f * (3 if backward else 1)
        nbytes = 4 * n * f * 2 + 8 * n + 12 * e
        return flops, nbytes * (3 if backward else 1)
    if case.startswith("scatter"):
        nbytes = 4 * e * f + 4 * n * f + 8 * e
        return None, nbytes * (2 if backward else 1)
    return None, None


CASES = ("spmm", "scatter sum", "scatter max", "GCNConv", "GATConv")


def run(threads=(2,), quick=False, repeats=5, cases=CASES):
    d = QUICK if quick else FULL
    n, e, f = d["n"], d["e"], d["f"]
    src, dst = power_law_graph(n, e)
    rows, peaks = [], {}
    for t in threads:
        peaks[t] = (peak_gflops(t), _C.measure_read_bandwidth_gbs(t, 0.05 if quick else 0.3))
    for case in cases:
        for backward in (False, True):
            if case == "spmm":
                calls = _spmm_calls(src, dst, n, f, backward)
            elif case.startswith("scatter"):
                calls = _scatter_calls(dst, n, f, case.split()[1], backward)
            else:
                calls = _layer_calls(case, src, dst, n, f, backward)
            flops, nbytes = _counts(case, n, e, f, backward)
            for t in threads:
                with _threads(t):
                    ms = {k: v * 1e3 for k, v in interleaved_seconds(
                        calls, repeats=repeats, pause=0 if quick else 0.25).items()}
                gflops = flops / ms["fastdl"] * 1e-6 if flops else None
                gbs = nbytes / ms["fastdl"] * 1e-6 if nbytes else None
                rows.append({"case": case, "pass": "fwd+bwd" if backward else "fwd",
                             "threads": t, "ms": ms, "gflops": gflops, "gbs": gbs,
                             "pct_peak": 100 * gflops / peaks[t][0] if gflops else None,
                             "pct_bw": 100 * gbs / peaks[t][1] if gbs else None,
                             "vs_pyg": ms["pyg"] / ms["fastdl"],
                             "vs_sparse": (ms["torch.sparse"] / ms["fastdl"]
                                           if "torch.sparse" in ms else None),
                             "vs_dense": ms["dense"] / ms["fastdl"] if "dense" in ms else None})
    return rows, peaks, d


HEADERS = ["case", "pass", "thr", "fastdl ms", "PyG ms", "torch.sparse ms", "dense ms",
           "GFLOP/s", "% peak", "GB/s", "% BW", "PyG/fastdl", "sparse/fastdl", "dense/fastdl"]


def format_rows(rows):
    def opt(v):
        return "-" if v is None else v
    return markdown_table(HEADERS, [
        [r["case"], r["pass"], r["threads"], r["ms"]["fastdl"], r["ms"]["pyg"],
         opt(r["ms"].get("torch.sparse")), opt(r["ms"].get("dense")), opt(r["gflops"]),
         opt(r["pct_peak"]), opt(r["gbs"]), opt(r["pct_bw"]), r["vs_pyg"], opt(r["vs_sparse"]),
         opt(r["vs_dense"])] for r in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench gnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="tiny graph, no pauses (a smoke test of the harness)")
    parser.add_argument("--cases", default=None, help="comma-separated subset of: " +
                        ", ".join(CASES))
    args = parser.parse_args(argv)
    cases = tuple(args.cases.split(",")) if args.cases else CASES
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {list(CASES)}")
    threads = tuple(int(t) for t in args.threads.split(","))
    rows, peaks, d = run(threads, args.quick, args.repeats, cases)
    import torch
    import torch_geometric
    print(f"fastdl {_C.__version__} ({_C.simd_path()}), torch {torch.__version__}, "
          f"torch_geometric {torch_geometric.__version__}; CPU: {cpu_model()}")
    print("measured now: " + "; ".join(f"{t} thread{'s' if t > 1 else ''}: {p:.0f} GFLOP/s "
                                        f"fp32 peak, {bw:.1f} GB/s read"
                                        for t, (p, bw) in peaks.items()))
    print(f"graph: power law, {d['n']} nodes, {d['e']} edges, {d['f']} features, float32; "
          f"dense A {'fits' if d['n'] ** 2 * 4 < DENSE_LIMIT_BYTES else 'does not fit'} "
          f"({d['n'] ** 2 * 4 / 2 ** 30:.1f} GiB)")
    print(format_rows(rows))
    return rows


if __name__ == "__main__":
    main()
