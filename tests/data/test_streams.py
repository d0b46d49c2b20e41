"""Token streams for truncated BPTT: B contiguous streams, each window continuing where the last one
ended, targets the inputs shifted by one, reset at every epoch, and a position that checkpoints.

The ids are 0, 1, 2, ... so that every id names its own position in the corpus."""

import json

import pytest
import torch

from rnnkit.data.streams import TokenStream, batchify, eval_windows

B, N = 3, 11  # streams, tokens per stream


def corpus(extra=2):
    return torch.arange(B * N + extra)  # the extra tokens do not fill a stream and are dropped


def test_batchify_lays_contiguous_chunks_side_by_side():
    ids = corpus()
    streams = batchify(ids, B)
    assert streams.shape == (B, N)
    for b in range(B):
        assert streams[b].tolist() == list(range(b * N, (b + 1) * N))


def collect(stream, batches):
    return [stream.next() for _ in range(batches)]


@pytest.mark.parametrize("bptt", [1, 3, 4, 10, 20])
def test_windows_cover_each_epoch_once_contiguously(bptt):
    stream = TokenStream(corpus(), B, bptt)
    streams = batchify(corpus(), B)
    epochs, current = [], None
    for batch, reset in collect(stream, 40):
        x, y = batch["input"], batch["target"]
        assert x.shape == y.shape and x.shape[0] == B and 1 <= x.shape[1] <= bptt
        assert torch.equal(y, x + 1)  # the target is the input shifted by one, in every stream
        if reset:
            current = []
            epochs.append(current)
        elif current:  # the next window starts where the last one ended, in every stream
            assert torch.equal(x[:, 0], current[-1][0][:, -1] + 1)
        current.append((x, y))
    assert len(epochs) > 2
    for windows in epochs[:-1]:  # each whole epoch: every (input, target) pair exactly once, in order
        assert torch.equal(torch.cat([x for x, _ in windows], 1), streams[:, :-1])
        assert torch.equal(torch.cat([y for _, y in windows], 1), streams[:, 1:])


def test_epochs_counts_fractions():
    stream = TokenStream(corpus(), B, bptt=5)  # 10 input positions per stream: windows of 5 and 5
    assert stream.epochs == 0.0
    stream.next()
    assert stream.epochs == pytest.approx(0.5)
    stream.next()
    assert stream.epochs == pytest.approx(1.0)
    _, reset = stream.next()
    assert reset and stream.epochs == pytest.approx(1.5)


def test_random_bptt_lengths_vary_and_stay_contiguous():
    ids = torch.arange(B * 400)
    stream = TokenStream(ids, B, bptt=12, random_bptt=True, seed=3)
    lengths, previous, resets = [], None, []
    for batch, reset in collect(stream, 80):
        x = batch["input"]
        assert torch.equal(batch["target"], x + 1)
        if previous is not None and not reset:
            assert torch.equal(x[:, 0], previous[:, -1] + 1)
        lengths.append(x.shape[1])
        resets.append(reset)
        previous = x
    assert sum(resets) >= 2  # it went past an epoch's end
    assert len(set(lengths)) > 5
    # at least 5 steps (AWD-LSTM's floor), except the last window of an epoch, cut by the data's end
    assert min(n for n, next_reset in zip(lengths, resets[1:]) if not next_reset) >= 5


def test_random_bptt_window_distribution():
    stream = TokenStream(torch.arange(100), 2, bptt=40, random_bptt=True, seed=0)
    lengths = torch.tensor([stream.window() for _ in range(2000)], dtype=torch.float64)
    # 0.95 * N(40, 5) + 0.05 * N(20, 5), truncated to an integer (about -0.5 on average)
    assert 37.5 < lengths.mean() < 39.5
    assert ((lengths > 12) & (lengths < 28)).float().mean() == pytest.approx(0.05, abs=0.025)
    assert lengths.min() >= 5


def test_same_seed_same_windows_other_seed_others():
    def lengths(seed):
        stream = TokenStream(torch.arange(B * 300), B, bptt=10, random_bptt=True, seed=seed)
        return [stream.next()[0]["input"].shape[1] for _ in range(20)]

    assert lengths(1) == lengths(1)
    assert lengths(1) != lengths(2)


@pytest.mark.parametrize("random_bptt", [False, True])
@pytest.mark.parametrize("taken", [0, 3, 7])
def test_state_round_trip_gives_identical_batches(random_bptt, taken):
    ids = torch.arange(B * 60)
    original = TokenStream(ids, B, bptt=7, random_bptt=random_bptt, seed=5)
    collect(original, taken)
    data, tensors = original.state()
    data = json.loads(json.dumps(data))  # it travels as JSON + safetensors
    restored = TokenStream(ids, B, bptt=7, random_bptt=random_bptt, seed=99)
    restored.load_state(data, {k: v.clone() for k, v in tensors.items()})
    assert restored.epochs == original.epochs
    for (a, reset_a), (b, reset_b) in zip(collect(original, 30), collect(restored, 30)):
        assert reset_a == reset_b
        assert torch.equal(a["input"], b["input"]) and torch.equal(a["target"], b["target"])


def test_too_few_tokens_is_an_error():
    with pytest.raises(ValueError, match="5 tokens are too few for batch_size=3"):
        TokenStream(torch.arange(5), 3, 4)
    TokenStream(torch.arange(6), 3, 4).next()  # two tokens per stream: one (input, target) pair


@pytest.mark.parametrize("length", [1, 4, 10, 50])
def test_eval_windows_cover_every_pair_once(length):
    streams = batchify(corpus(), B)
    windows = list(eval_windows(corpus(), B, length))
    assert all(1 <= w["input"].shape[1] <= length for w in windows)
    assert torch.equal(torch.cat([w["input"] for w in windows], 1), streams[:, :-1])
    assert torch.equal(torch.cat([w["target"] for w in windows], 1), streams[:, 1:])


@pytest.mark.parametrize("limit", [0.1, 0.5, 0.8])
def test_eval_windows_limit_takes_a_leading_fraction(limit):
    ids = torch.arange(B * 101)  # 100 pairs per stream
    streams = batchify(ids, B)
    windows = list(eval_windows(ids, B, 7, limit))
    inputs = torch.cat([w["input"] for w in windows], 1)
    pairs = inputs.shape[1]
    assert torch.equal(inputs, streams[:, :pairs])
    assert torch.equal(torch.cat([w["target"] for w in windows], 1), streams[:, 1:pairs + 1])
    assert abs(pairs - 100 * limit) <= 1
