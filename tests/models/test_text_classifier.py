"""TextClassifier: no padding leaks into any pooling, each pooling equals its definition computed with
torch.nn's own LSTM/GRU, the loss equals torch's weighted cross entropy, every parameter learns (the
embeddings only when not frozen), and configs reject what they cannot build."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig

V, C = 50, 3
NO_DROPOUT = dict(input_dropout=0.0, output_dropout=0.0, embedding_dropout=0.0)


def model(**options):
    config = TextClassifierConfig(**{"embedding_size": 8, "hidden_size": 6, **NO_DROPOUT, **options})
    return TextClassifier(config, V, C).double().eval()


def batch(lengths=(5, 2, 7, 1)):
    lengths = torch.tensor(lengths)
    ids = torch.randint(2, V, (len(lengths), int(lengths.max())))
    ids[torch.arange(ids.shape[1])[None] >= lengths[:, None]] = 0
    return ids, lengths


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention", "last+mean+max+attention"])
def test_a_padded_batch_equals_each_text_alone(cell, bidirectional, pooling):
    m = model(cell=cell, bidirectional=bidirectional, pooling=pooling, num_layers=2)
    ids, lengths = batch()
    together = m(ids, lengths)
    for row, length in enumerate(lengths.tolist()):
        alone = m(ids[row:row + 1, :length], lengths[row:row + 1])
        torch.testing.assert_close(together[row:row + 1], alone)
    ids[0, 5:] = 7  # whatever the padding holds, nothing changes
    torch.testing.assert_close(m(ids, lengths), together)


def torch_reference(m, ids, lengths):
    """The top layer's outputs and final h from torch.nn.LSTM/GRU on a packed batch, same weights."""
    cfg = m.config
    kind = {"lstm": nn.LSTM, "gru": nn.GRU}[cfg.cell]
    rnn = kind(cfg.embedding_size, cfg.hidden_size, cfg.num_layers, batch_first=True,
               bidirectional=cfg.bidirectional).double()
    N = 2 if cfg.bidirectional else 1
    with torch.no_grad():
        for index, cell in enumerate(m.rnn.cells):
            suffix = f"_l{index // N}" + ("_reverse" if index % N else "")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(rnn, name + suffix).copy_(getattr(cell, name))
    packed = nn.utils.rnn.pack_padded_sequence(m.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
    y, state = rnn(packed)
    y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True)
    h = state[0] if cfg.cell == "lstm" else state
    return y, h


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_poolings_equal_their_definitions_on_torch_outputs(cell):
    m = model(cell=cell, pooling="last+mean+max", num_layers=2)
    ids, lengths = batch()
    y, h = torch_reference(m, ids, lengths)
    last = torch.cat([h[-2], h[-1]], -1)  # top layer: forward, reverse
    mean = torch.stack([y[b, :n].mean(0) for b, n in enumerate(lengths.tolist())])
    highest = torch.stack([y[b, :n].max(0).values for b, n in enumerate(lengths.tolist())])
    expected = m.output(torch.cat([last, mean, highest], -1))
    torch.testing.assert_close(m(ids, lengths), expected)


def test_attention_weights_are_a_distribution_over_the_valid_tokens():
    m = model(pooling="attention")
    ids, lengths = batch()
    weights = m.attention_weights(ids, lengths)
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(lengths), dtype=weights.dtype))
    assert (weights[torch.arange(weights.shape[1])[None] >= lengths[:, None]] == 0).all()
    y, _ = torch_reference(m, ids, lengths)
    pooled = torch.einsum("bt,btd->bd", weights, y)
    torch.testing.assert_close(m(ids, lengths), m.output(pooled))
    assert model(pooling="max").attention_weights(ids, lengths) is None


def test_loss_is_torch_weighted_cross_entropy_and_every_parameter_learns():
    m = model(pooling="last+attention").train()
    m.class_weights.copy_(torch.tensor([1.0, 2.0, 0.5]))
    ids, lengths = batch()
    labels = torch.tensor([0, 1, 2, 1])
    loss, count, carry = m.loss({"ids": ids, "lengths": lengths, "labels": labels})
    expected = F.cross_entropy(m(ids, lengths), labels, weight=m.class_weights)
    torch.testing.assert_close(loss, expected)
    assert count == 4 and carry is None
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradcheck_through_pooling_and_attention():
    m = model(pooling="mean+max+attention", cell="gru", hidden_size=3, embedding_size=4)
    ids, lengths = batch((3, 2))
    x = m.embedding(ids).detach().requires_grad_()

    def run(x):
        y, state = m.rnn(x, lengths=lengths)
        return m.pool(y, state, lengths)

    assert torch.autograd.gradcheck(run, (x,))


def test_frozen_embeddings_and_pretrained_rows():
    m = model(freeze_embeddings=True)
    assert not m.embedding.weight.requires_grad
    weight, found = torch.randn(V, 8, dtype=torch.float64), torch.zeros(V, dtype=torch.bool)
    found[5:9] = True
    before = m.embedding.weight.detach().clone()
    m.set_embeddings(weight, found)
    torch.testing.assert_close(m.embedding.weight[5:9], weight[5:9])
    torch.testing.assert_close(m.embedding.weight[9:], before[9:])


def test_embedding_dropout_drops_whole_words_only_in_training():
    m = model(embedding_dropout=0.5).train()
    ids = torch.full((1, 40), 7)
    embedded = m.embed(ids)
    assert embedded.eq(0).all() or embedded.ne(0).all()  # one decision per word for the whole batch
    m.eval()
    torch.testing.assert_close(m.embed(ids), m.embedding(ids))


@pytest.mark.parametrize("options, message", [
    ({"pooling": "min"}, "model.pooling='min'"),
    ({"pooling": "max+max"}, "each once"),
    ({"cell": "transformer"}, "model.cell='transformer'"),
    ({"hidden_size": 0}, "model.hidden_size=0"),
    ({"output_dropout": 1.0}, "model.output_dropout=1.0"),
    ({"input_dropout": 1.5}, "model.input_dropout=1.5"),
])
def test_config_errors_name_the_field(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        TextClassifierConfig(**options)
    with pytest.raises(ValueError, match="at least 2 classes"):
        TextClassifier(TextClassifierConfig(), V, 1)
