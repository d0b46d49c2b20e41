"""SequenceTagger: padding (of sentences and of words' characters) leaks into nothing, the loss is the
CRF's likelihood (or token cross entropy) per token, constraints hold in decoding, every part learns."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models.sequence_tagger import SequenceTagger, SequenceTaggerConfig

WORDS, CHARS, TAGS, CASES = 30, 20, 5, 4
NO_DROPOUT = dict(input_dropout=0.0, output_dropout=0.0, word_dropout=0.0)


def tagger(**options):
    config = SequenceTaggerConfig(**{"hidden_size": 6, "word_embedding_size": 5, "char_embedding_size": 3,
                                     "char_hidden_size": 4, "case_embedding_size": 2, **NO_DROPOUT, **options})
    return SequenceTagger(config, WORDS, CHARS, TAGS, CASES).double().eval()


def batch(lengths=(4, 1, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    B, T, L = len(lengths), int(lengths.max()), 6
    valid = torch.arange(T)[None] < lengths[:, None]
    char_lengths = torch.randint(1, L + 1, (B, T), generator=g) * valid
    chars = torch.randint(2, CHARS, (B, T, L), generator=g) * (torch.arange(L)[None, None] < char_lengths[..., None])
    return {"words": torch.randint(2, WORDS, (B, T), generator=g) * valid, "chars": chars,
            "char_lengths": char_lengths, "cases": torch.randint(1, CASES, (B, T), generator=g) * valid,
            "lengths": lengths, "tags": torch.randint(0, TAGS, (B, T), generator=g) * valid}


def row(b, index, length):
    return {k: (v[index:index + 1, :length] if v.dim() > 1 else v[index:index + 1]) for k, v in b.items()}


@pytest.mark.parametrize("char_encoder", ["lstm", "cnn", "none"])
@pytest.mark.parametrize("output", ["crf", "softmax"])
def test_a_padded_batch_equals_each_sentence_alone(char_encoder, output):
    m = tagger(char_encoder=char_encoder, output=output)
    b = batch()
    emissions = m(b)
    decoded = m.decode(b)
    for i, n in enumerate(b["lengths"].tolist()):
        alone = row(b, i, n)
        torch.testing.assert_close(emissions[i:i + 1, :n], m(alone))
        assert decoded[i] == m.decode(alone)[0] and len(decoded[i]) == n
        trimmed = dict(alone)  # characters cut to the word's own length
        width = int(alone["char_lengths"].max())
        trimmed["chars"] = alone["chars"][..., :width]
        torch.testing.assert_close(m(trimmed), m(alone))


def test_loss_is_the_crf_likelihood_per_token_or_cross_entropy():
    b = batch()
    m = tagger()
    loss, tokens, _ = m.loss(b)
    expected = m.crf(m(b), b["tags"], b["lengths"]).sum() / 8
    torch.testing.assert_close(loss, expected)
    assert tokens == 8
    s = tagger(output="softmax")
    valid = torch.arange(4)[None] < b["lengths"][:, None]
    expected = F.cross_entropy(s(b)[valid], b["tags"][valid])
    torch.testing.assert_close(s.loss(b)[0], expected)


def test_every_parameter_learns():
    m = tagger(char_encoder="lstm").train()
    m.loss(batch())[0].backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_decoding_respects_the_constraints():
    allowed = torch.ones(TAGS, TAGS, dtype=torch.bool)
    allowed[:, 2] = False  # nothing may move to tag 2 ...
    allowed[1, 2] = True   # ... except from tag 1
    start = torch.ones(TAGS, dtype=torch.bool)
    start[2] = False
    config = SequenceTaggerConfig(hidden_size=6, word_embedding_size=5, char_encoder="none", **NO_DROPOUT)
    m = SequenceTagger(config, WORDS, CHARS, TAGS, allowed=allowed, allowed_start=start).eval()
    with torch.no_grad():
        m.emission.bias[2] += 50.0  # the emissions all but demand tag 2
    for sentence in m.decode(batch((6, 5, 3, 1), seed=3)):
        assert sentence[0] != 2
        assert all(b != 2 or a == 1 for a, b in zip(sentence, sentence[1:]))
        assert 2 in sentence or len(sentence) == 1


def test_config_errors():
    with pytest.raises(ValueError, match="model.char_encoder='rnn'"):
        SequenceTaggerConfig(char_encoder="rnn")
    with pytest.raises(ValueError, match="model.output='hmm'"):
        SequenceTaggerConfig(output="hmm")
    with pytest.raises(ValueError, match="model.word_dropout=1.0"):
        SequenceTaggerConfig(word_dropout=1.0)
