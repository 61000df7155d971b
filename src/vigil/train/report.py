"""Classification metrics and the run folder's pictures. numpy and matplotlib only: `vigil eval` uses it too."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix (rows: truth, columns: prediction)."""
    n = len(labels)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    tp = np.diag(confusion).astype(np.float64)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros(n), where=confusion.sum(0) > 0)
    recall = np.divide(tp, confusion.sum(1), out=np.zeros(n), where=confusion.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n), where=(precision + recall) > 0)
    per_class = {label: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                         "f1": round(float(f1[i]), 4), "support": int(confusion[i].sum())}
                 for i, label in enumerate(labels)}
    return {"accuracy": round(float(tp.sum() / max(1, confusion.sum())), 4), "per_class": per_class,
            "macro_f1": round(float(f1.mean()), 4), "confusion": confusion.tolist(), "labels": list(labels)}


def report_text(result: dict) -> str:
    width = max(12, *(len(label) for label in result["labels"]))
    lines = [f"{'':>{width}} precision    recall  f1-score   support", ""]
    for label, m in result["per_class"].items():
        lines.append(f"{label:>{width}} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f} {m['support']:9d}")
    total = sum(m["support"] for m in result["per_class"].values())
    lines += ["", f"{'accuracy':>{width}} {'':9} {'':9} {result['accuracy']:9.4f} {total:9d}",
              f"{'macro f1':>{width}} {'':9} {'':9} {result['macro_f1']:9.4f} {total:9d}"]
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(result: dict, path: Path, title: str = "confusion matrix") -> None:
    plt = _pyplot()
    confusion = np.asarray(result["confusion"])
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(confusion), 1 + 0.8 * len(confusion)))
    ax.imshow(confusion, cmap="Blues")
    ticks = range(len(result["labels"]))
    ax.set_xticks(ticks, result["labels"], rotation=45, ha="right")
    ax.set_yticks(ticks, result["labels"])
    for (i, j), value in np.ndenumerate(confusion):
        ax.text(j, i, str(value), ha="center", va="center", color="black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(metrics_csv: Path, path: Path, smooth: float = 0.6) -> None:
    """Loss and accuracy per epoch over both passes, exponentially smoothed as the seed plotted them; with an
    `lr.csv` beside (training from scratch) a third panel draws the learning rate of every iteration."""
    rows = list(csv.DictReader(metrics_csv.open()))
    if not rows:
        return
    plt = _pyplot()
    lr_csv = metrics_csv.with_name("lr.csv")
    lr_rows = list(csv.DictReader(lr_csv.open())) if lr_csv.is_file() else []
    fig, axes = plt.subplots(1, 3 if lr_rows else 2, figsize=(15 if lr_rows else 10, 4))
    if lr_rows:
        axes[2].plot([int(r["iteration"]) for r in lr_rows], [float(r["lr"]) for r in lr_rows])
        axes[2].set_xlabel("iteration")
        axes[2].set_title("learning rate")
    x = np.arange(1, len(rows) + 1)
    for ax, key in zip(axes[:2], ("loss", "acc"), strict=True):
        for split in ("train", "val"):
            ax.plot(x, _smoothed([float(r[f"{split}_{key}"]) for r in rows], smooth), label=split)
        boundary = next((i for i, r in enumerate(rows) if r["pass"] == "2"), None)
        if boundary:
            ax.axvline(boundary + 0.5, color="grey", linestyle="--", label="fine-tune")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _smoothed(values: list[float], factor: float) -> list[float]:
    out: list[float] = []
    for v in values:
        out.append(v if not out else out[-1] * factor + v * (1 - factor))
    return out


def plot_lr_find(rows: list[tuple[int, int, float, float, float]], result: dict, path: Path) -> None:
    """The range test: smoothed batch loss and accuracy against the learning rate, the suggestions marked."""
    plt = _pyplot()
    lrs = [r[2] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, column, title in ((axes[0], 3, "loss"), (axes[1], 4, "accuracy")):
        ax.plot(lrs, [r[column] for r in rows], alpha=0.3, label="batch")
        ax.plot(lrs, smoothed([r[column] for r in rows]), label="smoothed")
        for key, colour in (("suggested_base_lr", "green"), ("suggested_max_lr", "red")):
            ax.axvline(result[key], color=colour, linestyle="--", label=f"{key[10:]} {result[key]:.3g}")
        ax.set_xlabel("learning rate")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def smoothed(values: list[float], factor: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (the first values are not pulled towards zero)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = factor * avg + (1 - factor) * v
        out.append(avg / (1 - factor ** i))
    return np.array(out)
