"""MiniLM-L6 (offline, bundled) with every method, on a fixed seeded IMDB subset.

    python benchmarks/transformers_minilm.py                      # all five methods
    python benchmarks/transformers_minilm.py --methods full,lora  # some of them
    python benchmarks/transformers_minilm.py --set lr=1e-4 --methods full --no-write
    python benchmarks/transformers_minilm.py --json rows.json   # the rows as JSON
    python benchmarks/transformers_minilm.py --data sample --train-size 64 --test-size 32 \\
        --methods prompt --set max_length=64 --set epochs=1 --runs /tmp/m --no-write  # a check
    python benchmarks/transformers_minilm.py --methods full --set lr=1e-4 --folds 5 --fold 0

--folds K selects settings without the test split: fold I (--fold, default all) trains on the
other K-1 folds of the 2,000 training reviews and scores the held-out fold (stratified, seeded);
the test reviews are not scored. Its rows hold val_accuracy per fold, for a choice between
settings by the mean over folds (scikit-learn's GridSearchCV, with 2,000 held-out reviews
instead of the 200 of one carve).

Data: 2,000 reviews drawn (seeded, 1,000 per class) from the official train split of
`--data` (default: the full IMDB prepared by `sentibench data fetch imdb`); 10% of them are
carved out for validation (best-epoch choice), 1,800 train; `--set val_fraction=0` trains on all
2,000 for every epoch and keeps the last (the refit after a choice of settings). Scored on 2,000
official test reviews drawn the same way. Settings: each method's `cpu` preset of
minilm_<method> (max_length 256, 2 epochs; for full and lora, whose cpu presets are now sized
for the full split, the subset settings of SUBSET_SETTINGS), changed only by --set.

Each method (or fold) is one run record under --runs (default runs/benchmark-minilm, which also
holds the drawn reviews as prepared data folders in .data/), trained by sentibench's runner in
a worker process of its own (sentibench.bench.isolated), so that its peak memory is its own;
every figure is read from the record. A killed benchmark resumes when the same command is run
again: complete runs are kept, an unfinished one resumes from its checkpoint. Results go to
BENCHMARKS.md between the transformers markers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from sections import write_section  # benchmarks/ is on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("full", "lora", "prefix", "ptuning", "prompt")
TARGETS = {"full": 0.875, "lora": 0.855, "prefix": 0.78, "ptuning": 0.70, "prompt": 0.70}
COMMON = ("max_length", "epochs", "batch_size", "truncation", "head_tokens", "head")
# The subset's settings where a cpu preset is now sized for the full split (minilm_full and
# minilm_lora: 128 tokens, one epoch): the presets these rows were measured with, so that the
# benchmark keeps measuring what its records hold; --set still changes them.
SUBSET_SETTINGS = {
    "full": ["max_length=256", "head_tokens=64", "epochs=2", "batch_tokens=0", "val_fraction=0.0"],
    "lora": ["max_length=256", "head_tokens=64", "epochs=2", "batch_tokens=0", "val_fraction=0.1"],
}
SHOWN = {  # the settings that tell the methods apart, per method
    "full": ("lr",),
    "lora": ("lr", "lora_r", "lora_alpha", "lora_targets"),
    "prefix": ("lr", "num_virtual_tokens", "prefix_hidden_size"),
    "ptuning": ("lr", "num_virtual_tokens", "encoder_hidden_size", "prompt_init"),
    "prompt": ("lr", "num_virtual_tokens", "prompt_init"),
}


def subset(frame, size: int, seed: int):
    """`size` rows, half of each label, seeded; the same rows on every machine."""
    import pandas as pd

    parts = [frame[frame["label"] == y].sample(size // 2, random_state=seed) for y in (0, 1)]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def folds(frame, k: int, seed: int):
    """Stratified k-fold (fit, held-out) pairs of `frame`, seeded."""
    from sklearn.model_selection import StratifiedKFold

    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [
        (frame.iloc[a].reset_index(drop=True), frame.iloc[b].reset_index(drop=True))
        for a, b in split.split(frame, frame["label"])
    ]


def digest(value: Any, length: int) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:length]


def write_prepared(folder: Path, train, test) -> Path:
    """A prepared data folder (train.parquet, test.parquet) that sentibench can read, written
    once and atomically: the run records name it as their data."""
    if not folder.exists():
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        train.to_parquet(tmp / "train.parquet", index=False)
        test.to_parquet(tmp / "test.parquet", index=False)
        tmp.rename(folder)
    return folder.resolve()


def prepare(args: argparse.Namespace) -> list[Path]:
    """The data folder of the benchmark's subset (one), or of each fold with --folds: the fold's
    training rows as train, its held-out rows as test (the official test reviews stay unread)."""
    from sentibench.data.dataset import load_official

    train, test, source, sha256 = load_official(args.data)
    sizes = {"train": args.train_size, "seed": args.seed}
    if not args.folds:  # the folds never read the test reviews
        sizes["test"] = args.test_size
    root = args.runs / ".data" / digest({"data": source, "sha256": sha256, **sizes}, 12)
    drawn = subset(train, args.train_size, args.seed)
    if not args.folds:
        return [write_prepared(root, drawn, subset(test, args.test_size, args.seed))]
    pairs = folds(drawn, args.folds, args.seed)
    chosen = range(args.folds) if args.fold is None else [args.fold]
    return [write_prepared(root.with_name(f"{root.name}-fold{i}of{args.folds}"), *pairs[i])
            for i in chosen]  # fmt: skip


def benchmark_splits(job: dict[str, Any], carve: dict[str, Any]):
    """What the runner trains on: the folder's train rows carved into train and validation with
    the benchmark's --seed (not the training seed, so that `--set seed=N` keeps the carve), or,
    for a fold, the fold's training rows with its held-out rows as validation and as test."""
    from sentibench.data.dataset import Splits, carve_validation, load_official
    from sentibench.registry import get_spec
    from sentibench.train.runner import resolve_config

    train, test, source, sha256 = load_official(job["data"])
    if carve["fold"]:
        return Splits(train, test, test, source, sha256)
    spec = get_spec(job["model"])
    config, _ = resolve_config(spec, spec.load_recipe(), job["preset"], None, job["overrides"],
                               job["seed"])  # fmt: skip
    fit, validation = carve_validation(train, config.val_fraction, carve["seed"])
    return Splits(fit, validation, test, source, sha256)


def worker_main(carve: dict[str, Any], job: dict[str, Any]) -> int:
    """The worker the bench runner starts for a run of this benchmark (--worker)."""
    from sentibench.bench.worker import run_job, watch_parent

    watch_parent(job["parent_pid"])
    return run_job(job, benchmark_splits(job, carve))


def train_seed(args: argparse.Namespace) -> int:
    from sentibench.config import overrides_to_dict

    return int(overrides_to_dict(args.overrides).get("seed", args.seed))


def train_method(method: str, folder: Path, args: argparse.Namespace, fold: tuple[int, int] | None):
    """The run record of one method on one data folder: trained now, resumed, or kept."""
    from sentibench.bench.isolated import run_isolated

    seed = train_seed(args)
    given = [o for o in args.overrides if o.partition("=")[0].strip() != "seed"]
    others = [*SUBSET_SETTINGS.get(method, []), *given]  # later --set values win
    name = f"minilm_{method}-s{seed}" + (f"-fold{fold[0]}of{fold[1]}" if fold else "")
    name += "-" + digest({"overrides": others, "data": str(folder)}, 8)
    carve = json.dumps({"seed": args.seed, "fold": fold is not None})
    worker = (sys.executable, str(Path(__file__).resolve()), "--worker", carve)
    record = run_isolated(f"minilm_{method}", args.runs / name, str(folder), "cpu", others,
                          seed, worker)  # fmt: skip
    if record.status not in ("complete", "collapsed"):
        log = args.runs / "logs" / f"{name}.log"
        sys.exit(f"{method} {record.status}: {record.message} (see {record.path}, {log}).")
    return record


def row_of(record, method: str, fold: tuple[int, int] | None) -> dict:
    """The benchmark's row of one method, read from its run record."""
    from sentibench.runs import RunDir

    config, counts = record.config["config"], record.config["data"]["counts"]
    metrics, history = record.metrics, RunDir(record.path).history()
    common = {
        "method": method,
        "train_seed": config["seed"],
        "target": TARGETS[method],
        "settings": {k: config[k] for k in SHOWN[method]},
        "common": {k: config[k] for k in COMMON},
        "n_train": counts["train"]["n"],
        "n_validation": counts["validation"]["n"],
        "n_test": counts["test"]["n"],
    }
    if metrics is None:  # collapsed while training (a result too: the table shows it)
        seconds = sum(r.get("seconds", 0) + r.get("val_seconds", 0) for r in history)
        return {**common, "collapsed": record.message, "train_seconds": seconds}
    train_seconds = metrics["train_seconds"]
    if fold is not None:  # the fold's held-out rows were the run's test split
        return {**common, "fold": list(fold), "val_accuracy": metrics["accuracy"],
                "train_seconds": round(train_seconds, 1), "n_test": 0}  # fmt: skip
    # validation accuracy of the kept (best) epoch: what a choice between settings may look at
    # (the test split may not); none with --set val_fraction=0 (the refit on all reviews)
    scores = [r["val_accuracy"] for r in history if r.get("val_accuracy") is not None]
    row = {
        **common,
        "val_accuracy": max(scores) if scores else None,
        "accuracy": metrics["accuracy"],
        "ci95": metrics["accuracy_ci95"],
        "positive_rate": metrics["positive_rate"],
        "train_seconds": round(train_seconds, 1),
        "train_reviews_per_s": round(common["n_train"] * config["epochs"] / train_seconds, 1),
        "score_reviews_per_s": round(common["n_test"] / metrics["predict_seconds"], 1),
        "peak_rss_mib": metrics["peak_rss_mib"],
        "trainable": metrics["n_trainable"],
    }
    if "peak_gpu_mib" in metrics:
        row["peak_gpu_mib"] = metrics["peak_gpu_mib"]
    return row


def machine_line(records: list) -> str:
    """Where the runs ran, from their records."""
    lines = []
    for record in records:
        info, python = record.config["machine"], record.config["versions"]["python"]
        gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
        line = f"{info['cpu']} ({info['cores']} cores){gpu}, Python {python}"
        lines += [] if line in lines else [line]
    return "; ".join(lines)


def table(rows: list[dict], command: str, machine: str, when: str) -> str:
    shared = ", ".join(f"{k} {v}" for k, v in rows[0]["common"].items())
    carves = {(r["n_train"], r["n_validation"]) for r in rows}
    if len(carves) == 1:
        carve = f"{rows[0]['n_train']:,} train + {rows[0]['n_validation']:,} validation reviews"
    else:  # e.g. rows of runs with different --set val_fraction
        per_method = ", ".join(
            f"{r['method']} {r['n_train']:,}/{r['n_validation']:,}" for r in rows
        )
        carve = f"train/validation reviews per method {per_method}"
    lines = [
        "## Transformers: MiniLM-L6, every method (offline)",
        "",
        f"Measured {when} on {machine} with `{command}`.",
        f"{carve} (seeded, from the official train split), {rows[0]['n_test']:,} "
        f"official test reviews; {shared}; the other settings from the minilm_<method> cpu "
        "presets (full and lora: their subset settings, SUBSET_SETTINGS).",
        "",
        "| method | accuracy (95% CI) | target | met | train s | train reviews/s | "
        "peak memory MiB | trainable params | settings |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items())
        if "collapsed" in r:
            lines.append(f"| {r['method']} | collapsed | {r['target']} | no | "
                         f"{r['train_seconds']:.0f} | | | | {settings} |")  # fmt: skip
            continue
        low, high = r["ci95"]
        collapsed = not 0.02 < r["positive_rate"] < 0.98
        met = "collapsed" if collapsed else ("yes" if r["accuracy"] >= r["target"] else "no")
        memory = r.get("peak_gpu_mib", r["peak_rss_mib"])
        lines.append(
            f"| {r['method']} | {r['accuracy']:.4f} ({low:.3f}-{high:.3f}) | {r['target']} | "
            f"{met} | {r['train_seconds']:.0f} | {r['train_reviews_per_s']:.1f} | {memory:.0f} | "
            f"{r['trainable']:,} | {settings} |"
        )
    lines.append("")
    lines.append("Peak memory is the process's peak RSS (GPU: peak allocated CUDA memory).")
    return "\n".join(lines)


def write_rows(path: Path | None, rows: list[dict]) -> None:
    if path:
        path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def select(args: argparse.Namespace, methods: list[str]) -> None:
    """--folds: held-out accuracy per fold and its mean, per method; rows to --json."""
    chosen = range(args.folds) if args.fold is None else [args.fold]
    folders = prepare(args)
    rows = []
    for method in methods:
        mine = [
            row_of(train_method(method, folder, args, (i, args.folds)), method, (i, args.folds))
            for i, folder in zip(chosen, folders, strict=True)
        ]
        accuracy = [r["val_accuracy"] for r in mine]
        print(f"{method:8s} {' '.join(args.overrides)}: held-out accuracy per fold "
              f"{accuracy}, mean {sum(accuracy) / len(accuracy):.4f}", flush=True)  # fmt: skip
        rows += mine
    write_rows(args.json, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--data", default="imdb", help="imdb | sample | a prepared folder")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs/benchmark-minilm"),
        help="run records (and the drawn data) go here; a rerun of the same command keeps "
        "complete runs and resumes an unfinished one",
    )
    parser.add_argument(
        "--json", type=Path, help="also write the rows here (for selection across folds)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--folds", type=int, help="k-fold selection mode (no test scoring)")
    parser.add_argument("--fold", type=int, help="with --folds: only this fold (0-based)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)  # the runner's worker
    args = parser.parse_args()
    if args.worker:
        sys.exit(worker_main(*map(json.loads, args.worker)))
    methods = args.methods.split(",")
    for method in methods:
        if method not in METHODS:
            sys.exit(f"--methods: unknown method {method!r}; choose from {', '.join(METHODS)}.")
    if args.folds:
        select(args, methods)
        return

    (folder,) = prepare(args)
    rows, records = [], []
    for method in methods:
        records.append(train_method(method, folder, args, None))
        rows.append(row_of(records[-1], method, None))
        r = rows[-1]
        if "collapsed" in r:
            print(f"{method:8s} collapsed: {r['collapsed']}", flush=True)
        else:
            print(f"{method:8s} accuracy {r['accuracy']:.4f} (target {r['target']}) "
                  f"train {r['train_seconds']:.0f} s, {r['train_reviews_per_s']:.1f} reviews/s",
                  flush=True)  # fmt: skip
        write_rows(args.json, rows)
    shown = " ".join(["python benchmarks/transformers_minilm.py"] + sys.argv[1:])
    text = table(rows, shown, machine_line(records), time.strftime("%Y-%m-%d"))
    print(text)
    if not args.no_write:
        write_section("transformers", text, args.out)


if __name__ == "__main__":
    main()
