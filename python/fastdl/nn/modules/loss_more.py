"""Margin, embedding, likelihood and CTC loss modules: each holds its options and calls the
``fastdl.nn.functional`` loss of the same name."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn.modules.layers_more import PairwiseDistance
from fastdl.nn.modules.loss import _Loss, _WeightedLoss


class MarginRankingLoss(_Loss):
    """The ranking hinge loss max(0, -target * (input1 - input2) + margin): target 1 says
    input1 should rank higher, -1 that input2 should.

    ``MarginRankingLoss(margin=0.0, reduction='mean')``, as in torch.

    Shape: input1 (N,) or (), input2 and target the same; output a scalar with
    reduction='mean' or 'sum', (N,) with 'none'.

    >>> loss = fastdl.nn.MarginRankingLoss()
    >>> loss(fastdl.tensor([1.0, 2.0]), fastdl.tensor([2.0, 1.0]), fastdl.tensor([1.0, 1.0])).item()
    0.5
    """
    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """The hinge embedding loss: x where target is 1, max(0, margin - x) where it is -1
    (x is typically a distance between two inputs).

    ``HingeEmbeddingLoss(margin=1.0, reduction='mean')``, as in torch.

    Shape: input (*), target the same shape of 1/-1; output a scalar with reduction='mean'
    or 'sum', input's shape with 'none'.

    >>> loss = fastdl.nn.HingeEmbeddingLoss()
    >>> round(loss(fastdl.tensor([0.5, 0.3]), fastdl.tensor([1.0, -1.0])).item(), 4)
    0.6
    """
    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """The cosine embedding loss: 1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) -
    margin) where it is -1 (cosine similarity along dim 1).

    ``CosineEmbeddingLoss(margin=0.0, reduction='mean')``, as in torch.

    Shape: input1 (N, D) or (D,), input2 the same, target (N,) or () of 1/-1; output a scalar
    with reduction='mean' or 'sum', (N,) with 'none'.

    >>> loss = fastdl.nn.CosineEmbeddingLoss()
    >>> loss(fastdl.tensor([[1.0, 0.0], [1.0, 0.0]]), fastdl.tensor([[1.0, 0.0], [0.0, 1.0]]),
    ...      fastdl.tensor([1.0, 1.0])).item()  # cos = 1 and 0
    0.5
    """
    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """The two-class logistic loss log(1 + exp(-target * input)), target 1 or -1.

    ``SoftMarginLoss(reduction='mean')``, as in torch.

    Shape: input (*), target the same shape; output a scalar with reduction='mean' or 'sum',
    input's shape with 'none'.

    >>> loss = fastdl.nn.SoftMarginLoss()
    >>> round(loss(fastdl.tensor([0.0, 0.0]), fastdl.tensor([1.0, -1.0])).item(), 4)  # log 2
    0.6931
    """
    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """The multi-label one-versus-all loss: binary cross-entropy of sigmoid(input) against
    0/1 targets, averaged over the C classes (optional per-class weight).

    ``MultiLabelSoftMarginLoss(weight=None, reduction='mean')``, as in torch.

    Shape: input (N, C), target (N, C) of 0/1; output a scalar with reduction='mean' or
    'sum', (N,) with 'none'.

    >>> loss = fastdl.nn.MultiLabelSoftMarginLoss()
    >>> target = fastdl.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    >>> round(loss(fastdl.zeros(2, 3), target).item(), 4)  # log 2
    0.6931
    """
    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """The multi-class multi-label hinge loss: sum over target classes j and non-target
    classes i of max(0, 1 - (x[j] - x[i])) / C. target holds class indices, ended by the
    first -1.

    ``MultiLabelMarginLoss(reduction='mean')``, as in torch.

    Shape: input (N, C) or (C,), target int64 of input's shape; output a scalar with
    reduction='mean' or 'sum', (N,) with 'none'.

    >>> loss = fastdl.nn.MultiLabelMarginLoss()
    >>> x = fastdl.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(loss(x, fastdl.tensor([[3, 0, -1, 1]])).item(), 4)  # targets 3 and 0
    0.85
    """
    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """The triplet loss max(d(a, p) - d(a, n) + margin, 0) with d the p-norm distance
    (swap=True also tries d(p, n) as the negative distance).

    ``TripletMarginLoss(margin=1.0, p=2.0, eps=1e-6, swap=False, reduction='mean')``, as in
    torch.

    Shape: anchor, positive, negative (N, D) or (D,); output a scalar with reduction='mean'
    or 'sum', (N,) with 'none'.

    >>> loss = fastdl.nn.TripletMarginLoss(margin=1.0)
    >>> a, p = fastdl.tensor([[0.0, 0.0]]), fastdl.tensor([[0.0, 1.0]])
    >>> loss(a, p, fastdl.tensor([[3.0, 4.0]])).item()  # d(a, p) = 1 is well below d(a, n) = 5
    0.0
    """
    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """The triplet loss max(d(a, p) - d(a, n) + margin, 0) with any distance_function
    (default: a PairwiseDistance() submodule, as torch's).

    ``TripletMarginWithDistanceLoss(*, distance_function=None, margin=1.0, swap=False,
    reduction='mean')``, as in torch.

    Shape: anchor, positive, negative (N, *) as distance_function takes them; output a
    scalar with reduction='mean' or 'sum', (N,) with 'none'.

    >>> l1 = lambda x, y: (x - y).abs().sum(-1)
    >>> loss = fastdl.nn.TripletMarginWithDistanceLoss(distance_function=l1, margin=2.0)
    >>> loss(fastdl.tensor([[0.0, 0.0]]), fastdl.tensor([[0.0, 1.0]]),
    ...      fastdl.tensor([[1.0, 1.0]])).item()
    1.0
    """
    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater "
                             f"than 0, got {margin} instead")
        self.distance_function = distance_function if distance_function is not None else \
            PairwiseDistance()
        self.margin = margin
        self.swap = swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """The negative log-likelihood of a Poisson target: exp(input) - target * input with
    log_input=True, input - target * log(input + eps) otherwise (full=True adds Stirling's
    term).

    ``PoissonNLLLoss(log_input=True, full=False, eps=1e-8, reduction='mean')``, as in torch.

    Shape: input (*), target the same shape; output a scalar with reduction='mean' or 'sum',
    input's shape with 'none'.

    >>> loss = fastdl.nn.PoissonNLLLoss()
    >>> loss(fastdl.tensor([0.0, 0.0]), fastdl.tensor([1.0, 2.0])).item()
    1.0
    """
    def __init__(self, log_input: bool = True, full: bool = False, size_average=None,
                 eps: float = 1e-8, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """The negative log-likelihood of a Gaussian target: 0.5 * (log(var) + (input -
    target)**2 / var), var clamped to eps (full=True adds 0.5 * log(2 pi)).

    ``GaussianNLLLoss(*, full=False, eps=1e-6, reduction='mean')``, as in torch.

    Shape: input (N, *), target the same, var the same or with one fewer (or a size-1 last)
    dim; output a scalar with reduction='mean' or 'sum', input's shape with 'none'.

    >>> loss = fastdl.nn.GaussianNLLLoss()
    >>> x, target = fastdl.tensor([1.0, 2.0]), fastdl.tensor([1.0, 4.0])
    >>> round(loss(x, target, fastdl.tensor([1.0, 2.0])).item(), 4)
    0.6733
    """
    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class CTCLoss(_Loss):
    """The Connectionist Temporal Classification loss: -log of the total probability of
    the alignments of each target sequence to its input sequence (blank is the blank class;
    zero_infinity=True zeroes impossible alignments' infinite losses and their gradients).

    ``CTCLoss(blank=0, reduction='mean', zero_infinity=False)``, as in torch: 'mean' divides
    each loss by its target length, then averages over the batch.

    Shape: log_probs (T, N, C) log-probabilities, targets (N, S) padded or 1-D concatenated,
    input_lengths (N,) and target_lengths (N,); output a scalar, or (N,) with 'none'.

    >>> loss = fastdl.nn.CTCLoss(reduction="none")
    >>> log_probs = fastdl.zeros(5, 2, 4).log_softmax(2)  # T=5 steps, N=2, C=4 classes
    >>> out = loss(log_probs, fastdl.tensor([[1, 2, 3], [1, 1, 0]]), fastdl.tensor([5, 5]),
    ...            fastdl.tensor([3, 2]))
    >>> [round(v, 3) for v in out.tolist()]
    [3.599, 4.223]
    """
    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
