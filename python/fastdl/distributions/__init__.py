"""Probability distributions with sampling, log-densities and KL divergences
(torch.distributions): reparametrized ``rsample`` and differentiable ``log_prob``/``entropy``/
``kl_divergence`` for VAEs, policy gradients, diffusion and flows. Draws come from fastdl's
generator, so ``fastdl.manual_seed`` replays them."""
import importlib

from fastdl.distributions import constraints, transforms
from fastdl.distributions.bernoulli import Bernoulli
from fastdl.distributions.categorical import (Categorical, OneHotCategorical,
                                              OneHotCategoricalStraightThrough)
from fastdl.distributions.cauchy import Cauchy, HalfCauchy, HalfNormal
from fastdl.distributions.continuous_bernoulli import ContinuousBernoulli
from fastdl.distributions.dirichlet import Beta, Dirichlet
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.exp_family import ExponentialFamily
from fastdl.distributions.fisher_von_mises import FisherSnedecor, VonMises
from fastdl.distributions.gamma import Exponential, Gamma
from fastdl.distributions.geometric import Geometric, NegativeBinomial
from fastdl.distributions.gumbel import Gumbel
from fastdl.distributions.independent import Independent
from fastdl.distributions.kl import kl_divergence, register_kl
from fastdl.distributions.laplace import Laplace
from fastdl.distributions.low_rank_multivariate_normal import LowRankMultivariateNormal
from fastdl.distributions.mixture import MixtureSameFamily
from fastdl.distributions.multinomial import Multinomial
from fastdl.distributions.multivariate_normal import MultivariateNormal
from fastdl.distributions.normal import Normal
from fastdl.distributions.pareto_weibull import Pareto, Weibull
from fastdl.distributions.poisson_binomial import Binomial, Poisson
# their Exp/Logit bases stay in fastdl.distributions.relaxed, as torch keeps them in submodules
from fastdl.distributions.relaxed import RelaxedBernoulli, RelaxedOneHotCategorical
from fastdl.distributions.transformed_distribution import LogNormal, TransformedDistribution
from fastdl.distributions.transformed_more import InverseGamma, Kumaraswamy, LogisticNormal
from fastdl.distributions.student_t import Chi2, StudentT
from fastdl.distributions.transforms import (AbsTransform, AffineTransform, CatTransform,
                                            ComposeTransform, CorrCholeskyTransform,
                                            CumulativeDistributionTransform, ExpTransform,
                                            IndependentTransform, LowerCholeskyTransform,
                                            PositiveDefiniteTransform, PowerTransform,
                                            ReshapeTransform, SigmoidTransform,
                                            SoftmaxTransform, SoftplusTransform,
                                            StackTransform, StickBreakingTransform,
                                            TanhTransform, Transform)
from fastdl.distributions.uniform import Uniform

# imported for their side effect: they register more KL pairs with register_kl
for _module in ("kl_mixed", "kl_more"):
    importlib.import_module(f"fastdl.distributions.{_module}")

__all__ = ["AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "CatTransform",
           "Categorical", "Cauchy", "Chi2", "ComposeTransform", "ContinuousBernoulli",
           "CorrCholeskyTransform", "CumulativeDistributionTransform", "Dirichlet",
           "Distribution", "ExpTransform", "Exponential", "ExponentialFamily", "FisherSnedecor",
           "Gamma", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent",
           "IndependentTransform", "InverseGamma", "Kumaraswamy", "Laplace", "LogNormal",
           "LogisticNormal", "LowRankMultivariateNormal", "LowerCholeskyTransform",
           "MixtureSameFamily", "Multinomial", "MultivariateNormal", "NegativeBinomial",
           "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Pareto",
           "Poisson", "PositiveDefiniteTransform", "PowerTransform", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "ReshapeTransform", "SigmoidTransform",
           "SoftmaxTransform", "SoftplusTransform", "StackTransform", "StickBreakingTransform",
           "StudentT", "TanhTransform", "Transform", "TransformedDistribution", "Uniform",
           "VonMises", "Weibull", "constraints", "kl_divergence", "register_kl", "transforms"]
