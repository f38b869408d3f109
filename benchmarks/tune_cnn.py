"""`sentibench tune cnn` on the full IMDB training split within a time budget vs the hand-chosen
cpu preset's validation accuracy on the same validation split -> BENCHMARKS.md (issue 15).

    python benchmarks/tune_cnn.py --minutes 120 --threads 2     # the lead's background session
    python benchmarks/tune_cnn.py --minutes 120 --no-write

Both sides score the same carve (val_fraction 0.1, seed 0) of the official train split; the
test split is never read by the tune. The cpu preset is trained validated (`--set
val_fraction=0.1`; the preset itself is its refit) and its best validation epoch is compared
with the tune's best trial. Reported: both accuracies, trials complete / pruned / failed, wall.
If the tune wins, write its preset with `sentibench tune cnn ... --write-preset tuned` (rerun
the same command: the study continues and the preset comes from its best trial).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import command_line, write_section  # benchmarks/ is on sys.path when run

from sentibench.provenance import machine
from sentibench.runs import RunDir


def cpu_preset_validation(runs: Path, threads: int) -> float:
    out = runs / "cnn-cpu-validated"
    subprocess.run([sys.executable, "-m", "sentibench.cli", "train", "cnn", "--data", "imdb",
                    "--preset", "cpu", "--set", "val_fraction=0.1", "--set", f"threads={threads}",
                    "--out", str(out)], check=True)  # fmt: skip
    rows = [row for row in RunDir(out).history() if row.get("val_accuracy") is not None]
    return max(row["val_accuracy"] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=None, help="keep the runs here")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import optuna
    from optuna.trial import TrialState

    with tempfile.TemporaryDirectory(prefix="sentibench-tune-") as tmp:
        runs = args.runs or Path(tmp)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "sentibench.cli", "tune", "cnn", "--data", "imdb",
                        "--trials", "1000", "--timeout-minutes", str(args.minutes),
                        "--pruner", "median", "--study", "bench-cnn", "--runs", str(runs),
                        "--set", f"threads={args.threads}"], check=True)  # fmt: skip
        wall = time.monotonic() - started
        study = optuna.load_study(
            study_name="bench-cnn", storage=f"sqlite:///{runs / 'tune' / 'bench-cnn' / 'study.db'}"
        )
        counts = {s: len(study.get_trials(states=(s,))) for s in TrialState}
        preset = cpu_preset_validation(runs, args.threads)
        best = study.best_trial  # read while the study's database still exists
    text = "\n".join([
        f"`{command_line('tune_cnn.py')}` on {machine()}",
        "",
        "| | validation accuracy |",
        "|---|---|",
        f"| cnn cpu preset (validated) | {preset:.4f} |",
        f"| tune cnn, best of trial {best.number} | {best.value:.4f} |",
        "",
        f"Trials: {counts[TrialState.COMPLETE]} complete, {counts[TrialState.PRUNED]} pruned, "
        f"{counts[TrialState.FAIL]} failed in {wall / 60:.1f} min (budget {args.minutes:g} min); "
        f"best settings: {best.params}.",
    ])  # fmt: skip
    print(text)
    if not args.no_write:
        write_section("tune cnn vs the cpu preset (full IMDB, validation)", text)


if __name__ == "__main__":
    main()
