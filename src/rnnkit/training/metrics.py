"""Classification metrics from a confusion matrix, as scikit-learn defines them, with their table and
plot; and exact-span metrics for sequence labeling, as conlleval and seqeval define them.

    confusion[i, j]   examples of true class i predicted as j                          (C, C)
    precision_j = confusion[j, j] / sum_i confusion[i, j]   (0 when nothing was predicted j)
    recall_i    = confusion[i, i] / sum_j confusion[i, j]   (0 when class i has no examples)
    f1          = 2 precision recall / (precision + recall) (0 when both are 0)
    macro_f1    = mean of f1 over the classes that occur in the data or the predictions
    accuracy    = trace(confusion) / sum(confusion)
"""

import os
from collections import Counter
from typing import List, Sequence

import torch


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, C) int64 counts; rows are the true classes."""
    index = targets.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def classification_metrics(confusion: torch.Tensor, names: Sequence[str]) -> dict:
    """accuracy, macro precision/recall/F1 and per-class precision, recall, F1 and support."""
    confusion = confusion.double()
    true_positive = confusion.diagonal()
    predicted, actual = confusion.sum(0), confusion.sum(1)
    precision = torch.where(predicted > 0, true_positive / predicted.clamp(min=1), torch.zeros_like(predicted))
    recall = torch.where(actual > 0, true_positive / actual.clamp(min=1), torch.zeros_like(actual))
    denominator = precision + recall
    f1 = torch.where(denominator > 0, 2 * precision * recall / denominator.clamp(min=1e-12),
                     torch.zeros_like(denominator))
    present = (predicted + actual) > 0
    total = float(confusion.sum())
    return {
        "accuracy": float(true_positive.sum()) / total if total else 0.0,
        "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
        "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "examples": int(total),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(actual[i])} for i, name in enumerate(names)},
    }


def format_report(metrics: dict, confusion: torch.Tensor, names: Sequence[str]) -> List[str]:
    """Per-class table then the confusion matrix, as text lines."""
    width = max(8, *(len(n) for n in names))
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for name in names:
        row = metrics["per_class"][name]
        lines.append(f"{name:<{width}}  {row['precision']:>9.4f}  {row['recall']:>6.4f}  {row['f1']:>5.4f}  "
                     f"{row['support']:>7,}")
    lines.append(f"{'macro':<{width}}  {metrics['macro_precision']:>9.4f}  {metrics['macro_recall']:>6.4f}  "
                 f"{metrics['macro_f1']:>5.4f}  {metrics['examples']:>7,}")
    lines.append(f"accuracy {metrics['accuracy']:.4f}")
    cell = max(7, *(len(n) for n in names), len(str(int(confusion.max()))) + 1)
    lines.append("confusion (rows: true class, columns: predicted)")
    lines.append(" " * width + "".join(f"{n:>{cell}}" for n in names))
    for name, row in zip(names, confusion.tolist()):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{cell}}" for v in row))
    return lines


def plot_confusion(confusion: torch.Tensor, names: Sequence[str], path: str, title: str = "") -> None:
    """The confusion matrix as a PNG: counts in the cells, colour by the share of the true class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    C = len(names)
    share = confusion.double() / confusion.sum(1, keepdim=True).clamp(min=1)
    size = min(4 + 0.5 * C, 16)
    fig, ax = plt.subplots(figsize=(size, size * 0.85), dpi=100)
    image = ax.imshow(share.numpy(), cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ax.set_xticks(range(C), labels=names, rotation=45 if C > 4 else 0, ha="right" if C > 4 else "center")
    ax.set_yticks(range(C), labels=names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if C <= 30:
        for i in range(C):
            for j in range(C):
                ax.text(j, i, f"{int(confusion[i, j]):,}", ha="center", va="center",
                        color="white" if share[i, j] > 0.5 else "black", fontsize=9)
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def span_metrics(gold: Sequence[Sequence[tuple]], predicted: Sequence[Sequence[tuple]]) -> dict:
    """Exact-span precision, recall and F1, micro-averaged and per type (conlleval's and seqeval's
    definition: a predicted span counts only when its type, start and end all match a gold span).
    Each item of ``gold`` / ``predicted`` is one sentence's spans as (type, start, end) tuples."""
    correct, found_gold, found_predicted = Counter(), Counter(), Counter()
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        gold_set, predicted_set = set(gold_spans), set(predicted_spans)
        for kind, *_ in gold_set:
            found_gold[kind] += 1
        for kind, *_ in predicted_set:
            found_predicted[kind] += 1
        for kind, *_ in gold_set & predicted_set:
            correct[kind] += 1

    def prf(c, p, g):
        precision = c / p if p else 0.0
        recall = c / g if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1}

    total = prf(sum(correct.values()), sum(found_predicted.values()), sum(found_gold.values()))
    kinds = sorted(set(found_gold) | set(found_predicted))
    return {**total, "spans": sum(found_gold.values()), "predicted_spans": sum(found_predicted.values()),
            "per_type": {k: {**prf(correct[k], found_predicted[k], found_gold[k]), "support": found_gold[k]}
                         for k in kinds}}
