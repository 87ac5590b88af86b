"""torch's top-level in-place functions (``torch.sin_(x)``, ``torch.clamp_(x, 0, 1)`` ...):
each is the Tensor method of the same name called on its first argument, so autograd's
in-place rules (version counters, leaf checks) are the method's."""
from __future__ import annotations

import inspect

from fastdl._argcheck import check_tensor_arg
from fastdl.tensor import Tensor

# name: (example input, extra arguments), both as source text for the docstring example
_UNIT = ("[0.5, 0.25]", "")
_TABLE = {
    **{name: _UNIT for name in (
        "abs_", "acos_", "arccos_", "arcsin_", "arcsinh_", "arctan_", "arctanh_", "asin_",
        "asinh_", "atan_", "atanh_", "ceil_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_",
        "exp2_", "exp_", "expm1_", "fix_", "floor_", "frac_", "i0_", "log10_", "log1p_",
        "log2_", "log_", "logit_", "neg_", "negative_", "rad2deg_", "reciprocal_", "round_",
        "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_",
        "trunc_")},
    "acosh_": ("[1.0, 2.0]", ""), "arccosh_": ("[1.0, 2.0]", ""),
    "clamp_": ("[-1.0, 3.0]", ", 0.0, 1.0"), "clip_": ("[-1.0, 3.0]", ", 0.0, 1.0"),
    "clamp_min_": ("[-1.0, 3.0]", ", 0.0"), "clamp_max_": ("[-1.0, 3.0]", ", 1.0"),
    "nan_to_num_": ("[float('nan'), float('inf')]", ", 0.0, 9.0"),
    "gcd_": ("[4, 6]", ", fastdl.tensor([6, 9])"), "lcm_": ("[4, 6]", ", fastdl.tensor([6, 9])"),
    "ldexp_": ("[1.0, 2.0]", ", fastdl.tensor([1, 2])"),
    "xlogy_": ("[0.0, 2.0]", ", fastdl.tensor([0.0, 3.0])"),
    "fill_": ("[1.0, 2.0]", ", 7.0"),
}
_SPECIAL_EXAMPLES = {
    "zero_": ">>> x = fastdl.ones(2); fastdl.zero_(x) is x, x.tolist()\n(True, [0.0, 0.0])",
    "detach_": (">>> x = fastdl.ones(2, requires_grad=True) * 2\n"
                ">>> fastdl.detach_(x) is x, x.requires_grad\n(True, False)"),
}


def _example(name):
    if name in _SPECIAL_EXAMPLES:
        return _SPECIAL_EXAMPLES[name]
    data, args = _TABLE[name]
    # the out-of-place function is the reference: the example shows the two agree
    return (f">>> x = fastdl.tensor({data}); want = fastdl.{name[:-1]}(x{args})\n"
            f">>> fastdl.{name}(x{args}) is x, fastdl.equal(x, want)\n(True, True)")


def _inplace(name):
    method = getattr(Tensor, name)

    def op(input, *args, **kwargs):
        return method(check_tensor_arg(input, name), *args, **kwargs)

    op.__name__ = op.__qualname__ = name
    op.__signature__ = inspect.signature(method)
    op.__doc__ = (f"``input.{name}(...)``: {name[:-1]} written into ``input``, which is "
                  f"returned.\n\n{_example(name)}\n")
    return op


INPLACE = {name: _inplace(name) for name in sorted([*_TABLE, *_SPECIAL_EXAMPLES])}
globals().update(INPLACE)
__all__ = sorted(INPLACE)
