"""The CRF against brute force on tiny inputs: every tag sequence scored one by one and summed (log Z),
the best of them (Viterbi), with and without transition constraints; gradcheck in float64."""

import itertools

import pytest
import torch

from rnnkit.models.crf import CRF, FORBIDDEN


def brute_force(crf, emissions, length):
    """(log Z, best sequence) of one sentence by enumerating all C^length sequences."""
    C = emissions.shape[-1]
    scores, sequences = [], []
    for y in itertools.product(range(C), repeat=length):
        allowed = bool(crf.allowed_start[y[0]]) and bool(crf.allowed_end[y[-1]]) and all(
            bool(crf.allowed[a, b]) for a, b in zip(y, y[1:]))
        s = crf.start[y[0]] + crf.end[y[-1]] + sum(emissions[t, y[t]] for t in range(length))
        s = s + sum(crf.transitions[a, b] for a, b in zip(y, y[1:]))
        if not allowed:
            continue  # the constrained model gives it probability exp(-10000): zero
        scores.append(s)
        sequences.append(list(y))
    scores = torch.stack(scores)
    return torch.logsumexp(scores, 0), sequences[int(scores.argmax())]


def random_crf(C, constrained, dtype=torch.float64):
    crf = CRF(C).to(dtype)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    if constrained:
        crf.allowed[0, 1] = crf.allowed[2, 1] = False  # e.g. "O -> I" and "B-X -> I-Y" forbidden
        crf.allowed_start[1] = False
        crf.allowed_end[0] = False
    return crf


@pytest.mark.parametrize("constrained", [False, True])
def test_log_partition_score_and_viterbi_equal_brute_force(constrained):
    C, lengths = 3, torch.tensor([4, 1, 3, 2])
    crf = random_crf(C, constrained)
    emissions = torch.randn(len(lengths), 4, C, dtype=torch.float64)
    tags = torch.randint(0, C, (len(lengths), 4))
    log_z = crf.log_partition(emissions, lengths)
    decoded = crf.decode(emissions, lengths)
    for b, n in enumerate(lengths.tolist()):
        expected_z, expected_best = brute_force(crf, emissions[b], n)
        torch.testing.assert_close(log_z[b], expected_z)
        assert decoded[b] == expected_best
    # the score of given tags: forbidden moves count FORBIDDEN instead of their learned score
    transitions = crf.transitions.masked_fill(~crf.allowed, FORBIDDEN)
    start, end = crf.start.masked_fill(~crf.allowed_start, FORBIDDEN), crf.end.masked_fill(~crf.allowed_end, FORBIDDEN)
    scores = crf.score(emissions, tags, lengths)
    for b, n in enumerate(lengths.tolist()):
        y = tags[b, :n].tolist()
        expected = start[y[0]] + end[y[-1]] + sum(emissions[b, t, y[t]] for t in range(n))
        expected = expected + sum(transitions[a, c] for a, c in zip(y, y[1:]))
        torch.testing.assert_close(scores[b], expected)


def test_probabilities_of_all_sequences_sum_to_one():
    crf = random_crf(3, constrained=False)
    emissions = torch.randn(1, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([3])
    total = sum(torch.exp(-crf.loss(emissions, torch.tensor([list(y)]), lengths))
                for y in itertools.product(range(3), repeat=3))
    torch.testing.assert_close(total, torch.ones(1, dtype=torch.float64))


def test_padding_changes_nothing():
    crf = random_crf(4, constrained=True)
    emissions = torch.randn(2, 5, 4, dtype=torch.float64)
    lengths = torch.tensor([5, 2])
    tags = torch.tensor([[3, 0, 2, 2, 3], [3, 2, 1, 1, 1]])
    loss = crf.loss(emissions, tags, lengths)
    emissions[1, 2:] = 1e3
    tags[1, 2:] = 0
    torch.testing.assert_close(crf.loss(emissions, tags, lengths), loss)
    alone = crf.loss(emissions[1:, :2], tags[1:, :2], lengths[1:])
    torch.testing.assert_close(loss[1:], alone)


def test_gradcheck():
    crf = random_crf(3, constrained=True)
    emissions = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    lengths, tags = torch.tensor([4, 2]), torch.tensor([[0, 2, 0, 2], [2, 2, 0, 0]])
    params = tuple(p.detach().clone().requires_grad_() for p in (crf.transitions, crf.start, crf.end))

    def loss(e, transitions, start, end):
        tables = {"transitions": transitions, "start": start, "end": end}
        return torch.func.functional_call(crf, tables, (e, tags, lengths))

    assert torch.autograd.gradcheck(loss, (emissions, *params))
