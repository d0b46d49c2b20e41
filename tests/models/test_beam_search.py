"""Beam search: a beam of one is greedy decoding, a beam wide enough is exact (it finds what brute
force over every sequence finds, with and without a length penalty), n-best lists are distinct and
sorted, a batch equals its sentences searched alone, scores are GNMT-normalized log-probabilities, and
the length limits hold."""

import functools
import itertools
from typing import NamedTuple

import pytest
import torch
from torch import Tensor, nn

from rnnkit.models.beam_search import beam_search, gnmt_length_penalty
from rnnkit.models.seq2seq import BOS, EOS, PAD, Seq2Seq, Seq2SeqConfig

SV = 9


def model(target_vocab=8, **options):
    config = Seq2SeqConfig(**{"embedding_size": 8, "hidden_size": 10, "dropout": 0.0, **options})
    return Seq2Seq(config, SV, target_vocab).double().eval()


@functools.lru_cache(maxsize=None)
def reverser(cell="gru", attention="additive"):
    """A model half-trained (60 Adam steps) to reverse 2-6 symbols: unlike a random one, it ends its
    outputs with EOS at different lengths. Returns it in float64 with its 16 sources and lengths."""
    torch.manual_seed(0)
    lengths = torch.randint(2, 7, (16,))
    source, target = torch.zeros(16, 6, dtype=torch.long), torch.zeros(16, 8, dtype=torch.long)
    for row, n in enumerate(lengths.tolist()):
        x = torch.randint(EOS + 1, SV, (n,))
        source[row, :n] = x
        target[row, :n + 2] = torch.tensor([BOS, *x.flip(0).tolist(), EOS])
    config = Seq2SeqConfig(cell=cell, attention=attention, num_layers=2, embedding_size=8, hidden_size=10,
                           dropout=0.0, label_smoothing=0.0)
    m = Seq2Seq(config, SV, SV)
    optimizer = torch.optim.Adam(m.parameters(), lr=0.03)
    for _ in range(60):
        optimizer.zero_grad()
        m.loss({"source": source, "source_lengths": lengths, "target": target})[0].backward()
        optimizer.step()
    return m.double().eval(), source, lengths


def sources(lengths=(4, 2, 3)):
    lengths = torch.tensor(lengths)
    source = torch.randint(EOS + 1, SV, (len(lengths), int(lengths.max())))
    source[torch.arange(source.shape[1])[None] >= lengths[:, None]] = PAD
    return source, lengths


@torch.no_grad()
def total_log_prob(m, source, length, tokens) -> float:
    """log p(tokens EOS | source) by teacher forcing through decode_step."""
    state = m.encode(source[None, :length], torch.tensor([length]))
    total = 0.0
    for previous, token in zip([BOS, *tokens], [*tokens, EOS]):
        log_probs, state, _ = m.decode_step(torch.tensor([previous]), state)
        total += float(log_probs[0, token])
    return total


@pytest.mark.parametrize("cell, attention", [("gru", "additive"), ("lstm", "general"), ("gru", "none")])
def test_a_beam_of_one_is_greedy(cell, attention):
    """(With a length penalty a live hypothesis may still overtake a finished one, so even a beam of
    one searches on after EOS: greedy is its alpha = 0 case.)"""
    m, source, lengths = reverser(cell, attention)
    greedy, _ = m.greedy(source, lengths, max_length_a=1, max_length_b=1)
    ends = [row.index(EOS) for row in greedy.tolist()]
    assert len(set(ends)) > 2 and any(e < n + 1 for e, n in zip(ends, lengths.tolist()))  # EOS before the limit
    found = beam_search(m, source, lengths, beam_size=1, length_penalty=0.0, max_length_a=1, max_length_b=1)
    for row, end, hypotheses in zip(greedy.tolist(), ends, found):
        assert len(hypotheses) == 1 and hypotheses[0].tokens == row[:end]


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_a_wide_beam_finds_the_best_of_all_sequences(alpha):
    """A vocabulary of 6 (the words UNK, 4 and 5; PAD and BOS never come), at most 3 tokens before EOS:
    40 sequences, all held by a beam of 6^3."""
    V, most = 6, 3
    m = model(target_vocab=V)
    source, lengths = sources((4, 2))
    found = beam_search(m, source, lengths, beam_size=V ** most, n_best=5, length_penalty=alpha,
                        max_length_a=0, max_length_b=most)
    words = [w for w in range(V) if w not in (PAD, BOS, EOS)]
    for row, hypotheses in enumerate(found):
        everything = sorted(
            ((total_log_prob(m, source[row], int(lengths[row]), list(seq)) / gnmt_length_penalty(len(seq) + 1, alpha),
              list(seq)) for n in range(most + 1) for seq in itertools.product(words, repeat=n)), reverse=True)
        assert len(everything) == 1 + 3 + 9 + 27
        assert [h.tokens for h in hypotheses] == [seq for _, seq in everything[:5]]
        torch.testing.assert_close(torch.tensor([h.score for h in hypotheses]),
                                   torch.tensor([score for score, _ in everything[:5]]))


def test_n_best_lists_are_distinct_and_sorted_and_scores_are_normalized():
    m, source, lengths = reverser()
    source, lengths = source[:4], lengths[:4]
    found = beam_search(m, source, lengths, beam_size=4, n_best=4, length_penalty=0.6, max_length_b=4)
    for row, hypotheses in enumerate(found):
        assert len(hypotheses) == 4
        assert len({tuple(h.tokens) for h in hypotheses}) == 4
        assert all(a.score >= b.score for a, b in zip(hypotheses, hypotheses[1:]))
        for h in hypotheses:  # score = total log-probability / ((5 + |Y|) / 6) ^ alpha, EOS counted in |Y|
            total = total_log_prob(m, source[row], int(lengths[row]), h.tokens)
            assert h.score == pytest.approx(total / ((5 + len(h.tokens) + 1) / 6) ** 0.6, rel=1e-9)
            assert h.attention.shape == (len(h.tokens), int(lengths[row]))


def test_length_penalty_formula():
    assert gnmt_length_penalty(1, 0.0) == 1.0
    assert gnmt_length_penalty(7, 0.6) == pytest.approx(2.0 ** 0.6)
    torch.testing.assert_close(gnmt_length_penalty(torch.tensor([1.0, 7.0]), 1.0), torch.tensor([1.0, 2.0]))


class Steps(NamedTuple):
    t: Tensor  # (B,) tokens produced so far

    def select(self, index):
        return Steps(self.t[index])


class ByStep(nn.Module):
    """A 'model' whose next-token distribution depends on the step only (V = 5: the word is 4)."""
    table = torch.tensor([[0.0, 0.05, 0.0, 0.50, 0.45],   # first token: EOS 0.5, the word 0.45
                          [0.0, 0.02, 0.0, 0.95, 0.03],   # after one word: EOS 0.95
                          [0.0, 0.01, 0.0, 0.98, 0.01]]).log()

    def encode(self, source, lengths):
        return Steps(torch.zeros(len(source), dtype=torch.long))

    def decode_step(self, token, state):
        return self.table[state.t.clamp(max=2)], Steps(state.t + 1), None


def test_length_penalty_changes_the_choice():
    """[] scores log 0.5 = -0.69; [word] scores log(0.45 * 0.95) = -0.85, / lp(2) = (7/6)^2: -0.62."""
    source, lengths = torch.ones(1, 3, dtype=torch.long), torch.tensor([3])
    assert beam_search(ByStep(), source, lengths, beam_size=3, length_penalty=0.0)[0][0].tokens == []
    best = beam_search(ByStep(), source, lengths, beam_size=3, length_penalty=2.0)[0][0]
    total = float(ByStep.table[0, 4] + ByStep.table[1, EOS])
    assert best.tokens == [4] and best.score == pytest.approx(total / (7 / 6) ** 2)
    assert best.attention is None


@pytest.mark.parametrize("cell, attention", [("gru", "additive"), ("lstm", "general")])
def test_a_batch_equals_each_sentence_alone(cell, attention):
    m, source, lengths = reverser(cell, attention)
    source, lengths = source[:6], lengths[:6]  # sentences end at different steps and leave the batch
    source = torch.cat([source, torch.zeros(6, 2, dtype=torch.long)], 1)  # extra padding columns too
    options = dict(beam_size=3, n_best=2, length_penalty=0.6, max_length_a=1.0, max_length_b=2)
    together = beam_search(m, source, lengths, **options)
    for row, hypotheses in enumerate(together):
        n = int(lengths[row])
        alone = beam_search(m, source[row:row + 1, :n], lengths[row:row + 1], **options)[0]
        assert [h.tokens for h in hypotheses] == [h.tokens for h in alone]
        for a, b in zip(hypotheses, alone):
            assert a.score == pytest.approx(b.score, rel=1e-9)
            torch.testing.assert_close(a.attention, b.attention)


def test_length_limits():
    m = model(target_vocab=10)
    source, lengths = sources((4, 2, 3))
    found = beam_search(m, source, lengths, beam_size=3, n_best=3, max_length_a=0.5, max_length_b=1, min_length=2)
    for row, hypotheses in enumerate(found):
        assert hypotheses and all(2 <= len(h.tokens) <= int(0.5 * int(lengths[row]) + 1) for h in hypotheses)
        assert all(t not in (PAD, BOS, EOS) for h in hypotheses for t in h.tokens)
    assert not m.training


def test_errors():
    m = model()
    source, lengths = sources()
    with pytest.raises(ValueError, match="n_best=3"):
        beam_search(m, source, lengths, beam_size=2, n_best=3)
    with pytest.raises(ValueError, match="beam_size=0"):
        beam_search(m, source, lengths, beam_size=0)
