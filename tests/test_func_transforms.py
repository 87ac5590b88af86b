"""fastdl.func's differentiation transforms (grad, grad_and_value, vjp, jvp, linearize, jacrev,
jacfwd, hessian) against torch.func 2.13 on the same functions and float64 inputs: values,
shapes, pytree structure, requires_grad of the results, composition (grad of grad,
jacrev of jacrev, per-sample gradients by vmap of grad) and the errors."""
import doctest

import numpy as np
import pytest
import torch

import fastdl
import fastdl._func_jacobians
import fastdl._func_transforms
from api_compare import assert_same

RNG_SEED = 20261201


def _pair(*shapes, seed=RNG_SEED, requires_grad=False):
    """(fastdl tensors, torch tensors) with the same float64 values."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([fastdl.tensor(a.copy(), requires_grad=requires_grad) for a in arrays],
            [torch.tensor(a.copy(), requires_grad=requires_grad) for a in arrays])


def _same(ours, theirs, rtol=1e-10, atol=1e-12, check_requires_grad=True):
    """Same pytree (types, dict keys), shapes, dtypes, values and requires_grad."""
    if theirs is None:
        assert ours is None
        return
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), (ours, theirs)
        for k in theirs:
            _same(ours[k], theirs[k], rtol, atol, check_requires_grad)
        return
    if isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (ours, theirs)
        for o, t in zip(ours, theirs):
            _same(o, t, rtol, atol, check_requires_grad)
        return
    assert isinstance(ours, fastdl.Tensor), type(ours)
    assert_same(ours, theirs, rtol, atol)
    if check_requires_grad:
        assert ours.requires_grad == theirs.requires_grad


def _both(make, *shapes, requires_grad=False):
    """make(lib, func_module, *inputs) for fastdl and torch on the same inputs."""
    ours, theirs = _pair(*shapes, requires_grad=requires_grad)
    return make(fastdl, fastdl.func, *ours), make(torch, torch.func, *theirs)


def _scalar(x, y, lib):
    return (lib.exp(x * 0.3) * y.sum()).sum() + (x ** 2).sum() * (y ** 3).sum()


def _vector(x, lib):
    return lib.tanh(x) * x.sum() + x ** 3


# ---------------------------------------------------------------- grad, grad_and_value

GRAD_CASES = {
    "one_arg": (lambda lib, F, x, y: F.grad(lambda a: (lib.sin(a) * a).sum())(x), [(3, 2), (4,)]),
    "argnum_1": (lambda lib, F, x, y: F.grad(lambda a, b: _scalar(a, b, lib), argnums=1)(x, y),
                 [(3, 2), (4,)]),
    "argnums_tuple": (lambda lib, F, x, y: F.grad(lambda a, b: _scalar(a, b, lib),
                                                  argnums=(1, 0))(x, y), [(3, 2), (4,)]),
    "negative_argnum": (lambda lib, F, x, y: F.grad(lambda a, b: _scalar(a, b, lib),
                                                    argnums=-2)(x, y), [(5,), (1,)]),
    "scalar_input": (lambda lib, F, x, y: F.grad(lambda a, b: a * a * b.sum())(x, y),
                     [(), (2,)]),
    "unused_input": (lambda lib, F, x, y: F.grad(lambda a, b: (b * 2).sum(),
                                                 argnums=(0, 1))(x, y), [(3,), (2,)]),
    "dict_arg": (lambda lib, F, x, y: F.grad(lambda p: (p["w"] * p["b"].sum()).sum()
                                             + (p["w"] ** 3).sum())({"w": x, "b": y}),
                 [(2, 3), (3,)]),
    "nested_tuple_arg": (lambda lib, F, x, y: F.grad(lambda p, q: (p[0] * p[1][0].sum()).sum()
                                                     * q)((x, [y]), x.sum()), [(2,), (3,)]),
    "kwargs_pass_through": (lambda lib, F, x, y: F.grad(lambda a, *, s: (a * s).sum())(x, s=y),
                            [(3,), (3,)]),
    "constant_output": (lambda lib, F, x, y: F.grad(lambda a: lib.ones((), dtype=a.dtype))(x),
                        [(2, 2), (1,)]),
    "has_aux": (lambda lib, F, x, y: F.grad(lambda a: ((a ** 2).sum(), {"t": lib.tanh(a)}),
                                            has_aux=True)(x), [(3,), (1,)]),
    "grad_and_value": (lambda lib, F, x, y: F.grad_and_value(
        lambda a, b: _scalar(a, b, lib), argnums=(0, 1))(x, y), [(2, 3), (3,)]),
    "grad_and_value_aux": (lambda lib, F, x, y: F.grad_and_value(
        lambda a: (a.sum() ** 2, (a * 2, a.mean())), has_aux=True)(x), [(4,), (1,)]),
    "grad_of_grad": (lambda lib, F, x, y: F.grad(lambda a: F.grad(
        lambda b: (lib.sin(b) * b ** 2).sum())(a).sum())(x), [(4,), (1,)]),
    "third_derivative": (lambda lib, F, x, y: F.grad(F.grad(F.grad(lambda a: lib.sin(a) * a)))(
        x.sum()), [(3,), (1,)]),
    # the inner gradient depends on the outer input through the closure: no confusion
    "nested_closure": (lambda lib, F, x, y: F.grad(lambda a: F.grad(
        lambda b: (a * b ** 2).sum())(y[:3] + 1).sum())(x), [(3,), (4,)]),
}


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_grad_matches_torch(case):
    make, shapes = GRAD_CASES[case]
    ours, theirs = _both(make, *shapes)
    _same(ours, theirs)


@pytest.mark.parametrize("case", ["one_arg", "argnums_tuple", "dict_arg", "grad_of_grad",
                                  "nested_closure", "grad_and_value_aux"])
def test_grad_keeps_the_callers_graph(case):
    """Inputs that require grad: the results are differentiable with respect to them."""
    make, shapes = GRAD_CASES[case]
    (ours, ours_in), (theirs, theirs_in) = [
        (make(lib, F, *inp), inp) for lib, F, inp in
        zip((fastdl, torch), (fastdl.func, torch.func), _pair(*shapes, requires_grad=True))]
    _same(ours, theirs)
    leaves_o = [t for t in fastdl._pytree.tree_flatten(ours)[0] if t.requires_grad]
    leaves_t = [t for t in torch.utils._pytree.tree_flatten(theirs)[0] if t.requires_grad]
    assert len(leaves_o) == len(leaves_t) > 0
    sum(((t * t).sum() for t in leaves_o), fastdl.zeros((), dtype=fastdl.float64)).backward()
    sum(((t * t).sum() for t in leaves_t), torch.zeros((), dtype=torch.float64)).backward()
    for a, b in zip(ours_in, theirs_in):
        _same(a.grad, b.grad, check_requires_grad=False)


def test_grad_closure_requires_grad_and_outer_no_grad():
    (x,), (tx,) = _pair((3,))
    (w,), (tw,) = _pair((3,), seed=1, requires_grad=True)
    ours = fastdl.func.grad(lambda a: (w * a.sin()).sum())(x)
    theirs = torch.func.grad(lambda a: (tw * a.sin()).sum())(tx)
    _same(ours, theirs)  # requires grad through w
    with fastdl.no_grad():  # a transform ignores a no_grad around it
        ours = fastdl.func.grad(lambda a: (a ** 3).sum())(x)
    with torch.no_grad():
        theirs = torch.func.grad(lambda a: (a ** 3).sum())(tx)
    _same(ours, theirs)

    def inner_no_grad(lib):
        def f(a):
            with lib.no_grad():
                c = a ** 2
            return (a * c).sum()
        return f
    _same(fastdl.func.grad(inner_no_grad(fastdl))(x), torch.func.grad(inner_no_grad(torch))(tx))


# ---------------------------------------------------------------- per-sample gradients


def _mlp(lib, seed):
    lib.manual_seed(seed)
    return lib.nn.Sequential(lib.nn.Linear(5, 7), lib.nn.Tanh(), lib.nn.Linear(7, 3)).double()


def test_per_sample_gradients_of_an_mlp_match_torch_vmap_grad():
    rng = np.random.default_rng(RNG_SEED)
    f_net, t_net = _mlp(fastdl, 0), _mlp(torch, 0)
    for (name, t), (_, f) in zip(t_net.named_parameters(), f_net.named_parameters()):
        values = rng.standard_normal(tuple(t.shape))
        with torch.no_grad():
            t.copy_(torch.from_numpy(values))
        f.data[...] = values
    x = rng.standard_normal((6, 5))
    y = rng.integers(0, 3, 6)

    def per_sample(lib, F, net):
        params = {k: v.detach() for k, v in net.named_parameters()}

        def loss(p, xi, yi):
            out = F.functional_call(net, p, (xi.unsqueeze(0),))
            return lib.nn.functional.cross_entropy(out, yi.unsqueeze(0))
        return F.vmap(F.grad(loss), in_dims=(None, 0, 0))(params, lib.tensor(x), lib.tensor(y))

    ours, theirs = per_sample(fastdl, fastdl.func, f_net), per_sample(torch, torch.func, t_net)
    _same(ours, theirs)
    assert tuple(ours["0.weight"].shape) == (6, 7, 5)
    # the mean of the per-sample gradients is the batch gradient
    full = torch.nn.functional.cross_entropy(t_net(torch.tensor(x)), torch.tensor(y))
    full.backward()
    _same(ours["2.bias"].mean(0), t_net[2].bias.grad, check_requires_grad=False)


# ---------------------------------------------------------------- vjp


def _two_outputs(lib):
    return lambda a, b: {"prod": a * b.sum() + lib.sin(a), "pair": ((a ** 2).sum() * b, a)}


def test_vjp_matches_torch_for_pytrees_and_reuse():
    (x, y), (tx, ty) = _pair((3, 2), (4,))
    (c1, c2, c3, c4), (t1, t2, t3, t4) = _pair((3, 2), (4,), (3, 2), (3, 2), seed=7)
    out, fn = fastdl.func.vjp(_two_outputs(fastdl), x, y)
    tout, tfn = torch.func.vjp(_two_outputs(torch), tx, ty)
    _same(out, tout)
    _same(fn({"prod": c1, "pair": (c2, c3)}), tfn({"prod": t1, "pair": (t2, t3)}))
    # the graph is kept: a second call with other cotangents
    _same(fn({"prod": c4, "pair": (c2, c1)}), tfn({"prod": t4, "pair": (t2, t1)}))


def test_vjp_has_aux_dict_primal_and_cotangent_gradients():
    def f(lib):
        return lambda p: ((lib.tanh(p["w"]) * p["v"]).sum(1), p["w"].detach() * 2)
    (w, v, ct), (tw, tv, tct) = _pair((2, 3), (3,), (2,))
    out, fn, aux = fastdl.func.vjp(f(fastdl), {"w": w, "v": v}, has_aux=True)
    tout, tfn, taux = torch.func.vjp(f(torch), {"w": tw, "v": tv}, has_aux=True)
    _same((out, aux), (tout, taux))
    _same(fn(ct), tfn(tct))
    ct.requires_grad_(True)
    tct.requires_grad_(True)
    ours, theirs = fn(ct), tfn(tct)
    _same(ours, theirs)  # differentiable in the cotangent
    (ours[0]["w"] ** 2).sum().backward()
    (theirs[0]["w"] ** 2).sum().backward()
    _same(ct.grad, tct.grad, check_requires_grad=False)


# ---------------------------------------------------------------- jvp, linearize

JVP_CASES = {
    "one": (lambda lib: lambda a: _vector(a, lib), [(3, 2)]),
    "two_in_two_out": (lambda lib: lambda a, b: (a * b.sum(), lib.exp(b) * a.mean()),
                       [(2, 3), (4,)]),
    "dict_out": (lambda lib: lambda a, b: {"s": (a ** 2).sum(), "l": [lib.cos(b)]}, [(5,), (2,)]),
    "scalar": (lambda lib: lambda a: a ** 3, [()]),
    "independent_output": (lambda lib: lambda a: (a * 2, lib.ones(2, dtype=a.dtype)), [(3,)]),
    "bool_output": (lambda lib: lambda a: (a > 0, a * a), [(4,)]),
}


@pytest.mark.parametrize("case", sorted(JVP_CASES))
def test_jvp_and_linearize_match_torch(case):
    make, shapes = JVP_CASES[case]
    primals, tprimals = _pair(*shapes)
    tangents, ttangents = _pair(*shapes, seed=3)
    ours = fastdl.func.jvp(make(fastdl), tuple(primals), tuple(tangents))
    theirs = torch.func.jvp(make(torch), tuple(tprimals), tuple(ttangents))
    _same(ours, theirs)
    if case == "bool_output":
        return  # torch's linearize traces with make_fx, which cannot zero a bool tangent
    out, fn = fastdl.func.linearize(make(fastdl), *primals)
    tout, tfn = torch.func.linearize(make(torch), *tprimals)
    _same(out, tout)
    _same(fn(*tangents), tfn(*ttangents))
    other, tother = _pair(*shapes, seed=4)
    _same(fn(*other), tfn(*tother))


def test_jvp_pytree_primals_has_aux_and_caller_graph():
    def f(lib):
        return lambda p, s: ((p["a"] * lib.sin(p["b"])).sum() * s, {"aux": p["b"] * 2})
    (a, b, s, ta_, tb_, ts_), (xa, xb, xs, ya, yb, ys) = _pair((3,), (3,), (), (3,), (3,), (),
                                                              requires_grad=True)
    ours = fastdl.func.jvp(f(fastdl), ({"a": a, "b": b}, s), ({"a": ta_, "b": tb_}, ts_),
                           has_aux=True)
    theirs = torch.func.jvp(f(torch), ({"a": xa, "b": xb}, xs), ({"a": ya, "b": yb}, ys),
                            has_aux=True)
    _same(ours, theirs)
    ours[1].backward()
    theirs[1].backward()
    for o, t in zip((a, b, s, ta_, tb_, ts_), (xa, xb, xs, ya, yb, ys)):
        _same(o.grad, t.grad, check_requires_grad=False)


# ---------------------------------------------------------------- jacrev, jacfwd, hessian

JAC_CASES = {
    "vector": (lambda lib: lambda a: _vector(a, lib), [(3, 2)], 0),
    "scalar_out": (lambda lib: lambda a, b: _scalar(a, b, lib), [(3,), (2, 2)], (0, 1)),
    "scalar_in": (lambda lib: lambda a: lib.stack([a, a ** 2, lib.sin(a)]), [()], 0),
    "argnum_1": (lambda lib: lambda a, b: a.sum() * lib.cos(b), [(2,), (3, 1)], 1),
    "pytree_out": (lambda lib: lambda a, b: {"x": a * b[0], "y": (b.sum() * a.sum(),)},
                   [(2, 3), (4,)], (1, 0)),
    "dict_in": (lambda lib: lambda p: p["u"] * p["v"].sum() + p["u"] ** 2, [(2, 2), (3,)], 0),
    "empty_in": (lambda lib: lambda a, b: b * a.sum(), [(0,), (3,)], 0),
}


def _jac_args(case, lib, inputs):
    if case == "dict_in":
        return ({"u": inputs[0], "v": inputs[1]},)
    return tuple(inputs)


@pytest.mark.parametrize("case", sorted(JAC_CASES))
@pytest.mark.parametrize("kind", ["jacrev", "jacfwd"])
def test_jacobians_match_torch(case, kind):
    make, shapes, argnums = JAC_CASES[case]
    ours_in, theirs_in = _pair(*shapes)
    if (kind, case) == ("jacfwd", "empty_in"):
        # torch's vmap cannot map over an empty basis (it raises from select()); fastdl's
        # runs f once to learn the shapes, and the Jacobian is empty
        ours = fastdl.func.jacfwd(make(fastdl), argnums)(*ours_in)
        assert tuple(ours.shape) == (3, 0)
        return
    ours = getattr(fastdl.func, kind)(make(fastdl), argnums)(*_jac_args(case, fastdl, ours_in))
    theirs = getattr(torch.func, kind)(make(torch), argnums)(*_jac_args(case, torch, theirs_in))
    _same(ours, theirs)


@pytest.mark.parametrize("chunk_size", [None, 1, 2, 100])
def test_jacrev_has_aux_and_chunk_size(chunk_size):
    def f(lib):
        return lambda a: (lib.tanh(a) * a.sum(), {"n": a.norm()})
    (x,), (tx,) = _pair((5,))
    ours = fastdl.func.jacrev(f(fastdl), has_aux=True, chunk_size=chunk_size)(x)
    theirs = torch.func.jacrev(f(torch), has_aux=True, chunk_size=chunk_size)(tx)
    _same(ours, theirs)


@pytest.mark.parametrize("randomness", ["error", "same", "different"])
def test_jacfwd_has_aux_and_randomness(randomness):
    def f(lib):
        return lambda a, b: (lib.sin(a) * b, [a.sum() * 3])
    (x, y), (tx, ty) = _pair((3,), (3,))
    ours = fastdl.func.jacfwd(f(fastdl), (0, 1), True, randomness=randomness)(x, y)
    theirs = torch.func.jacfwd(f(torch), (0, 1), True, randomness=randomness)(tx, ty)
    _same(ours, theirs)


@pytest.mark.parametrize("case", ["vector", "argnum_1", "dict_in", "pytree_out"])
def test_jacrev_of_jacrev_and_jacfwd_of_jacrev(case):
    make, shapes, argnums = JAC_CASES[case]
    ours_in, theirs_in = _pair(*shapes)
    for outer in ("jacrev", "jacfwd"):
        ours = getattr(fastdl.func, outer)(fastdl.func.jacrev(make(fastdl), argnums), argnums)(
            *_jac_args(case, fastdl, ours_in))
        theirs = getattr(torch.func, outer)(torch.func.jacrev(make(torch), argnums), argnums)(
            *_jac_args(case, torch, theirs_in))
        _same(ours, theirs)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_hessian_matches_torch_and_autograd_functional(argnums):
    (x, y), (tx, ty) = _pair((3,), (2, 2))
    ours = fastdl.func.hessian(lambda a, b: _scalar(a, b, fastdl), argnums)(x, y)
    theirs = torch.func.hessian(lambda a, b: _scalar(a, b, torch), argnums)(tx, ty)
    _same(ours, theirs)
    # a vector output is allowed: one Hessian per output element
    _same(fastdl.func.hessian(lambda a, b: fastdl.sin(a) * b.sum(), argnums)(x, y),
          torch.func.hessian(lambda a, b: torch.sin(a) * b.sum(), argnums)(tx, ty))
    if argnums == (0, 1):
        from fastdl.autograd.functional import hessian
        _same(hessian(lambda a, b: _scalar(a, b, fastdl), (x, y)),
              torch.autograd.functional.hessian(lambda a, b: _scalar(a, b, torch), (tx, ty)))


def test_vmap_of_jacrev_and_grad_of_vmap():
    (x, w), (tx, tw) = _pair((4, 3), (3,))
    _same(fastdl.func.vmap(fastdl.func.jacrev(lambda a: fastdl.tanh(a * w)))(x),
          torch.func.vmap(torch.func.jacrev(lambda a: torch.tanh(a * tw)))(tx))
    _same(fastdl.func.grad(lambda v: fastdl.func.vmap(lambda r: (r * v).sum().sin())(x).sum())(w),
          torch.func.grad(lambda v: torch.func.vmap(lambda r: (r * v).sum().sin())(tx).sum())(tw))


# ---------------------------------------------------------------- errors

ERROR_CASES = {
    "grad_vector_output": lambda lib, F, x: F.grad(lambda a: a * 2)(x),
    "grad_float_output": lambda lib, F, x: F.grad(lambda a: 1.0)(x),
    "grad_aux_not_pair": lambda lib, F, x: F.grad(lambda a: a.sum(), has_aux=True)(x),
    "grad_aux_not_tensor": lambda lib, F, x: F.grad(lambda a: (a.sum(), 3), has_aux=True)(x),
    "grad_aux_none": lambda lib, F, x: F.grad(lambda a: (a.sum(), None), has_aux=True)(x),
    "argnum_out_of_range": lambda lib, F, x: F.grad(lambda a: a.sum(), argnums=1)(x),
    "argnums_repeated": lambda lib, F, x: F.grad(lambda a: a.sum(), argnums=(0, 0))(x),
    "argnums_empty": lambda lib, F, x: F.grad(lambda a: a.sum(), argnums=())(x),
    "argnums_float": lambda lib, F, x: F.grad(lambda a: a.sum(), argnums=0.5)(x),
    "argnums_tuple_of_float": lambda lib, F, x: F.grad(lambda a: a.sum(), argnums=(0.0,))(x),
    "no_args": lambda lib, F, x: F.grad(lambda: x.sum())(),
    "non_tensor_arg": lambda lib, F, x: F.grad(lambda a: a * 2)(3.0),
    "vjp_bool_output": lambda lib, F, x: F.vjp(lambda a: a > 0, x),
    "vjp_float_output": lambda lib, F, x: F.vjp(lambda a: 3.0, x),
    "vjp_none_output": lambda lib, F, x: F.vjp(lambda a: None, x),
    "vjp_empty_output": lambda lib, F, x: F.vjp(lambda a: (), x),
    "vjp_mixed_output": lambda lib, F, x: F.vjp(lambda a: (a, 2), x),
    "vjp_aux_not_pair": lambda lib, F, x: F.vjp(lambda a: a, x, has_aux=True),
    "vjp_cotangent_structure": lambda lib, F, x: F.vjp(lib.sin, x)[1]((lib.ones(3),)),
    "vjp_non_tensor_primal": lambda lib, F, x: F.vjp(lib.sin, 3.0),
    "jvp_primals_not_tuple": lambda lib, F, x: F.jvp(lib.sin, x, x),
    "jvp_structure": lambda lib, F, x: F.jvp(lib.sin, (x,), [x]),
    "jvp_empty_primals": lambda lib, F, x: F.jvp(lib.sin, (), ()),
    "jvp_non_tensor_primal": lambda lib, F, x: F.jvp(lib.sin, (1.0,), (1.0,)),
    "jvp_tangent_shape": lambda lib, F, x: F.jvp(lib.sin, (x,), (x[:2],)),
    "jvp_strict_independent": lambda lib, F, x: F.jvp(lambda a: lib.ones(2), (x,), (x,),
                                                      strict=True),
    "jvp_int_output": lambda lib, F, x: F.jvp(lambda a: 2, (x,), (x,)),
    "jvp_aux_not_pair": lambda lib, F, x: F.jvp(lib.sin, (x,), (x,), has_aux=True),
    "jacrev_chunk_size_0": lambda lib, F, x: F.jacrev(lib.sin, chunk_size=0),
    "jacrev_int_output": lambda lib, F, x: F.jacrev(lambda a: (a * 10).long())(x),
    "jacfwd_random": lambda lib, F, x: F.jacfwd(lambda a: a + lib.rand(3, dtype=a.dtype))(x),
    "jacfwd_bad_randomness": lambda lib, F, x: F.jacfwd(lib.sin, randomness="bad")(x),
}
# messages built from types or shapes torch prints differently (torch.Size): the same type
# and the same start of the message
PREFIX_ONLY = {"vjp_cotangent_shape"}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_match_torch(case):
    (x,), (tx,) = _pair((3,))
    with pytest.raises(Exception) as theirs:
        ERROR_CASES[case](torch, torch.func, tx)
    with pytest.raises(type(theirs.value)) as ours:
        ERROR_CASES[case](fastdl, fastdl.func, x)
    assert str(ours.value) == str(theirs.value)


def test_cotangent_shape_and_int_input_errors():
    (x,), (tx,) = _pair((3,))
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of"):
        fastdl.func.vjp(fastdl.sin, x)[1](fastdl.ones(2, dtype=fastdl.float64))
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require "
                       "gradients"):
        fastdl.func.grad(lambda a: a.sum())(fastdl.arange(3))
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require "
                       "gradients"):
        torch.func.grad(lambda a: a.sum())(torch.arange(3))
    _, fn = fastdl.func.linearize(fastdl.sin, x)
    with pytest.raises(RuntimeError, match="tangent:0 with shape"):
        fn(x[:2])
    with pytest.raises(RuntimeError, match="to have the same argspec as the primals"):
        fn(x, x)


@pytest.mark.parametrize("module", [fastdl._func_transforms, fastdl._func_jacobians])
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
