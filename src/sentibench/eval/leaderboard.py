"""`sentibench leaderboard`: the report's group table without the analyses (one ranked row per
group of seeds, per dataset; a group of one run is a row too). Complete runs are ranked;
collapsed, failed and unfinished ones are listed apart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.table import Table

from sentibench.errors import SentibenchError
from sentibench.eval.report.markdown import count, ece_cell, md_cell, md_table, mean_std
from sentibench.eval.report.tables import (
    leaderboard_table,
    leaderboards,
    run_table,
    write_leaderboard_csv,
)
from sentibench.eval.terminal import Column, fitted_table
from sentibench.runs import RunRecord, atomic_path, atomic_write_text, find_runs

# Left out in this order when the terminal is narrow; leaderboard.md always has them all.
TERMINAL_COLUMNS = (
    Column("rank", "number"),
    Column("runs", "name"),
    Column("model", "name"),
    Column("data", "name", drop=2),
    Column("seeds", "number", drop=1),
    Column("accuracy", "number"),
    Column("95% CI", "number", drop=5),
    Column("macro-F1", "number", drop=3),
    Column("ECE", "number", drop=0),
    Column("train s", "number", drop=4),
)


def to_markdown(frame: pd.DataFrame, others: list[RunRecord]) -> str:
    """leaderboard.md: the rows of leaderboard.csv, then the runs not ranked."""
    rows = [
        [row.rank, md_cell(row.runs), md_cell(row.model), md_cell(row.data), row.seeds,
         mean_std(row.accuracy, row.accuracy_std), f"{row.ci_low:.4f}–{row.ci_high:.4f}",
         mean_std(row.macro_f1, row.macro_f1_std), ece_cell(row.ece),
         "" if pd.isna(row.train_s) else f"{row.train_s:.1f}", count(row.params)]
        for row in frame.itertuples()
    ]  # fmt: skip
    header = ["rank", "runs", "model", "data", "seeds", "accuracy", "95% CI", "macro-F1", "ECE"]
    lines = md_table([*header, "train s", "params"], rows, "rlllrrlrrrr")
    if others:
        lines += ["", "Not ranked:", ""]
        lines += [f"- {r.name} ({r.model}): **{r.status}** — {r.message or ''}" for r in others]
    return "\n".join(lines) + "\n"


def terminal_table(frame: pd.DataFrame, width: int) -> Table:
    """The leaderboard for a terminal `width` columns wide: one run per line in `runs`, no
    name or number ever cut (see eval.terminal); one dataset only is named in the title."""
    columns = list(TERMINAL_COLUMNS)
    datasets = frame["data"].unique().tolist()
    title = f"data: {datasets[0]}" if len(datasets) == 1 else None
    if title is not None:
        columns = [column for column in columns if column.header != "data"]
    rows = []
    for row in frame.itertuples():
        cells = {
            "rank": str(row.rank),
            "runs": "\n".join(str(row.runs).split(", ")),
            "model": str(row.model),
            "data": str(row.data),
            "seeds": str(row.seeds),
            "accuracy": f"{row.accuracy:.4f}",
            "95% CI": f"{row.ci_low:.4f}–{row.ci_high:.4f}",
            "macro-F1": f"{row.macro_f1:.4f}",
            "ECE": ece_cell(row.ece),
            "train s": "" if pd.isna(row.train_s) else f"{row.train_s:.1f}",
        }
        rows.append([cells[column.header] for column in columns])
    return fitted_table(columns, rows, width, title=title)


def accuracy_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The original project's accuracy_summary.csv: file, accuracy of every complete run."""
    complete = runs[runs["status"] == "complete"]
    complete = complete.sort_values(["accuracy", "train_s"], ascending=[False, True], kind="stable")
    return complete.rename(columns={"run": "file"})[["file", "accuracy"]]


def write_leaderboard(runs_root: Path) -> tuple[pd.DataFrame, list[RunRecord]]:
    """Write leaderboard.md, leaderboard.csv (the report's format) and accuracy_summary.csv
    under runs_root; return the leaderboard.csv rows and the runs not ranked."""
    runs_root = Path(runs_root)
    records = find_runs(runs_root)
    if not records:
        raise SentibenchError(f"No run records under {runs_root}; train or bench something first.")
    runs = run_table(records, runs_root)
    boards = leaderboards(runs)
    frame = leaderboard_table(boards)
    others = [record for record in records if record.status != "complete"]
    atomic_write_text(runs_root / "leaderboard.md", to_markdown(frame, others))
    write_leaderboard_csv(runs_root / "leaderboard.csv", boards)
    with atomic_path(runs_root / "accuracy_summary.csv") as tmp:
        accuracy_summary(runs).to_csv(tmp, index=False)
    return frame, others
