"""`sentibench report`: an honest report from run records only (nothing is retrained).

For each dataset (runs are only ranked against runs on the same data sha256): a leaderboard of
groups of seeds (group = model + preset + resolved config without the seed) with mean ± std,
the 95% Wilson interval, McNemar's exact test against the group ranked just above, the figures
of plots.py, and an error analysis. Runs scored on other datasets (`evaluate --run`, their
RUN/transfer/ records) get a cross-domain table. Collapsed, failed and unfinished runs are
listed apart.

tables.py builds the tables (the group table is also `sentibench leaderboard`), reviews.py reads
the test reviews, markdown.py and sections.py write report.md, html.py turns it into one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sentibench.errors import SentibenchError
from sentibench.eval.report.html import to_html
from sentibench.eval.report.markdown import (
    UNFINISHED,
    machines,
    md_cell,
    md_table,
    transfer_lines,
    unranked_lines,
)
from sentibench.eval.report.reviews import excerpt, length_bucket_labels, load_test_set
from sentibench.eval.report.sections import curves_section, dataset_section, plots_module
from sentibench.eval.report.tables import (
    by_dataset,
    group_table,
    leaderboard_table,
    ranked,
    run_table,
    transfer_table,
    write_leaderboard_csv,
)
from sentibench.runs import atomic_path, atomic_write_text, find_runs

__all__ = [
    "UNFINISHED",
    "ReportResult",
    "by_dataset",
    "excerpt",
    "group_table",
    "leaderboard_table",
    "length_bucket_labels",
    "load_test_set",
    "md_cell",
    "md_table",
    "ranked",
    "run_table",
    "to_html",
    "write_report",
]


@dataclass(frozen=True)
class ReportResult:
    markdown: Path
    html: Path
    plots: list[Path]
    leaderboards: dict[str, pd.DataFrame]  # dataset title -> ranked groups
    unranked: pd.DataFrame  # one row per run that is not complete


def write_report(
    runs_root: Path, out: Path | None = None, title: str | None = None
) -> ReportResult:
    """Write report.md, report.html, leaderboard.csv, runs.csv and plots/ into `out`."""
    runs_root = Path(runs_root)
    out = Path(out) if out is not None else runs_root / "report"
    records = find_runs(runs_root)
    if not records:
        raise SentibenchError(f"No run records under {runs_root}; train or bench something first.")
    runs = run_table(records, runs_root)
    plots_module()  # fail before writing anything if matplotlib is missing
    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    title = title or "sentibench report"
    lines = [
        f"# {title}",
        "",
        f"{len(runs)} run records under `{runs_root}`; every number below comes from those "
        "records (nothing was retrained), so the same records always give the same report. "
        f"Machines: {md_cell(machines(records))}.",
        "",
    ]
    made: list[Path] = []
    leaderboards: dict[str, pd.DataFrame] = {}
    for name, data_runs in by_dataset(runs):
        groups = group_table(data_runs)
        section, figures = dataset_section(data_runs, groups, plots_dir)
        lines += section
        made += figures
        leaderboards[name] = groups
    lines += transfer_lines(transfer_table(runs))
    unranked = runs[runs["status"] != "complete"]
    lines += unranked_lines(unranked)
    curve_lines, curves = curves_section(runs, plots_dir)
    lines += curve_lines
    made += curves
    for stale in set(plots_dir.glob("*.png")) - set(made):
        stale.unlink()  # figures of runs that are no longer there
    markdown = "\n".join(lines)
    atomic_write_text(out / "report.md", markdown)
    atomic_write_text(out / "report.html", to_html(markdown, out, title))
    write_leaderboard_csv(out / "leaderboard.csv", leaderboards)
    with atomic_path(out / "runs.csv") as tmp:
        runs.drop(columns=["config_key", "confusion_matrix", "label_names"]).to_csv(
            tmp, index=False
        )
    return ReportResult(out / "report.md", out / "report.html", made, leaderboards, unranked)
