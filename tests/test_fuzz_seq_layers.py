"""Randomized differential test of the sequence, attention, embedding and loss layers against
torch: random configurations over every constructor and call argument (fuzz_seq_cases.py,
fuzz_loss_cases.py), compared in float64 and float32 on outputs, on the gradients of the
inputs and parameters, and on errors (where torch raises, fastdl raises the same type).
The seed is fixed, so a failure names a case that reproduces: ``python
tests/test_fuzz_seq_layers.py KIND SEED`` reruns one."""
from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

import fastdl
from fuzz_loss_cases import LOSS_GENERATORS
from fuzz_seq_cases import GENERATORS
from nn_twins import to_fastdl
from opinfo_harness import flatten_outputs as _flat

ALL = {**GENERATORS, **LOSS_GENERATORS}
CASES_PER_KIND = {"rnn": 40, "mha": 40, "sdpa": 30, "transformer": 20}
DEFAULT_CASES = 15
TOL = {torch.float64: dict(rtol=1e-7, atol=1e-9), torch.float32: dict(rtol=1e-3, atol=1e-4)}


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x.detach().numpy())


def _same(f, t, dtype, what):
    if t is None or not isinstance(t, torch.Tensor):
        assert f == t if not isinstance(f, fastdl.Tensor) else False, \
            f"{what}: fastdl {f!r} != torch {t!r}"
        return
    assert isinstance(f, fastdl.Tensor), f"{what}: fastdl gave {type(f).__name__}"
    fa, ta = _np(f), _np(t)
    assert fa.shape == ta.shape, f"{what}: shape {fa.shape} != torch {ta.shape}"
    assert str(fa.dtype) == str(t.dtype).replace("torch.", ""), \
        f"{what}: dtype {fa.dtype} != torch {t.dtype}"
    if ta.dtype.kind == "f":
        np.testing.assert_allclose(fa, ta, equal_nan=True, err_msg=what, **TOL[dtype])
    else:
        np.testing.assert_array_equal(fa, ta, err_msg=what)


def _cast(case, dtype):
    out = []
    for x, g in zip(case.inputs, case.grads):
        if x.is_floating_point():
            x = x.to(dtype)
        out.append(x.detach().requires_grad_(g))
    return out


def _build(case, dtype):
    if case.build is None:
        return None, None
    torch.manual_seed(0)
    t_mod = case.build(torch).to(dtype).eval()  # eval: dropout off (random in torch)
    f_mod = case.build(fastdl).eval()
    f_mod = f_mod.double() if dtype == torch.float64 else f_mod.float()
    t_state = t_mod.state_dict()
    assert list(f_mod.state_dict()) == list(t_state), \
        f"state_dict keys {list(f_mod.state_dict())} != torch {list(t_state)}"
    f_mod.load_state_dict({k: v.detach().numpy().copy() for k, v in t_state.items()})
    return t_mod, f_mod


def run_case(kind, seed, dtype):
    case = ALL[kind](np.random.default_rng(seed))
    what = f"{kind} seed={seed} {dtype}: {case.name}"
    t_in = _cast(case, dtype)
    f_in = to_fastdl(t_in)
    t_mod, f_mod = _build(case, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            t_out = case.call(torch, t_mod, *t_in)
        except Exception as e:  # noqa: BLE001 - any torch error must be one in fastdl too
            try:
                case.call(fastdl, f_mod, *f_in)
            except type(e):
                return "error"
            except Exception as f_e:  # noqa: BLE001
                raise AssertionError(f"{what}: fastdl raised {type(f_e).__name__}: {f_e}; "
                                     f"torch {type(e).__name__}: {e}") from f_e
            raise AssertionError(f"{what}: fastdl did not raise; torch raised "
                                 f"{type(e).__name__}: {e}")
        f_out = case.call(fastdl, f_mod, *f_in)
    t_flat, f_flat = _flat(t_out), _flat(f_out)
    assert len(f_flat) == len(t_flat), f"{what}: {len(f_flat)} outputs, torch {len(t_flat)}"
    for i, (f, t) in enumerate(zip(f_flat, t_flat)):
        _same(f, t, dtype, f"{what}: output {i}")
    # backward of one weighted sum of the differentiable outputs, same weights both sides
    rng = np.random.default_rng(seed + 1)
    t_total, f_total = 0, 0
    for f, t in zip(f_flat, t_flat):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            w = np.asarray(rng.standard_normal(tuple(t.shape)))
            t_total = t_total + (t * torch.from_numpy(w).to(t.dtype)).sum()
            f_total = f_total + (f * fastdl.tensor(w.astype(_np(f).dtype))).sum()
    if isinstance(t_total, int):
        return "no grad"
    t_leaves = [x for x, g in zip(t_in, case.grads) if g]
    f_leaves = [x for x, g in zip(f_in, case.grads) if g]
    names = [f"input {i}" for i, g in enumerate(case.grads) if g]
    if t_mod is not None:
        for (n, tp), (fn, fp) in zip(t_mod.named_parameters(), f_mod.named_parameters()):
            assert n == fn, f"{what}: parameter {fn} != torch {n}"
            t_leaves.append(tp)
            f_leaves.append(fp)
            names.append(n)
    t_grads = torch.autograd.grad(t_total, t_leaves, allow_unused=True)
    f_total.backward()
    for n, tg, fl in zip(names, t_grads, f_leaves):
        fg = fl.grad
        if tg is None:
            assert fg is None or not np.any(_np(fg)), f"{what}: gradient of {n} not zero"
            continue
        assert fg is not None, f"{what}: no gradient for {n}"
        _same(fg, tg, dtype, f"{what}: gradient of {n}")
    return "ok"


PARAMS = [(kind, seed) for kind in ALL for seed in range(CASES_PER_KIND.get(kind, DEFAULT_CASES))]


@pytest.mark.parametrize("kind,seed", PARAMS)
def test_fuzz(kind, seed):
    seed = 1000 * (list(ALL).index(kind) + 1) + seed
    run_case(kind, seed, torch.float64)
    run_case(kind, seed, torch.float32)


@pytest.mark.parametrize("fn", ["scatter_add", "scatter", "scatter_reduce"])
def test_scatter_with_empty_index_keeps_src_in_the_graph(fn):
    """Found through EmbeddingBag with every index padded: torch's result of a scatter that
    writes nothing still depends on src (zero gradient); fastdl's was cut off the graph."""
    extra = ("amax",) if fn == "scatter_reduce" else ()
    t_src = torch.randn(0, 3, dtype=torch.float64, requires_grad=True)
    f_src = to_fastdl(t_src)
    t_out = getattr(torch, fn)(torch.zeros(2, 3, dtype=torch.float64), 0,
                               torch.zeros(0, 3, dtype=torch.int64), t_src, *extra)
    f_out = getattr(fastdl, fn)(fastdl.zeros(2, 3, dtype=fastdl.float64), 0,
                                fastdl.tensor(np.zeros((0, 3), np.int64)), f_src, *extra)
    assert f_out.requires_grad == t_out.requires_grad
    t_out.sum().backward()
    f_out.sum().backward()
    _same(f_src.grad, t_src.grad, torch.float64, f"{fn}: gradient of src")


if __name__ == "__main__":  # exploration: python tests/test_fuzz_seq_layers.py KIND [SEED|N]
    kind = sys.argv[1]
    seeds = [int(sys.argv[2])] if len(sys.argv) > 2 and not sys.argv[2].startswith("n") \
        else range(int(sys.argv[2][1:]) if len(sys.argv) > 2 else 200)
    fails = 0
    for s in seeds:
        for dt in (torch.float64, torch.float32):
            try:
                run_case(kind, s, dt)
            except Exception as e:  # noqa: BLE001 - exploration: report and go on
                fails += 1
                print(f"FAIL {kind} {s} {dt}: {type(e).__name__}: {str(e)[:600]}\n")
                break
    print("fails", fails)
