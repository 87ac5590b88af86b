"""ExponentialFamily: densities exp(<t(x), theta> - F(theta) + k(x)), whose entropy and
same-family KL divergence follow from the log-normalizer F by automatic differentiation
(Bregman divergences; Nielsen & Nock, "Entropies and cross-entropies of exponential
families")."""
from __future__ import annotations

import fastdl
from fastdl.autograd import enable_grad
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.independent import sum_rightmost

__all__ = ["ExponentialFamily"]


def _detached_leaves(params):
    return [p.detach().requires_grad_() for p in params]


class ExponentialFamily(Distribution):
    """Base class: a subclass gives ``_natural_params`` (theta), ``_log_normalizer(*theta)``
    (F) and ``_mean_carrier_measure`` (E[k(x)]); entropy() is then F - <theta, grad F> -
    E[k(x)], and kl_divergence between two members of one family is the Bregman divergence
    of F.

    >>> class Exp(ExponentialFamily):  # Exponential(rate): theta = -rate, F = -log(-theta)
    ...     _mean_carrier_measure = 0
    ...     def __init__(self, rate):
    ...         self.rate = rate
    ...         super().__init__(rate.shape)
    ...     _natural_params = property(lambda self: (-self.rate,))
    ...     def _log_normalizer(self, theta):
    ...         return -(-theta).log()
    >>> Exp(fastdl.tensor([2.0])).entropy().tolist()  # 1 - log(2)
    [0.3068528175354004]
    """

    @property
    def _natural_params(self):
        raise NotImplementedError(f"{type(self).__name__} must implement _natural_params")

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError(f"{type(self).__name__} must implement _log_normalizer")

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError(f"{type(self).__name__} must implement "
                                  f"_mean_carrier_measure")

    def entropy(self):
        """F(theta) - <theta, grad F(theta)> - E[k(x)], computed (as torch does) on detached
        copies of the natural parameters: no gradient reaches the distribution's parameters."""
        with enable_grad():
            params = _detached_leaves(self._natural_params)
            log_normalizer = self._log_normalizer(*params)
            gradients = fastdl.autograd.grad(log_normalizer.sum(), params, create_graph=True)
        result = log_normalizer - self._mean_carrier_measure
        for param, gradient in zip(params, gradients):
            result = result - (param * gradient).reshape(self._batch_shape + (-1,)).sum(-1)
        return result


def bregman_kl(p, q):
    """KL(p || q) of two members of one exponential family: F(theta_q) - F(theta_p) -
    <theta_q - theta_p, grad F(theta_p)>."""
    if type(p) is not type(q):
        raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} "
                                  f"and q type {type(q).__name__}: the cross KL-divergence "
                                  f"between different exponential families cannot be computed "
                                  f"using Bregman divergences")
    with enable_grad():
        p_params = _detached_leaves(p._natural_params)
        log_normalizer = p._log_normalizer(*p_params)
        gradients = fastdl.autograd.grad(log_normalizer.sum(), p_params, create_graph=True)
    q_params = q._natural_params
    result = q._log_normalizer(*q_params) - log_normalizer
    for p_param, q_param, gradient in zip(p_params, q_params, gradients):
        result = result - sum_rightmost((q_param - p_param) * gradient, len(q.event_shape))
    return result
