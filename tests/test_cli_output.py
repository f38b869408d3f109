"""What the CLI prints: `--version`; user text is never rich markup; at 80 columns `models` and
`leaderboard` cut no name, header or number."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sentibench.provenance import sentibench_version
from sentibench.registry import REGISTRY

RECORDS = Path(__file__).resolve().parents[1] / "benchmarks" / "records" / "cpu-suite"


def sentibench(*args: str, columns: int = 80, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "sentibench.cli", *args],
        capture_output=True, text=True, timeout=180, cwd=cwd,
        env={**os.environ, "COLUMNS": str(columns), "LINES": "50"},
    )  # fmt: skip


def table_cells(out: str) -> set[str]:
    """Every cell's text on every line of the tables in `out` (header rows included)."""
    return {cell.strip() for line in out.splitlines() for cell in line.replace("┃", "│").split("│")}


def test_version():
    done = sentibench("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"sentibench {sentibench_version()}"


def test_models_at_80_columns_shows_every_name_and_number_whole():
    done = sentibench("models")
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    cells = table_cells(done.stdout)
    for spec in REGISTRY.values():
        assert spec.name in cells, spec.name
        if spec.published_accuracy is not None:
            assert f"{spec.published_accuracy:.4f}" in cells, spec.name
    for header in ("model", "presets", "published"):
        assert header in done.stdout


def copy_record(source: str, runs: Path, name: str, **status) -> Path:
    """A committed run record under a new name (copied: records are never written)."""
    target = runs / name
    shutil.copytree(RECORDS / source, target)
    if status:
        (target / "status.json").write_text(json.dumps({"at": "2026-01-01T00:00:00", **status}))
    return target


def test_leaderboard_prints_bracketed_names_as_is_and_whole(tmp_path):
    runs = tmp_path / "runs"
    copy_record("nbsvm-cpu-s0", runs, "[/x]")  # the folder "[" holding "x]": a closing tag
    copy_record("tfidf_lr-cpu-s0", runs, "[bold]tfidf-2024-11-27-s0")  # a tag rich would eat
    copy_record("cnn-cpu-s0", runs, "[red]cnn", status="collapsed", message="lr=[/x] diverged")
    for columns in (80, 200):
        done = sentibench("leaderboard", "--runs", str(runs), columns=columns)
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert "…" not in out and "MarkupError" not in done.stderr
        cells = table_cells(out)
        assert {"[/x]", "[bold]tfidf-2024-11-27-s0", "nbsvm", "tfidf_lr"} <= cells
        for source in ("nbsvm-cpu-s0", "tfidf_lr-cpu-s0"):
            accuracy = json.loads((RECORDS / source / "metrics.json").read_text())["accuracy"]
            assert f"{accuracy:.4f}" in cells
        for header in ("rank", "runs", "model", "accuracy"):
            assert header in cells
        assert "not ranked [red]cnn: collapsed — lr=[/x] diverged" in out
    assert "macro-F1" in out and "95% CI" in out  # wide: every column


def test_an_error_about_a_bracketed_path_prints_it_as_is(tmp_path):
    done = sentibench("leaderboard", "--runs", "runs/[/x]", cwd=tmp_path)
    assert done.returncode == 2
    message = done.stderr.strip()
    assert message.startswith("error: ") and "runs/[/x]" in message
    assert len(message.splitlines()) == 1
