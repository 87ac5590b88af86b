"""Probability distributions with sampling, log-densities and KL divergences
(torch.distributions): reparametrized ``rsample`` and differentiable ``log_prob``/``entropy``/
``kl_divergence`` for VAEs, policy gradients, diffusion and flows. Draws come from fastdl's
generator, so ``fastdl.manual_seed`` replays them."""
import importlib

from fastdl.distributions import constraints, transforms
from fastdl.distributions.bernoulli import Bernoulli
from fastdl.distributions.categorical import Categorical, OneHotCategorical
from fastdl.distributions.dirichlet import Beta, Dirichlet
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.gamma import Exponential, Gamma
from fastdl.distributions.gumbel import Gumbel
from fastdl.distributions.independent import Independent
from fastdl.distributions.kl import kl_divergence, register_kl
from fastdl.distributions.laplace import Laplace
from fastdl.distributions.low_rank_multivariate_normal import LowRankMultivariateNormal
from fastdl.distributions.multivariate_normal import MultivariateNormal
from fastdl.distributions.normal import Normal
from fastdl.distributions.poisson_binomial import Binomial, Poisson
# their Exp/Logit bases stay in fastdl.distributions.relaxed, as torch keeps them in submodules
from fastdl.distributions.relaxed import RelaxedBernoulli, RelaxedOneHotCategorical
from fastdl.distributions.transformed_distribution import LogNormal, TransformedDistribution
from fastdl.distributions.transforms import (AffineTransform, ComposeTransform, ExpTransform,
                                            SigmoidTransform, TanhTransform, Transform)
from fastdl.distributions.uniform import Uniform

# imported for its side effect: it registers the cross-family KL pairs with register_kl
importlib.import_module("fastdl.distributions.kl_mixed")

__all__ = ["AffineTransform", "Bernoulli", "Beta", "Binomial", "Categorical", "ComposeTransform",
           "Dirichlet", "Distribution", "ExpTransform", "Exponential", "Gamma", "Gumbel",
           "Independent", "Laplace", "LogNormal", "LowRankMultivariateNormal",
           "MultivariateNormal", "Normal",
           "OneHotCategorical", "Poisson", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "SigmoidTransform", "TanhTransform", "Transform",
           "TransformedDistribution", "Uniform", "constraints", "kl_divergence", "register_kl",
           "transforms"]
