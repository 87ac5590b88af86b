"""Numerical gradient checks (``fastdl.testing.gradcheck``, like torch.autograd.gradcheck)."""
from __future__ import annotations

import numpy as np

from fastdl.autograd import engine as _engine
from fastdl.tensor import Tensor, _wrap


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    outs = _as_tuple(fn(*inputs))
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {i} of fn is {type(o).__name__}, not a Tensor")
    return outs


def _differentiable_inputs(inputs, fn_name):
    checked = []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t._requires_grad:
            if t._data.dtype != np.float64:
                raise ValueError(f"{fn_name}: input {i} requires grad but is {t._data.dtype}; "
                                 "use float64 inputs (finite differences need the precision)")
            checked.append(i)
    if not checked:
        raise ValueError(f"{fn_name}: no input requires grad")
    return checked


def numerical_jacobian(fn, inputs, eps=1e-6):
    """Per (input, output) pair: the Jacobian d out / d in by central differences,
    shaped (in.size, out.size)."""
    idx = _differentiable_inputs(inputs, "numerical_jacobian")
    # grad mode stays on: fn may itself differentiate (gradgradcheck's fn calls autograd.grad)
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((inputs[i]._data.size, o._data.size)) for o in outs] for i in idx]
    for a, i in enumerate(idx):
        flat = inputs[i]._data.reshape(-1)  # a view: perturb in place
        if not np.shares_memory(flat, inputs[i]._data):
            raise ValueError(f"gradcheck: input {i} is not contiguous; pass a contiguous tensor")
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = [np.array(o._data, dtype=np.float64) for o in _outputs(fn, inputs)]
            flat[k] = orig - eps
            minus = [np.array(o._data, dtype=np.float64) for o in _outputs(fn, inputs)]
            flat[k] = orig
            for j in range(len(outs)):
                jac[a][j][k] = ((plus[j] - minus[j]) / (2 * eps)).reshape(-1)
    return jac


def analytical_jacobian(fn, inputs):
    """Per (input, output) pair: the Jacobian from autograd, one vector-Jacobian product per
    output element."""
    idx = _differentiable_inputs(inputs, "analytical_jacobian")
    targets = [inputs[i] for i in idx]
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((inputs[i]._data.size, o._data.size)) for o in outs] for i in idx]
    for j, o in enumerate(outs):
        if not o._requires_grad:
            continue
        for k in range(o._data.size):
            seed = np.zeros(o._data.size, dtype=o._data.dtype)
            seed[k] = 1
            grads = _engine.run_backward([o], [_wrap(seed.reshape(o._data.shape))], True, False,
                                         targets=targets, accumulate=False, allow_unused=True)
            for a, g in enumerate(grads):
                if g is not None:
                    if g._data.shape != targets[a]._data.shape:
                        raise GradcheckError(f"gradient for input {idx[a]} has shape "
                                             f"{tuple(g._data.shape)}, expected "
                                             f"{tuple(targets[a]._data.shape)}")
                    jac[a][j][:, k] = np.asarray(g._data, dtype=np.float64).reshape(-1)
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Compare autograd's Jacobian of ``fn(*inputs)`` with central differences in float64.

    Every input that requires grad must be float64. Returns True, or raises ``GradcheckError``
    naming the input, output and worst element (returns False with ``raise_exception=False``).
    """
    inputs = _as_tuple(inputs)
    idx = _differentiable_inputs(inputs, "gradcheck")
    num = numerical_jacobian(fn, inputs, eps)
    ana = analytical_jacobian(fn, inputs)
    for a, i in enumerate(idx):
        for j in range(len(num[a])):
            n, g = num[a][j], ana[a][j]
            if not np.allclose(g, n, rtol=rtol, atol=atol):
                err = np.abs(g - n)
                k = np.unravel_index(np.argmax(err), err.shape)
                msg = (f"Jacobian mismatch for output {j} with respect to input {i}: worst at "
                       f"(input element {k[0]}, output element {k[1]}): numerical {n[k]:.8g}, "
                       f"analytical {g[k]:.8g}\nnumerical:\n{n}\nanalytical:\n{g}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True) -> bool:
    """gradcheck of the first derivatives: checks backward rules under ``create_graph=True``."""
    inputs = _as_tuple(inputs)
    idx = _differentiable_inputs(inputs, "gradgradcheck")
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o._data.shape), requires_grad=True)
                        for o in outs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_derivatives(*args):
        xs, gos = args[:n_in], args[n_in:]
        ys = _outputs(fn, xs)
        return _engine.grad(list(ys), [xs[i] for i in idx], list(gos), create_graph=True,
                            allow_unused=False)

    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol,
                     raise_exception)
