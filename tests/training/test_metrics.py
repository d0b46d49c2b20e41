"""Classification metrics against values worked out by hand (and scikit-learn's conventions for the
edge cases: a class never predicted has precision 0; macro averages cover the classes that occur)."""

import pytest
import torch

from rnnkit.training.metrics import classification_metrics, confusion_matrix, format_report, plot_confusion

NAMES = ["a", "b", "c"]


def test_confusion_rows_are_true_classes():
    targets = torch.tensor([0, 0, 0, 1, 1, 2])
    predictions = torch.tensor([0, 1, 0, 1, 2, 2])
    assert confusion_matrix(targets, predictions, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_metrics_worked_by_hand():
    confusion = torch.tensor([[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    m = classification_metrics(confusion, NAMES)
    # a: P 2/2, R 2/3, F1 0.8;  b: P 1/2, R 1/2, F1 0.5;  c: P 1/2, R 1/1, F1 2/3
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["macro_precision"] == pytest.approx(2 / 3) and m["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["examples"] == 6


def test_never_predicted_and_absent_classes():
    confusion = torch.tensor([[3, 0, 0], [2, 0, 0], [0, 0, 0]])  # b never predicted, c absent everywhere
    m = classification_metrics(confusion, NAMES)
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    # a: P 3/5, R 1, F1 0.75; the macro average is over a and b only
    assert m["macro_f1"] == pytest.approx(0.75 / 2)


def test_report_table_and_png(tmp_path):
    confusion = torch.tensor([[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    lines = format_report(classification_metrics(confusion, NAMES), confusion, NAMES)
    assert lines[1].split() == ["a", "1.0000", "0.6667", "0.8000", "3"]
    assert lines[-3].split() == ["a", "2", "1", "0"]
    path = tmp_path / "confusion.png"
    plot_confusion(confusion, NAMES, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- spans (sequence labeling) ------------------------------------------------------------------------

def test_span_metrics_worked_by_hand():
    from rnnkit.training.metrics import span_metrics

    gold = [[("PER", 0, 2), ("LOC", 3, 4)], [("ORG", 0, 1)]]
    predicted = [[("PER", 0, 2), ("LOC", 3, 5)], [("ORG", 0, 1), ("PER", 2, 3)]]
    m = span_metrics(gold, predicted)
    assert (m["precision"], m["recall"]) == (pytest.approx(2 / 4), pytest.approx(2 / 3))
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_type"]["PER"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})


def test_span_metrics_equal_seqeval_on_random_tags():
    import random

    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    from rnnkit.data.schemes import spans
    from rnnkit.training.metrics import span_metrics

    rng = random.Random(0)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(1, 15))] for _ in range(300)]
    predicted = [[t if rng.random() < 0.7 else rng.choice(tags) for t in sentence] for sentence in gold]
    ours = span_metrics([spans(s) for s in gold], [spans(s) for s in predicted])
    assert ours["precision"] == pytest.approx(precision_score(gold, predicted))
    assert ours["recall"] == pytest.approx(recall_score(gold, predicted))
    assert ours["f1"] == pytest.approx(f1_score(gold, predicted))
    theirs = classification_report(gold, predicted, output_dict=True)
    for kind, row in ours["per_type"].items():
        assert row["f1"] == pytest.approx(theirs[kind]["f1-score"])
        assert row["support"] == theirs[kind]["support"]
