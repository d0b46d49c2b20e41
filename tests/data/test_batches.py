"""Bucketed batches: truncation, every example once per epoch, little padding, exact resume, balanced
sampling, and evaluation batches that come back in the input's order."""

import random

import pytest
import torch

from rnnkit.data.batches import BucketBatches, labeled_batches, pad, sorted_batches, truncate


def test_truncate_head_tail_and_both():
    ids = list(range(10))
    assert truncate(ids, 4, "head") == [0, 1, 2, 3]
    assert truncate(ids, 4, "tail") == [6, 7, 8, 9]
    assert truncate(ids, 8, "head_tail") == [0, 1, 4, 5, 6, 7, 8, 9]  # a quarter from the start
    assert truncate(ids, 0, "head") == ids and truncate(ids, 20, "tail") == ids


def test_pad_uses_zero_and_reports_lengths():
    ids, lengths = pad([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]


def sequences(n=203, seed=0):
    rng = random.Random(seed)
    return [[rng.randrange(2, 50) for _ in range(rng.randrange(1, 60))] for _ in range(n)]


def test_each_example_once_per_epoch_and_order_changes():
    data = sequences()
    labels = torch.arange(len(data))  # the label says which example it is
    batches = labeled_batches(data, labels, batch_size=8, seed=1, pool=4)
    epochs = []
    for _ in range(2):
        seen = []
        for _ in range(batches.batches_per_epoch):
            batch, reset = batches.next()
            assert not reset
            for row, index in enumerate(batch["labels"].tolist()):
                length = int(batch["lengths"][row])
                assert batch["ids"][row, :length].tolist() == data[index]
                assert batch["ids"][row, length:].eq(0).all()
            seen += batch["labels"].tolist()
        assert sorted(seen) == list(range(len(data)))
        epochs.append(seen)
    assert epochs[0] != epochs[1] and batches.epochs == pytest.approx(2.0)


def test_bucketing_pads_much_less_than_random_batches():
    data = sequences(800)
    bucketed = labeled_batches(data, torch.zeros(len(data), dtype=torch.long), batch_size=16, pool=50)
    plain = labeled_batches(data, torch.zeros(len(data), dtype=torch.long), batch_size=16, pool=1)

    def padding(b):
        total = 0
        for _ in range(b.batches_per_epoch):
            batch, _ = b.next()
            total += batch["ids"].numel() - int(batch["lengths"].sum())
        return total

    assert padding(bucketed) < 0.25 * padding(plain)


def test_resume_from_state_repeats_the_same_batches():
    data = sequences()
    labels = torch.arange(len(data))
    a = labeled_batches(data, labels, batch_size=8, seed=5)
    for _ in range(37):  # into the second epoch
        a.next()
    state = a.state()
    expected = [a.next()[0]["labels"].tolist() for _ in range(40)]
    b = labeled_batches(data, labels, batch_size=8, seed=5)
    b.load_state(*state)
    assert [b.next()[0]["labels"].tolist() for _ in range(40)] == expected


def test_balanced_sampling_draws_classes_equally():
    data = sequences(400)
    labels = torch.tensor([1 if i < 40 else 0 for i in range(400)])  # 10% positive
    batches = labeled_batches(data, labels, batch_size=20, seed=0, balanced=True)
    drawn = torch.cat([batches.next()[0]["labels"] for _ in range(batches.batches_per_epoch * 3)])
    assert 0.45 < drawn.float().mean().item() < 0.55


def test_sorted_batches_cover_everything_in_length_order():
    data = sequences(50)
    rows_seen, longest = [], 0
    for rows, batch in sorted_batches(data, 7):
        assert batch["lengths"].tolist() == [len(data[i]) for i in rows]
        assert min(batch["lengths"]) >= longest
        longest = max(batch["lengths"])
        rows_seen += rows
    assert sorted(rows_seen) == list(range(50))


def test_any_collate_and_clear_errors():
    items = ["ab", "abcd", "a"]
    batches = BucketBatches([len(x) for x in items], lambda rows: [items[i] for i in rows], batch_size=3)
    assert sorted(batches.next()[0]) == sorted(items)
    with pytest.raises(ValueError, match="at least 1"):
        BucketBatches([2, 0], lambda rows: rows, batch_size=2)
    with pytest.raises(ValueError, match="needs the labels"):
        BucketBatches([2, 1], lambda rows: rows, batch_size=2, balanced=True)
