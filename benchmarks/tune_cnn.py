"""`sentibench tune cnn` on the full IMDB training split within a time budget vs the hand-chosen
cpu preset's validation accuracy on the same validation split -> BENCHMARKS.md (issue 15).

    python benchmarks/tune_cnn.py --minutes 120 --threads 2 --runs DIR   # a background session
    python benchmarks/tune_cnn.py --summarise DIR --minutes 120 [--note TEXT]  # its section again

Both sides score the same carve (val_fraction 0.1, seed 0) of the official train split; the
test split is never read by the tune. The cpu preset is trained validated (`--set
val_fraction=0.1`; the preset itself is its refit) and its best validation epoch is compared
with the tune's best trial. Reported: both accuracies and training seconds, every trial's
settings, trials complete / pruned / failed, wall. If the tune wins, write its preset with
`sentibench tune cnn ... --write-preset tuned` (rerun the same command: the study continues and
the preset comes from its best trial).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sections import command_line, write_section  # benchmarks/ is on sys.path when run

from sentibench.runs import RunDir, load_run

STUDY = "bench-cnn"
PRESET_RUN = "cnn-cpu-validated"
TITLE = "tune cnn vs the cpu preset (full IMDB, validation)"


def tune(runs: Path, minutes: float, threads: int) -> None:
    subprocess.run([sys.executable, "-m", "sentibench.cli", "tune", "cnn", "--data", "imdb",
                    "--trials", "1000", "--timeout-minutes", str(minutes),
                    "--pruner", "median", "--study", STUDY, "--runs", str(runs),
                    "--set", f"threads={threads}"], check=True)  # fmt: skip


def train_preset(runs: Path, threads: int) -> None:
    subprocess.run([sys.executable, "-m", "sentibench.cli", "train", "cnn", "--data", "imdb",
                    "--preset", "cpu", "--set", "val_fraction=0.1", "--set", f"threads={threads}",
                    "--out", str(runs / PRESET_RUN)], check=True)  # fmt: skip


def trial_dir(runs: Path, number: int) -> Path:
    """Where `tune` keeps a trial's run record (also in a copy of the folder, e.g. records/)."""
    return runs / "tune" / STUDY / f"trial-{number}"


def _seconds(folder: str | Path) -> float | None:
    metrics = load_run(Path(folder)).metrics or {}
    return metrics.get("train_seconds")


def _cell(value: float | None, form: str) -> str:
    return "" if value is None else format(value, form)


def section(runs: Path, minutes: float, note: str) -> str:
    """The section's text from the study and the preset run kept under `runs`."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{runs / 'tune' / STUDY / 'study.db'}"
    study = optuna.load_study(study_name=STUDY, storage=storage)
    counts = {s: len(study.get_trials(states=(s,))) for s in TrialState}
    rows = [row for row in RunDir(runs / PRESET_RUN).history() if row.get("val_accuracy")]
    preset = max(rows, key=lambda row: row["val_accuracy"])
    best = study.best_trial
    started = min(t.datetime_start for t in study.trials if t.datetime_start)
    ended = max(t.datetime_complete for t in study.trials if t.datetime_complete)
    lines = [
        f"- Command: `{command_line('tune_cnn.py')}`",
        f"- Machine of the runs: {load_run(runs / PRESET_RUN).config.get('machine')}",
        "- Data: the official 25,000 training reviews; both sides score the same validation "
        "carve (val_fraction 0.1, seed 0: 22,500 train / 2,500 validation). The tune never "
        "read the test split.",
        f"- Tune: `sentibench tune cnn --data imdb --trials 1000 --timeout-minutes {minutes:g} "
        "--pruner median`, the shipped space (src/sentibench/spaces/cnn.toml), TPE seed 0, "
        f"{started:%Y-%m-%d %H:%M}-{ended:%H:%M}.",
        "",
        "| | validation accuracy | train s |",
        "|---|---|---|",
        f"| cnn cpu preset, validated (best epoch {preset['epoch']}) | "
        f"{preset['val_accuracy']:.4f} | {_cell(_seconds(runs / PRESET_RUN), '.0f')} |",
        f"| tune cnn, best: trial {best.number} | {best.value:.4f} | "
        f"{_cell(_seconds(trial_dir(runs, best.number)), '.0f')} |",
        "",
        "| trial | state | validation accuracy | train s | settings |",
        "|---|---|---|---|---|",
    ]
    for trial in study.trials:
        done = trial.state == TrialState.COMPLETE
        seconds = _seconds(trial_dir(runs, trial.number)) if done else None
        lines.append(f"| {trial.number} | {trial.state.name.lower()} | "
                     f"{_cell(trial.value, '.4f')} | {_cell(seconds, '.0f')} | "
                     f"{_settings(trial.params)} |")  # fmt: skip
    lines += [
        "",
        f"Trials: {counts[TrialState.COMPLETE]} complete, {counts[TrialState.PRUNED]} pruned, "
        f"{counts[TrialState.FAIL]} failed in {(ended - started).total_seconds() / 60:.0f} min "
        f"(budget {minutes:g} min: no trial starts after it).",
    ]
    if note:
        lines += ["", note]
    return "\n".join(lines)


def _settings(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{key.removeprefix('model.')} {value:.3g}" if isinstance(value, float) else
        f"{key.removeprefix('model.')} {value}"
        for key, value in params.items()
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=None, help="keep the runs here")
    parser.add_argument("--summarise", type=Path, default=None, help="a finished --runs folder")
    parser.add_argument("--note", default="", help="a paragraph added under the tables")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentibench-tune-") as tmp:
        runs = args.summarise or args.runs or Path(tmp)
        if args.summarise is None:
            tune(runs, args.minutes, args.threads)
            train_preset(runs, args.threads)
        text = section(runs, args.minutes, args.note)  # while a temporary --runs still exists
    print(text)
    if not args.no_write:
        write_section(
            "tune-cnn", "## tune cnn vs the cpu preset (full IMDB, validation)\n\n" + text
        )


if __name__ == "__main__":
    main()
