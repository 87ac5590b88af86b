"""Higher-level differentiation (``torch.autograd.functional``): jacobian, hessian, vjp, jvp,
hvp and vhp of a function of tensors, built on :func:`fastdl.autograd.grad`.

Inputs and outputs may be a tensor or a tuple of tensors; results follow torch's nesting.
Results are detached unless ``create_graph=True``. A gradient that does not depend on an input
is zeros, or a RuntimeError with ``strict=True``. ``vectorize`` is accepted for torch's
signature; rows are always computed one vector-Jacobian product at a time.
"""
from __future__ import annotations

import fastdl
from fastdl.autograd.engine import grad as _grad
from fastdl.autograd.grad_mode import enable_grad
from fastdl.tensor import Tensor


def _as_tuple(value, arg_name: str, fn_name: str):
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            where = f"{arg_name} given to {fn_name}" if not is_tuple else \
                f"element {i} of {arg_name} given to {fn_name}"
            raise TypeError(f"The {where} must be either a Tensor or a tuple of Tensors but "
                            f"the value at index {i} has type {type(v)}.")
    return is_tuple, values


def _prepare_inputs(inputs, create_graph: bool):
    """Fresh leaves that require grad (views keeping the graph when ``create_graph``)."""
    return tuple(x.view_as(x) if create_graph and x.requires_grad
                 else x.detach().requires_grad_(True) for x in inputs)


def _finish(values, create_graph: bool):
    return tuple(v if create_graph or v is None else v.detach() for v in values)


def _vector_jacobian(outputs, inputs, grad_outputs, create_graph: bool, strict: bool, what: str,
                     retain_graph: bool = True):
    """d(sum outputs * grad_outputs) / d inputs, zeros (or an error) for unused inputs."""
    differentiable = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if differentiable:
        grads = _grad([o for o, _ in differentiable], list(inputs),
                      [g for _, g in differentiable], retain_graph=retain_graph,
                      create_graph=create_graph, allow_unused=True)
    else:
        grads = (None,) * len(inputs)
    result = []
    for i, (g, x) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The {what} of the user-provided function is independent "
                                   f"of input {i}. This is not allowed in strict mode.")
            g = fastdl.zeros_like(x)
        result.append(g)
    return tuple(result)


def _call(func, inputs, fn_name: str):
    with enable_grad():
        outputs = func(*inputs)
    return _as_tuple(outputs, "outputs of the user-provided function", fn_name)


def _check_v(v, like, fn_name: str):
    is_tuple, vs = _as_tuple(v, "v", fn_name)
    if len(vs) != len(like):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got "
                           f"{len(vs)}.")
    for i, (a, b) in enumerate(zip(vs, like)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {tuple(b.shape)} "
                               f"but got {tuple(a.shape)}.")
    return vs


def _input_direction(v, inputs, fn_name: str):
    """``v`` checked against ``inputs``; None is allowed for one single-element input."""
    if v is not None:
        return _check_v(v, inputs, fn_name)
    if len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")
    return (fastdl.ones_like(inputs[0]),)


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product, shaped like ``inputs``."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare_inputs(inputs, create_graph)
    outputs_tuple, outputs = _call(func, inputs, "vjp")
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        vs = (fastdl.ones_like(outputs[0]),)
    else:
        vs = _check_v(v, outputs, "vjp")
    with enable_grad():
        grads = _vector_jacobian(outputs, inputs, vs, create_graph, strict, "output")
    return (_pack(_finish(outputs, create_graph), outputs_tuple),
            _pack(_finish(grads, create_graph), inputs_tuple))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``, by the double-vjp trick torch uses: differentiate
    ``u -> J^T u`` (linear in ``u``) in the direction ``v``."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare_inputs(inputs, create_graph)
    vs = _input_direction(v, inputs, "jvp")
    outputs_tuple, outputs = _call(func, inputs, "jvp")
    with enable_grad():
        dummies = tuple(fastdl.zeros_like(o).requires_grad_(True) for o in outputs)
        grads = _vector_jacobian(outputs, inputs, dummies, True, strict, "output")
        result = _vector_jacobian(grads, dummies, vs, create_graph, strict,
                                  "gradient")
    return (_pack(_finish(outputs, create_graph), outputs_tuple),
            _pack(_finish(result, create_graph), outputs_tuple))


def _pack(values, is_tuple: bool):
    return tuple(values) if is_tuple else values[0]


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian: for one input and one output a tensor of shape ``out.shape + in.shape``;
    otherwise ``result[i][j]`` = d output i / d input j (tuples as torch nests them)."""
    if strategy not in ("forward-mode", "reverse-mode"):  # torch raises AssertionError here
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                         "Hint: If your function has more outputs than inputs, "
                         '"forward-mode" tends to be more performant. Otherwise, prefer to '
                         'use "reverse-mode".')
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare_inputs(inputs, create_graph)
    outputs_tuple, outputs = _call(func, inputs, "jacobian")
    rows = []
    with enable_grad():
        for out in outputs:
            per_input = jacobian_blocks(out, inputs, create_graph, strict)
            rows.append(_pack(_finish(per_input, create_graph), inputs_tuple))
    return _pack(rows, outputs_tuple)


def jacobian_blocks(out, inputs, create_graph: bool, strict: bool = False):
    """d out / d inputs[j] for every j, shaped ``out.shape + inputs[j].shape``: one
    vector-Jacobian product per element of ``out`` (also used by fastdl.func.jacrev)."""
    flat_rows = []
    for k in range(out.numel()):
        seed = fastdl.zeros(out.numel(), dtype=out.dtype)
        seed.data[k] = 1
        flat_rows.append(_vector_jacobian((out,), inputs, (seed.reshape(out.shape),),
                                          create_graph, strict, "output"))
    per_input = []
    for j, x in enumerate(inputs):
        if flat_rows:
            stacked = fastdl.stack([row[j] for row in flat_rows])
        else:
            stacked = fastdl.zeros((0,) + tuple(x.shape), dtype=x.dtype)
        per_input.append(stacked.reshape(tuple(out.shape) + tuple(x.shape)))
    return per_input


def _scalar_output(func, fn_name: str):
    def wrapped(*inputs):
        is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                      fn_name)
        if is_tuple or outputs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                               "contain a single element")
        return outputs[0].reshape(())
    return wrapped


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function: the Jacobian of its gradient (``in.shape * 2`` for
    one input, ``result[i][j]`` blocks for a tuple)."""
    inputs_tuple, inputs_values = _as_tuple(inputs, "inputs", "hessian")
    scalar_func = _scalar_output(func, "hessian")

    def gradient(*xs):
        out = scalar_func(*xs)
        return _vector_jacobian((out,), xs, (fastdl.ones_like(out),), True, strict, "output")

    result = jacobian(gradient, inputs_values, create_graph=create_graph, strict=strict,
                      strategy=outer_jacobian_strategy)
    return result if inputs_tuple else result[0][0]


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for a scalar function."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp", transpose=False)


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar function (equal to vhp: H is symmetric for twice
    continuously differentiable functions; computed as torch does, by the double-vjp trick)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp", transpose=True)


def _hessian_product(func, inputs, v, create_graph, strict, fn_name, transpose: bool):
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare_inputs(inputs, create_graph)
    vs = _input_direction(v, inputs, fn_name)
    with enable_grad():
        out = _scalar_output(func, fn_name)(*inputs)
        grads = _vector_jacobian((out,), inputs, (fastdl.ones_like(out),), True, strict,
                                 "output")
        if transpose:  # H v: u -> u^T H is linear in u; differentiate it in the direction v
            dummies = tuple(fastdl.zeros_like(x).requires_grad_(True) for x in inputs)
            double = _vector_jacobian(grads, inputs, dummies, True, strict, "jacobian")
            result = _vector_jacobian(double, dummies, vs, create_graph, strict, "hessian")
        else:
            result = _vector_jacobian(grads, inputs, vs, create_graph, strict, "jacobian")
    return (_finish((out,), create_graph)[0], _pack(_finish(result, create_graph), inputs_tuple))
