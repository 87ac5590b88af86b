#pragma once
// Per-channel batch normalization (training statistics) and the fused element-wise work around
// a convolution in a CNN training step: ReLU forward/backward and the SGD update; layer norm
// and the tanh GELU of a transformer block. CPU arrays,
// float or double (one templated body), C-contiguous. A (N, C, *spatial) tensor is viewed as
// (N, C, S): channel c is N rows of S contiguous values.
//
// The batch-norm kernels work one channel at a time (threads over channels): its N*S values are
// read for the statistics and read again for the output while they are still in L2, so a
// training forward reads x about once from memory and writes out once, where the array version
// (mean, x - mean, square, mean, scale, shift) streams it ~6 times.
#include <cstdint>

namespace fastdl::cpu {

// mean[c], invstd[c] = 1/sqrt(biased var + eps) over the channel; out = (x - mean) * invstd *
// weight + bias (weight/bias may be nullptr: 1 and 0). var[c] (biased) also written.
template <typename T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* weight,
                              const T* bias, T eps, T* out, T* mean, T* var, T* invstd);

// Per channel: sum_g[c] = sum(g), sum_gxhat[c] = sum(g * (x - mean) * invstd); and, when
// grad_x is not nullptr, the training-statistics input gradient
//   grad_x = invstd * w * (g - sum_g / m - xhat * sum_gxhat / m),  m = n * s.
template <typename T>
void batch_norm_backward_train(int64_t n, int64_t c, int64_t s, const T* g, const T* x,
                               const T* mean, const T* invstd, const T* weight, T* grad_x,
                               T* sum_g, T* sum_gxhat);

// Layer normalization of `rows` rows of n contiguous values: mean[r], invstd[r] = 1/sqrt(biased
// var + eps) per row; out = (x - mean) * invstd * weight + bias with weight/bias per column
// (nullptr: 1 and 0).
template <typename T>
void layer_norm_forward(int64_t rows, int64_t n, const T* x, const T* weight, const T* bias,
                        T eps, T* out, T* mean, T* invstd);

// Its gradients for an output gradient g: when grad_x is not nullptr, the input gradient
//   grad_x = invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),  dy = g * weight;
// grad_w[j] = sum_r g * xhat, grad_b[j] = sum_r g when not nullptr.
template <typename T>
void layer_norm_backward(int64_t rows, int64_t n, const T* g, const T* x, const T* mean,
                         const T* invstd, const T* weight, T* grad_x, T* grad_w, T* grad_b);

// The tanh GELU: t = tanh(sqrt(2/pi) (x + 0.044715 x^3)) (kept for the gradient), out =
// 0.5 x (1 + t); grad_in = g (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 x^2)).
template <typename T>
void gelu_tanh_forward(int64_t count, const T* x, T* out, T* t);
template <typename T>
void gelu_tanh_backward(int64_t count, const T* g, const T* x, const T* t, T* grad_in);

// out = max(x, 0) (NaN stays NaN, as torch); grad_in = g where out > 0, else 0.
template <typename T>
void relu_forward(int64_t count, const T* x, T* out);
template <typename T>
void relu_backward(int64_t count, const T* g, const T* out, T* grad_in);

// torch.optim.SGD's update of one parameter, in place (buf: the momentum buffer, nullptr when
// momentum == 0; first: the buffer is set to the gradient, as torch's first step):
//   d = (maximize ? -g : g) + weight_decay * p
//   buf = first ? d : momentum * buf + (1 - dampening) * d;  d = nesterov ? d + momentum * buf
//                                                                         : buf
//   p -= lr * d
template <typename T>
void sgd_update(int64_t count, T* param, const T* grad, T* buf, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov, bool maximize, bool first);

// torch.optim.Adam's (decoupled: AdamW's) update of one parameter, in place; max_exp_avg_sq is
// nullptr without amsgrad:
//   p *= 1 - lr * weight_decay (decoupled);  g = (maximize ? -grad : grad) (+ weight_decay * p)
//   m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) g^2;  vmax = max(vmax, v)
//   p -= step_size * m / (sqrt(vmax or v) / bias_correction2_sqrt + eps)
template <typename T>
void adam_update(int64_t count, T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                 T* max_exp_avg_sq, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, bool maximize, double step_size,
                 double bias_correction2_sqrt);

}  // namespace fastdl::cpu
