"""AdaptiveLogSoftmaxWithLoss (Grave et al., "Efficient softmax approximation for GPUs"), with
torch's parameter layout (``head``, ``tail.i.0`` / ``tail.i.1``) so torch state_dicts load."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

import fastdl
from fastdl.nn.functional import log_softmax
from fastdl.nn.modules.container import ModuleList, Sequential
from fastdl.nn.modules.linear import Linear
from fastdl.nn.modules.module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: frequent classes (below ``cutoffs[0]``) in a head softmax that also
    scores one entry per tail cluster; cluster i's classes in a softmax over a projection of
    size ``in_features // div_value ** (i + 1)`` (torch.nn.AdaptiveLogSoftmaxWithLoss).

    ``forward(input, target)`` returns ``(output, loss)``: each row's log-probability of its
    target and the mean negative log-likelihood. ``log_prob(input)`` gives all n_classes
    log-probabilities, ``predict(input)`` the most probable class.

    >>> import fastdl
    >>> asm = fastdl.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6])
    >>> out = asm(fastdl.randn(4, 8), fastdl.tensor([0, 4, 7, 9]))
    >>> tuple(out.output.shape), tuple(out.loss.shape)
    ((4,), ())
    >>> bool(asm.log_prob(fastdl.randn(2, 8)).exp().sum(1).allclose(fastdl.ones(2)))
    True
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        factory = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, **factory)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, **factory),
                                        Linear(hsz, osz, bias=False, **factory)))

    def reset_parameters(self):
        """Re-draw every weight as at construction.

        >>> import fastdl
        >>> fastdl.nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2]).reset_parameters()
        """
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        targ_dim = target_.dim()
        if targ_dim == 1:
            if input_.size(0) != target_.size(0):
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.dim() != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {_size(input_)}")
        elif targ_dim == 0:
            if input_.dim() != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {_size(input_)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = targ_dim > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        t = np.asarray(target.detach().cpu().numpy())
        batch = t.shape[0]
        output = input.new_zeros(batch)
        gather_inds = t.astype(np.int64, copy=True)
        used_rows = 0
        bounds = [0] + self.cutoffs
        for i in range(len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            rows = np.flatnonzero((t >= low) & (t < high))
            if rows.size == 0:
                continue
            if i > 0:
                rows_t = fastdl.tensor(rows)
                cluster_logprob = log_softmax(self.tail[i - 1](input.index_select(0, rows_t)),
                                              dim=1)
                relative = fastdl.tensor(t[rows].astype(np.int64) - low).unsqueeze(1)
                local = cluster_logprob.gather(1, relative).squeeze(1)
                output = output.index_add(0, rows_t, local)
                gather_inds[rows] = self.shortlist_size + i - 1
            used_rows += rows.size
        if used_rows != batch:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{t.min()}, {t.max()}] were found. ")
        head_logprob = log_softmax(self.head(input), dim=1)
        output = output + head_logprob.gather(1, fastdl.tensor(gather_inds).unsqueeze(1)) \
            .squeeze(1)
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _get_full_log_prob(self, input, head_output):
        head_logprob = log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster_logprob
                         + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return fastdl.cat(parts, dim=1)

    def log_prob(self, input):
        """Log-probabilities of all n_classes classes for each row of ``input`` (N, in_features).

        >>> import fastdl
        >>> asm = fastdl.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6])
        >>> tuple(asm.log_prob(fastdl.randn(5, 8)).shape)
        (5, 10)
        """
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most probable class of each row (``log_prob(input).argmax(1)``, computing the
        tail clusters only for rows whose head prefers a cluster).

        >>> import fastdl
        >>> asm = fastdl.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6])
        >>> x = fastdl.randn(5, 8)
        >>> bool((asm.predict(x) == asm.log_prob(x).argmax(1)).all())
        True
        """
        head_output = self.head(input)
        output = fastdl.argmax(head_output, dim=1)
        not_in_shortlist = output >= self.shortlist_size
        if not bool(not_in_shortlist.any()):
            return output
        if bool(not_in_shortlist.all()):
            return fastdl.argmax(self._get_full_log_prob(input, head_output), dim=1)
        log_prob = self._get_full_log_prob(input[not_in_shortlist],
                                           head_output[not_in_shortlist])
        output[not_in_shortlist] = fastdl.argmax(log_prob, dim=1)
        return output


def _size(t):
    return "torch.Size([" + ", ".join(str(s) for s in t.shape) + "])"


__all__ = ["AdaptiveLogSoftmaxWithLoss"]
