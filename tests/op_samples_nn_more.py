"""Op samples for the nn ops of activation_more.py (scaled_elu for SELU/CELU, mish, hardswish,
hardsigmoid, hardshrink, softshrink, logsigmoid, threshold_value and their ``*_backward``
ops), logsigmoid again through multilabel_soft_margin_loss, fold.py's im2col/col2im
(unfold/fold) and ctc.py's ctc_loss (see op_samples.py for the format).

The piecewise ops take values away from their breakpoints (hardshrink/softshrink at
+-lambd, threshold at its threshold, hardswish/hardsigmoid at +-3, SELU/CELU at 0), so central
differences are valid. The backward ops of the piecewise-linear activations are, given x,
linear in the upstream gradient: they are sampled at a fixed x (``vjp_at``); those with a
second derivative as a function of both."""
import numpy as np

from op_samples import G, S, U, avoid, sample, vjp_at

# ---- elementwise activations (each with a *_backward op) ----------------------------------
# name: (op, fn, generator of values away from the kinks, piecewise linear?)
_ACT = {
    "selu": ("scaled_elu", lambda L, x: L.F.selu(x), lambda r, s: S(r, s, 0.1, 2.5), False),
    "celu": ("scaled_elu", lambda L, x: L.F.celu(x, alpha=1.5),
             lambda r, s: S(r, s, 0.1, 2.5), False),
    "celu_alpha_0p7": ("scaled_elu", lambda L, x: L.F.celu(x, alpha=0.7),  # 1/alpha inexact
                       lambda r, s: S(r, s, 0.1, 2.5), False),
    "mish": ("mish", lambda L, x: L.F.mish(x), lambda r, s: U(r, s, -4.0, 4.0), False),
    "hardswish": ("hardswish", lambda L, x: L.F.hardswish(x),
                  lambda r, s: avoid(r, s, (-3.0, 3.0), -5.0, 5.0, 0.1), False),
    "hardsigmoid": ("hardsigmoid", lambda L, x: L.F.hardsigmoid(x),
                    lambda r, s: avoid(r, s, (-3.0, 3.0), -5.0, 5.0, 0.1), True),
    "hardshrink": ("hardshrink", lambda L, x: L.F.hardshrink(x),
                   lambda r, s: avoid(r, s, (-0.5, 0.5), -2.0, 2.0), True),
    "hardshrink_lambd_1p2": ("hardshrink", lambda L, x: x.hardshrink(1.2),
                             lambda r, s: avoid(r, s, (-1.2, 1.2), -2.5, 2.5), True),
    "softshrink": ("softshrink", lambda L, x: L.F.softshrink(x, 0.3),
                   lambda r, s: avoid(r, s, (-0.3, 0.3), -2.0, 2.0), True),
    "softshrink_lambd_0": ("softshrink", lambda L, x: L.F.softshrink(x, 0.0),
                           lambda r, s: S(r, s), True),
    "logsigmoid": ("logsigmoid", lambda L, x: L.F.logsigmoid(x),
                   lambda r, s: U(r, s, -6.0, 6.0), False),
    "threshold": ("threshold_value", lambda L, x: L.F.threshold(x, 0.3, -0.7),
                  lambda r, s: avoid(r, s, (0.3,), -2.0, 2.0), True),
    "threshold_value_above": ("threshold_value", lambda L, x: L.F.threshold(x, -0.4, 0.9),
                              lambda r, s: avoid(r, s, (-0.4,), -2.0, 2.0), True),
}
for _name, (_op, _fn, _gen, _linear) in _ACT.items():
    sample(_op, _name + "_3x5", _fn, lambda r, gen=_gen: [gen(r, (3, 5))])
    sample(_op, _name + "_0d", _fn, lambda r, gen=_gen: [gen(r, ())])
    sample(_op, _name + "_2x1x3", _fn, lambda r, gen=_gen: [gen(r, (2, 1, 3))])
    if _linear:  # piecewise linear: the backward op is, given x, linear in g
        sample(f"{_op}_backward", "grad_of_" + _name,
               lambda L, x, g, fn=_fn: vjp_at(L, lambda x: fn(L, x), [x], g),
               lambda r, gen=_gen: [gen(r, (1, 7)), G(r, (1, 7))], nograd=(0,),
               torch=_op != "hardsigmoid")  # torch: hardsigmoid_backward has no derivative
        # x requiring grad too: the first derivative's gradient in x is zero (None) away from
        # the kinks (gradcheck only: gradgradcheck differentiates it again without
        # allow_unused)
        sample(f"{_op}_backward", "grad_of_" + _name + "_wrt_x_and_g",
               lambda L, x, g, fn=_fn: L.grad(fn(L, x), x, g)[0],
               lambda r, gen=_gen: [gen(r, (2, 3)), G(r, (2, 3))], check="grad",
               torch=_op != "hardsigmoid")
    else:
        sample(f"{_op}_backward", "grad_of_" + _name,
               lambda L, x, g, fn=_fn: L.grad(fn(L, x), x, g)[0],
               lambda r, gen=_gen: [gen(r, (1, 7)), G(r, (1, 7))])
        sample(f"{_op}_backward", "grad_of_" + _name + "_at_fixed_input",  # linear in g
               lambda L, x, g, fn=_fn: vjp_at(L, lambda x: fn(L, x), [x], g),
               lambda r, gen=_gen: [gen(r, (2, 3)), G(r, (2, 3))], nograd=(0,))

# in-place forms on non-leaves (apply_inplace)
sample("scaled_elu", "selu_inplace_nonleaf", lambda L, x: L.F.selu(x * 1.0, inplace=True),
       lambda r: [S(r, (3, 5), 0.1, 2.5)])
sample("scaled_elu", "celu_inplace_nonleaf",
       lambda L, x: L.F.celu(x * 1.0, alpha=2.0, inplace=True),
       lambda r: [S(r, (1, 7), 0.1, 2.5)])
sample("mish", "inplace_nonleaf", lambda L, x: L.F.mish(x + 0.0, inplace=True),
       lambda r: [U(r, (3, 5), -4.0, 4.0)])
sample("hardswish", "inplace_nonleaf", lambda L, x: L.F.hardswish(x * 1.0, inplace=True),
       lambda r: [avoid(r, (3, 5), (-3.0, 3.0), -5.0, 5.0, 0.1)])
sample("hardsigmoid", "inplace_nonleaf", lambda L, x: L.F.hardsigmoid(x * 1.0, inplace=True),
       lambda r: [avoid(r, (1, 7), (-3.0, 3.0), -5.0, 5.0, 0.1)])
sample("threshold_value", "inplace_nonleaf",
       lambda L, x: L.F.threshold(x * 1.0, 0.2, 0.5, inplace=True),
       lambda r: [avoid(r, (3, 5), (0.2,), -2.0, 2.0)])
sample("threshold_value", "inplace_function", lambda L, x: L.F.threshold_(x * 1.0, -0.1, 1.5),
       lambda r: [avoid(r, (2, 3), (-0.1,), -2.0, 2.0)])
# the module forms (SELU/CELU/Mish/... in torch.nn) route through the same ops
sample("scaled_elu", "selu_module", lambda L, x: L.nn.SELU()(x),
       lambda r: [S(r, (2, 4), 0.1, 2.5)])
sample("hardshrink", "module", lambda L, x: L.nn.Hardshrink(0.8)(x),
       lambda r: [avoid(r, (2, 4), (-0.8, 0.8), -2.0, 2.0)])
sample("logsigmoid", "module_large_magnitudes", lambda L, x: L.nn.LogSigmoid()(x),
       lambda r: [S(r, (2, 4), 10.0, 30.0)])

# ---- logsigmoid through multilabel_soft_margin_loss ---------------------------------------
_TARGET = np.array([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 1.0],
                    [1.0, 1.0, 0.0, 0.0, 0.0]])
sample("logsigmoid", "multilabel_soft_margin_mean",
       lambda L, x, t: L.F.multilabel_soft_margin_loss(x, t),
       lambda r: [U(r, (3, 5), -4.0, 4.0), _TARGET], nograd=(1,))
sample("logsigmoid", "multilabel_soft_margin_weight_none",
       lambda L, x, w: L.F.multilabel_soft_margin_loss(x, L.const(_TARGET), weight=w,
                                                       reduction="none"),
       lambda r: [U(r, (3, 5), -4.0, 4.0), U(r, (5,), 0.5, 1.5)])
sample("logsigmoid", "multilabel_soft_margin_sum_target_grad",
       lambda L, x, t: L.F.multilabel_soft_margin_loss(x, t, reduction="sum"),
       lambda r: [U(r, (2, 3), -4.0, 4.0), U(r, (2, 3), 0.0, 1.0)])
sample("logsigmoid", "multilabel_soft_margin_1d",
       lambda L, x: L.F.multilabel_soft_margin_loss(x, L.const(_TARGET[0])),
       lambda r: [U(r, (5,), -4.0, 4.0)])

# ---- im2col / col2im (unfold / fold): linear, each the other's backward -------------------
sample("im2col", "kernel_2x3", lambda L, x: L.F.unfold(x, (2, 3)), lambda r: [U(r, (2, 3, 4, 5))])
sample("im2col", "dilation_padding_stride",
       lambda L, x: L.F.unfold(x, (3, 2), dilation=(2, 1), padding=(1, 2), stride=(2, 3)),
       lambda r: [U(r, (1, 2, 5, 7))])
sample("im2col", "unbatched_overlapping", lambda L, x: L.F.unfold(x, 2, padding=1),
       lambda r: [U(r, (3, 3, 2))])
sample("im2col", "module", lambda L, x: L.nn.Unfold(kernel_size=(1, 3), stride=2)(x),
       lambda r: [U(r, (2, 1, 3, 7))])
sample("col2im", "kernel_2x3", lambda L, c: L.F.fold(c, (4, 5), (2, 3)),
       lambda r: [U(r, (2, 18, 9))])
sample("col2im", "dilation_padding_stride",
       lambda L, c: L.F.fold(c, (5, 7), (3, 2), dilation=(2, 1), padding=(1, 2), stride=(2, 3)),
       lambda r: [U(r, (1, 12, 8))])
sample("col2im", "unbatched_overlapping", lambda L, c: L.F.fold(c, (3, 2), 2, padding=1),
       lambda r: [U(r, (12, 12))])
sample("col2im", "module_stride_gaps", lambda L, c: L.nn.Fold((5, 6), (2, 2), stride=3)(c),
       lambda r: [U(r, (2, 8, 4))])
sample("col2im", "grad_of_unfold_at_fixed_input",  # linear in g alone
       lambda L, x, g: vjp_at(L, lambda x: L.F.unfold(x, (2, 2), stride=(1, 2)), [x], g),
       lambda r: [U(r, (1, 2, 3, 5)), G(r, (1, 8, 4))], nograd=(0,))
sample("im2col", "grad_of_fold_at_fixed_input",  # linear in g alone
       lambda L, c, g: vjp_at(L, lambda c: L.F.fold(c, (3, 4), 2), [c], g),
       lambda r: [U(r, (2, 8, 6)), G(r, (2, 2, 3, 4))], nograd=(0,))


# ---- ctc_loss ------------------------------------------------------------------------------
# ctc_loss's gradient is torch's: the gradient for log-probabilities from a log_softmax (it
# differs from the plain derivative by exp(log_probs), which log_softmax's backward removes),
# so the gradchecked samples go through log_softmax. Neither torch nor fastdl has a second
# derivative of ctc_loss: gradcheck only.
def _ctc(L, x, targets, input_lengths, target_lengths, **kw):
    return L.F.ctc_loss(x.log_softmax(-1), targets, input_lengths, target_lengths, **kw)


sample("ctc_loss", "padded_mean",
       lambda L, x, t: _ctc(L, x, t, (6, 5), (3, 2)),
       lambda r: [U(r, (6, 2, 4)), np.array([[1, 2, 3], [3, 1, 0]])], check="grad")
sample("ctc_loss", "concatenated_sum_blank_last",
       lambda L, x, t, il, tl: _ctc(L, x, t, il, tl, blank=3, reduction="sum"),
       lambda r: [U(r, (7, 3, 4)), np.array([0, 1, 1, 2, 0, 2]), np.array([7, 5, 6]),
                  np.array([3, 1, 2])], check="grad")
sample("ctc_loss", "repeated_labels_none",
       lambda L, x, t: _ctc(L, x, t, (5, 5), (2, 2), reduction="none"),
       lambda r: [U(r, (5, 2, 3)), np.array([[1, 1], [2, 1]])], check="grad")
sample("ctc_loss", "unbatched_none",
       lambda L, x, t: _ctc(L, x, t, L.const(np.array(6)), L.const(np.array(3)),
                            reduction="none"),
       lambda r: [U(r, (6, 5)), np.array([4, 2, 4])], check="grad")
sample("ctc_loss", "empty_target_mean",
       lambda L, x, t: _ctc(L, x, t, (4, 3), (0, 2)),
       lambda r: [U(r, (4, 2, 3)), np.array([[1, 2], [2, 1]])], check="grad")
# the second sample cannot be aligned (3 repeated labels need 5 steps): its loss and gradient
# are zeroed
sample("ctc_loss", "zero_infinity_mean",
       lambda L, x, t: _ctc(L, x, t, (5, 3), (2, 3), zero_infinity=True),
       lambda r: [U(r, (5, 2, 4)), np.array([[1, 3, 0], [2, 2, 2]])], check="grad")
sample("ctc_loss", "raw_log_probs_against_torch",
       lambda L, x, t: L.F.ctc_loss(x, t, (6, 4), (2, 2), reduction="sum"),
       lambda r: [U(r, (6, 2, 4), -3.0, -0.1), np.array([[1, 2], [3, 3]])], check="grad",
       not_a_derivative="torch's ctc gradient assumes log_softmax inputs: it differs from the "
                        "derivative by exp(log_probs)")
