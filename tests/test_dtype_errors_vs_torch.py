"""torch 2.13's dtype rules where it refuses to promote: matrix products, subtraction and
negation of bool, regression losses on integers, normalization parameters of another dtype,
index tensors of another dtype, and hypot/logaddexp with a Python number. Every case runs in
fastdl and torch and compares the outcome: the value's dtype and values, or the exception's
type and message."""
import itertools
import random

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def _outcome(lib, fn):
    try:
        r = fn(lib)
    except Exception as e:  # the point: which exception, with which words
        return type(e).__name__, str(e)
    return "ok", str(r.dtype).replace("torch.", ""), np.asarray(r.detach().tolist()).tolist()


def _same(fn):
    want, got = _outcome(torch, fn), _outcome(fastdl, fn)
    if want[0] == "ok" and got[0] == "ok":
        assert got[1] == want[1]
        np.testing.assert_allclose(got[2], want[2], rtol=1e-5)
    else:
        assert got == want


def _ones(L, shape, dtype="float32"):
    return L.ones(shape, dtype=getattr(L, dtype))


F32, F64, I64 = "float32", "float64", "int64"

PRODUCTS = {
    "mm": lambda L, a, b: L.mm(_ones(L, (2, 3), a), _ones(L, (3, 2), b)),
    "bmm": lambda L, a, b: L.bmm(_ones(L, (2, 2, 3), a), _ones(L, (2, 3, 2), b)),
    "matmul 1d 1d": lambda L, a, b: L.matmul(_ones(L, (3,), a), _ones(L, (3,), b)),
    "matmul 2d 1d": lambda L, a, b: L.matmul(_ones(L, (2, 3), a), _ones(L, (3,), b)),
    "matmul 1d 2d": lambda L, a, b: L.matmul(_ones(L, (3,), a), _ones(L, (3, 2), b)),
    "matmul 3d 2d": lambda L, a, b: L.matmul(_ones(L, (4, 2, 3), a), _ones(L, (3, 2), b)),
    "matmul 3d 1d": lambda L, a, b: L.matmul(_ones(L, (4, 2, 3), a), _ones(L, (3,), b)),
    "matmul 2d 3d": lambda L, a, b: L.matmul(_ones(L, (2, 3), a), _ones(L, (4, 3, 2), b)),
    "operator @": lambda L, a, b: _ones(L, (2, 3), a) @ _ones(L, (3, 2), b),
    "mv": lambda L, a, b: L.mv(_ones(L, (2, 3), a), _ones(L, (3,), b)),
    "dot": lambda L, a, b: L.dot(_ones(L, (3,), a), _ones(L, (3,), b)),
    "vdot": lambda L, a, b: L.vdot(_ones(L, (3,), a), _ones(L, (3,), b)),
    "inner": lambda L, a, b: L.inner(_ones(L, (2, 3), a), _ones(L, (2, 3), b)),
    "inner with a 0-d": lambda L, a, b: L.inner(_ones(L, (), a), _ones(L, (2, 3), b)),
    "outer": lambda L, a, b: L.outer(_ones(L, (3,), a), _ones(L, (2,), b)),
    "tensordot": lambda L, a, b: L.tensordot(_ones(L, (2, 3), a), _ones(L, (3, 2), b), dims=1),
    "tensordot dims=0": lambda L, a, b: L.tensordot(_ones(L, (2,), a), _ones(L, (3,), b), dims=0),
    "linalg.vecdot": lambda L, a, b: L.linalg.vecdot(_ones(L, (3,), a), _ones(L, (3,), b)),
    "multi_dot": lambda L, a, b: L.linalg.multi_dot([_ones(L, (2, 3), a), _ones(L, (3, 2), b)]),
    "einsum matmul": lambda L, a, b: L.einsum("ij,jk->ik", _ones(L, (2, 3), a),
                                              _ones(L, (3, 2), b)),
    "einsum transposed out": lambda L, a, b: L.einsum("ij,jk->ki", _ones(L, (2, 3), a),
                                                      _ones(L, (3, 4), b)),
    "einsum outer (no sum)": lambda L, a, b: L.einsum("i,j->ij", _ones(L, (3,), a),
                                                      _ones(L, (2,), b)),
    "einsum sums before": lambda L, a, b: L.einsum("ij,k->i", _ones(L, (2, 3), a),
                                                   _ones(L, (3,), b)),
    "linear": lambda L, a, b: L.nn.functional.linear(_ones(L, (2, 3), a), _ones(L, (4, 3), b)),
    "linear 3d": lambda L, a, b: L.nn.functional.linear(_ones(L, (5, 2, 3), a),
                                                        _ones(L, (4, 3), b)),
    "linear bias": lambda L, a, b: L.nn.functional.linear(_ones(L, (2, 3), a), _ones(L, (4, 3), a),
                                                          _ones(L, (4,), b)),
    "linear 1d bias": lambda L, a, b: L.nn.functional.linear(_ones(L, (3,), a),
                                                             _ones(L, (4, 3), a), _ones(L, (4,), b)),
    "linear noncontiguous bias": lambda L, a, b: L.nn.functional.linear(
        _ones(L, (3, 5, 3), a).transpose(0, 1), _ones(L, (4, 3), a), _ones(L, (4,), b)),
    "bilinear": lambda L, a, b: L.nn.functional.bilinear(_ones(L, (2, 3), a), _ones(L, (2, 3), a),
                                                         _ones(L, (4, 3, 3), b)),
}


@pytest.mark.parametrize("name", list(PRODUCTS))
@pytest.mark.parametrize("dtypes", [(F32, F64), (F64, F32), (I64, F32), (I64, I64),
                                    ("int32", "int32"), ("bool", "bool")])
def test_products_do_not_promote_like_torch(name, dtypes):
    fn = PRODUCTS[name]
    _same(lambda L: fn(L, *dtypes))


def test_matmul_kernel_choice_follows_strides_and_requires_grad():
    """torch folds a batched operand into one mm/mv only when that needs no copy (or the
    other operand requires grad); the message names the kernel it reached."""
    rng = np.random.default_rng(0)
    for sa, sb, strided, grad_a, grad_b in itertools.product(
            [(3,), (2, 3), (4, 2, 3), (1, 2, 3)], [(3,), (3, 2), (4, 3, 2), (1, 3, 2)],
            [False, True], [False, True], [False, True]):
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            continue
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)

        def fn(L, a=a, b=b):
            x = L.tensor(a, dtype=L.float32)
            y = L.tensor(b, dtype=L.float64)
            if strided and x.ndim >= 3:
                x = x.transpose(0, 1).contiguous().transpose(0, 1)
            x.requires_grad_(grad_a)
            y.requires_grad_(grad_b)
            return x @ y

        _same(fn)


def test_einsum_dtypes_follow_torchs_contraction_order():
    """Random equations over mixed dtypes: torch multiplies (promoting) a pair that shares no
    summed letter and runs bmm (refusing two dtypes) on one that does."""
    rnd = random.Random(3)
    dtypes = ["float32", "float64", "int64", "int32"]
    for _ in range(300):
        sizes = {c: rnd.choice([1, 2, 3]) for c in "abcd"}
        terms = ["".join(rnd.sample("abcd", rnd.randint(0, 3)))
                 for _ in range(rnd.choice([1, 2, 2, 3]))]
        letters = sorted(set("".join(terms)))
        eq = ",".join(terms) + "->" + "".join(rnd.sample(letters, rnd.randint(0, len(letters))))
        arrays = [(np.arange(np.prod([sizes[c] for c in t]), dtype=np.int64).reshape(
            [sizes[c] for c in t]) % 3, rnd.choice(dtypes)) for t in terms]
        _same(lambda L: L.einsum(eq, *[L.tensor(a).to(getattr(L, d)) for a, d in arrays]))


def test_linear_module_gets_input_of_another_dtype():
    def fn(L):
        layer = L.nn.Linear(3, 4)
        return layer(L.ones(2, 3, dtype=L.float64))

    _same(fn)


def test_internal_products_still_run_on_float32_models():
    """The layers built on matmul (attention, recurrent) call it with one dtype."""
    x = fastdl.randn(2, 5, 8)
    attn = fastdl.nn.MultiheadAttention(8, 2, batch_first=True)
    out, _ = attn(x, x, x)
    assert out.dtype == fastdl.float32
    out.sum().backward()
    rnn = fastdl.nn.LSTM(8, 4, batch_first=True)
    assert rnn(x)[0].dtype == fastdl.float32


def _b(L):
    return L.tensor([True, False])


BOOL_SUBTRACTION = {
    "-x": lambda L: -_b(L),
    "neg": lambda L: L.neg(_b(L)),
    "neg_": lambda L: _b(L).neg_(),
    "negative 0-d": lambda L: L.negative(L.tensor(True)),
    "b - b": lambda L: _b(L) - _b(L),
    "b - True": lambda L: _b(L) - True,
    "True - b": lambda L: True - _b(L),
    "b - 1": lambda L: _b(L) - 1,
    "1.5 - b": lambda L: 1.5 - _b(L),
    "b - int tensor": lambda L: _b(L) - L.tensor([1, 2]),
    "float tensor - b": lambda L: L.tensor([1.0, 2.0]) - _b(L),
    "int tensor - True": lambda L: L.tensor([1, 2]) - True,
    "sub alpha": lambda L: L.sub(L.tensor([1, 2]), _b(L), alpha=2),
    "rsub": lambda L: L.rsub(_b(L), 1),
    "rsub tensors": lambda L: L.rsub(L.tensor([1, 2]), _b(L)),
    "sub_": lambda L: L.tensor([1, 2]).sub_(_b(L)),
    "-=": lambda L: _b(L).__isub__(_b(L)),
    "int - int (allowed)": lambda L: L.tensor([1, 2]) - L.tensor([3, 1]),
    "~b (allowed)": lambda L: ~_b(L),
}


@pytest.mark.parametrize("name", list(BOOL_SUBTRACTION))
def test_bool_subtraction_and_negation_like_torch(name):
    _same(BOOL_SUBTRACTION[name])


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("dtypes", [(I64, I64), ("int32", "int32"), ("int32", I64), ("bool", I64),
                                    (I64, "bool"), ("bool", "bool"), (I64, F32), (F32, I64)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_on_integers_like_torch(loss, dtypes, reduction):
    def fn(L):
        a = L.tensor([1, 2]).to(getattr(L, dtypes[0]))
        b = L.tensor([1, 4]).to(getattr(L, dtypes[1]))
        return getattr(L.nn.functional, loss)(a, b, reduction=reduction)

    _same(fn)


def _vec(L, dtype=F32, n=3):
    return L.ones(n, dtype=getattr(L, dtype))


def _x(L, dtype=F32):
    return L.ones(2, 3, 4, dtype=getattr(L, dtype))


NORMS = {
    "bn running stats f64": lambda L: L.nn.functional.batch_norm(_x(L), _vec(L, F64),
                                                                 _vec(L, F64)),
    "bn running var f64": lambda L: L.nn.functional.batch_norm(_x(L), _vec(L), _vec(L, F64)),
    "bn training stats f16": lambda L: L.nn.functional.batch_norm(
        _x(L), _vec(L, "float16"), _vec(L, "float16"), training=True),
    "bn f64 input": lambda L: L.nn.functional.batch_norm(_x(L, F64), _vec(L), _vec(L)),
    "bn f16 input (mixed)": lambda L: L.nn.functional.batch_norm(_x(L, "float16"), _vec(L),
                                                                 _vec(L)),
    "bn weight f64": lambda L: L.nn.functional.batch_norm(_x(L), _vec(L), _vec(L),
                                                          weight=_vec(L, F64)),
    "bn int stats": lambda L: L.nn.functional.batch_norm(_x(L), _vec(L, I64), _vec(L, I64)),
    "bn int input": lambda L: L.nn.functional.batch_norm(_x(L, I64), _vec(L), _vec(L)),
    "ln weight f64": lambda L: L.nn.functional.layer_norm(_x(L), (4,), _vec(L, F64, 4)),
    "ln bias f64": lambda L: L.nn.functional.layer_norm(_x(L), (4,), _vec(L, n=4),
                                                        _vec(L, F64, 4)),
    "ln f16 input (mixed)": lambda L: L.nn.functional.layer_norm(_x(L, "float16"), (4,),
                                                                 _vec(L, n=4)),
    "ln int input": lambda L: L.nn.functional.layer_norm(_x(L, I64), (4,)),
    "ln int input, float weight": lambda L: L.nn.functional.layer_norm(_x(L, I64), (4,),
                                                                       _vec(L, n=4)),
    "gn bias f64": lambda L: L.nn.functional.group_norm(_x(L), 1, _vec(L), _vec(L, F64)),
    "gn f64 input": lambda L: L.nn.functional.group_norm(_x(L, F64), 1, _vec(L)),
    "gn int input": lambda L: L.nn.functional.group_norm(_x(L, I64), 1),
    "in weight f64": lambda L: L.nn.functional.instance_norm(_x(L), weight=_vec(L, F64)),
    "in f64 input": lambda L: L.nn.functional.instance_norm(_x(L, F64), weight=_vec(L)),
    "in running stats f64": lambda L: L.nn.functional.instance_norm(_x(L), _vec(L, F64),
                                                                    _vec(L, F64)),
    "rms_norm weight f64": lambda L: L.nn.functional.rms_norm(_x(L), (4,), _vec(L, F64, 4)),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_normalization_dtype_rules_like_torch(name):
    _same(NORMS[name])


def _m(L):
    return L.arange(6.0).reshape(2, 3)


INDEXING = {
    "index_fill": lambda L, i: _m(L).index_fill(1, i, -1.0),
    "index_fill_": lambda L, i: _m(L).index_fill_(1, i, -1.0),
    "take": lambda L, i: L.take(_m(L), i),
    "take_along_dim": lambda L, i: L.take_along_dim(_m(L), i.reshape(1, 2), 1),
    "put": lambda L, i: _m(L).put(i, L.ones(2)),
    "index_add": lambda L, i: _m(L).index_add(1, i, L.ones(2, 2)),
    "index_put": lambda L, i: _m(L).index_put((i,), L.tensor(1.0)),
}


@pytest.mark.parametrize("name", list(INDEXING))
@pytest.mark.parametrize("dtype", ["float32", "int32", I64, "bool"])
def test_index_dtype_errors_like_torch(name, dtype):
    fn = INDEXING[name]
    _same(lambda L: fn(L, L.tensor([0, 1]).to(getattr(L, dtype))))


@pytest.mark.parametrize("fn", ["hypot", "logaddexp", "logaddexp2"])
@pytest.mark.parametrize("other", [2.0, 2])
def test_binary_ops_without_a_scalar_overload_like_torch(fn, other):
    _same(lambda L: getattr(L, fn)(L.tensor([1.0, 2.0]), other))
    _same(lambda L: getattr(L, fn)(L.tensor([1.0, 2.0]), L.tensor(2.0)))
