"""kl_divergence pairs of Cauchy, HalfNormal, Geometric, Pareto, ContinuousBernoulli and of two
members of one ExponentialFamily (the ones torch registers among fastdl's distributions):
registered on import, dispatched by kl_divergence."""
from __future__ import annotations

import math

import fastdl
from fastdl.distributions._special import lgamma
from fastdl.distributions.cauchy import Cauchy, HalfNormal
from fastdl.distributions.continuous_bernoulli import ContinuousBernoulli
from fastdl.distributions.dirichlet import Beta
from fastdl.distributions.exp_family import ExponentialFamily, bregman_kl
from fastdl.distributions.gamma import Exponential, Gamma
from fastdl.distributions.geometric import Geometric
from fastdl.distributions.gumbel import Gumbel
from fastdl.distributions.kl import _infinite_where, _kl_normal_normal, register_kl
from fastdl.distributions.kl_mixed import _x_log_x
from fastdl.distributions.laplace import Laplace
from fastdl.distributions.normal import Normal
from fastdl.distributions.pareto_weibull import Pareto
from fastdl.distributions.uniform import Uniform


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    # closed form of Chyzak & Nielsen (arXiv:1905.10965)
    return (((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log()
            - (4 * p.scale * q.scale).log())


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * scale_ratio.log() - alpha_ratio.log() + alpha_ratio - 1
    return _infinite_where(p.scale < q.scale, result)  # p puts mass below q's support


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    scale_rate = p.scale * q.rate
    result = ((p.alpha / scale_rate).log() - p.alpha.reciprocal()
              + p.alpha * scale_rate / (p.alpha - 1) - 1)
    return _infinite_where(p.alpha <= 1, result)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    common = p.scale.log() + p.alpha.reciprocal()
    result = (p.alpha.log() - common + lgamma(q.concentration)
              - q.concentration * q.rate.log() + (1 - q.concentration) * common
              + q.rate * p.alpha * p.scale / (p.alpha - 1) - 1)
    return _infinite_where(p.alpha <= 1, result)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    variance_twice = 2 * q.scale.pow(2)
    common = p.scale / (p.alpha - 1)
    log_term = (math.sqrt(2 * math.pi) * q.scale * p.alpha / p.scale).log()
    second = p.alpha * common.pow(2) / (p.alpha - 2) + (p.alpha * common - q.loc).pow(2)
    result = log_term - p.alpha.reciprocal() + second / variance_twice - 1
    return _infinite_where(p.alpha <= 2, result)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    width = p.high - p.low
    log_term = (q.alpha * q.scale.pow(q.alpha) * width).log()
    mean_log = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    return _infinite_where(p.low < q.scale, mean_log * (q.alpha + 1) - log_term)


def _infinite_kl(attribute):
    """KL(p || q) = inf, one per element of p's parameter ``attribute`` (as torch shapes it):
    p puts mass where q has none."""
    def kl(p, q):
        return fastdl.full_like(getattr(p, attribute), float("inf"))
    return kl


register_kl(ExponentialFamily, ExponentialFamily)(bregman_kl)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    return (p.mean * (p.logits - q.logits) + p._cont_bern_log_norm() + (-p.probs).log1p()
            - q._cont_bern_log_norm() - (-q.probs).log1p())


def _cross_entropy_continuous_bernoulli(mean, q):
    """-E_p[log q(x)] for p on [0, 1] with mean ``mean``: log q is linear in x."""
    return -mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() + _cross_entropy_continuous_bernoulli(p.mean, q)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() + _cross_entropy_continuous_bernoulli(p.mean, q)
    return _infinite_where((p.high >= 1.0) | (p.low <= 0.0), result)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    log_norm = 0.5 * (math.log(2.0 * math.pi) + (q.loc / q.scale).square()) + q.scale.log()
    moments = (p.variance + p.mean.square() - 2.0 * q.loc * p.mean) / (2.0 * q.scale.square())
    return -p.entropy() + log_norm + moments


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return _infinite_where((q.low >= 0.0) | (q.high <= 1.0), result)


for _p, _q, _attribute in ((Pareto, Beta, "scale"), (Pareto, Uniform, "scale"),
                           (Pareto, ContinuousBernoulli, "scale"),
                           (ContinuousBernoulli, Pareto, "probs"),
                           (Exponential, ContinuousBernoulli, "rate"),
                           (Gamma, ContinuousBernoulli, "concentration"),
                           (Gumbel, ContinuousBernoulli, "loc"),
                           (Laplace, ContinuousBernoulli, "loc"),
                           (Normal, ContinuousBernoulli, "loc"),
                           (Beta, Pareto, "concentration1"), (Exponential, Pareto, "rate"),
                           (Gamma, Pareto, "concentration"), (Gumbel, Pareto, "loc"),
                           (Laplace, Pareto, "loc"), (Normal, Pareto, "loc")):
    register_kl(_p, _q)(_infinite_kl(_attribute))
