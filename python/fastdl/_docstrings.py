"""Docstrings for the public functions, ``Tensor`` attributes and ``nn`` classes that are
defined tersely in code (one line per op in a table, a lambda, a generated method). Each entry
says what the name does, with shapes, and shows a short example. ``apply()`` runs once at import
and fills in only what has no docstring of its own, so a docstring written next to the code
always wins. tests/test_first_contact.py checks that every public name ends up with one and
that its example runs.
"""
from __future__ import annotations

import inspect

# ---- functions (fastdl.NAME and, where it exists, Tensor.NAME) ------------------------------
_ELEMENTWISE = {
    "abs": "|x|", "ceil": "the smallest integer >= x", "cos": "cos(x)", "exp": "e**x",
    "expm1": "e**x - 1, accurate near 0", "floor": "the largest integer <= x", "log": "ln(x)",
    "log10": "log base 10", "log1p": "ln(1 + x), accurate near 0", "log2": "log base 2",
    "neg": "-x", "negative": "-x", "reciprocal": "1 / x", "relu": "max(x, 0)",
    "rsqrt": "1 / sqrt(x)", "sigmoid": "1 / (1 + e**-x)", "sign": "-1, 0 or 1 by the sign of x",
    "sin": "sin(x)", "sqrt": "the square root", "tan": "tan(x)", "tanh": "tanh(x)",
    "trunc": "x rounded toward 0", "isfinite": "True where x is neither inf nor NaN",
    "isinf": "True where x is +-inf", "isnan": "True where x is NaN",
    "logical_not": "True where x is 0/False", "bitwise_not": "~x (integers and bools)",
}
_BINARY = {
    "add": "input + alpha * other (keyword alpha=1)", "sub": "input - alpha * other",
    "subtract": "input - alpha * other", "mul": "input * other", "multiply": "input * other",
    "div": "input / other (rounding_mode=None, 'trunc' or 'floor')", "divide": "input / other",
    "true_divide": "input / other (always floating point)",
    "floor_divide": "floor(input / other); integer division by zero raises",
    "pow": "input ** exponent", "maximum": "the elementwise larger value (NaN propagates)",
    "minimum": "the elementwise smaller value (NaN propagates)",
    "eq": "input == other (bool)", "ne": "input != other (bool)", "lt": "input < other (bool)",
    "le": "input <= other (bool)", "gt": "input > other (bool)", "ge": "input >= other (bool)",
    "logical_and": "both non-zero (bool)", "logical_or": "either non-zero (bool)",
    "logical_xor": "exactly one non-zero (bool)", "bitwise_and": "input & other",
    "bitwise_or": "input | other", "bitwise_xor": "input ^ other",
}
_REDUCTIONS = {
    "sum": "the sum", "mean": "the mean (floating point inputs)",
    "std": "the standard deviation (correction=1: Bessel's)",
    "amax": "the largest value (gradient shared among ties)",
    "amin": "the smallest value (gradient shared among ties)",
    "all": "True when every element is non-zero", "any": "True when some element is non-zero",
    "count_nonzero": "the number of non-zero elements",
    "argmax": "the index of the largest value (first one on ties; int64)",
    "argmin": "the index of the smallest value (first one on ties; int64)",
}

_DOCS = {
    # comparisons / checks
    "allclose": "allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool\n\nTrue "
                "when |input - other| <= atol + rtol * |other| everywhere (shapes broadcast)."
                "\n\n>>> fastdl.allclose(fastdl.tensor([1.0]), fastdl.tensor([1.0 + 1e-9]))\n"
                "True",
    "equal": "equal(input, other) -> bool\n\nTrue when both have the same shape and elements."
             "\n\n>>> fastdl.equal(fastdl.ones(2), fastdl.ones(2))\nTrue",
    "min": "min(input) -> Tensor; min(input, dim, keepdim=False) -> (values, indices); "
           "min(input, other) -> elementwise minimum.\n\n>>> fastdl.min(fastdl.tensor([3.0, "
           "1.0])).item()\n1.0",
    # linear algebra
    "bmm": "bmm(input, mat2) -> Tensor\n\nBatched product: input (b, n, m) @ mat2 (b, m, p) -> "
           "(b, n, p), on fastdl's GEMM.\n\n>>> fastdl.bmm(fastdl.ones(2, 3, 4), fastdl.ones(2, "
           "4, 5)).shape\n(2, 3, 5)",
    "mm": "mm(input, mat2) -> Tensor\n\nMatrix product: input (n, m) @ mat2 (m, p) -> (n, p)."
          "\n\n>>> fastdl.mm(fastdl.ones(2, 3), fastdl.ones(3, 4)).shape\n(2, 4)",
    "dot": "dot(input, other) -> Tensor\n\nInner product of two 1-D tensors of equal length (a "
           "0-d result).\n\n>>> fastdl.dot(fastdl.tensor([1.0, 2.0]), fastdl.tensor([3.0, "
           "4.0])).item()\n11.0",
    "outer": "outer(input, vec2) -> Tensor\n\nOuter product: (n,) x (m,) -> (n, m).\n\n>>> "
             "fastdl.outer(fastdl.ones(2), fastdl.ones(3)).shape\n(2, 3)",
    # shapes
    "broadcast_to": "broadcast_to(input, shape) -> Tensor\n\nA view of input broadcast to "
                    "shape (numpy rules; no copy).\n\n>>> fastdl.broadcast_to(fastdl.ones(3), "
                    "(2, 3)).shape\n(2, 3)",
    "expand": "expand(input, *sizes) -> Tensor\n\nA broadcast view; -1 keeps a dimension.\n\n"
              ">>> fastdl.ones(3, 1).expand(3, 4).shape\n(3, 4)",
    "cat": "cat(tensors, dim=0) -> Tensor\n\nJoin tensors along an existing dimension (the "
           "others must agree).\n\n>>> fastdl.cat([fastdl.ones(2, 3), fastdl.zeros(1, 3)])."
           "shape\n(3, 3)",
    "concat": "concat(tensors, dim=0): another name of cat.\n\n>>> fastdl.concat([fastdl."
              "ones(2), fastdl.ones(1)]).shape\n(3,)",
    "concatenate": "concatenate(tensors, axis=0): another name of cat.\n\n>>> fastdl."
                   "concatenate([fastdl.ones(2), fastdl.ones(1)]).shape\n(3,)",
    "stack": "stack(tensors, dim=0) -> Tensor\n\nJoin equally shaped tensors along a new "
             "dimension.\n\n>>> fastdl.stack([fastdl.ones(3), fastdl.ones(3)]).shape\n(2, 3)",
    "chunk": "chunk(input, chunks, dim=0) -> tuple of Tensors\n\nSplit into `chunks` nearly "
             "equal views along dim.\n\n>>> [t.shape for t in fastdl.ones(5).chunk(2)]\n[(3,), "
             "(2,)]",
    "split": "split(input, split_size_or_sections, dim=0) -> tuple of Tensors\n\nViews of "
             "split_size each, or of the given sizes.\n\n>>> [t.shape for t in fastdl.ones(5)."
             "split([2, 3])]\n[(2,), (3,)]",
    "unbind": "unbind(input, dim=0) -> tuple of Tensors\n\nThe slices along dim, that "
              "dimension removed.\n\n>>> len(fastdl.ones(3, 2).unbind())\n3",
    "narrow": "narrow(input, dim, start, length) -> Tensor\n\nA view of `length` entries of "
              "dim from start.\n\n>>> fastdl.arange(5).narrow(0, 1, 2).tolist()\n[1, 2]",
    "contiguous": "contiguous(input) -> Tensor\n\nInput itself if C-contiguous, else a "
                  "C-contiguous copy.\n\n>>> fastdl.ones(2, 3).t().contiguous()."
                  "is_contiguous()\nTrue",
    "flatten": "flatten(input, start_dim=0, end_dim=-1) -> Tensor\n\nDims start..end merged "
               "into one.\n\n>>> fastdl.ones(2, 3, 4).flatten(1).shape\n(2, 12)",
    "unflatten": "unflatten(input, dim, sizes) -> Tensor\n\nDim split into sizes.\n\n>>> "
                 "fastdl.ones(2, 12).unflatten(1, (3, 4)).shape\n(2, 3, 4)",
    "movedim": "movedim(input, source, destination) -> Tensor\n\nA view with dims moved.\n\n"
               ">>> fastdl.ones(2, 3, 4).movedim(0, -1).shape\n(3, 4, 2)",
    "permute": "permute(input, *dims) -> Tensor\n\nA view with the dims reordered.\n\n>>> "
               "fastdl.ones(2, 3, 4).permute(2, 0, 1).shape\n(4, 2, 3)",
    "reshape": "reshape(input, *shape) -> Tensor\n\nThe same elements in a new shape (a view "
               "when possible; one -1 is inferred).\n\n>>> fastdl.arange(6).reshape(2, -1)."
               "shape\n(2, 3)",
    "view": "view(*shape) -> Tensor\n\nLike reshape (fastdl copies where numpy must).\n\n>>> "
            "fastdl.arange(6).view(3, 2).shape\n(3, 2)",
    "squeeze": "squeeze(input, dim=None) -> Tensor\n\nSize-1 dims removed (only `dim` when "
               "given).\n\n>>> fastdl.ones(1, 3, 1).squeeze().shape\n(3,)",
    "unsqueeze": "unsqueeze(input, dim) -> Tensor\n\nA size-1 dim inserted at dim.\n\n>>> "
                 "fastdl.ones(3).unsqueeze(0).shape\n(1, 3)",
    "swapaxes": "swapaxes(input, axis0, axis1): another name of transpose.\n\n>>> fastdl."
                "ones(2, 3).swapaxes(0, 1).shape\n(3, 2)",
    "transpose": "transpose(input, dim0, dim1) -> Tensor\n\nA view with two dims swapped.\n\n"
                 ">>> fastdl.ones(2, 3).transpose(0, 1).shape\n(3, 2)",
    "t": "t(input) -> Tensor\n\nThe transpose of a <= 2-D tensor (a view).\n\n>>> fastdl."
         "ones(2, 3).t().shape\n(3, 2)",
    # indexing
    "gather": "gather(input, dim, index) -> Tensor\n\nout[i][j] = input[index[i][j]][j] for "
              "dim 0 (and so on); out has index's shape.\n\n>>> fastdl.gather(fastdl.tensor([[1,"
              " 2], [3, 4]]), 1, fastdl.tensor([[1], [0]])).tolist()\n[[2], [3]]",
    "index_select": "index_select(input, dim, index) -> Tensor\n\nThe entries of dim at the "
                    "1-D int64 index (negative indices raise, as in torch).\n\n>>> fastdl."
                    "arange(5).index_select(0, fastdl.tensor([4, 0])).tolist()\n[4, 0]",
    "masked_fill": "masked_fill(input, mask, value) -> Tensor\n\nvalue where the bool mask "
                   "(broadcast to input) is True.\n\n>>> fastdl.zeros(3).masked_fill(fastdl."
                   "tensor([True, False, True]), 1.0).tolist()\n[1.0, 0.0, 1.0]",
    "masked_select": "masked_select(input, mask) -> Tensor\n\nThe 1-D tensor of the elements "
                     "where mask is True.\n\n>>> fastdl.arange(3).masked_select(fastdl.tensor"
                     "([True, False, True])).tolist()\n[0, 2]",
    "nonzero": "nonzero(input, as_tuple=False) -> Tensor\n\nThe (n, ndim) int64 indices of "
               "non-zero elements (a tuple of 1-D tensors with as_tuple).\n\n>>> fastdl.tensor"
               "([0, 3, 0, 5]).nonzero().tolist()\n[[1], [3]]",
    "one_hot": "one_hot(tensor, num_classes=-1) -> Tensor\n\nint64 class indices (...) -> "
               "(..., num_classes) of 0/1.\n\n>>> fastdl.nn.functional.one_hot(fastdl.tensor("
               "[0, 2]), 3).tolist()\n[[1, 0, 0], [0, 0, 1]]",
    # activations
    "softmax": "softmax(input, dim, dtype=None) -> Tensor\n\nexp(x) / sum(exp(x)) along dim "
               "(shape kept).\n\n>>> fastdl.softmax(fastdl.zeros(2), 0).tolist()\n[0.5, 0.5]",
    "log_softmax": "log_softmax(input, dim, dtype=None) -> Tensor\n\nx - logsumexp(x) along "
                   "dim, computed stably.\n\n>>> fastdl.log_softmax(fastdl.zeros(2), 0).shape\n"
                   "(2,)",
    "cumsum": "cumsum(input, dim, *, dtype=None) -> Tensor\n\nRunning sums along dim "
              "(integers in int64).\n\n>>> fastdl.tensor([1, 2, 3]).cumsum(0).tolist()\n[1, 3, "
              "6]",
    # creation
    "zeros": "zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor\n\nA tensor "
             "of zeros of shape size (the default dtype: float32).\n\n>>> fastdl.zeros(2, 3)."
             "shape\n(2, 3)",
    "ones": "ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor\n\nA tensor of "
            "ones.\n\n>>> fastdl.ones(2).tolist()\n[1.0, 1.0]",
    "empty": "empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor\n\nAn "
             "uninitialised tensor of shape size.\n\n>>> fastdl.empty(2, 3).shape\n(2, 3)",
    "full": "full(size, fill_value, dtype=None, ...) -> Tensor\n\nA tensor of fill_value (bool,"
            " int64 or the default float dtype by the value's type).\n\n>>> fastdl.full((2,), "
            "7).tolist()\n[7, 7]",
    "eye": "eye(n, m=None, dtype=None, ...) -> Tensor\n\nThe (n, m) identity matrix.\n\n>>> "
           "fastdl.eye(2).tolist()\n[[1.0, 0.0], [0.0, 1.0]]",
    "linspace": "linspace(start, end, steps, dtype=None, ...) -> Tensor\n\nsteps evenly spaced "
                "values from start to end inclusive.\n\n>>> fastdl.linspace(0, 1, 3).tolist()\n"
                "[0.0, 0.5, 1.0]",
    "zeros_like": "zeros_like(input, dtype=None, ...) -> Tensor\n\nZeros of input's shape and "
                  "dtype.\n\n>>> fastdl.zeros_like(fastdl.ones(2)).tolist()\n[0.0, 0.0]",
    "ones_like": "ones_like(input, dtype=None, ...) -> Tensor\n\nOnes of input's shape.\n\n>>> "
                 "fastdl.ones_like(fastdl.zeros(2)).tolist()\n[1.0, 1.0]",
    "empty_like": "empty_like(input, dtype=None, ...) -> Tensor\n\nUninitialised, of input's "
                  "shape.\n\n>>> fastdl.empty_like(fastdl.zeros(2)).shape\n(2,)",
    "full_like": "full_like(input, fill_value, dtype=None, ...) -> Tensor\n\nfill_value in "
                 "input's shape.\n\n>>> fastdl.full_like(fastdl.zeros(2), 3.0).tolist()\n[3.0,"
                 " 3.0]",
    "randn_like": "randn_like(input, dtype=None, ...) -> Tensor\n\nStandard normal samples of "
                  "input's shape.\n\n>>> fastdl.randn_like(fastdl.zeros(2, 3)).shape\n(2, 3)",
    "rand_like": "rand_like(input, dtype=None, ...) -> Tensor\n\nUniform [0, 1) samples of "
                 "input's shape.\n\n>>> fastdl.rand_like(fastdl.zeros(2)).shape\n(2,)",
    # runtime
    "is_grad_enabled": "is_grad_enabled() -> bool\n\nWhether operations record gradients on "
                       "this thread now.\n\n>>> with fastdl.no_grad(): fastdl."
                       "is_grad_enabled()\nFalse",
    "get_num_threads": "get_num_threads() -> int\n\nThe threads fastdl's CPU kernels use.\n\n"
                       ">>> fastdl.get_num_threads() >= 1\nTrue",
}

for _name, _what in _ELEMENTWISE.items():
    _arg = "[1, 2]" if _name.startswith("bitwise") else "[0.5, 2.0]"
    _DOCS[_name] = (f"{_name}(input) -> Tensor\n\nElementwise {_what}; the result has input's "
                    f"shape.\n\n>>> fastdl.{_name}(fastdl.tensor({_arg})).shape\n(2,)")
for _name, _what in _BINARY.items():
    _dt = ", dtype=fastdl.int64" if _name.startswith("bitwise") else ""
    _DOCS[_name] = (f"{_name}(input, other) -> Tensor\n\nElementwise {_what}; shapes broadcast "
                    f"(numpy rules), either operand may be a Python number.\n\n>>> fastdl."
                    f"{_name}(fastdl.ones(2, 3{_dt}), fastdl.ones(3{_dt})).shape\n(2, 3)")
for _name, _what in _REDUCTIONS.items():
    _DOCS[_name] = (f"{_name}(input, dim=None, keepdim=False) -> Tensor\n\n{_what[0].upper()}"
                    f"{_what[1:]} over dim (an int or a tuple; every dim when None): (a, b) "
                    f"with dim=1 -> (a,) or (a, 1) with keepdim.\n\n>>> fastdl.{_name}(fastdl."
                    f"ones(2, 3), 1).shape\n(2,)")

# ---- Tensor-only attributes ------------------------------------------------------------
_TENSOR = {
    "T": "The tensor with all dims reversed (a view; the transpose for 2-D).\n\n>>> fastdl."
         "ones(2, 3).T.shape\n(3, 2)",
    "mT": "The last two dims swapped (a batched transpose view).\n\n>>> fastdl.ones(4, 2, 3)."
          "mT.shape\n(4, 3, 2)",
    "mH": "The conjugate transpose of the last two dims; fastdl's dtypes are real, so mT.\n\n"
          ">>> fastdl.ones(4, 2, 3).mH.shape\n(4, 3, 2)",
    "data": "The underlying numpy (CPU) or cupy (GPU) array, outside autograd; assigning "
            "replaces it.\n\n>>> type(fastdl.ones(2).data).__name__\n'ndarray'",
    "grad": "The accumulated gradient (a Tensor of the same shape) after backward(), or None."
            "\n\n>>> x = fastdl.ones(2, requires_grad=True); x.sum().backward(); x.grad."
            "tolist()\n[1.0, 1.0]",
    "grad_fn": "The node that made this tensor (None for leaves and untracked tensors).\n\n>>> "
               "(fastdl.ones(2, requires_grad=True) * 2).grad_fn is not None\nTrue",
    "requires_grad": "Whether gradients are computed for this tensor.\n\n>>> fastdl.ones(2)."
                     "requires_grad\nFalse",
    "is_leaf": "True for tensors not made by a recorded op (parameters, inputs).\n\n>>> "
               "fastdl.ones(2).is_leaf\nTrue",
    "retains_grad": "Whether a non-leaf keeps its .grad (see retain_grad()).\n\n>>> fastdl."
                    "ones(2).retains_grad\nFalse",
    "shape": "The size of each dim, a tuple.\n\n>>> fastdl.ones(2, 3).shape\n(2, 3)",
    "ndim": "The number of dims.\n\n>>> fastdl.ones(2, 3).ndim\n2",
    "dtype": "The element type (a numpy dtype: fastdl.float32 ...).\n\n>>> fastdl.ones(2)."
             "dtype\ndtype('float32')",
    "device": "'cpu' (numpy array) or 'cuda' (cupy array).\n\n>>> fastdl.ones(2).device\n'cpu'",
    "is_cuda": "True when the data is a cupy array on a GPU.\n\n>>> fastdl.ones(2).is_cuda\n"
               "False",
    "dim": "dim() -> int: the number of dims.\n\n>>> fastdl.ones(2, 3).dim()\n2",
    "numel": "numel() -> int: the number of elements.\n\n>>> fastdl.ones(2, 3).numel()\n6",
    "nelement": "nelement() -> int: the number of elements.\n\n>>> fastdl.ones(2, 3)."
                "nelement()\n6",
    "size": "size(dim=None): the shape, or the size of one dim.\n\n>>> fastdl.ones(2, 3)."
            "size(1)\n3",
    "stride": "stride(dim=None): strides in elements (a tuple, or one dim's).\n\n>>> fastdl."
              "ones(2, 3).stride()\n(3, 1)",
    "element_size": "element_size() -> int: bytes per element.\n\n>>> fastdl.ones(2)."
                    "element_size()\n4",
    "is_contiguous": "is_contiguous() -> bool: C-contiguous memory.\n\n>>> fastdl.ones(2, 3)."
                     "t().is_contiguous()\nFalse",
    "is_floating_point": "is_floating_point() -> bool\n\n>>> fastdl.ones(2)."
                         "is_floating_point()\nTrue",
    "data_ptr": "data_ptr() -> int: the address of the first element.\n\n>>> fastdl.ones(2)."
                "data_ptr() != 0\nTrue",
    "item": "item(): the value of a one-element tensor as a Python number.\n\n>>> fastdl."
            "tensor([2.5]).item()\n2.5",
    "tolist": "tolist(): the data as nested Python lists.\n\n>>> fastdl.arange(3).tolist()\n"
              "[0, 1, 2]",
    "detach_": "detach_() -> Tensor: detach in place (a leaf without grad from now on).\n\n>>> "
               "(fastdl.ones(2, requires_grad=True) * 2).detach_().grad_fn is None\nTrue",
    "requires_grad_": "requires_grad_(requires_grad=True) -> Tensor: set the flag in place "
                      "(floating point leaves).\n\n>>> fastdl.ones(2).requires_grad_()."
                      "requires_grad\nTrue",
    "retain_grad": "retain_grad(): keep .grad for this non-leaf after backward().\n\n>>> y = "
                   "fastdl.ones(2, requires_grad=True) * 2; y.retain_grad()",
    "add_": "add_(other, *, alpha=1) -> Tensor: self += alpha * other in place.\n\n>>> fastdl."
            "ones(2).add_(1).tolist()\n[2.0, 2.0]",
    "sub_": "sub_(other, *, alpha=1) -> Tensor: self -= alpha * other in place.\n\n>>> fastdl."
            "ones(2).sub_(1).tolist()\n[0.0, 0.0]",
    "mul_": "mul_(other) -> Tensor: self *= other in place.\n\n>>> fastdl.ones(2).mul_(3)."
            "tolist()\n[3.0, 3.0]",
    "div_": "div_(other) -> Tensor: self /= other in place.\n\n>>> fastdl.ones(2).div_(2)."
            "tolist()\n[0.5, 0.5]",
    "clamp_": "clamp_(min=None, max=None) -> Tensor: clamp in place.\n\n>>> fastdl.tensor([-1."
              "0, 2.0]).clamp_(0, 1).tolist()\n[0.0, 1.0]",
    "clip_": "clip_(min=None, max=None): another name of clamp_.\n\n>>> fastdl.tensor([3.0])."
             "clip_(max=1).tolist()\n[1.0]",
    "zero_": "zero_() -> Tensor: fill with zeros in place.\n\n>>> fastdl.ones(2).zero_()."
             "tolist()\n[0.0, 0.0]",
    "fill_": "fill_(value) -> Tensor: fill with value in place.\n\n>>> fastdl.zeros(2)."
             "fill_(4).tolist()\n[4.0, 4.0]",
    "copy_": "copy_(src) -> Tensor: copy src's values (broadcast, cast) into self.\n\n>>> "
             "fastdl.zeros(2).copy_(fastdl.ones(2)).tolist()\n[1.0, 1.0]",
    "uniform_": "uniform_(a=0, b=1) -> Tensor: fill with uniform samples in [a, b).\n\n>>> "
                "fastdl.zeros(3).uniform_(-1, 1).shape\n(3,)",
    "normal_": "normal_(mean=0, std=1) -> Tensor: fill with normal samples.\n\n>>> fastdl."
               "zeros(3).normal_().shape\n(3,)",
    "cpu": "cpu() -> Tensor: the tensor in host memory (itself when already there).\n\n>>> "
           "fastdl.ones(2).cpu().device\n'cpu'",
    "cuda": "cuda() -> Tensor: a copy on the GPU (needs cupy and a GPU), of the same shape and "
            "dtype.\n\n>>> x = fastdl.ones(2, 3)\n>>> y = x.cuda() if fastdl.cuda.is_available() "
            "else None\n>>> y is None or (y.device, y.shape) == ('cuda', (2, 3))\nTrue",
    "bool": "bool() -> Tensor: cast to bool.\n\n>>> fastdl.tensor([0, 2]).bool().tolist()\n"
            "[False, True]",
    "int": "int() -> Tensor: cast to int32.\n\n>>> fastdl.tensor([1.7]).int().tolist()\n[1]",
    "long": "long() -> Tensor: cast to int64.\n\n>>> fastdl.tensor([1.7]).long().tolist()\n"
            "[1]",
    "float": "float() -> Tensor: cast to float32.\n\n>>> fastdl.tensor([1]).float().dtype\n"
             "dtype('float32')",
    "double": "double() -> Tensor: cast to float64.\n\n>>> fastdl.tensor([1]).double().dtype\n"
              "dtype('float64')",
    "half": "half() -> Tensor: cast to float16.\n\n>>> fastdl.tensor([1.0]).half().dtype\n"
            "dtype('float16')",
    "type_as": "type_as(other) -> Tensor: cast to other's dtype and moved to its device (other "
               "must be a Tensor).\n\n>>> fastdl.tensor([1])."
               "type_as(fastdl.ones(1)).dtype\ndtype('float32')",
    "expand_as": "expand_as(other) -> Tensor: broadcast view to other's shape.\n\n>>> fastdl."
                 "ones(3).expand_as(fastdl.ones(2, 3)).shape\n(2, 3)",
    "reshape_as": "reshape_as(other) -> Tensor: reshape to other's shape.\n\n>>> fastdl."
                  "arange(6).reshape_as(fastdl.ones(2, 3)).shape\n(2, 3)",
    "view_as": "view_as(other) -> Tensor: view with other's shape.\n\n>>> fastdl.arange(6)."
               "view_as(fastdl.ones(3, 2)).shape\n(3, 2)",
    "new_empty": "new_empty(*size, dtype=None, ...) -> Tensor: uninitialised, this tensor's "
                 "dtype and device.\n\n>>> fastdl.ones(2).new_empty(3).shape\n(3,)",
    "new_full": "new_full(size, fill_value, ...) -> Tensor: fill_value, this tensor's dtype.\n\n"
                ">>> fastdl.ones(2).new_full((2,), 5).tolist()\n[5.0, 5.0]",
    "new_ones": "new_ones(*size, ...) -> Tensor: ones, this tensor's dtype.\n\n>>> fastdl."
                "zeros(1).new_ones(2).tolist()\n[1.0, 1.0]",
    "new_zeros": "new_zeros(*size, ...) -> Tensor: zeros, this tensor's dtype.\n\n>>> fastdl."
                 "ones(1).new_zeros(2).tolist()\n[0.0, 0.0]",
    "new_tensor": "new_tensor(data, ...) -> Tensor: data as a tensor of this tensor's dtype."
                  "\n\n>>> fastdl.ones(1).new_tensor([2]).dtype\ndtype('float32')",
    "clamp": "clamp(min=None, max=None) -> Tensor: values limited to [min, max].\n\n>>> fastdl."
             "tensor([-1.0, 2.0]).clamp(0, 1).tolist()\n[0.0, 1.0]",
    "clip": "clip(min=None, max=None): another name of clamp.\n\n>>> fastdl.tensor([2.0])."
            "clip(max=1).tolist()\n[1.0]",
}

# ---- nn classes (layers whose code is a short forward) ----------------------------------
_NN = {
    "ReLU": ("max(x, 0)", "ReLU()", "(N, *)"),
    "Sigmoid": ("1 / (1 + exp(-x))", "Sigmoid()", "(N, *)"),
    "Tanh": ("tanh(x)", "Tanh()", "(N, *)"),
    "SiLU": ("x * sigmoid(x)", "SiLU()", "(N, *)"),
    "GELU": ("x * Phi(x) (approximate='none' or 'tanh')", "GELU()", "(N, *)"),
    "ELU": ("x if x > 0 else alpha * (exp(x) - 1)", "ELU(alpha=1.0)", "(N, *)"),
    "LeakyReLU": ("x if x > 0 else negative_slope * x", "LeakyReLU(0.01)", "(N, *)"),
    "Softplus": ("log(1 + exp(beta * x)) / beta (linear above threshold)", "Softplus()",
                 "(N, *)"),
    "Softmax": ("exp(x) / sum(exp(x)) along dim", "Softmax(dim=-1)", "(N, C)"),
    "LogSoftmax": ("x - logsumexp(x) along dim", "LogSoftmax(dim=-1)", "(N, C)"),
    "Dropout": ("zero each element with probability p in training, scale the rest by "
                "1 / (1 - p); identity in eval()", "Dropout(p=0.5)", "(N, *)"),
}
_LOSSES = {
    "MSELoss": "mean squared error (input - target)**2",
    "L1Loss": "mean absolute error |input - target|",
    "HuberLoss": "squared error below delta, linear above (reduction over elements)",
    "SmoothL1Loss": "Huber loss divided by beta",
    "BCELoss": "binary cross-entropy of probabilities in [0, 1]",
    "BCEWithLogitsLoss": "binary cross-entropy of logits (a stable sigmoid inside; pos_weight)",
    "KLDivLoss": "Kullback-Leibler divergence, input given as log-probabilities",
}


def _nn_doc(name):
    if name in _NN:
        what, ctor, shape = _NN[name]
        return (f"Applies {what} elementwise (or along dim).\n\nShape: input {shape}, output "
                f"the same shape.\n\n>>> m = fastdl.nn.{ctor}; m(fastdl.randn(2, 3)).shape\n"
                "(2, 3)")
    if name in _LOSSES:
        return (f"The {_LOSSES[name]}.\n\nShape: input (N, *), target the same shape; output a "
                f"scalar with reduction='mean' or 'sum', input's shape with 'none'.\n\n>>> loss "
                f"= fastdl.nn.{name}()\n>>> loss(fastdl.rand(4, 3), fastdl.rand(4, 3)).shape\n()")
    if name == "CrossEntropyLoss":
        return ("Cross-entropy of logits against class indices (or class probabilities); "
                "ignore_index, label_smoothing and class weights as in torch.\n\nShape: input "
                "(N, C) or (N, C, d1, ...), target (N,) int64 indices or input's shape of "
                "probabilities.\n\n>>> loss = fastdl.nn.CrossEntropyLoss()\n>>> loss(fastdl."
                "randn(4, 3), fastdl.tensor([0, 2, 1, 0])).shape\n()")
    if name == "NLLLoss":
        return ("Negative log-likelihood of log-probabilities at the target classes.\n\nShape: "
                "input (N, C), target (N,) int64.\n\n>>> loss = fastdl.nn.NLLLoss()\n>>> loss("
                "fastdl.randn(4, 3).log_softmax(1), fastdl.tensor([0, 2, 1, 0])).shape\n()")
    if name == "MultiMarginLoss":
        return ("Multi-class hinge loss: sum over j != y of max(0, margin - x[y] + x[j])**p / C."
                "\n\nShape: input (N, C), target (N,) int64.\n\n>>> loss = fastdl.nn."
                "MultiMarginLoss()\n>>> loss(fastdl.randn(4, 3), fastdl.tensor([0, 2, 1, 0]))."
                "shape\n()")
    return None


def _own_doc(obj):
    doc = getattr(obj, "__doc__", None)
    return bool(doc and doc.strip())


def _set_function_doc(fn, doc):
    if fn is None or _own_doc(fn) or not callable(fn):
        return
    try:
        fn.__doc__ = doc
    except (AttributeError, TypeError):  # builtins
        pass


def apply():
    import fastdl
    from fastdl import nn
    from fastdl.tensor import Tensor

    for name, doc in _DOCS.items():
        _set_function_doc(getattr(fastdl, name, None), doc)
    for name in set(_DOCS) | set(_TENSOR):
        if name not in vars(Tensor) and not any(name in vars(c) for c in Tensor.__mro__[1:-1]):
            continue
        doc = _TENSOR.get(name) or _DOCS[name]
        attr = inspect.getattr_static(Tensor, name)
        if isinstance(attr, property):
            if not _own_doc(attr):
                setattr(Tensor, name, property(attr.fget, attr.fset, attr.fdel, doc))
        elif inspect.isfunction(attr) and not _own_doc(attr):
            attr.__doc__ = doc
    for name in dir(nn):
        cls = getattr(nn, name)
        if inspect.isclass(cls) and issubclass(cls, nn.Module) and not _own_doc_in(cls):
            doc = _nn_doc(name)
            if doc is not None:
                cls.__doc__ = doc


def _own_doc_in(cls):
    doc = vars(cls).get("__doc__")
    return bool(doc and doc.strip())
