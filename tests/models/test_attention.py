"""Attention: the weights are a distribution over the real source positions only, nothing in the
padding (NaN included) reaches the output, all steps at once equal one step at a time, each score is
its formula, and gradients pass gradcheck in float64."""

import pytest
import torch

from rnnkit.models.attention import KINDS, Attention

B, S, Q, M = 3, 5, 4, 6
LENGTHS = torch.tensor([5, 2, 3])


def setup(kind, memory_size=M):
    attention = Attention(kind, Q, memory_size, attention_size=7 if kind == "additive" else 0).double()
    mask = torch.arange(S)[None] < LENGTHS[:, None]  # (B, S)
    memory = torch.randn(B, S, memory_size, dtype=torch.float64)
    return attention, memory, mask


def attend(attention, query, memory, mask):
    return attention(query, *attention.prepare(memory, mask), mask)


@pytest.mark.parametrize("kind", KINDS)
def test_weights_sum_to_one_and_are_zero_on_padding(kind):
    attention, memory, mask = setup(kind, Q if kind == "dot" else M)
    context, weights = attend(attention, torch.randn(B, Q, dtype=torch.float64), memory, mask)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, dtype=torch.float64))
    assert (weights[~mask] == 0).all() and (weights[mask] > 0).all()
    expected = torch.einsum("bs,bsm->bm", weights, memory)  # padded rows have zero weight
    torch.testing.assert_close(context, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_padded_memory_never_reaches_the_output(kind):
    attention, memory, mask = setup(kind)
    query = torch.randn(B, Q, dtype=torch.float64)
    context, weights = attend(attention, query, memory, mask)
    for junk in (1e6, float("nan"), float("inf")):
        context2, weights2 = attend(attention, query, memory.masked_fill(~mask[..., None], junk), mask)
        torch.testing.assert_close(context2, context)
        torch.testing.assert_close(weights2, weights)


@pytest.mark.parametrize("kind", KINDS)
def test_all_steps_at_once_equal_each_step(kind):
    attention, memory, mask = setup(kind)
    queries = torch.randn(B, 4, Q, dtype=torch.float64)  # (B, T, Q)
    context, weights = attend(attention, queries, memory, mask)
    for t in range(4):
        c, w = attend(attention, queries[:, t], memory, mask)
        torch.testing.assert_close(context[:, t], c)
        torch.testing.assert_close(weights[:, t], w)


def test_scores_are_their_formulas():
    query = torch.randn(B, Q, dtype=torch.float64)
    attention, memory, mask = setup("additive")
    _, weights = attend(attention, query, memory, mask)
    W_k, b, W_q, v = attention.key.weight, attention.key.bias, attention.query.weight, attention.v.weight[0]
    scores = torch.tanh(query[:, None] @ W_q.T + memory @ W_k.T + b) @ v  # (B, S)
    torch.testing.assert_close(weights, scores.masked_fill(~mask, float("-inf")).softmax(-1))

    attention, memory, mask = setup("general")
    _, weights = attend(attention, query, memory, mask)
    scores = torch.einsum("bq,qm,bsm->bs", query, attention.key.weight, memory)
    torch.testing.assert_close(weights, scores.masked_fill(~mask, float("-inf")).softmax(-1))

    attention, memory, mask = setup("dot", Q)
    assert attention.key is None  # equal widths: Luong's dot, no parameters
    _, weights = attend(attention, query, memory, mask)
    scores = torch.einsum("bq,bsq->bs", query, memory)
    torch.testing.assert_close(weights, scores.masked_fill(~mask, float("-inf")).softmax(-1))
    wide, _, _ = setup("dot", M)  # a wider memory is first mapped to the query's width: "general"
    assert tuple(wide.key.weight.shape) == (Q, M) and wide.key.bias is None


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck(kind):
    attention, memory, mask = setup(kind)
    query = torch.randn(B, Q, dtype=torch.float64, requires_grad=True)
    memory.requires_grad_()
    assert torch.autograd.gradcheck(lambda q, m: attend(attention, q, m, mask), (query, memory))


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="attention kind='mlp'"):
        Attention("mlp", Q, M)
