"""kl_divergence between distributions of different families (the pairs torch implements
among fastdl's distributions): registered on import, dispatched by kl_divergence."""
from __future__ import annotations

import math

from fastdl.distributions._special import digamma, erf, lgamma
from fastdl.distributions.dirichlet import Beta
from fastdl.distributions.gamma import Exponential, Gamma
from fastdl.distributions.gumbel import Gumbel
from fastdl.distributions.kl import _EULER_GAMMA, _infinite_where, register_kl
from fastdl.distributions.laplace import Laplace
from fastdl.distributions.normal import Normal
from fastdl.distributions.uniform import Uniform

_HALF_LOG_TWO_PI_E = 0.5 * (1 + math.log(2 * math.pi))  # a unit Gaussian's entropy


def _x_log_x(x):
    return x * x.log()


def _gaussian_cross_entropy_terms(mean, second_moment, q):
    """E_p[(x - q.loc)^2] / (2 q.scale^2) from p's mean and E_p[x^2]."""
    return (0.5 * second_moment - q.loc * mean + 0.5 * q.loc.pow(2)) / q.scale.pow(2)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * ratio.log() + ratio + lgamma(q.concentration)
            + q.concentration * _EULER_GAMMA - (1 + _EULER_GAMMA))


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    log_term = 0.5 * (p.rate.pow(2) * q.scale.pow(2) * 2 * math.pi).log()
    mean = p.rate.reciprocal()
    return log_term - 1 + _gaussian_cross_entropy_terms(mean, 2 * mean.pow(2), q)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    a, rate = p.concentration, p.rate
    log_term = 0.5 * (rate.pow(2) * q.scale.pow(2) * 2 * math.pi).log() - a - lgamma(a)
    moments = _gaussian_cross_entropy_terms(a / rate, (a.pow(2) + a) / rate.pow(2), q)
    return log_term + (a - 1) * digamma(a) + moments


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    variance_ratio = p.scale.pow(2) / q.scale.pow(2)
    return (-0.5 * (2 * variance_ratio / math.pi).log() + variance_ratio
            + _gaussian_cross_entropy_terms(p.loc, p.loc.pow(2), q) - 1)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    loc_diff = p.loc - q.loc
    standardized = loc_diff / p.scale
    # E_p|x - q.loc| of a Gaussian: the folded-normal mean
    folded_mean = (math.sqrt(2 / math.pi) * p.scale * (-0.5 * standardized.pow(2)).exp()
                   + loc_diff * erf(math.sqrt(0.5) * standardized))
    return (-(p.scale / q.scale).log() + folded_mean / q.scale
            - 0.5 * (1 + math.log(0.5 * math.pi)))


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_ratio = p.loc / q.scale
    variance_ratio = (p.scale / q.scale).pow(2)
    loc_ratio = q.loc / q.scale
    return (-0.5 * variance_ratio.log() + mean_ratio - loc_ratio
            + (-mean_ratio + 0.5 * variance_ratio + loc_ratio).exp() - _HALF_LOG_TWO_PI_E)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return _infinite_where((q.low > 0.0) | (q.high < 1.0), result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    ratio = q.scale / (p.high - p.low)
    high = (p.high - q.loc) / q.scale
    low = (p.low - q.loc) / q.scale
    return ratio.log() + 0.5 * (high + low) - ratio * ((-high).exp() - (-low).exp())


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return _infinite_where(p.low < 0.0, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    # E_p[log x] = (h log h - l log l - (h - l)) / (h - l)
    mean_log = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    result = (-width.log() + lgamma(q.concentration) - q.concentration * q.rate.log()
              - (q.concentration - 1) * mean_log + q.rate * (p.high + p.low) / 2)
    return _infinite_where(p.low < 0.0, result)
