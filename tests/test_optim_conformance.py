"""Conformance of fastdl.optim with PyTorch's own optimizer test database (``optim_db``).

For every OptimizerInfo fastdl has a class for, each configuration its ``optim_inputs_func``
yields (hyperparameters such as a Tensor lr, maximize, weight decay, amsgrad, nesterov) runs in
both libraries on the same parameters and parameter-dependent gradients, float32 and float64;
parameters and every state entry are compared after each step. Each ``optim_error_inputs_func``
input (bad hyperparameters, duplicated or mixed named parameters) must raise (or warn) in fastdl
as in torch. Configurations switching torch's implementation choices only (foreach, fused,
capturable) are covered by the same values: fastdl records those flags.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch.testing._internal imports it

from torch.testing._internal.common_optimizers import (OptimizerErrorEnum,  # noqa: E402
                                                       optim_db)

import fastdl  # noqa: E402
from fastdl import optim  # noqa: E402
from optim_pair import OptimizerPair  # noqa: E402

STEPS = 6
SHAPES = [(4, 3), (7,), (2, 3, 2)]
MATRIX_SHAPES = [(4, 3), (3, 5), (6, 6)]  # Muon optimizes matrices only
TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
# LBFGS runs 20 inner iterations a step: dot products summed in another order drift further.
# In float32 the loss here converges within a step's iterations, after which the curvature
# history (y = g_new - g_old of gradients ~1e-5) is rounding noise in both libraries and the
# iteration counts can differ by one: float32 compares the parameters (to 1e-4) and the loss,
# float64 the whole state as well.
LBFGS_TOLERANCES = {np.float32: dict(rtol=1e-3, atol=1e-4), np.float64: dict(rtol=1e-8, atol=1e-10)}
# A Tensor lr is float32 (torch's optim_inputs make it so): torch derives factors such as
# 1 - lr * weight_decay in that tensor's precision (a float32 0-d tensor), fastdl in float64 from
# its value: up to ~2e-8 relative on float64 parameters
TENSOR_LR_FLOAT64_TOLERANCES = dict(rtol=1e-7, atol=1e-10)

OPTIMIZER_INFOS = {info.optim_cls.__name__: info for info in optim_db}
MAPPED = sorted(name for name in OPTIMIZER_INFOS if hasattr(optim, name))


def test_every_torch_optimizer_has_a_fastdl_twin():
    assert sorted(OPTIMIZER_INFOS) == MAPPED


def _fastdl_value(value):
    """A hyperparameter as fastdl takes it: torch tensors (a Tensor lr, Tensor betas) become
    fastdl tensors with the same value and dtype."""
    if isinstance(value, torch.Tensor):
        return fastdl.tensor(value.detach().numpy().copy())
    if isinstance(value, tuple):
        return tuple(_fastdl_value(v) for v in value)
    return value


def _inputs(name, dtype):
    info = OPTIMIZER_INFOS[name]
    return info.optim_inputs_func(device="cpu", dtype=torch.float64 if dtype == np.float64
                                  else torch.float32)


def _cases():
    for name in MAPPED:
        for dtype in (np.float32, np.float64):
            for i, optim_input in enumerate(_inputs(name, dtype)):
                yield pytest.param(name, dtype, i,
                                   id=f"{name}-{np.dtype(dtype).name}-{optim_input.desc}")


class _SparseRowsPair(OptimizerPair):
    """SparseAdam's gradients: some rows zero in fastdl's dense gradient, the same rows absent
    from torch's sparse one (torch refuses dense gradients there)."""

    def set_grads(self, step):
        super().set_grads(step)
        for ours, theirs in zip(self.ours, self.theirs):
            if ours.grad is None:
                continue
            grad = ours.grad.data.copy()
            grad[step % grad.shape[0]::3] = 0
            ours.grad = fastdl.tensor(grad)
            theirs.grad = torch.from_numpy(grad.copy()).to_sparse(sparse_dim=1)


def _closure_pair(pair):
    """LBFGS's closures: the same smooth loss of the parameters in both libraries."""
    def loss_terms(params, targets, lib):
        total = 0
        for p, t in zip(params, targets):
            d = p - lib.tensor(t)
            total = total + (d * d).sum() + 0.1 * (p * p * p * p).sum()
        return total

    def closure_for(params, lib):
        def closure():
            for p in params:
                p.grad = None
            loss = loss_terms(params, pair.targets, lib)
            loss.backward()
            return loss
        return closure
    return closure_for(pair.ours, fastdl), closure_for(pair.theirs, torch)


def _compare_state(ours, theirs, tolerances, step):
    ours_state, theirs_state = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert sorted(ours_state) == sorted(theirs_state), f"step {step}: state entries"
    for index, entries in theirs_state.items():
        assert sorted(ours_state[index]) == sorted(entries), \
            f"step {step}, param {index}: state keys"
        for key, value in entries.items():
            _assert_state_close(ours_state[index][key], value, tolerances,
                                f"step {step}, param {index}, state {key!r}")


def _assert_state_close(mine, theirs, tolerances, what):
    """One state entry: a tensor, a number, None, or a list of them (LBFGS's histories)."""
    if isinstance(theirs, (list, tuple)):
        assert isinstance(mine, (list, tuple)) and len(mine) == len(theirs), what
        for i, (a, b) in enumerate(zip(mine, theirs)):
            _assert_state_close(a, b, tolerances, f"{what}[{i}]")
        return
    if theirs is None:
        assert mine is None, what
        return
    if isinstance(theirs, torch.Tensor):
        theirs = (theirs.to_dense() if theirs.is_sparse else theirs).detach().numpy()
    actual = mine.numpy() if isinstance(mine, fastdl.Tensor) else np.asarray(mine)
    np.testing.assert_allclose(actual.astype(np.float64),
                               np.asarray(theirs).astype(np.float64), **tolerances, err_msg=what)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name,dtype,index", list(_cases()))
def test_optim_inputs_match_torch(name, dtype, index):
    optim_input = _inputs(name, dtype)[index]
    shapes = MATRIX_SHAPES if name == "Muon" else SHAPES
    tolerances = LBFGS_TOLERANCES[dtype] \
        if name == "LBFGS" else TENSOR_LR_FLOAT64_TOLERANCES if (
            dtype == np.float64 and isinstance(optim_input.kwargs.get("lr"), torch.Tensor)) \
        else TOLERANCES[dtype]
    pair_type = _SparseRowsPair if name == "SparseAdam" else OptimizerPair
    pair = pair_type(torch, shapes, seed=7 + index, dtype=dtype, tolerances=tolerances)
    kwargs = dict(optim_input.kwargs)
    ours = getattr(optim, name)(pair.ours, **{k: _fastdl_value(v) for k, v in kwargs.items()})
    theirs = OPTIMIZER_INFOS[name].optim_cls(pair.theirs, **kwargs)
    if OPTIMIZER_INFOS[name].step_requires_closure:
        closure_ours, closure_theirs = _closure_pair(pair)
        for step in range(3):
            loss_ours, loss_theirs = ours.step(closure_ours), theirs.step(closure_theirs)
            np.testing.assert_allclose(float(loss_ours), float(loss_theirs), **tolerances)
            pair.assert_close(step)
            if dtype == np.float64:
                _compare_state(ours, theirs, tolerances, step)
        return
    for step in range(STEPS):
        pair.set_grads(step)
        ours.step()
        theirs.step()
        pair.assert_close(step)
        _compare_state(ours, theirs, tolerances, step)


class _Unholdable(Exception):
    """A torch value fastdl cannot hold (complex or sparse parameters)."""


def _fastdl_params(value, memo):
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.is_sparse:
            raise _Unholdable("complex or sparse parameter (fastdl tensors are dense and real)")
        if id(value) not in memo:  # shared tensors stay shared (duplicate-parameter inputs)
            tensor = fastdl.tensor(value.detach().numpy().copy(), requires_grad=True)
            if value.grad is not None:
                tensor.grad = fastdl.tensor(value.grad.detach().numpy().copy())
            memo[id(value)] = tensor
        return memo[id(value)]
    if isinstance(value, dict):
        return {k: _fastdl_params(v, memo) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_fastdl_params(v, memo) for v in value)
    return value


def _error_cases():
    for name in MAPPED:
        info = OPTIMIZER_INFOS[name]
        for i, error in enumerate(info.optim_error_inputs_func(device="cpu",
                                                               dtype=torch.float32)):
            yield pytest.param(name, i, id=f"{name}-{error.optimizer_error_input.desc}")


def _error_inputs(name):
    return OPTIMIZER_INFOS[name].optim_error_inputs_func(device="cpu", dtype=torch.float32)


@pytest.mark.parametrize("name,index", list(_error_cases()))
def test_optim_error_inputs(name, index):
    """The error (or warning) torch gives, from the constructor or the first step."""
    error = _error_inputs(name)[index]
    optim_input = error.optimizer_error_input
    default_param = torch.rand(2, 2, requires_grad=True)  # torch's harness default (Parameter)
    try:
        params = _fastdl_params(optim_input.params if optim_input.params is not None
                                else [default_param], {})
    except _Unholdable as reason:
        pytest.skip(f"fastdl cannot hold this input: {reason}")
    kwargs = {k: _fastdl_value(v) for k, v in optim_input.kwargs.items()}
    if error.error_type is UserWarning or issubclass(error.error_type, Warning):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            getattr(optim, name)(params, **kwargs)
        assert any(re.search(error.error_regex, str(w.message)) for w in caught), \
            f"no warning matching {error.error_regex!r}: {[str(w.message) for w in caught]}"
        return
    with pytest.raises(error.error_type, match=error.error_regex):
        opt = getattr(optim, name)(params, **kwargs)
        if error.error_on == OptimizerErrorEnum.STEP_ERROR:
            opt.step()
