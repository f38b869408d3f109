"""Length bucketing + length-aware RNN vs naive pad-everything-to-512 batching (issue 3 target).

    python benchmarks/bucketing.py                 # lstm, cpu preset, full IMDB, 2 epochs each
    python benchmarks/bucketing.py --data sample --epochs 1 --no-write   # smoke run
    python benchmarks/bucketing.py --threads 1 2   # both variants at 1 torch thread, then at 2
    python benchmarks/bucketing.py --steps-only    # only the time-step count below, no training
    python benchmarks/bucketing.py --runs DIR      # keep the records; a rerun keeps complete ones

Each variant is one run of sentibench's runner (train.runner.run_training: a run record in
--runs, by default a temporary folder, so that both are measured afresh). Both variants train
the same model (the lstm cpu preset with max_len 512, so both read the same tokens) for the
same epochs and seed, one after the other in this process; they differ only in
batching: `bucketed` groups reviews of similar length and pads each batch to its longest review
(the default), `naive` shuffles without grouping and pads every batch to 512 tokens. Training
throughput is the mean of the per-epoch reviews/s of the run's history (training passes only);
accuracy is on the official test split. Target: bucketed >= 3x naive at equal or better accuracy.
The RNN runs one step per column of a batch, so the section also counts the time steps of the
trained epochs' batches (batches x width) of each variant: naive / bucketed steps is the speed-up
that saved steps alone give; it is set by the data's lengths, not the code.
The ratio depends on the torch thread count (--threads; default: torch's own choice).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sections import (  # benchmarks/ is on sys.path when run
    add_output_options,
    command_line,
    publish,
)

from sentibench.data.batching import encode_texts, lengths_of, training_batches
from sentibench.data.dataset import load_splits
from sentibench.data.vocab import Vocabulary
from sentibench.provenance import machine
from sentibench.registry import get_spec
from sentibench.runs import RunDir, load_run
from sentibench.train.runner import resolve_config, run_training

VARIANTS = {
    "bucketed": ["bucket=true", "pad_to_max_len=false"],
    "naive": ["bucket=false", "pad_to_max_len=true"],
}


def overrides_of(variant: str, args: argparse.Namespace) -> list[str]:
    return [f"max_len={args.max_len}", f"epochs={args.epochs}", *VARIANTS[variant]]


def steps_line(steps: dict[str, int]) -> str:
    return (
        f"- RNN time steps of the trained epochs' batches: bucketed {steps['bucketed']:,}, naive "
        f"{steps['naive']:,}; naive / bucketed = {steps['naive'] / steps['bucketed']:.2f}x, the "
        "speed-up that saved steps alone give."
    )


def train(variant: str, args: argparse.Namespace, root: Path, threads: int) -> dict:
    overrides = overrides_of(variant, args)
    if threads:
        overrides.append(f"threads={threads}")
    path = root / f"{variant}-{threads}"
    if not (path / "config.json").exists() or load_run(path).status != "complete":
        run_training(args.model, data=args.data, preset="cpu", overrides=overrides,
                     seed=args.seed, out=path)  # fmt: skip
    record, history = load_run(path), RunDir(path).history()
    rates = [row["reviews_per_s"] for row in history]
    return {
        "variant": variant,
        "threads": threads or torch.get_num_threads(),
        "overrides": " ".join(overrides),
        "reviews_per_s": statistics.fmean(rates),
        "epoch_s": statistics.fmean(row["seconds"] for row in history),
        "accuracy": record.metrics["accuracy"],
        "best_val": max(row["val_accuracy"] for row in history),
    }


def padded_steps(args: argparse.Namespace) -> dict[str, int]:
    """Time steps (sum of batch widths) of each variant over the epochs a run of this benchmark
    trains (the loop numbers them from 1): its config, train split, encoding and batches."""
    spec = get_spec(args.model)
    config, _ = resolve_config(spec, spec.load_recipe(), "cpu", None,
                               overrides_of("bucketed", args), args.seed)  # fmt: skip
    splits = load_splits(args.data, config.val_fraction, config.seed)
    # Any vocabulary gives the lengths training sees: unknown words become <unk>, not dropped.
    encoded = encode_texts(splits.train["text"], Vocabulary.build([]), config.max_len,
                           config.truncation, config.head_tokens)  # fmt: skip
    lengths, labels = lengths_of(encoded), np.zeros(len(encoded), dtype=np.int64)
    steps = {"bucketed": 0, "naive": 0}
    for epoch in range(1, config.epochs + 1):
        batches = training_batches(encoded, labels, config.batch_size, config.seed, epoch)
        steps["bucketed"] += sum(int(lengths[batch].max()) for batch in batches.index_batches)
        steps["naive"] += config.max_len * len(batches)
    return steps


def verdict(fast: dict, slow: dict) -> str:
    """One line: the bucketed / naive ratio of one thread count and whether it meets the target."""
    ratio = fast["reviews_per_s"] / slow["reviews_per_s"]
    met = ratio >= 3 and fast["accuracy"] >= slow["accuracy"]
    return (
        f"{fast['threads']} thread(s): bucketed / naive throughput {ratio:.2f}x, test accuracy "
        f"{fast['accuracy'] - slow['accuracy']:+.4f}; target (>= 3x at equal or better "
        f"accuracy) {'met' if met else 'not met'}."
    )


def section(rows: list[dict], args: argparse.Namespace, steps: dict[str, int]) -> str:
    info = machine()
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    lines = [
        "## Length bucketing vs padding to 512 (lstm)",
        "",
        f"- Command: `{command_line('bucketing.py')}` ({when} UTC)",
        f"- Machine: {info['cores']} cores ({info['cpu']}), GPU {info.get('gpu') or 'none'}",
        f"- {args.model}, cpu preset with max_len {args.max_len}, {args.epochs} epochs, seed "
        f"{args.seed}, data {args.data}; both variants in one process, one after the other.",
        "",
        "| torch threads | variant | overrides | train reviews/s | s per epoch | best val "
        "| test acc |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['threads']} | {r['variant']} | `{r['overrides']}` | {r['reviews_per_s']:.0f} "
        f"| {r['epoch_s']:.0f} | {r['best_val']:.4f} | {r['accuracy']:.4f} |"
        for r in rows
    ]
    lines.append("")
    lines.append(steps_line(steps))
    lines += [f"- {verdict(rows[i], rows[i + 1])}" for i in range(0, len(rows), 2)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--data", default="imdb")
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, nargs="+", default=[0],
                        help="torch thread counts to measure, each with both variants")  # fmt: skip
    parser.add_argument("--runs", type=Path, help="keep the run records here (default: a temporary "
                        "folder); a rerun keeps the complete ones")  # fmt: skip
    add_output_options(parser)
    parser.add_argument("--steps-only", action="store_true", help="print the step count only")
    args = parser.parse_args()
    if args.steps_only:
        print(steps_line(padded_steps(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.runs or Path(tmp)
        rows = [train(variant, args, root, n) for n in args.threads for variant in VARIANTS]
    steps = padded_steps(args)
    publish("bucketing", section(rows, args, steps), args)


if __name__ == "__main__":
    sys.exit(main())
