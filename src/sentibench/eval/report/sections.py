"""The report's sections that draw figures: one per dataset (leaderboard, significance, plots,
error analysis) and the training curves. Each returns its Markdown lines and the files drawn."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd

from sentibench.errors import SentibenchError
from sentibench.eval.report.markdown import (
    LEGEND,
    error_analysis_lines,
    images,
    leaderboard_lines,
    md_cell,
    slug,
)
from sentibench.eval.report.reviews import load_test_set
from sentibench.eval.report.tables import length_table, per_run_points, reliability_curves
from sentibench.eval.significance import adjacent_tests, has_predictions
from sentibench.runs import RunDir


def plots_module() -> ModuleType:
    """plots.py, or one sentence saying how to get matplotlib (an optional dependency)."""
    try:
        from sentibench.eval import plots
    except ModuleNotFoundError as exc:
        raise SentibenchError(
            f"The report draws its figures with matplotlib, which is missing ({exc.name}); "
            "install it with pip install 'sentibench[plots]'."
        ) from None
    return plots


def dataset_section(
    runs: pd.DataFrame, groups: pd.DataFrame, plots_dir: Path
) -> tuple[list[str], list[Path]]:
    """The section of one dataset: `runs` are its complete runs, `groups` their group table."""
    first = runs.iloc[0]
    source, sha = first["data"], first["sha256"]
    label_names = tuple(first["label_names"])  # one sha256: one dataset, one set of classes
    name = Path(source).name or source  # sample, imdb, or the folder's name
    prefix = f"{slug(name)}-{sha[:8]}"
    n_test = int(groups["n_test"].iloc[0])
    truth, missing = load_test_set(source, sha)
    found = adjacent_tests(list(groups["representative"]), truth) if truth is not None else None
    tests = found or [None] * len(groups)
    # Run records copied without their predictions.csv still rank; they sit out the analyses.
    kept = groups["representative"].map(has_predictions).to_numpy()
    notes = [
        missing
        or ("no predictions.csv" if not kept[i] else "")
        or ("no predictions.csv above" if i and not kept[i - 1] else "")
        for i in range(len(groups))
    ]
    lines = [f"## Data: {source} (sha256 {sha[:12]}…, {n_test:,} test reviews)", ""]
    lines += leaderboard_lines(groups, tests, notes)
    lines += ["", LEGEND, ""]
    if truth is None:
        lines += [f"Significance, length buckets and error analysis skipped: {missing}.", ""]
    elif not kept.all():
        lines += [
            "Left out of significance, length buckets and error analysis (no predictions.csv "
            f"in the run folder): {', '.join(map(md_cell, groups.loc[~kept, 'label']))}.",
            "",
        ]
    scored = groups[kept]
    plots = plots_module()
    made = [
        plots.accuracy_intervals(
            per_run_points(runs, groups),
            plots_dir / f"{prefix}-accuracy.png",
            f"Test accuracy with 95% intervals ({name})",
        ),
        plots.accuracy_vs_time(
            groups, plots_dir / f"{prefix}-pareto.png", f"Accuracy vs training time ({name})"
        ),
        plots.confusion_matrices(
            groups.assign(
                confusion_matrix=runs.set_index("path")
                .loc[groups["representative"], "confusion_matrix"]
                .tolist()
            ),
            plots_dir / f"{prefix}-confusion.png",
            f"Confusion matrices, median seed ({name})",
            label_names,
        ),
    ]
    if truth is not None and len(scored):
        made.append(
            plots.length_buckets(
                length_table(scored, truth),
                plots_dir / f"{prefix}-length.png",
                f"Accuracy by review length ({name})",
            )
        )
        made.append(
            plots.reliability_diagram(
                reliability_curves(scored, truth),
                plots_dir / f"{prefix}-reliability.png",
                f"Reliability of the test probabilities, median seed ({name})",
                len(label_names),
            )
        )
    lines += images(made)
    if truth is not None and len(scored):
        lines += error_analysis_lines(scored, truth, label_names)
    return lines, made


def curves_section(runs: pd.DataFrame, plots_dir: Path) -> tuple[list[str], list[Path]]:
    """Training curves of every run that has a history (any status)."""
    plots, made = plots_module(), []
    for run in runs.itertuples():
        history = RunDir(run.path).history()
        if history:
            path = plots.training_curves(
                history, plots_dir / f"curves-{slug(run.run)}.png", f"{run.run} ({run.status})"
            )
            if path is not None:
                made.append(path)
    if not made:
        return [], []
    return ["## Training curves", "", *images(made)], made
