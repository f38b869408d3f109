"""Rank run records. Complete runs are ranked; collapsed and failed ones are listed apart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sentibench.runs import RunRecord, atomic_path, atomic_write_text, list_runs


def leaderboard_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per complete run, best accuracy first (ties: faster training first)."""
    rows = []
    for record in records:
        if record.status != "complete" or not record.metrics:
            continue
        m = record.metrics
        rows.append(
            {
                "run": record.name,
                "model": record.model,
                "data": record.config["data"]["source"],
                "accuracy": m["accuracy"],
                "ci95_low": m["accuracy_ci95"][0],
                "ci95_high": m["accuracy_ci95"][1],
                "macro_f1": m["macro_f1"],
                "train_s": m.get("train_seconds"),
                "params": m.get("n_parameters"),
                "n_test": m["n"],
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "run",
            "model",
            "data",
            "accuracy",
            "ci95_low",
            "ci95_high",
            "macro_f1",
            "train_s",
            "params",
            "n_test",
        ],
    )
    return ranked(frame)


def ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Best accuracy first (ties: faster training first), with a 1-based `rank` column."""
    frame = frame.sort_values(["accuracy", "train_s"], ascending=[False, True], kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def unranked(records: list[RunRecord]) -> list[RunRecord]:
    return [r for r in records if r.status != "complete"]


def to_markdown(frame: pd.DataFrame, others: list[RunRecord]) -> str:
    lines = [
        "| rank | run | model | data | accuracy | 95% CI | macro-F1 | train s | params |",
        "|---:|---|---|---|---:|---|---:|---:|---:|",
    ]
    for row in frame.itertuples():
        params = "" if pd.isna(row.params) else f"{int(row.params):,}"
        train = "" if pd.isna(row.train_s) else f"{row.train_s:.1f}"
        lines.append(
            f"| {row.rank} | {row.run} | {row.model} | {row.data} | {row.accuracy:.4f} | "
            f"{row.ci95_low:.4f}–{row.ci95_high:.4f} | {row.macro_f1:.4f} | {train} | {params} |"
        )
    if others:
        lines += ["", "Not ranked:", ""]
        lines += [f"- {r.name} ({r.model}): **{r.status}** — {r.message or ''}" for r in others]
    return "\n".join(lines) + "\n"


def write_leaderboard(runs_root: Path) -> tuple[pd.DataFrame, list[RunRecord]]:
    """Write leaderboard.md, leaderboard.csv and the seed's accuracy_summary.csv under runs_root."""
    records = list_runs(runs_root)
    frame, others = leaderboard_frame(records), unranked(records)
    runs_root = Path(runs_root)
    atomic_write_text(runs_root / "leaderboard.md", to_markdown(frame, others))
    with atomic_path(runs_root / "leaderboard.csv") as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(runs_root / "accuracy_summary.csv") as tmp:
        frame.rename(columns={"run": "file"})[["file", "accuracy"]].to_csv(tmp, index=False)
    return frame, others
