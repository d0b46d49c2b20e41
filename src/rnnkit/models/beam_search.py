"""Batched beam search over any model with ``encode`` and ``decode_step`` (models/seq2seq.py).

Every sentence of the batch keeps ``beam_size`` live hypotheses; the B * beam_size rows run through
the decoder together. At each step t (0 = the first token after BOS):

    total(y_1..y_t, w) = total(y_1..y_{t-1}) + log p(w | y_<t, x)     for every live row and word w
    candidates = the 2k best totals of each sentence over its k rows x V words (fairseq's 2k: after
                 the EOS ones leave, k live ones remain)
    an EOS candidate among the k best is finished: score = total / lp(|Y|), |Y| its tokens with EOS
    the k best candidates that are not EOS are the next live hypotheses

    lp(|Y|) = ((5 + |Y|) / 6) ^ alpha       GNMT's length penalty (Wu et al. 2016), as OpenNMT-py;
                                            alpha = 0: no penalty, the score is the total log-probability

PAD and BOS are never produced; EOS not before ``min_length`` tokens, and it is forced once a hypothesis
has floor(a * |x| + b) tokens, so every hypothesis ends in EOS. A sentence is done when it has
``n_best`` finished hypotheses that no live one can beat: a live total only falls, and lp grows at most
to lp(max length + 1), so no live hypothesis can score above (best live total) / lp(max + 1). Done
sentences leave the batch, so the decoder's rows shrink as the search goes on. With a beam wide enough
to hold every hypothesis, the search is exact.
"""

from typing import List, NamedTuple, Optional

import torch
from torch import Tensor

from .seq2seq import BOS, EOS, max_lengths, restrict


class Hypothesis(NamedTuple):
    tokens: List[int]             # without BOS and EOS
    score: float                  # total log-probability / lp(len(tokens) + 1)
    attention: Optional[Tensor]   # (len(tokens), S_i) over the sentence's own source; None without attention


def gnmt_length_penalty(length, alpha: float):
    """GNMT's lp(|Y|) = ((5 + |Y|) / 6) ^ alpha (Wu et al. 2016, eq. 14); a number or a tensor."""
    return ((5 + length) / 6) ** alpha


@torch.no_grad()
def beam_search(model, source: Tensor, source_lengths: Tensor, beam_size: int = 5, n_best: int = 1,
                length_penalty: float = 0.6, max_length_a: float = 1.5, max_length_b: float = 10,
                min_length: int = 0) -> List[List[Hypothesis]]:
    """source (B, S), source_lengths (B,) -> per sentence its n_best hypotheses, best first (fewer
    when fewer exist). Runs in eval mode."""
    if beam_size < 1:
        raise ValueError(f"beam_size={beam_size!r}: expected an integer >= 1")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best={n_best!r}: expected an integer in [1, beam_size={beam_size}]")
    if length_penalty < 0 or min_length < 0:
        raise ValueError(f"length_penalty={length_penalty!r}, min_length={min_length!r}: expected >= 0")
    was_training = model.training
    model.eval()
    try:
        return _search(model, source, source_lengths.to(source.device), beam_size, n_best, length_penalty,
                       max_length_a, max_length_b, min_length)
    finally:
        model.train(was_training)


def _search(model, source, source_lengths, k, n_best, alpha, a, b, min_length):
    B, device = source.shape[0], source.device
    max_length = max_lengths(source_lengths, a, b).to(device)  # (B,) tokens before EOS
    beams = torch.arange(k, device=device)  # (k,)
    state = model.encode(source, source_lengths).select(torch.arange(B, device=device).repeat_interleave(k))
    active = torch.arange(B, device=device)  # (n,) the sentence of each block of k rows
    # (n, k) live totals, summed in float64; one live row per sentence to start
    scores = torch.full((B, k), float("-inf"), dtype=torch.float64, device=device)
    scores[:, 0] = 0.0
    token = torch.full((B * k,), BOS, device=device)  # (n*k,)
    history = token.new_empty(B * k, 0)  # (n*k, t) tokens after BOS
    attention = None  # (n*k, t, S)
    finished = [[] for _ in range(B)]  # per sentence: its best n_best Hypothesis, best first
    lengths = source_lengths.tolist()
    for step in range(int(max_length.max()) + 1):
        n = len(active)
        log_probs, state, weights = model.decode_step(token, state)  # (n*k, V)
        log_probs = restrict(log_probs.to(scores.dtype), step, max_length[active].repeat_interleave(k), min_length)
        V = log_probs.shape[-1]
        total = (scores[:, :, None] + log_probs.view(n, k, V)).view(n, k * V)
        top, flat = total.topk(min(2 * k, k * V), dim=1)  # (n, 2k)
        origin = flat // V + k * torch.arange(n, device=device)[:, None]  # (n, 2k) rows they extend
        word = flat % V  # (n, 2k)
        if weights is not None:
            attention = torch.cat([attention, weights[:, None]], 1) if attention is not None else weights[:, None]
        is_eos = word == EOS
        ends = (is_eos[:, :k] & top[:, :k].isfinite()).nonzero().tolist()  # [(i, j)]: finished now
        if ends:
            top_list, origin_list, sentences = top.tolist(), origin.tolist(), active.tolist()
        for i, j in ends:
            sentence, row = sentences[i], origin_list[i][j]
            # the EOS step's attention row is left out: one row per returned token
            att = None if attention is None else attention[row, :-1, :lengths[sentence]].clone()
            score = top_list[i][j] / gnmt_length_penalty(step + 1, alpha)
            _keep_best(finished[sentence], Hypothesis(history[row].tolist(), score, att), n_best)
        scores, pick = top.masked_fill(is_eos, float("-inf")).topk(k, dim=1)  # (n, k) the next live ones
        rows = origin.gather(1, pick).view(-1)  # (n*k,)
        token = word.gather(1, pick).view(-1)  # (n*k,)
        history = torch.cat([history[rows], token[:, None]], 1)  # (n*k, t+1)
        attention = None if attention is None else attention[rows]
        state = state.select(rows)
        # a live total only falls and lp(|Y|) <= lp(max + 1): nothing live can score above this
        bound = (scores[:, 0] / gnmt_length_penalty(max_length[active] + 1, alpha)).tolist()  # (n,)
        going = torch.tensor([not _done(finished[s], bound[i], n_best) for i, s in enumerate(active.tolist())],
                             device=device)  # (n,)
        if not bool(going.any()):
            break
        if not bool(going.all()):  # done sentences leave the batch
            keep = going.nonzero()[:, 0]  # (n',)
            rows = (keep[:, None] * k + beams).view(-1)  # (n'*k,)
            active, scores = active[keep], scores[keep]
            token, history, state = token[rows], history[rows], state.select(rows)
            attention = None if attention is None else attention[rows]
    return finished


def _keep_best(hypotheses: list, new: Hypothesis, n_best: int) -> None:
    hypotheses.append(new)
    hypotheses.sort(key=lambda h: -h.score)  # stable: among equal scores the earlier stays first
    del hypotheses[n_best:]


def _done(hypotheses: list, bound: float, n_best: int) -> bool:
    return bound == float("-inf") or (len(hypotheses) >= n_best and hypotheses[n_best - 1].score >= bound)
