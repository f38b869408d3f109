"""The report's figures (PNG), drawn from run records only.

Figures are built with matplotlib's object API (Figure + Agg canvas), not pyplot: no global
state, no display needed, nothing left open between reports.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from sentibench.labels import BINARY_LABELS
from sentibench.runs import atomic_path

DPI = 110


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return path


def accuracy_intervals(runs: pd.DataFrame, path: Path, title: str) -> Path:
    """One row per run (best on top): accuracy with its 95% Wilson interval, published as x.

    `runs` columns: label, accuracy, ci_low, ci_high, published_accuracy (NaN where none).
    """
    figure = _figure(7.5, 1.2 + 0.32 * len(runs))
    axes = figure.add_subplot()
    y = np.arange(len(runs))[::-1]
    error = [runs["accuracy"] - runs["ci_low"], runs["ci_high"] - runs["accuracy"]]
    axes.errorbar(runs["accuracy"], y, xerr=error, fmt="o", capsize=3, label="ours (95% CI)")
    published = runs["published_accuracy"].astype(float)
    if published.notna().any():
        axes.plot(published, y, "x", color="tab:red", label="published (25k test)")
    axes.set_yticks(y, runs["label"])
    axes.set_xlabel("test accuracy")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


def pareto_front(seconds: list[float], accuracy: list[float]) -> list[int]:
    """Indices (fastest first) of the points no other point beats on both time and accuracy."""
    order = sorted(range(len(seconds)), key=lambda i: (seconds[i], -accuracy[i]))
    front, best = [], -math.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return front


def accuracy_vs_time(groups: pd.DataFrame, path: Path, title: str) -> Path:
    """Accuracy against training time (log scale if wide) with the Pareto front through it.

    `groups` columns: label, accuracy, train_s.
    """
    groups = groups.dropna(subset=["train_s"])
    figure = _figure(7.5, 5)
    axes = figure.add_subplot()
    seconds = groups["train_s"].clip(lower=1e-2).tolist()
    accuracy = groups["accuracy"].tolist()
    axes.scatter(seconds, accuracy)
    for x, y, label in zip(seconds, accuracy, groups["label"], strict=True):
        axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
    front = pareto_front(seconds, accuracy)
    axes.step(
        [seconds[i] for i in front],
        [accuracy[i] for i in front],
        where="post",
        color="tab:green",
        marker="o",
        markerfacecolor="none",
        markersize=10,
        label="Pareto front (nothing both faster and better)",
    )
    if max(seconds, default=1) > 20 * min(seconds, default=1):  # log only for wide ranges
        axes.set_xscale("log")
        _plain_seconds(axes.xaxis, max(seconds) / min(seconds))
    axes.set_xlabel("training time (s)")
    axes.set_ylabel("test accuracy")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def _plain_seconds(axis: Axis, span: float) -> None:
    """Log-axis ticks at 1-2-5 seconds (decades only past 3 decades), labelled 0.5, 2, 100:
    matplotlib's default labels minor ticks too (3×10⁻¹4×10⁻¹), and they overlap."""
    subs = (1.0, 2.0, 5.0) if span <= 1e3 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _numeric_series(history: list[dict], key: str) -> list[float]:
    return [row[key] if isinstance(row.get(key), int | float) else math.nan for row in history]


def training_curves(history: list[dict], path: Path, title: str) -> Path | None:
    """Losses and accuracies per epoch from a run's history.jsonl; None if it has neither."""
    keys = sorted({k for row in history for k, v in row.items() if isinstance(v, int | float)})
    panels = [
        ("loss", [k for k in keys if k.endswith("loss")]),
        ("accuracy", [k for k in keys if "accuracy" in k]),
    ]
    panels = [(name, found) for name, found in panels if found]
    if not panels:
        return None
    epochs = [row.get("epoch", i) for i, row in enumerate(history, start=1)]
    figure = _figure(4 * len(panels), 3.2)
    figure.suptitle(title, fontsize=10)
    for number, (name, found) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), number)
        for key in found:
            axes.plot(epochs, _numeric_series(history, key), marker="o", label=key)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return _save(figure, path)


def class_ticks(label_names: tuple[str, ...]) -> list[str]:
    """Axis labels of a confusion matrix: neg / pos for IMDB's classes, else each name cut to
    8 characters."""
    if tuple(label_names) == BINARY_LABELS:
        return ["neg", "pos"]
    return [name if len(name) <= 8 else name[:7] + "…" for name in label_names]


def confusion_matrices(
    runs: pd.DataFrame,
    path: Path,
    title: str,
    label_names: tuple[str, ...] = BINARY_LABELS,
) -> Path:
    """A grid of k x k test confusion matrices (rows true, columns predicted, in label id
    order). `runs` columns: label, confusion_matrix."""
    columns = min(4, len(runs))
    rows = math.ceil(len(runs) / columns)
    side = 2.6 + 0.4 * max(0, len(label_names) - 2)  # room for k labels and counts
    figure = _figure(side * columns, side * rows + 0.4)
    figure.suptitle(title, fontsize=10)
    for number, (label, matrix) in enumerate(
        zip(runs["label"], runs["confusion_matrix"], strict=True), start=1
    ):
        axes = figure.add_subplot(rows, columns, number)
        matrix = np.asarray(matrix)
        axes.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            color = "white" if count > matrix.max() / 2 else "black"
            axes.text(j, i, f"{count:,}", ha="center", va="center", color=color, fontsize=8)
        ticks, names = list(range(len(label_names))), class_ticks(label_names)
        axes.set_xticks(ticks, names, fontsize=7 if len(ticks) > 2 else None)
        axes.set_yticks(ticks, names, fontsize=7 if len(ticks) > 2 else None)
        axes.set_xlabel("predicted", fontsize=8)
        axes.set_ylabel("true", fontsize=8)
        axes.set_title(textwrap.fill(label, 32), fontsize=8)
    return _save(figure, path)


def length_buckets(table: pd.DataFrame, path: Path, title: str) -> Path:
    """Accuracy per review-length bucket: `table` has buckets as index, one column per model."""
    figure = _figure(7.5, 4.5)
    axes = figure.add_subplot()
    x = np.arange(len(table.index))
    for label in table.columns:
        axes.plot(x, table[label], marker="o", label=label)
    axes.set_xticks(x, [str(bucket) for bucket in table.index])
    axes.set_xlabel("review length (words)")
    axes.set_ylabel("test accuracy")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", ncols=2)
    return _save(figure, path)


def reliability_diagram(curves: dict[str, dict], path: Path, title: str, classes: int = 2) -> Path:
    """Accuracy against mean confidence per confidence bin, one line per run, with the
    diagonal of perfect calibration. `curves`: label -> metrics.reliability_bins(...)."""
    figure = _figure(6.5, 5.5)
    axes = figure.add_subplot()
    # the predicted class's confidence is never below 1 / classes (0.5 for binary)
    low = 1.0 / classes
    axes.plot([low, 1.0], [low, 1.0], linestyle="--", color="grey", label="perfectly calibrated")
    for label, bins in curves.items():
        used = np.asarray(bins["count"]) > 0  # empty bins have no point
        axes.plot(
            np.asarray(bins["confidence"])[used],
            np.asarray(bins["accuracy"])[used],
            marker="o",
            markersize=3,
            label=label,
        )
    axes.set_xlim(low, 1.0)
    axes.set_xlabel("confidence of the predicted class (mean per bin)")
    axes.set_ylabel("accuracy in the bin")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="upper left")
    return _save(figure, path)
