"""The language model: shapes, its loss against cross-entropy by hand, tied weights, embedding dropout,
streaming generation against recomputing the whole sequence, and the sampling filters against their
definitions."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.models.language_model import sample_next

V, B, T, H = 11, 2, 5, 6
NO_DROPOUT = dict(dropout=0.0, input_dropout=0.0, output_dropout=0.0)


def make(double=True, **options):
    config = LanguageModelConfig(**{"hidden_size": H, "num_layers": 2, **NO_DROPOUT, **options})
    model = LanguageModel(config, V)
    return model.double() if double else model


def tokens(batch=B, steps=T):
    return torch.randint(0, V, (batch, steps))


# --- configuration --------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    ({"cell": "transformer"}, r"model.cell='transformer': expected one of"),
    ({"hidden_size": 0}, r"model.hidden_size=0: expected an integer >= 1"),
    ({"num_layers": 0}, r"model.num_layers=0"),
    ({"embedding_size": -1}, r"model.embedding_size=-1"),
    ({"embedding_dropout": 1.0}, r"model.embedding_dropout=1.0: expected a number in \[0, 1\)"),
    ({"dropout": 1.5}, r"model.dropout=1.5: expected a number in \[0, 1\)"),
    ({"cell": "gru", "peephole": True}, r"model.peephole=True: .* cell='lstm' only"),
])
def test_config_errors_name_the_model_field(options, message):
    with pytest.raises(ValueError, match=message):
        LanguageModelConfig(**options)


# --- forward and loss -----------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"tie_weights": True}, {"tie_weights": True, "embedding_size": 4},
                                     {"embedding_size": 4}, {"cell": "gru"}, {"cell": "rnn_tanh"}],
                         ids=["untied", "tied", "tied projected", "untied E != H", "gru", "rnn"])
def test_forward_shapes(options):
    model = make(**options)
    x = tokens()
    logits, _ = model(x)
    assert logits.shape == (B, T, V)
    # the final state carries on: two chunks equal one run
    whole = logits
    a, carried = model(x[:, :3])
    b, _ = model(x[:, 3:], carried)
    torch.testing.assert_close(torch.cat([a, b], 1), whole)


def test_loss_is_cross_entropy_by_hand():
    model = make()
    x, y = tokens(), tokens()
    loss, count, state = model.loss({"input": x, "target": y})
    logits, expected_state = model(x)
    log_probs = logits.log_softmax(-1)
    by_hand = -sum(log_probs[b, t, y[b, t]] for b in range(B) for t in range(T)) / (B * T)
    torch.testing.assert_close(loss, by_hand.float())
    assert count == B * T
    torch.testing.assert_close(state, expected_state)


def test_loss_from_a_carried_state():
    model = make()
    x, y = tokens(), tokens()
    _, state = model(tokens())
    loss, _, _ = model.loss({"input": x, "target": y}, state)
    logits, _ = model(x, state)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).float())
    assert not torch.allclose(loss, model.loss({"input": x, "target": y})[0])  # the state mattered


# --- tied weights ---------------------------------------------------------------------------------

@pytest.mark.parametrize("embedding_size", [0, 4])
def test_tied_weights_share_one_parameter(embedding_size):
    model = make(tie_weights=True, embedding_size=embedding_size)
    assert model.decoder.weight is model.embedding.weight
    assert sum(p is model.embedding.weight for p in model.parameters()) == 1
    E = embedding_size or H
    assert model.embedding.weight.shape == (V, E)
    if embedding_size:
        assert model.projection.weight.shape == (E, H)
    else:
        assert model.projection is None
    # the one weight gets gradient from both its uses: the embedding of the inputs and the decoder
    x = torch.full((1, 3), 2)
    loss, _, _ = model.loss({"input": x, "target": torch.full((1, 3), 7)})
    loss.backward()
    grad = model.embedding.weight.grad
    assert grad[2].abs().sum() > 0 and grad[7].abs().sum() > 0 and grad[5].abs().sum() > 0


def test_untied_weights_are_separate():
    model = make(embedding_size=4)
    assert model.decoder.weight is not model.embedding.weight
    assert model.decoder.weight.shape == (V, H) and model.projection is None


# --- embedding dropout ----------------------------------------------------------------------------

def test_embedding_dropout_drops_whole_words():
    p = 0.5
    model = make(embedding_dropout=p).train()
    x = torch.arange(V).repeat(3, 4)  # every word 12 times
    weight = model.embedding.weight
    e = model.embed(x)
    dropped = set()
    for word in range(V):
        rows = e[x == word]  # every occurrence of this word
        if rows.abs().sum() == 0:
            dropped.add(word)
        else:
            torch.testing.assert_close(rows, (weight[word] / (1 - p)).expand_as(rows))
    assert 0 < len(dropped) < V
    assert model.embed(x).eq(0).all(-1).any()  # a fresh mask each call, whole rows again


def test_embedding_dropout_is_off_in_eval():
    model = make(embedding_dropout=0.5).eval()
    x = tokens()
    assert torch.equal(model.embed(x), F.embedding(x, model.embedding.weight))


# --- generation -----------------------------------------------------------------------------------

def recomputed(model, prompt, max_tokens, temperature=1.0, top_k=0, top_p=1.0, generator=None):
    """The reference: the whole sequence run again for every new token."""
    out = []
    for _ in range(max_tokens):
        logits, _ = model(torch.tensor([prompt + out]))
        out.append(int(sample_next(logits[:, -1], temperature, top_k, top_p, generator)))
    return out


GENERATORS = {"lstm": {}, "gru": {"cell": "gru"}, "rnn_tanh": {"cell": "rnn_tanh"},
              "tied projected": {"tie_weights": True, "embedding_size": 4}}


SAMPLING = {"greedy": dict(temperature=0), "plain": dict(temperature=1.0), "top_k": dict(temperature=0.7, top_k=4),
            "top_p": dict(temperature=1.3, top_p=0.8)}


@pytest.mark.parametrize("sampling", SAMPLING.values(), ids=SAMPLING.keys())
@pytest.mark.parametrize("options", GENERATORS.values(), ids=GENERATORS.keys())
def test_streaming_equals_recomputing(options, sampling):
    """Each new token is one step from the carried state; the same generator draws the same tokens."""
    model = make(**options).eval()
    with torch.no_grad():  # larger weights than the initialization's, so that the tokens depend on the state
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    prompt = [3, 1, 4, 1, 5]
    streamed = list(model.generate(prompt, 12, generator=torch.Generator().manual_seed(4), **sampling))
    assert streamed == recomputed(model, prompt, 12, generator=torch.Generator().manual_seed(4), **sampling)
    if sampling["temperature"] > 0:
        assert len(set(streamed)) > 1


def test_generation_is_deterministic_for_a_seed():
    model = make()
    def run(seed):
        return list(model.generate([1, 2, 3], 20, generator=torch.Generator().manual_seed(seed)))

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_stop_id_ends_generation():
    model = make().eval()
    full = list(model.generate([0, 5], 20, generator=torch.Generator().manual_seed(1)))
    stop = full[3]
    cut = list(model.generate([0, 5], 20, generator=torch.Generator().manual_seed(1), stop=stop))
    assert cut == full[:full.index(stop) + 1]


def test_generate_keeps_the_training_mode_and_needs_a_prompt():
    model = make(dropout=0.3).train()
    assert len(list(model.generate([1], 4))) == 4
    assert model.training
    with pytest.raises(ValueError, match="needs a prompt"):
        list(model.generate([], 4))


def test_generate_ignores_dropout():
    model = make(dropout=0.5, input_dropout=0.5, output_dropout=0.5, embedding_dropout=0.5).train()
    prompt = [4, 4, 2]
    streamed = list(model.generate(prompt, 8, temperature=0))
    model.eval()
    assert streamed == recomputed(model, prompt, 8, temperature=0)


# --- sampling filters -----------------------------------------------------------------------------

def frequencies(ids, size=V):
    return torch.bincount(ids, minlength=size).double() / ids.numel()


def test_temperature_zero_is_argmax():
    logits = torch.randn(6, V)
    assert torch.equal(sample_next(logits, temperature=0, top_k=3, top_p=0.5), logits.argmax(-1))


def test_temperature_scales_the_distribution():
    logits = torch.randn(V)
    ids = sample_next(logits.expand(20000, V), temperature=0.5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(frequencies(ids), (logits.double() / 0.5).softmax(-1), atol=0.015, rtol=0)


def test_top_k_only_samples_among_the_k_largest():
    logits = torch.randn(V) * 0.3  # flat enough that every one of the k shows up
    k = 4
    largest = set(sorted(range(V), key=lambda i: -float(logits[i]))[:k])
    ids = sample_next(logits.expand(4000, V), top_k=k, generator=torch.Generator().manual_seed(0))
    assert set(ids.tolist()) == largest
    # renormalized over the k
    expected = torch.zeros(V, dtype=torch.float64)
    kept = torch.tensor(sorted(largest))
    expected[kept] = logits[kept].double().softmax(-1)
    torch.testing.assert_close(frequencies(ids), expected, atol=0.03, rtol=0)


@pytest.mark.parametrize("top_p", [0.3, 0.5, 0.7, 0.85, 0.97])
def test_top_p_keeps_the_smallest_nucleus(top_p):
    probs = torch.tensor([0.05, 0.3, 0.02, 0.5, 0.13], dtype=torch.float64)  # vocabulary in no sorted order
    nucleus, mass = set(), 0.0
    for i in sorted(range(len(probs)), key=lambda i: -float(probs[i])):  # the smallest set reaching top_p
        if mass >= top_p:
            break
        nucleus.add(i)
        mass += float(probs[i])
    ids = sample_next(probs.log().expand(4000, len(probs)), top_p=top_p, generator=torch.Generator().manual_seed(0))
    assert set(ids.tolist()) == nucleus
    expected = torch.zeros(len(probs), dtype=torch.float64)
    kept = torch.tensor(sorted(nucleus))
    expected[kept] = probs[kept] / probs[kept].sum()
    torch.testing.assert_close(frequencies(ids, len(probs)), expected, atol=0.03, rtol=0)


def test_top_p_and_top_k_per_row():
    logits = torch.stack([torch.tensor([0.0, 5.0, 0.0, 4.9]), torch.tensor([5.0, 0.0, 4.9, 0.0])])
    ids = sample_next(logits.repeat(500, 1), top_k=2, top_p=0.99, generator=torch.Generator().manual_seed(0))
    assert set(ids[0::2].tolist()) == {1, 3} and set(ids[1::2].tolist()) == {0, 2}


def test_sample_next_is_deterministic_for_a_generator():
    logits = torch.randn(50, V)
    a = sample_next(logits, generator=torch.Generator().manual_seed(3))
    b = sample_next(logits, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (50,) and a.dtype == torch.long
