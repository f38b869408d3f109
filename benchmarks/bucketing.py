"""Length bucketing + length-aware RNN vs naive pad-everything-to-512 batching (issue 3 target).

    python benchmarks/bucketing.py                 # lstm, cpu preset, full IMDB, 2 epochs each
    python benchmarks/bucketing.py --data sample --epochs 1 --no-write   # smoke run

Both variants train the same model (the lstm cpu preset with max_len 512, so both read the same
tokens) for the same epochs and seed, one after the other in this process; they differ only in
batching: `bucketed` groups reviews of similar length and pads each batch to its longest review
(the default), `naive` shuffles without grouping and pads every batch to 512 tokens. Training
throughput is the mean of the per-epoch reviews/s of the run's history (training passes only);
accuracy is on the official test split. Target: bucketed >= 3x naive at equal or better accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sections import command_line, write_section  # benchmarks/ is on sys.path when run

from sentibench.provenance import machine
from sentibench.runs import RunDir, load_run
from sentibench.train.runner import run_training

VARIANTS = {
    "bucketed": ["bucket=true", "pad_to_max_len=false"],
    "naive": ["bucket=false", "pad_to_max_len=true"],
}


def train(variant: str, args: argparse.Namespace, root: Path) -> dict:
    overrides = [f"max_len={args.max_len}", f"epochs={args.epochs}", *VARIANTS[variant]]
    path = run_training(args.model, data=args.data, preset="cpu", overrides=overrides,
                        seed=args.seed, out=root / variant)  # fmt: skip
    record, history = load_run(path), RunDir(path).history()
    rates = [row["reviews_per_s"] for row in history]
    return {
        "variant": variant,
        "overrides": " ".join(overrides),
        "reviews_per_s": statistics.fmean(rates),
        "epoch_s": statistics.fmean(row["seconds"] for row in history),
        "accuracy": record.metrics["accuracy"],
        "best_val": max(row["val_accuracy"] for row in history),
    }


def section(rows: list[dict], args: argparse.Namespace) -> str:
    info = machine()
    fast, slow = rows[0], rows[1]
    ratio = fast["reviews_per_s"] / slow["reviews_per_s"]
    met = ratio >= 3 and fast["accuracy"] >= slow["accuracy"]
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    lines = [
        "## Length bucketing vs padding to 512 (lstm)",
        "",
        f"- Command: `{command_line('bucketing.py')}` ({when} UTC)",
        f"- Machine: {info['cores']} cores ({info['cpu']}), GPU {info.get('gpu') or 'none'}",
        f"- {args.model}, cpu preset with max_len {args.max_len}, {args.epochs} epochs, seed "
        f"{args.seed}, data {args.data}; both variants in one process, one after the other.",
        "",
        "| variant | overrides | train reviews/s | s per epoch | best val | test acc |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | `{r['overrides']}` | {r['reviews_per_s']:.0f} | {r['epoch_s']:.0f} "
        f"| {r['best_val']:.4f} | {r['accuracy']:.4f} |"
        for r in rows
    ]
    lines += [
        "",
        f"Bucketed / naive throughput: {ratio:.2f}x; test accuracy "
        f"{fast['accuracy'] - slow['accuracy']:+.4f}. Target (>= 3x at equal or better "
        f"accuracy): {'met' if met else 'not met'}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--data", default="imdb")
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="a paragraph added under the table")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [train(variant, args, Path(tmp)) for variant in VARIANTS]
    text = section(rows, args) + (f"\n\n{args.note}" if args.note else "")
    print(text)
    if not args.no_write:
        write_section("bucketing", text)


if __name__ == "__main__":
    sys.exit(main())
