"""torch.func's Jacobians: jacrev (one vector-Jacobian product per output element), jacfwd
(one Jacobian-vector product per input element, mapped with fastdl's vmap as torch does)
and hessian (jacfwd of jacrev). See fastdl._func_transforms for how the calls nest."""
from __future__ import annotations

import functools

from fastdl._func_transforms import _jvp_with_argnums, _pullback, _slice_argnums
from fastdl._pytree import tree_flatten, tree_unflatten
from fastdl._vmap import vmap
from fastdl.autograd.functional import jacobian_blocks
from fastdl.autograd.grad_mode import is_grad_enabled


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None,
           _preallocate_and_copy: bool = False):
    """``f`` -> the function computing the Jacobian of ``f`` with respect to the arguments at
    ``argnums`` by reverse mode. For an output leaf of shape ``O`` and an input leaf of shape
    ``I`` the block has shape ``O + I``; outputs' pytree outside, the inputs' inside (a tuple
    for tuple ``argnums``). With ``has_aux`` the result is ``(jacobian, aux)``.
    ``chunk_size`` is validated; rows are computed one at a time whatever it is.

    >>> x = fastdl.tensor([1., 2.])
    >>> fastdl.func.jacrev(lambda x: x ** 2)(x).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper_fn(*args):
        _, pullback, aux = _pullback(func, args, argnums, has_aux)
        # torch's vjp_fn records a graph when grad mode is on; one is needed only when the
        # Jacobian depends on the caller's tensors (an enclosing transform's, say)
        create_graph = is_grad_enabled() and pullback.outside
        per_output = []
        for out in pullback.outputs:
            blocks = jacobian_blocks(out, pullback.inputs, create_graph)
            if create_graph:
                blocks = pullback.level.unwrap(blocks)
            per_output.append(tree_unflatten(blocks, pullback.in_spec))
        jacobian = tree_unflatten(per_output, pullback.out_spec)
        return (jacobian, aux) if has_aux else jacobian
    return wrapper_fn


def _standard_basis(flat_primals, numels):
    """One one-hot tangent per input element: leaf ``j`` gets shape ``(total,) + shape_j``."""
    total = sum(numels)
    basis, start = [], 0
    for p, n in zip(flat_primals, numels):
        rows = p.detach().new_zeros(total, n)
        for k in range(n):
            rows.data[start + k, k] = 1
        basis.append(rows.reshape((total,) + tuple(p.shape)))
        start += n
    return basis


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """``f`` -> the function computing the Jacobian of ``f`` with respect to the arguments at
    ``argnums``, one Jacobian-vector product (:func:`fastdl.func.jvp`, the double-vjp trick)
    per input element, mapped by vmap with ``randomness`` ('error': a random op in ``f``
    raises; 'same'; 'different'). Shapes and nesting as :func:`jacrev`.

    >>> x = fastdl.tensor([1., 2.])
    >>> fastdl.func.jacfwd(lambda x: x.sum() * x)(x).tolist()
    [[4.0, 1.0], [2.0, 5.0]]
    """
    @functools.wraps(func)
    def wrapper_fn(*args):
        primals = _slice_argnums(args, argnums)
        flat_primals, primals_spec = tree_flatten(primals)
        numels = [p.numel() for p in flat_primals]
        basis = tree_unflatten(_standard_basis(flat_primals, numels), primals_spec)

        def push_jvp(tangents):
            out = _jvp_with_argnums(func, args, tangents, argnums, False, has_aux)
            return (out[1], out[2]) if has_aux else out[1]

        results = vmap(push_jvp, randomness=randomness)(basis)
        aux = None
        if has_aux:
            results, aux = results
            # every column computed the same aux: the first is f's
            aux_leaves, aux_spec = tree_flatten(aux)
            aux = tree_unflatten([a[0] for a in aux_leaves], aux_spec)
        columns, out_spec = tree_flatten(results)
        per_output = []
        for col in columns:
            out_shape = tuple(col.shape[1:])
            pieces = col.movedim(0, -1).split(numels, dim=-1)
            blocks = [piece.reshape(out_shape + tuple(p.shape))
                      for piece, p in zip(pieces, flat_primals)]
            tree = tree_unflatten(blocks, primals_spec)
            per_output.append(tree[0] if isinstance(argnums, int) else tree)
        jacobian = tree_unflatten(per_output, out_spec)
        return (jacobian, aux) if has_aux else jacobian
    return wrapper_fn


def hessian(func, argnums=0):
    """``f`` -> the function computing the Hessian of the scalar ``f`` with respect to the
    arguments at ``argnums``: ``jacfwd(jacrev(f, argnums), argnums)``, shape ``I + I`` for one
    input of shape ``I``.

    >>> fastdl.func.hessian(lambda x: (x ** 3).sum())(fastdl.tensor([1., 2.])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return jacfwd(jacrev(func, argnums), argnums)
