"""MiniLM-L6 fine-tuned on the full IMDB split on a CPU (minilm_full, minilm_lora cpu presets),
compared with NB-SVM by McNemar's test and combined with the linear baselines -> BENCHMARKS.md
(issue 18).

    python benchmarks/transformers_full.py --runs DIR --threads 2      # train what is missing
    python benchmarks/transformers_full.py --summarise DIR [--note TEXT]  # the section again
    python benchmarks/transformers_full.py --runs DIR --models minilm_full  # some of them
    python benchmarks/transformers_full.py --summarise DIR --earlier RECORDS  # + older records

Each transformer is one `sentibench train MODEL --data imdb --preset cpu --seed 0` (its cpu
preset is sized for one background job of <= 2 hours on 2 cores: 22,500 train / 2,500
validation reviews, the full 25,000 test reviews). The linear baselines train the same way on
the same validation carve (val_fraction 0.1, seed 0), so that ensembles (`sentibench ensemble`
mean / vote / stack / greedy) can fit on the members' validation predictions only. A job's wall
time is its record's completion time minus its creation time (training, validation and test
scoring, model loading). Run one at a time on quiet cores: the figures are speed figures too.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
from ensembles import Member, _correct, build_sets, complete, ensemble_table, train
from sections import (  # benchmarks/ is on sys.path when run
    command_line,
    publish,
    train_or_summarise_parser,
)

from sentibench.metrics import mcnemar_exact
from sentibench.recipes.ensemble.members import read_member, shared_data
from sentibench.runs import RunDir, RunRecord, load_run

TRANSFORMERS = ("minilm_full", "minilm_lora")
LINEAR = ("nbsvm", "tfidf_lr")  # their cpu presets carve val_fraction 0.1 with seed 0 too
TARGETS = {"minilm_full": 0.91, "minilm_lora": 0.90}
BASELINE = "nbsvm-val-s0"
SHOWN = ("max_length", "truncation", "head_tokens", "epochs", "batch_tokens", "lr",
         "attention_dropout")  # fmt: skip


def members(models: tuple[str, ...]) -> list[Member]:
    return [(f"{m}-val-s0", m, ()) for m in LINEAR] + [(f"{m}-cpu-s0", m, ()) for m in models]


def wall_seconds(record: RunRecord) -> float:
    """The job's wall time: its completion time minus its creation time."""
    status = (record.path / "status.json").read_text(encoding="utf-8")
    done = datetime.fromisoformat(json.loads(status)["at"])
    return (done - datetime.fromisoformat(record.config["created"])).total_seconds()


HEADER = [
    "| run | settings | train / val / test reviews | val acc | test acc | 95% CI | ECE | target "
    "| train s | train reviews/s | test reviews/s | job wall h | McNemar vs "
    f"{BASELINE}: only this right / only nbsvm right, p |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]


def rows(found: dict[str, RunRecord], folder: Path) -> list[str]:
    lines = list(HEADER)
    ids, baseline = _correct(found[BASELINE].path, "test", folder)
    for name, record in found.items():
        _, validation_right = _correct(record.path, "validation", folder)
        mine_ids, right = _correct(record.path, "test", folder)
        assert list(mine_ids) == list(ids), "every run scored the same test reviews"
        if name == BASELINE:
            versus = "—"
        else:
            test = mcnemar_exact(np.ones(len(right), dtype=np.int64), right.astype(np.int64),
                                 baseline.astype(np.int64))  # fmt: skip
            versus = f"{test['only_a_right']} / {test['only_b_right']}, p = {test['p_value']:.2g}"
        lines.append(row(name, record, float(validation_right.mean()), versus))
    return lines


def earlier_rows(records: Path) -> list[str]:
    """Rows of finished transformer records kept without predictions (benchmarks/records/):
    validation accuracy from their history, no McNemar (that needs the predictions)."""
    lines = list(HEADER)
    for path in sorted(p for p in records.iterdir() if (p / "metrics.json").exists()):
        record = load_run(path)
        if record.config["family"] != "transformer" or record.status != "complete":
            continue
        validated = [r["val_accuracy"] for r in RunDir(path).history() if "val_accuracy" in r]
        if validated:  # a refit (val_fraction 0) has no validation accuracy to show
            lines.append(row(path.name, record, max(validated), "n/a"))
    return lines


def row(name: str, record: RunRecord, validation: float, versus: str) -> str:
    """One table row of a complete run record."""
    model, config = record.config["model"], record.config["config"]
    counts = record.config["data"]["counts"]
    metrics = record.metrics or {}
    target = TARGETS.get(model)
    met = "" if target is None else (" (met)" if metrics["accuracy"] >= target else " (not met)")
    shown = [k for k in SHOWN if config.get(k) is not None]  # unset: the backbone's own
    settings = ", ".join(f"{k} {config[k]}" for k in shown) or "cpu preset"
    low, high = metrics["accuracy_ci95"]
    n_train, n_test = counts["train"]["n"], counts["test"]["n"]
    return (
        f"| {name} | {settings} | {n_train:,} / {counts['validation']['n']:,} / {n_test:,} "
        f"| {validation:.4f} | **{metrics['accuracy']:.4f}** "
        f"| {low:.4f}-{high:.4f} | {metrics['ece']:.4f} | {target or ''}{met} "
        f"| {metrics['train_seconds']:.0f} "
        f"| {n_train * config.get('epochs', 1) / metrics['train_seconds']:.1f} "
        f"| {n_test / metrics['predict_seconds']:.1f} | {wall_seconds(record) / 3600:.2f} "
        f"| {versus} |"
    )


def ensemble_sets(found: dict[str, RunRecord]) -> dict[str, list[Path]]:
    """NB-SVM with the first transformer, the linear pair with it, and (with more than one)
    the linear pair with every transformer: each set named by its members' models."""
    transformers = [r for r in found.values() if r.config["family"] == "transformer"]
    if not transformers:
        return {}
    linear = [found[n].path for n in found if n.split("-")[0] in LINEAR]
    first, model = transformers[0].path, transformers[0].config["model"]
    sets = {f"nbsvm+{model}": [found[BASELINE].path, first], f"linear+{model}": [*linear, first]}
    if len(transformers) > 1:
        every = "+".join(r.config["model"] for r in transformers)
        sets[f"linear+{every}"] = [*linear, *(r.path for r in transformers)]
    return sets


def section(runs: Path, models: tuple[str, ...], earlier: Path | None = None) -> str:
    found = complete(runs, members(models))
    if BASELINE not in found:
        raise SystemExit(f"{runs / BASELINE} is not complete: train it first (without --summarise)")
    folder = shared_data([read_member(found[BASELINE].path, "mean", False)])
    first = next(r for r in found.values() if r.config["family"] == "transformer")
    missing = [name for name, _, _ in members(models) if name not in found]
    lines = [
        f"- Command: `{command_line('transformers_full.py')}`",
        f"- Machine of the transformer runs: {first.config.get('machine')}",
        "- Data: `sentibench data fetch imdb`; every run trained on the same 22,500 reviews and "
        "validated on the same 2,500 (val_fraction 0.1, seed 0; the linear models then refit "
        "on all 25,000 and keep the pre-refit model's validation predictions); test = the full "
        "official 25,000.",
        *([f"- Not complete (left out): {', '.join(missing)}"] if missing else []),
        "",
        *rows(found, folder),
    ]
    sets = ensemble_sets(found)
    if sets:
        build_sets(runs, sets)
        lines += [
            "",
            "Ensembles of these runs (fitted on their validation predictions only; members' "
            "train s = the sum of their training wall seconds):",
            "",
            *ensemble_table(runs, sets, found[BASELINE].path, folder),
        ]
    if earlier is not None:
        lines += [
            "",
            f"Runs of an earlier session, kept as records without predictions (`{earlier}`): "
            "validation accuracy from their history; no McNemar test without predictions.",
            "",
            *earlier_rows(earlier),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = train_or_summarise_parser(__doc__.splitlines()[0], "runs-transformers-full")
    parser.add_argument("--models", default=",".join(TRANSFORMERS))
    parser.add_argument("--earlier", type=Path, help="a folder of earlier transformer records")
    args = parser.parse_args()
    models = tuple(m for m in args.models.split(",") if m)
    runs = args.summarise or args.runs
    if args.summarise is None:
        train(runs, args.threads, members(models))
    title = "## Transformers on the full IMDB split, CPU (issue 18)\n\n"
    publish("transformers-full", title + section(runs, models, args.earlier), args)


if __name__ == "__main__":
    main()
