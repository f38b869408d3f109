"""Classic nets on the full IMDB with their cpu presets (issue 3 targets), from run records.

    python benchmarks/classic.py --train --seeds 0 1 2     # train what is missing, then summarise
    python benchmarks/classic.py --runs DIR                 # summarise existing records only
    python benchmarks/classic.py --train --data sample --preset quick --runs /tmp/c --no-write

Runs are named <model>-s<seed> under --runs, each trained in a worker process of its own
(sentibench.bench.isolated); an unfinished one resumes, a complete one is kept. The table reads
the run records found under --runs (sentibench.runs.find_runs). Results go to BENCHMARKS.md
between the classic markers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from sections import (  # benchmarks/ is on sys.path when run
    add_output_options,
    command_line,
    publish,
)

from sentibench.bench.isolated import run_isolated
from sentibench.errors import SentibenchError
from sentibench.provenance import machine, package_versions
from sentibench.runs import RunDir, RunRecord, find_runs

MODELS = ("cnn", "lstm", "gru", "attention_lstm", "capsule_lstm", "cnnlstm", "transformer")
TARGETS = {"cnn": 0.89, "lstm": 0.89, "gru": 0.89, "attention_lstm": 0.895,
           "capsule_lstm": 0.89, "cnnlstm": 0.885, "transformer": 0.87}  # fmt: skip
BUDGET_S = 15 * 60  # cpu preset: <= 15 minutes of training on 2 cores


def train_missing(
    runs: Path, models: list[str], seeds: list[int], data: str = "imdb", preset: str = "cpu"
) -> None:
    for model in models:
        for seed in seeds:
            try:
                record = run_isolated(model, runs / f"{model}-s{seed}", data, preset, seed=seed)
            except SentibenchError as exc:  # e.g. no data, or another run in that folder
                print(f"{model} seed {seed}: {exc}", file=sys.stderr)
                continue
            if record.status not in ("complete", "collapsed"):  # the benchmark goes on
                print(f"{model} seed {seed}: {record.status}: {record.message}", file=sys.stderr)


def train_seconds(record: RunRecord) -> float:
    """The record's training time, at least the sum of its epochs' seconds: the record of a run
    resumed before the runner counted kept epochs holds its last session only."""
    epochs = sum(
        r.get("seconds", 0) + r.get("val_seconds", 0) for r in RunDir(record.path).history()
    )
    return max(record.metrics["train_seconds"], epochs)


def reviews(record: RunRecord) -> float:
    """Training reviews of the run (its reviews/s x its seconds, as the runner recorded them)."""
    return record.metrics["train_reviews_per_second"] * record.metrics["train_seconds"]


def machines(records: list[RunRecord]) -> str:
    """Where the runs ran, from their records (this machine if there are none yet)."""
    found = [(r.config.get("machine", {}), r.config.get("versions", {})) for r in records]
    found = found or [(machine(), package_versions())]
    lines = {
        f"{info.get('cores')} cores ({info.get('cpu')}); "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if k in ("python", "torch"))
        for info, versions in found
    }
    return "; ".join(sorted(lines))


def summarise(runs: Path, command: str) -> str:
    records = find_runs(runs)
    lines = [
        "## Classic nets: cpu presets, full IMDB, official 25k test split",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machines([r for r in records if r.model in MODELS])}",
        "- One row per model; accuracy is mean ± std over the seeds that completed. Train s is "
        "wall time on this machine, including any load from other processes at the time.",
        "",
        "| model | seeds | test acc | train s | train-set reviews / train s | peak RSS MiB "
        "| not complete | target acc | acc met | <= 15 min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        mine = [r for r in records if r.model == model]
        done = [r for r in mine if r.status == "complete"]
        others = ", ".join(f"{r.name}: {r.status}" for r in mine if r.status != "complete")
        if not done:
            if mine:
                lines.append(f"| {model} | 0 | | | | | {others} | {TARGETS[model]} | | |")
            continue
        acc = [r.metrics["accuracy"] for r in done]
        secs = [train_seconds(r) for r in done]
        mean = statistics.fmean(acc)
        spread = f" ± {statistics.stdev(acc):.4f}" if len(acc) > 1 else ""
        seeds = ",".join(str(r.config["config"]["seed"]) for r in done)
        lines.append(
            f"| {model} | {seeds} | {mean:.4f}{spread} | {statistics.fmean(secs):.0f} "
            f"| {statistics.fmean(reviews(r) / t for r, t in zip(done, secs, strict=True)):.0f} "
            f"| {max(r.metrics['peak_rss_mib'] for r in done):.0f} | {others} "
            f"| {TARGETS[model]} | {'yes' if mean >= TARGETS[model] else 'no'} "
            f"| {'yes' if max(secs) <= BUDGET_S else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmark-classic"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--train", action="store_true", help="train missing runs first")
    parser.add_argument("--data", default="imdb", help="--train data (sample: a check only)")
    parser.add_argument("--preset", default="cpu", help="--train preset (quick: a check only)")
    add_output_options(parser)
    args = parser.parse_args()
    if args.train:
        train_missing(args.runs, args.models, args.seeds, args.data, args.preset)
    publish("classic", summarise(args.runs, command_line("classic.py")), args)


if __name__ == "__main__":
    main()
