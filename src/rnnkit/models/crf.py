"""A linear-chain conditional random field over tag sequences (Lafferty et al. 2001; as the output layer of
the BiLSTM-CRF of Lample et al. 2016 and Huang et al. 2015).

For emissions e (B, T, C) from the encoder and a tag sequence y_0 .. y_{n-1} of a sentence of length n:

    score(y) = start[y_0] + sum_{t<n} e[t, y_t] + sum_{0<t<n} transitions[y_{t-1}, y_t] + end[y_{n-1}]
    p(y | x) = exp(score(y)) / Z,   Z = sum over every tag sequence y' of length n of exp(score(y'))

    log Z by the forward algorithm, O(n C^2):
        alpha_0 = start + e[0]                                                     (B, C)
        alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + transitions[i, j]) + e[t, j]     for t < n
        log Z = logsumexp_j(alpha_{n-1}[j] + end[j])
    loss = log Z - score(gold), the negative log-likelihood
    decoding by Viterbi: the same recursion with max instead of logsumexp, then back-pointers.

Constraints (``allowed`` (C, C), ``allowed_start`` (C,), ``allowed_end`` (C,)) forbid transitions such
as O -> I-PER in IOB2: forbidden scores are replaced by -10000 (AllenNLP's constant, which exp() turns
into an exact 0 without the NaN gradients of -inf), in the loss as in decoding, so the model's
distribution covers valid sequences only.

Parameters: ``transitions`` (C, C) from row tag to column tag, ``start`` (C,), ``end`` (C,), all
initialized uniformly in [-0.1, 0.1] (as pytorch-crf).
"""

from typing import List, Optional

import torch
from torch import Tensor, nn

FORBIDDEN = -10000.0


class CRF(nn.Module):
    def __init__(self, num_tags: int, allowed: Optional[Tensor] = None, allowed_start: Optional[Tensor] = None,
                 allowed_end: Optional[Tensor] = None):
        super().__init__()
        C = num_tags
        self.transitions = nn.Parameter(torch.empty(C, C).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(C).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(C).uniform_(-0.1, 0.1))
        ones = torch.ones(C, dtype=torch.bool)
        self.register_buffer("allowed", torch.ones(C, C, dtype=torch.bool) if allowed is None else allowed.bool())
        self.register_buffer("allowed_start", ones.clone() if allowed_start is None else allowed_start.bool())
        self.register_buffer("allowed_end", ones.clone() if allowed_end is None else allowed_end.bool())

    def _scores(self, dtype):
        """The three score tables with forbidden entries set to FORBIDDEN."""
        return (self.transitions.masked_fill(~self.allowed, FORBIDDEN).to(dtype),
                self.start.masked_fill(~self.allowed_start, FORBIDDEN).to(dtype),
                self.end.masked_fill(~self.allowed_end, FORBIDDEN).to(dtype))

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """score(y) of the given tags (B,); positions at or after a sentence's length are ignored."""
        transitions, start, end = self._scores(emissions.dtype)
        B, T, _ = emissions.shape
        valid = torch.arange(T, device=tags.device)[None] < lengths[:, None]  # (B, T)
        emitted = emissions.gather(2, tags[..., None]).squeeze(2)  # (B, T)
        total = start[tags[:, 0]] + (emitted * valid).sum(1)
        if T > 1:
            moves = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
            total = total + (moves * valid[:, 1:]).sum(1)
        last = tags.gather(1, (lengths - 1)[:, None]).squeeze(1)  # (B,)
        return total + end[last]

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """log Z (B,) by the forward algorithm."""
        transitions, start, end = self._scores(emissions.dtype)
        B, T, C = emissions.shape
        alpha = start + emissions[:, 0]  # (B, C)
        for t in range(1, T):
            step = torch.logsumexp(alpha[:, :, None] + transitions[None], dim=1) + emissions[:, t]  # (B, C)
            alpha = torch.where((t < lengths)[:, None], step, alpha)  # a finished sentence keeps its alpha
        return torch.logsumexp(alpha + end, dim=1)

    def forward(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """Negative log-likelihood of the gold tags, per sentence (B,)."""
        return self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)

    loss = forward

    @torch.no_grad()
    def decode(self, emissions: Tensor, lengths: Tensor) -> List[List[int]]:
        """The highest-scoring tag sequence of each sentence (Viterbi), as lists of lengths[b] tags."""
        transitions, start, end = self._scores(emissions.dtype)
        B, T, C = emissions.shape
        delta = start + emissions[:, 0]  # (B, C)
        pointers = []
        for t in range(1, T):
            best, argbest = (delta[:, :, None] + transitions[None]).max(dim=1)  # (B, C): best previous tag
            step = best + emissions[:, t]
            running = (t < lengths)[:, None]
            delta = torch.where(running, step, delta)
            # a finished sentence points each tag to itself, so the backtrack passes through unchanged
            pointers.append(torch.where(running, argbest, torch.arange(C, device=delta.device)[None]))
        tags = (delta + end).argmax(1)  # (B,)
        path = [tags]
        for back in reversed(pointers):
            tags = back.gather(1, tags[:, None]).squeeze(1)
            path.append(tags)
        path = torch.stack(path[::-1], 1)  # (B, T)
        return [path[b, :int(n)].tolist() for b, n in enumerate(lengths)]
