"""Ensembles of validated cpu-suite runs on full IMDB, temperature scaling, GloVe 100d vs 50d
-> BENCHMARKS.md (issue 17).

    python benchmarks/ensembles.py --runs DIR --threads 1     # train the members, then combine
    python benchmarks/ensembles.py --summarise DIR [--note TEXT]  # the section again

Members: every linear baseline and classic net with its cpu preset, seed 0, validated
(val_fraction 0.1, seed 0: the same 2,500 validation reviews for all); the nets with
`calibrate=temperature` (fitted on that validation split), and some nets again with
`vectors=glove-6b-100d`. Ensembles (`sentibench ensemble`, mean / vote / stack / greedy) fit on
the members' val_predictions.csv only. The best single model is the member with the highest
validation accuracy; each ensemble is compared with it by McNemar's exact test on the full
25,000 test reviews. Test labels are read to score what was already decided, never to choose.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sections import (  # benchmarks/ is on sys.path when run
    command_line,
    publish,
    train_or_summarise_parser,
)

from sentibench.metrics import mcnemar_exact
from sentibench.recipes.ensemble.build import build_ensemble
from sentibench.recipes.ensemble.members import labels_of, shared_data
from sentibench.recipes.ensemble.members import read_member as read_run
from sentibench.runs import RunRecord, load_run

LINEAR = ("tfidf_lr", "nbsvm")
NETS = ("cnnlstm", "attention_lstm", "gru", "lstm", "capsule_lstm", "transformer", "cnn")
NETS_100D = ("attention_lstm", "cnnlstm", "gru")
VALIDATED = ("--set", "val_fraction=0.1", "--set", "calibrate=temperature")
METHODS = ("mean", "vote", "stack", "greedy")


Member = tuple[str, str, tuple[str, ...]]  # (run folder name, model, extra train arguments)


def members() -> list[Member]:
    """Every member, in training order."""
    rows = [(f"{m}-val-s0", m, ()) for m in LINEAR]  # the linear presets carve 0.1 themselves
    rows += [(f"{m}-val-s0", m, VALIDATED) for m in NETS]
    rows += [(f"{m}-100d-val-s0", m, (*VALIDATED, "--set", "vectors=glove-6b-100d"))
             for m in NETS_100D]  # fmt: skip
    return rows


def _is_complete(run: Path) -> bool:
    return (run / "status.json").exists() and load_run(run).status == "complete"


def train(runs: Path, threads: int, rows: list[Member] | None = None) -> None:
    """`sentibench train` each member on full IMDB (cpu preset, seed 0) unless complete."""
    for name, model, extra in members() if rows is None else rows:
        if _is_complete(runs / name):
            continue
        subprocess.run([sys.executable, "-m", "sentibench.cli", "train", model, "--data", "imdb",
                        "--preset", "cpu", "--seed", "0", "--set", f"threads={threads}", *extra,
                        "--out", str(runs / name)], check=False)  # fmt: skip


def complete(runs: Path, rows: list[Member] | None = None) -> dict[str, RunRecord]:
    """The members whose runs are complete, by folder name, in member order."""
    names = [name for name, _, _ in (members() if rows is None else rows)]
    return {name: load_run(runs / name) for name in names if _is_complete(runs / name)}


def _correct(run: Path, split: str, folder: Path) -> tuple[pd.Series, np.ndarray]:
    """Review ids and whether the run's 0.5-threshold label was right, on test or validation."""
    member = read_run(run, "mean", fitted=split == "validation")
    frame = member.test if split == "test" else member.validation
    assert frame is not None
    labels = labels_of(folder, "test" if split == "test" else "train", frame["id"])
    return frame["id"], (frame["sentiment"].to_numpy() == labels)


def _vectors(record: RunRecord) -> str:
    return str(record.config["config"].get("vectors", "")) or "-"


def member_table(found: dict[str, RunRecord], folder: Path) -> tuple[list[str], str]:
    lines = [
        "| member | vectors | val acc | test acc | 95% CI | test ECE | ECE before T | T "
        "| train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    val_accuracy = {}
    for name, record in found.items():
        metrics = record.metrics or {}
        _, right = _correct(record.path, "validation", folder)
        val_accuracy[name] = float(right.mean())
        calibration = metrics.get("calibration") or {}
        before = (calibration.get("test") or {}).get("ece_before")
        low, high = metrics["accuracy_ci95"]
        lines.append(
            f"| {name} | {_vectors(record)} | {val_accuracy[name]:.4f} | {metrics['accuracy']:.4f} "
            f"| {low:.4f}-{high:.4f} | {metrics['ece']:.4f} | "
            f"{'' if before is None else format(before, '.4f')} | "
            f"{format(calibration['temperature'], '.3f') if calibration else ''} | "
            f"{metrics['train_seconds']:.0f} |"
        )
    best = max(val_accuracy, key=lambda name: val_accuracy[name])
    return lines, best


def build(runs: Path, found: dict[str, RunRecord]) -> dict[str, list[Path]]:
    """The member sets and their ensembles under runs/ensembles/SET-METHOD (kept if complete)."""
    sets = {
        "50d": [r.path for n, r in found.items() if "-100d-" not in n],
        "50d+100d": [r.path for r in found.values()],
    }
    if sets["50d"] == sets["50d+100d"]:
        del sets["50d+100d"]
    return build_sets(runs, sets)


def build_sets(runs: Path, sets: dict[str, list[Path]]) -> dict[str, list[Path]]:
    """Each set's ensemble by every method under runs/ensembles/SET-METHOD (kept if complete)."""
    for set_name, paths in sets.items():
        for method in METHODS:
            out = runs / "ensembles" / f"{set_name}-{method}"
            if _is_complete(out):
                members = load_run(out).config["config"]["members"]
                kept = [(m["name"], m["created"]) for m in members]
                now = [(p.name, load_run(p).config["created"]) for p in paths]
                if kept != now:  # members finished or trained again since: build it again
                    raise SystemExit(f"{out} has other member runs than {set_name} now; remove it")
                continue
            build_ensemble(paths, method, out)
    return sets


def ensemble_table(runs: Path, sets: dict[str, list[Path]], best: Path, folder: Path) -> list[str]:
    lines = [
        f"| members | method | test acc | 95% CI | test ECE | weights (members in table order) "
        f"| members' train s | McNemar vs {best.name}: only ensemble right / only single right, "
        "p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ids, single = _correct(best, "test", folder)
    for set_name, paths in sets.items():
        for method in METHODS:
            record = load_run(runs / "ensembles" / f"{set_name}-{method}")
            metrics = record.metrics or {}
            ens_ids, right = _correct(record.path, "test", folder)
            assert list(ens_ids) == list(ids), "the members scored the same test reviews"
            labels = np.ones(len(right), dtype=np.int64)  # McNemar needs only right / wrong
            test = mcnemar_exact(labels, right.astype(np.int64), single.astype(np.int64))
            fitted = metrics.get("weights", record.config["config"].get("weights"))  # or older
            weights = ", ".join(f"{w:g}" for w in fitted)
            low, high = metrics["accuracy_ci95"]
            lines.append(
                f"| {set_name} ({len(paths)}) | {method} | **{metrics['accuracy']:.4f}** "
                f"| {low:.4f}-{high:.4f} | {metrics['ece']:.4f} | {weights} "
                f"| {metrics.get('members_train_seconds', 0):.0f} "
                f"| {test['only_a_right']} / {test['only_b_right']}, p = {test['p_value']:.2g} |"
            )
    return lines


def _seeds(runs: Path, stem: str) -> list[RunRecord]:
    """Complete runs STEM-s0, -s1, -s2 (the 100d comparison's seeds)."""
    paths = [runs / f"{stem}-s{seed}" for seed in range(3)]
    records = [load_run(p) for p in paths if (p / "status.json").exists()]
    return [r for r in records if r.status == "complete"]


def _mean_std(records: list[RunRecord], key: str, form: str) -> str:
    values = np.array([(r.metrics or {})[key] for r in records])
    spread = f" ± {values.std(ddof=1):{form}}" if len(values) > 1 else ""
    return f"{values.mean():{form}}{spread}"


def vectors_table(runs: Path) -> list[str]:
    lines = ["| net | seeds | 50d test acc | 100d test acc | gain (mean) | 50d train s | "
             "100d train s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for net in NETS_100D:
        small, big = _seeds(runs, f"{net}-val"), _seeds(runs, f"{net}-100d-val")
        if not small or not big:
            continue
        seeds = sorted({r.config["config"]["seed"] for r in small} & {r.config["config"]["seed"]
                                                                       for r in big})  # fmt: skip
        small = [r for r in small if r.config["config"]["seed"] in seeds]
        big = [r for r in big if r.config["config"]["seed"] in seeds]
        gain = np.mean([(b.metrics or {})["accuracy"] - (a.metrics or {})["accuracy"]
                        for a, b in zip(small, big, strict=True)])  # fmt: skip
        lines.append(f"| {net} | {','.join(map(str, seeds))} | "
                     f"{_mean_std(small, 'accuracy', '.4f')} | {_mean_std(big, 'accuracy', '.4f')} "
                     f"| {gain:+.4f} | {_mean_std(small, 'train_seconds', '.0f')} | "
                     f"{_mean_std(big, 'train_seconds', '.0f')} |")  # fmt: skip
    return lines


def section(runs: Path) -> str:
    found = complete(runs)
    folder = shared_data([read_run(next(iter(found.values())).path, "mean", False)])
    rows, best = member_table(found, folder)
    sets = build(runs, found)
    first: Any = next(iter(found.values()))
    missing = [name for name, _, _ in members() if name not in found]
    lines = [
        f"- Command: `{command_line('ensembles.py')}`",
        f"- Machine of the runs: {first.config.get('machine')}",
        "- Data: `sentibench data fetch imdb`; every member trained on the same 22,500 reviews "
        "and validated on the same 2,500 (val_fraction 0.1, seed 0; the linear models then "
        "refit on all 25,000 and keep the pre-refit model's validation predictions); test = "
        "the full official 25,000.",
        f"- Best single model by validation accuracy: **{best}**.",
        *([f"- Not complete (left out): {', '.join(missing)}"] if missing else []),
        "",
        "Members (seed 0; nets with temperature scaling fitted on validation: test ECE after, "
        "before, and T):",
        "",
        *rows,
        "",
        "Ensembles (fitted on the members' validation predictions only; members' train s = the "
        "sum of their training wall seconds):",
        "",
        *ensemble_table(runs, sets, found[best].path, folder),
    ]
    table = vectors_table(runs)
    if len(table) > 2:
        lines += [
            "",
            "GloVe 6B 100d vs 50d (mean ± std over the seeds both have; each seed "
            "carves its own validation split):",
            "",
            *table,
        ]
    return "\n".join(lines)


def main() -> None:
    parser = train_or_summarise_parser(__doc__.splitlines()[0], "runs-ensembles")
    args = parser.parse_args()
    runs = args.summarise or args.runs
    if args.summarise is None:
        train(runs, args.threads)
    publish(
        "ensembles", "## Ensembles, calibration, GloVe 100d (issue 17)\n\n" + section(runs), args
    )


if __name__ == "__main__":
    main()
