"""float64 samples of the convolution ops (gradcheck, gradgradcheck and torch comparison through
test_op_registry.py): small shapes that still cover stride, padding ('same' with an even kernel
too), dilation, groups, depthwise, 1-D/3-D and transposed convolutions with output_padding."""
from op_samples import G, U, sample, vjp_at

sample("convolution", "conv2d_stride_pad_groups",
       lambda L, x, w, b: L.F.conv2d(x, w, b, stride=2, padding=1, groups=2),
       lambda r: [U(r, (1, 4, 5, 5)), U(r, (4, 2, 3, 3)), U(r, (4,))])
sample("convolution", "conv2d_dilation_same_even_kernel",
       lambda L, x, w: L.F.conv2d(x, w, padding="same", dilation=(1, 2)),
       lambda r: [U(r, (2, 2, 4, 5)), U(r, (3, 2, 2, 2))])
sample("convolution", "conv2d_depthwise_odd",
       lambda L, x, w, b: L.F.conv2d(x, w, b, stride=2, padding=1, dilation=2, groups=3),
       lambda r: [U(r, (1, 3, 7, 7)), U(r, (3, 1, 3, 3)), U(r, (3,))])
sample("convolution", "conv1d_unbatched",
       lambda L, x, w, b: L.F.conv1d(x, w, b, stride=2),
       lambda r: [U(r, (3, 8)), U(r, (2, 3, 3)), U(r, (2,))])
sample("convolution", "conv3d_pointwise_and_3x3",
       lambda L, x, w, v: L.F.conv3d(L.F.conv3d(x, w), v, padding=1),
       lambda r: [U(r, (1, 2, 3, 3, 2)), U(r, (2, 2, 1, 1, 1)), U(r, (1, 2, 2, 2, 2))])
sample("convolution", "conv_transpose2d_output_padding_groups",
       lambda L, x, w, b: L.F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,
                                               groups=2),
       lambda r: [U(r, (1, 4, 3, 3)), U(r, (4, 1, 3, 3)), U(r, (2,))])
sample("convolution", "conv_transpose1d_output_padding_over_stride",
       lambda L, x, w: L.F.conv_transpose1d(x, w, dilation=2, output_padding=1),
       lambda r: [U(r, (2, 2, 4)), U(r, (2, 3, 2))])
# The weight gradient and the bias gradient run inside the convolution's backward: sampled as
# the first derivatives of a convolution (linear in g; the other factor held fixed as needed).
sample("convolution_backward_weight", "grad_of_conv2d_wrt_weight",
       lambda L, x, w, g: vjp_at(L, lambda w: L.F.conv2d(x, w, stride=2, padding=1, groups=2),
                                 [w], g),
       lambda r: [U(r, (1, 4, 5, 5)), U(r, (4, 2, 3, 3)), G(r, (1, 4, 3, 3))], nograd=(1,))
sample("convolution_backward_weight", "grad_of_conv_transpose1d_wrt_weight",
       lambda L, x, w, g: vjp_at(L, lambda w: L.F.conv_transpose1d(x, w, stride=2,
                                                                  output_padding=1), [w], g),
       lambda r: [U(r, (2, 2, 3)), U(r, (2, 3, 2)), G(r, (2, 3, 7))], nograd=(1,))
sample("convolution_backward_bias", "grad_of_conv2d_wrt_bias",
       lambda L, x, w, b, g: vjp_at(L, lambda b: L.F.conv2d(x, w, b), [b], g),
       lambda r: [U(r, (2, 2, 4, 4)), U(r, (3, 2, 3, 3)), U(r, (3,)), G(r, (2, 3, 2, 2))],
       nograd=(0, 1, 2))
