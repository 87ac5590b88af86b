"""kl_divergence(p, q) = E_p[log p - log q] in closed form, dispatched on the two types;
``register_kl`` adds pairs (the most derived registered pair wins, as in torch)."""
from __future__ import annotations

import math
import warnings

import numpy as np

import fastdl
from fastdl.distributions.bernoulli import Bernoulli
from fastdl.distributions.categorical import Categorical, OneHotCategorical
from fastdl.distributions.dirichlet import Beta, Dirichlet
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.gamma import Exponential, Gamma
from fastdl.distributions.gumbel import Gumbel
from fastdl.distributions.independent import Independent, sum_rightmost
from fastdl.distributions.laplace import Laplace
from fastdl.distributions.low_rank_multivariate_normal import LowRankMultivariateNormal
from fastdl.distributions.multivariate_normal import (MultivariateNormal, batch_mahalanobis,
                                                      half_log_det)
from fastdl.distributions.normal import Normal
from fastdl.distributions.poisson_binomial import Binomial, Poisson
from fastdl.distributions.transformed_distribution import TransformedDistribution
from fastdl.distributions.uniform import Uniform
from fastdl.distributions._special import digamma, lgamma
from fastdl import linalg
from fastdl.nn.functional import softplus

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY = {}  # (type_p, type_q) -> function(p, q)
_KL_MEMO = {}  # (type(p), type(q)) -> the registered function it dispatches to
_INF = float("inf")
_EULER_GAMMA = 0.57721566490153286061


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(Normal, Normal) def kl(p, q): ...``."""
    for name, cls in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(cls, type) and issubclass(cls, Distribution)):
            raise TypeError(f"Expected {name} to be a Distribution subclass but got {cls}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMO.clear()
        return fun

    return decorator


def _dispatch_kl(type_p, type_q):
    matches = [(sp, sq) for sp, sq in _KL_REGISTRY
               if issubclass(type_p, sp) and issubclass(type_q, sq)]
    if not matches:
        return NotImplemented
    # nearest in p's MRO first (then q's), and the other way round: they should agree
    by_p = min(matches, key=lambda m: (type_p.__mro__.index(m[0]), type_q.__mro__.index(m[1])))
    by_q = min(matches, key=lambda m: (type_q.__mro__.index(m[1]), type_p.__mro__.index(m[0])))
    if _KL_REGISTRY[by_p] is not _KL_REGISTRY[by_q]:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). Please "
                      f"register_kl({by_p[0].__name__}, {by_q[1].__name__})", RuntimeWarning)
    return _KL_REGISTRY[by_p]


def kl_divergence(p, q):
    """KL(p || q), one value per batch element.

    >>> p, q = Normal(fastdl.tensor(0.0), fastdl.tensor(1.0)), Normal(fastdl.tensor(1.0), fastdl.tensor(1.0))
    >>> kl_divergence(p, q).item()
    0.5
    """
    key = (type(p), type(q))
    if key not in _KL_MEMO:
        _KL_MEMO[key] = _dispatch_kl(*key)
    fun = _KL_MEMO[key]
    if fun is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return fun(p, q)


def _infinite_where(condition, value):
    return fastdl.where(condition, _INF, value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    variance_ratio = (p.scale / q.scale).pow(2)
    mean_term = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (variance_ratio + mean_term - 1 - variance_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    ones = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    ones = fastdl.where(p.probs == 0, 0.0, _infinite_where(q.probs == 0, ones))
    zeros = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    zeros = fastdl.where(p.probs == 1, 0.0, _infinite_where(q.probs == 1, zeros))
    return ones + zeros


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    terms = p.probs * (p.logits - q.logits)
    terms = _infinite_where(q.probs == 0, terms)
    return fastdl.where(p.probs == 0, 0.0, terms).sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _infinite_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    log_term = (math.sqrt(2 * math.pi) * q.scale / width).log()
    spread = width.pow(2) / 12
    offset = ((p.high + p.low - 2 * q.loc) / 2).pow(2)
    return log_term + 0.5 * (spread + offset) / q.scale.pow(2)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_distance = (p.loc - q.loc).abs()
    return (-scale_ratio.log() + loc_distance / q.scale
            + scale_ratio * (-loc_distance / p.scale).exp() - 1)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    scale_ratio = p.scale / q.scale
    q_loc, p_loc = q.loc / q.scale, p.loc / q.scale
    return (-scale_ratio.log() - q_loc + p_loc + scale_ratio * _EULER_GAMMA
            + (q_loc + lgamma(1 + scale_ratio) - p_loc).exp() - (1 + _EULER_GAMMA))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    p_tril, q_tril = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    batch = tuple(np.broadcast_shapes(p_tril.shape[:-2], q_tril.shape[:-2]))
    n = p.event_shape[0]
    # tr(Sigma_q^{-1} Sigma_p) = ||L_q^{-1} L_p||_F^2
    trace = linalg.solve_triangular(q_tril.expand(*batch, n, n), p_tril.expand(*batch, n, n),
                                    upper=False).pow(2).sum((-2, -1))
    mahalanobis = batch_mahalanobis(q_tril, q.loc - p.loc)
    return half_log_det(q_tril) - half_log_det(p_tril) + 0.5 * (trace + mahalanobis - n)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    return (q.concentration * (p.rate / q.rate).log() + lgamma(q.concentration)
            - lgamma(p.concentration)
            + (p.concentration - q.concentration) * digamma(p.concentration)
            + (q.rate - p.rate) * (p.concentration / p.rate))


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - rate_ratio.log() - 1


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    p_total = p.concentration1 + p.concentration0
    q_total = q.concentration1 + q.concentration0
    return (lgamma(q.concentration1) + lgamma(q.concentration0) + lgamma(p_total)
            - lgamma(p.concentration1) - lgamma(p.concentration0) - lgamma(q_total)
            + (p.concentration1 - q.concentration1) * digamma(p.concentration1)
            + (p.concentration0 - q.concentration0) * digamma(p.concentration0)
            + (q_total - p_total) * digamma(p_total))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    p_total = p.concentration.sum(-1)
    q_total = q.concentration.sum(-1)
    expected_log = digamma(p.concentration) - digamma(p_total).unsqueeze(-1)
    return (lgamma(p_total) - lgamma(q_total)
            - (lgamma(p.concentration) - lgamma(q.concentration)).sum(-1)
            + ((p.concentration - q.concentration) * expected_log).sum(-1))


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is "
                                  "not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return _infinite_where(p.total_count > q.total_count, kl)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    # the same invertible map applied to both leaves the divergence unchanged
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


def _as_full_rank(d):
    return d if isinstance(d, MultivariateNormal) else MultivariateNormal(
        d.loc, scale_tril=d.scale_tril, validate_args=False)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_with_low_rank(p, q):
    # through the full n x n Cholesky factors: exact, O(n^3) rather than torch's O(n m^2)
    return _kl_multivariatenormal_multivariatenormal(_as_full_rank(p), _as_full_rank(q))
