"""The accuracy-vs-time plot labels its log axis in plain seconds, and only at major ticks."""

from __future__ import annotations

import re

import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from sentibench.eval import plots  # noqa: E402


@pytest.mark.parametrize("seconds", [[0.3, 0.45, 8.0], [0.3, 7.5, 17.0, 239.7], [0.02, 45, 9000]])
def test_log_axis_labels_are_plain_seconds(tmp_path, monkeypatch, seconds):
    saved = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: saved.append(figure) or path)
    groups = pd.DataFrame(
        {"label": [f"m{i}" for i in range(len(seconds))], "accuracy": 0.8, "train_s": seconds}
    )
    plots.accuracy_vs_time(groups, tmp_path / "time.png", "t")
    (figure,) = saved
    figure.canvas.draw()
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    low, high = axes.get_xlim()
    shown = [
        label.get_text()
        for label in axes.get_xticklabels()
        if low <= label.get_position()[0] <= high
    ]
    assert len(shown) >= 2
    assert all(re.fullmatch(r"\d+(\.\d+)?", text) for text in shown), shown
    assert all(label.get_text() == "" for label in axes.get_xticklabels(minor=True))
