"""Seq2Seq: the loss is masked (and label-smoothed) cross entropy over the target tokens, padding in the
source or the target changes nothing, the decoder's two paths (whole target at once, token by token)
agree, teacher forcing does what its ratio says, the bridge joins each layer's directions, every
configuration learns end to end, tied weights are one Parameter, greedy decoding stops at EOS, and the
model can learn to reverse sequences."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models.seq2seq import BOS, EOS, PAD, Seq2Seq, Seq2SeqConfig, max_lengths, restrict

SV, TV = 12, 10  # source and target vocabularies


def model(**options):
    config = Seq2SeqConfig(**{"embedding_size": 8, "hidden_size": 12, "dropout": 0.0, "label_smoothing": 0.0,
                              **options})
    return Seq2Seq(config, SV, TV).double().eval()


def batch(source_lengths=(5, 2, 4), target_lengths=(3, 4, 1)):
    """Random ids > EOS, padded with PAD; targets are [BOS y EOS]."""
    source_lengths = torch.tensor(source_lengths)
    source = torch.randint(EOS + 1, SV, (len(source_lengths), int(source_lengths.max())))
    source[torch.arange(source.shape[1])[None] >= source_lengths[:, None]] = PAD
    target = torch.full((len(target_lengths), max(target_lengths) + 2), PAD)
    for row, n in enumerate(target_lengths):
        target[row, :n + 2] = torch.tensor([BOS, *torch.randint(EOS + 1, TV, (n,)).tolist(), EOS])
    return {"source": source, "source_lengths": source_lengths, "target": target}


@pytest.mark.parametrize("input_feeding", [True, False])
def test_loss_is_masked_cross_entropy_of_the_teacher_forced_logits(input_feeding):
    m, data = model(input_feeding=input_feeding), batch()
    loss, count, carry = m.loss(data)
    logits = m(data["source"], data["source_lengths"], data["target"][:, :-1])  # (B, T-1, V)
    gold = data["target"][:, 1:]
    log_probs = logits.log_softmax(-1).gather(-1, gold[..., None])[..., 0]  # (B, T-1)
    real = gold != PAD
    torch.testing.assert_close(loss, -(log_probs * real).sum() / real.sum())
    assert count == int(real.sum()) == 3 + 4 + 1 + 3 and carry is None


def test_label_smoothing_is_torchs():
    m, data = model(label_smoothing=0.1), batch()
    logits = m(data["source"], data["source_lengths"], data["target"][:, :-1])
    expected = F.cross_entropy(logits.flatten(0, 1), data["target"][:, 1:].flatten(), ignore_index=PAD,
                               label_smoothing=0.1)
    torch.testing.assert_close(m.loss(data)[0], expected)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_changes_nothing(cell):
    m, data = model(cell=cell, num_layers=2), batch()
    loss, count, _ = m.loss(data)
    wider = dict(data, source=F.pad(data["source"], (0, 3)), target=F.pad(data["target"], (0, 2)))
    torch.testing.assert_close(m.loss(wider)[0], loss)
    # each sentence alone: the batch loss is their token-weighted mean
    total = 0.0
    for row in range(3):
        n, t = int(data["source_lengths"][row]), int((data["target"][row] != PAD).sum())
        alone = {"source": data["source"][row:row + 1, :n], "source_lengths": data["source_lengths"][row:row + 1],
                 "target": data["target"][row:row + 1, :t]}
        row_loss, row_count, _ = m.loss(alone)
        total = total + row_loss * row_count
    torch.testing.assert_close(total / count, loss)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("attention", ["additive", "general", "none"])
def test_the_whole_target_at_once_equals_decode_steps(cell, attention):
    m, data = model(cell=cell, attention=attention, input_feeding=False, num_layers=2), batch()
    target = data["target"][:, :-1]
    logits = m(data["source"], data["source_lengths"], target)  # the decoder runs the target at once
    state = m.encode(data["source"], data["source_lengths"])
    for t in range(target.shape[1]):
        log_probs, state, weights = m.decode_step(target[:, t], state)
        torch.testing.assert_close(log_probs, logits[:, t].log_softmax(-1))
        assert (weights is None) == (attention == "none")


def test_teacher_forcing_ratio():
    data = batch()
    source, lengths, target = data["source"], data["source_lengths"], data["target"][:, :-1]
    other = target.clone()
    other[:, 1:] = torch.randint(EOS + 1, TV, other[:, 1:].shape)
    m = model(teacher_forcing=1.0).train()  # always the gold token: deterministic, as in eval mode
    torch.testing.assert_close(m(source, lengths, target), m(source, lengths, target))
    torch.testing.assert_close(m(source, lengths, target), m.eval()(source, lengths, target))
    m = model(teacher_forcing=0.0, input_feeding=False).train()  # always its own argmax
    torch.testing.assert_close(m(source, lengths, other), m(source, lengths, target))
    assert not torch.allclose(m.eval()(source, lengths, other), m(source, lengths, target))  # eval: gold


CONFIGS = [dict(cell=c, attention=a, bridge="linear") for c, a in itertools.product(
    ["lstm", "gru", "rnn_tanh", "rnn_relu"], ["additive", "dot", "general", "none"])]
CONFIGS += [dict(bridge="zero"), dict(bridge="copy", bidirectional=False), dict(cell="lstm", bridge="copy",
            bidirectional=False, num_layers=2), dict(input_feeding=False, num_layers=2, dropout=0.2),
            dict(tie_embeddings=True), dict(tie_embeddings=True, embedding_size=12, share_embeddings=True)]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_every_configuration_runs_and_every_parameter_learns(options):
    torch.manual_seed(0)
    vocab = SV if options.get("share_embeddings") else TV
    m = Seq2Seq(Seq2SeqConfig(**{"embedding_size": 8, "hidden_size": 12, "teacher_forcing": 0.5, **options}),
                SV, vocab)
    m.train()
    loss, _, _ = m.loss(batch())
    assert torch.isfinite(loss)
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_tied_and_shared_embeddings_are_one_parameter():
    m = model(tie_embeddings=True)  # H = 12 != E = 8: o_t is projected to E first
    assert m.generator.weight is m.target_embedding.weight and m.projection is not None
    assert sum(p is m.target_embedding.weight for p in m.parameters()) == 1
    m = Seq2Seq(Seq2SeqConfig(embedding_size=12, hidden_size=12, tie_embeddings=True, share_embeddings=True), SV, SV)
    assert m.projection is None
    assert m.source_embedding.weight is m.target_embedding.weight is m.generator.weight
    with pytest.raises(ValueError, match="model.share_embeddings=True: expected one joint vocabulary"):
        Seq2Seq(Seq2SeqConfig(share_embeddings=True), SV, TV)


def test_save_and_load_keep_the_outputs(tmp_path):
    from safetensors.torch import load_model, save_model  # as training/checkpoint.py: tied weights once

    config = Seq2SeqConfig(embedding_size=12, hidden_size=12, cell="lstm", tie_embeddings=True, share_embeddings=True)
    m, data = Seq2Seq(config, SV, SV).eval(), batch()
    save_model(m, str(tmp_path / "model.safetensors"))
    torch.manual_seed(1)
    loaded = Seq2Seq(config, SV, SV).eval()
    load_model(loaded, str(tmp_path / "model.safetensors"))
    assert loaded.generator.weight is loaded.source_embedding.weight
    torch.testing.assert_close(loaded.loss(data)[0], m.loss(data)[0])


@pytest.mark.parametrize("options, message", [
    ({"attention": "mlp"}, "model.attention='mlp'"),
    ({"bridge": "dense"}, "model.bridge='dense'"),
    ({"bridge": "copy"}, "model.bridge='copy': expected bidirectional=False"),
    ({"bridge": "zero", "attention": "none"}, "model.bridge='zero'"),
    ({"teacher_forcing": 1.5}, "model.teacher_forcing=1.5"),
    ({"label_smoothing": 1.0}, "model.label_smoothing=1.0"),
    ({"cell": "transformer"}, "model.cell='transformer'"),
    ({"dropout": 1.0}, "model.dropout=1.0"),
    ({"embedding_size": 0}, "model.embedding_size=0"),
])
def test_config_errors_name_the_field(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Seq2SeqConfig(**options)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_linear_bridge_joins_each_layers_directions(cell):
    """h_0 = tanh(W_h [h fwd; h bwd]) and, for an LSTM, c_0 = W_c [c fwd; c bwd], layer by layer, in torch's
    layer-major order of the final state (index 2 l + direction); the top layer's are the memory's ends."""
    torch.manual_seed(0)
    m, b = model(cell=cell, num_layers=2), batch()
    lengths = b["source_lengths"]
    memory, final = m.encoder(m.embed(m.source_embedding, b["source"]), lengths=lengths)  # (B, S, 2H)
    parts = tuple(final) if cell == "lstm" else (final,)
    H, rows = m.config.hidden_size, torch.arange(len(lengths))
    top = torch.cat([memory[rows, lengths - 1, :H], memory[:, 0, H:]], -1)  # (B, 2H)
    torch.testing.assert_close(torch.cat([parts[0][2], parts[0][3]], -1), top)
    state = m.encode(b["source"], lengths).rnn
    state = tuple(state) if cell == "lstm" else (state,)
    for layer in range(2):
        joined = [torch.cat([p[2 * layer], p[2 * layer + 1]], -1) for p in parts]  # (B, 2H) per part
        torch.testing.assert_close(state[0][layer], torch.tanh(m.bridge[0](joined[0])))
        if cell == "lstm":
            torch.testing.assert_close(state[1][layer], m.bridge[1](joined[1]))  # unbounded, as c is


def test_restrict_and_max_lengths():
    assert max_lengths(torch.tensor([4, 10]), 1.5, 2).tolist() == [8, 17]
    log_probs = torch.zeros(2, 6)
    out = restrict(log_probs, 1, torch.tensor([5, 1]), min_length=2)
    assert out[0].isinf().tolist() == [True, False, True, True, False, False]  # PAD, BOS, EOS (too early)
    assert out[1].isinf().tolist() == [True, True, True, False, True, True]  # at max length: EOS only


def test_greedy_stops_at_eos_and_pads_after():
    m, data = model(), batch()
    tokens, attention = m.greedy(data["source"], data["source_lengths"], max_length_a=0, max_length_b=4)
    assert tokens.shape[1] <= 5 and attention.shape == (*tokens.shape, data["source"].shape[1])
    for row in tokens.tolist():
        end = row.index(EOS)  # always there: forced at the maximal length
        assert end <= 4 and all(t == PAD for t in row[end + 1:]) and all(t > EOS or t == 1 for t in row[:end])
    finished = tokens == PAD
    assert (attention[finished] == 0).all()
    torch.testing.assert_close(attention[~finished].sum(-1), torch.ones(int((~finished).sum()), dtype=torch.float64))
    assert not m.training  # and a model in training comes back in training
    m.train()
    m.greedy(data["source"], data["source_lengths"])
    assert m.training


def test_it_learns_to_reverse_sequences():
    """200 Adam steps on 8 pairs (x -> reversed x, 3-6 symbols) and greedy decoding gets all of them."""
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor([3, 4, 5, 6, 3, 4, 5, 6])
    source = torch.zeros(8, 6, dtype=torch.long)
    target = torch.zeros(8, 8, dtype=torch.long)
    for row, n in enumerate(lengths.tolist()):
        x = torch.randint(EOS + 1, 10, (n,), generator=generator)
        source[row, :n] = x
        target[row, :n + 2] = torch.tensor([BOS, *x.flip(0).tolist(), EOS])
    data = {"source": source, "source_lengths": lengths, "target": target}
    m = Seq2Seq(Seq2SeqConfig(embedding_size=16, hidden_size=16, dropout=0.0, label_smoothing=0.0), 10, 10)
    optimizer = torch.optim.Adam(m.parameters(), lr=0.02)
    for _ in range(200):
        optimizer.zero_grad()
        m.loss(data)[0].backward()
        optimizer.step()
    tokens, _ = m.greedy(source, lengths)
    torch.testing.assert_close(tokens[:, :target.shape[1] - 1], target[:, 1:])
