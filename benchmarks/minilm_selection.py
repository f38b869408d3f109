"""How the minilm_full settings were chosen: held-out accuracy of each candidate (issue 4).

    python benchmarks/minilm_selection.py --folds benchmarks/records/minilm-selection/folds.json \\
        --seeds benchmarks/records/minilm-selection/seeds.json

Reads rows written by `transformers_minilm.py --json` and writes the transformers-selection
section of BENCHMARKS.md:
- --folds: {candidate: rows of `--folds 5 --fold I`}, one row per fold; the candidate with the
  best mean held-out accuracy over the folds is the choice (the test split is never scored);
- --seeds: {candidate: rows of the plain benchmark}, one per training seed (`--set seed=N`),
  all on the benchmark's own 1,800/200 carve: validation and test accuracy per seed, shown to
  say how far the 200-review validation carve and the training seed move a result;
- --refit: rows of the plain benchmark with `--set val_fraction=0` (one JSON file per training
  seed): the chosen settings refit on all 2,000 training reviews, the last epoch kept, as
  scikit-learn's GridSearchCV does with refit=True after its choice; their test accuracy.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from sections import command_line, write_section  # benchmarks/ is on sys.path when run


def describe(row: dict) -> str:
    """The settings a candidate changes, as key=value."""
    values = {**row["settings"], **row["common"]}
    return ", ".join(f"{k}={values[k]}" for k in ("lr", "batch_size", "head"))


def folds_table(candidates: dict[str, list[dict]]) -> tuple[str, str]:
    """Markdown of the k-fold selection, best mean first, and the chosen candidate's name."""
    means = {
        name: statistics.fmean(r["val_accuracy"] for r in rows) for name, rows in candidates.items()
    }
    order = sorted(means, key=means.get, reverse=True)
    lines = [
        "| candidate | settings | held-out accuracy per fold | mean |",
        "|---|---|---|---|",
    ]
    for name in order:
        rows = sorted(candidates[name], key=lambda r: r["fold"][0])
        per_fold = " ".join(f"{r['val_accuracy']:.4f}" for r in rows)
        mark = " (chosen)" if name == order[0] else ""
        lines.append(f"| {name}{mark} | {describe(rows[0])} | {per_fold} | {means[name]:.4f} |")
    return "\n".join(lines), order[0]


def seeds_table(candidates: dict[str, list[dict]]) -> str:
    lines = [
        "| candidate | settings | val acc per seed (200) | mean val | test acc per seed (2,000) "
        "| mean test |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in sorted(candidates.items()):
        rows = sorted(rows, key=lambda r: r["train_seed"])
        val = [r["val_accuracy"] for r in rows]
        test = [r["accuracy"] for r in rows]
        lines.append(
            f"| {name} | {describe(rows[0])} | {' '.join(f'{v:.3f}' for v in val)} "
            f"| {statistics.fmean(val):.4f} | {' '.join(f'{t:.4f}' for t in test)} "
            f"| {statistics.fmean(test):.4f} |"
        )
    return "\n".join(lines)


def refit_table(rows: list[dict]) -> str:
    """One line per training seed; a collapsed seed is shown as such and counts in no mean."""
    rows = sorted(rows, key=lambda r: r["train_seed"])
    lines = [
        "| training seed | train reviews | test accuracy (2,000) | train s | train reviews/s |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if "collapsed" in r:
            lines.append(f"| {r['train_seed']} | {r['n_train']:,} | collapsed | "
                         f"{r['train_seconds']:.0f} | |")  # fmt: skip
            continue
        lines.append(f"| {r['train_seed']} | {r['n_train']:,} | {r['accuracy']:.4f} | "
                     f"{r['train_seconds']:.0f} | {r['train_reviews_per_s']:.1f} |")  # fmt: skip
    test = [r["accuracy"] for r in rows if "collapsed" not in r]
    if test:
        spread = statistics.stdev(test) if len(test) > 1 else 0.0
        mean = f"**{statistics.fmean(test):.4f} ± {spread:.4f}** ({len(test)} seeds)"
        lines.append(f"| mean ± std | | {mean} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=Path, required=True)
    parser.add_argument("--seeds", type=Path)
    parser.add_argument("--refit", type=Path, nargs="+", help="rows of val_fraction=0 runs")
    parser.add_argument("--note", default="", help="a paragraph added under the tables")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    candidates = json.loads(args.folds.read_text())
    folds, chosen = folds_table(candidates)
    folds_rows = candidates[chosen]
    n_folds = len(next(iter(candidates.values())))
    lines = [
        "## Transformers: how minilm_full's settings were chosen",
        "",
        f"- Command: `{command_line('minilm_selection.py')}`",
        f"- {n_folds}-fold stratified cross-validation over the benchmark's 2,000 training "
        "reviews (`transformers_minilm.py --methods full --folds 5 --fold I`, training seed 0, "
        "max_length 256, 2 epochs, head+tail): each candidate trains on 1,600 reviews and is "
        "scored on the other 400, five times; the best mean wins. The test reviews are not "
        f"scored. Chosen: **{chosen}**.",
        "",
        folds,
    ]
    if args.seeds:
        lines += [
            "",
            "The same candidates on the benchmark's own carve (1,800 train / 200 validation) "
            "with training seeds 0, 1, 2; test accuracy on the 2,000 test reviews is shown, "
            "not used for the choice:",
            "",
            seeds_table(json.loads(args.seeds.read_text())),
        ]
    if args.refit:
        rows = [row for path in args.refit for row in json.loads(path.read_text())]
        if any(row["n_validation"] for row in rows):
            parser.error("--refit takes rows of runs with --set val_fraction=0 only")
        if {(r["method"], describe(r)) for r in rows} != {("full", describe(folds_rows[0]))}:
            parser.error(f"--refit rows must all be method full with the chosen {chosen}")
        lines += [
            "",
            f"The choice refit on all {rows[0]['n_train']:,} training reviews (`--set "
            f"val_fraction=0`: each of the {rows[0]['common']['epochs']} epochs trains on every "
            f"review, the last is kept), {describe(rows[0])}:",
            "",
            refit_table(rows),
        ]
    text = "\n".join(lines) + (f"\n\n{args.note}" if args.note else "")
    if not args.no_write:
        write_section("transformers-selection", text)
    print(text)


if __name__ == "__main__":
    main()
