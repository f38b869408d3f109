"""MiniLM-L6 (offline, bundled) with every method, on a fixed seeded IMDB subset.

    python benchmarks/transformers_minilm.py                      # all five methods
    python benchmarks/transformers_minilm.py --methods full,lora  # some of them
    python benchmarks/transformers_minilm.py --set lr=1e-4 --methods full --no-write
    python benchmarks/transformers_minilm.py --json rows.json   # killed? the same command resumes
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
minilm_<method> (max_length 256, 2 epochs), changed only by --set. Each method runs in its own
process, so that its peak memory is its own. Results go to BENCHMARKS.md between the
transformers markers.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from sections import write_section  # benchmarks/ is on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("full", "lora", "prefix", "ptuning", "prompt")
TARGETS = {"full": 0.875, "lora": 0.855, "prefix": 0.78, "ptuning": 0.70, "prompt": 0.70}
COMMON = ("max_length", "epochs", "batch_size", "truncation", "head_tokens", "head")
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


def run_method(
    method: str,
    data: str,
    sizes: tuple[int, int],
    overrides: list[str],
    seed: int,
    fold: tuple[int, int] | None = None,
):
    """Train and score one method in this process; return its row.

    With fold = (i, k): train on the other folds of the training subset, score fold i, and
    leave the test reviews unscored.
    """
    import torch

    from sentibench import runtime
    from sentibench.config import apply_values, overrides_to_dict, read_toml, to_dict
    from sentibench.data.dataset import Splits, carve_validation, load_official
    from sentibench.errors import CollapseError
    from sentibench.metrics import classification_metrics
    from sentibench.predictor import labels_from_proba
    from sentibench.provenance import peak_rss_mib
    from sentibench.registry import get_spec

    spec = get_spec(f"minilm_{method}")
    recipe = spec.load_recipe()
    config = apply_values(recipe.config_cls(), read_toml(spec.preset_path("cpu")))
    config = apply_values(config, {"seed": seed, **overrides_to_dict(overrides)})
    train, test, source, digest = load_official(data)
    if fold is None:
        fit, validation = carve_validation(subset(train, sizes[0], seed), config.val_fraction, seed)
    else:
        fit, validation = folds(subset(train, sizes[0], seed), fold[1], seed)[fold[0]]
    splits = Splits(fit, validation, subset(test, sizes[1], seed), source, digest)

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    values = to_dict(config)
    common = {
        "method": method,
        "train_seed": config.seed,
        "target": TARGETS[method],
        "settings": {k: values[k] for k in SHOWN[method]},
        "common": {k: values[k] for k in COMMON},
        "n_train": len(fit),
        "n_validation": len(validation),
        "n_test": len(splits.test),
    }
    started = time.perf_counter()
    try:
        runtime.apply(config.threads, config.seed)
        predictor = recipe.train(config, splits, None)
    except CollapseError as exc:  # a result too: the table shows it
        return {**common, "collapsed": str(exc), "train_seconds": time.perf_counter() - started}
    train_seconds = time.perf_counter() - started
    # validation accuracy: what a choice between settings may look at (the test split may not);
    # none with --set val_fraction=0 (the refit on all training reviews)
    val_accuracy = None
    if len(validation):
        val_labels = labels_from_proba(predictor.predict_proba(validation["text"].tolist()))
        val_accuracy = float((val_labels == validation["label"].to_numpy()).mean())
    if fold is not None:
        return {**common, "fold": list(fold), "val_accuracy": val_accuracy,
                "train_seconds": round(train_seconds, 1), "n_test": 0}  # fmt: skip
    started = time.perf_counter()
    proba = predictor.predict_proba(splits.test["text"].tolist())
    score_seconds = time.perf_counter() - started
    metrics = classification_metrics(splits.test["label"].to_numpy(), labels_from_proba(proba))
    row = {
        **common,
        "val_accuracy": val_accuracy,
        "accuracy": metrics["accuracy"],
        "ci95": metrics["accuracy_ci95"],
        "positive_rate": metrics["positive_rate"],
        "train_seconds": round(train_seconds, 1),
        "train_reviews_per_s": round(len(fit) * config.epochs / train_seconds, 1),
        "score_reviews_per_s": round(len(splits.test) / score_seconds, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "trainable": predictor.n_trainable,
    }
    if torch.cuda.is_available():
        row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


def machine_line() -> str:
    from sentibench.provenance import machine

    info = machine()
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
    return f"{info['cpu']} ({info['cores']} cores){gpu}, Python {platform.python_version()}"


def table(rows: list[dict], command: str, machine: str, when: str) -> str:
    shared = ", ".join(f"{k} {v}" for k, v in rows[0]["common"].items())
    carves = {(r["n_train"], r["n_validation"]) for r in rows}
    if len(carves) == 1:
        carve = f"{rows[0]['n_train']:,} train + {rows[0]['n_validation']:,} validation reviews"
    else:  # e.g. rows kept by --json from a command with --set val_fraction=0
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
        "presets.",
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


def worker(method: str, args: argparse.Namespace, sizes: tuple[int, int], fold=None) -> dict:
    """Run one method (or one fold of it) in a fresh process; its row."""
    command = [sys.executable, __file__, "--one", method, "--data", args.data,
               "--train-size", str(sizes[0]), "--test-size", str(sizes[1]),
               "--seed", str(args.seed)] + [f"--set={o}" for o in args.overrides]  # fmt: skip
    if fold is not None:
        command += ["--folds", str(fold[1]), "--fold", str(fold[0])]
    done = subprocess.run(command, capture_output=True, text=True)
    found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
    if done.returncode != 0 or not found:
        print(done.stderr[-3000:], file=sys.stderr)
        sys.exit(f"{method} failed (exit {done.returncode}).")
    return json.loads(found[-1])


def select(args: argparse.Namespace, sizes: tuple[int, int]) -> None:
    """--folds: held-out accuracy per fold and its mean, per method; rows to --json."""
    chosen = range(args.folds) if args.fold is None else [args.fold]
    rows = []
    for method in args.methods.split(","):
        mine = [worker(method, args, sizes, (i, args.folds)) for i in chosen]
        accuracy = [r["val_accuracy"] for r in mine]
        print(f"{method:8s} {' '.join(args.overrides)}: held-out accuracy per fold "
              f"{accuracy}, mean {sum(accuracy) / len(accuracy):.4f}", flush=True)  # fmt: skip
        rows += mine
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


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
        "--json",
        type=Path,
        help="also write the rows here, after each method; methods already in it are kept, "
        "not run again (rerun the same command)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--folds", type=int, help="k-fold selection mode (no test scoring)")
    parser.add_argument("--fold", type=int, help="with --folds: only this fold (0-based)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # worker mode: one method, JSON out
    args = parser.parse_args()
    sizes = (args.train_size, args.test_size)

    if args.one:
        fold = (args.fold, args.folds) if args.folds else None
        row = run_method(args.one, args.data, sizes, args.overrides, args.seed, fold)
        print("ROW " + json.dumps(row), flush=True)
        return
    if args.folds:
        select(args, sizes)
        return

    kept = json.loads(args.json.read_text()) if args.json and args.json.exists() else []
    rows = []
    for method in args.methods.split(","):
        if method not in METHODS:
            sys.exit(f"--methods: unknown method {method!r}; choose from {', '.join(METHODS)}.")
        if earlier := [r for r in kept if r["method"] == method]:  # a killed benchmark resumes
            rows.append(earlier[-1])
            print(f"{method:8s} kept from {args.json}", flush=True)
            continue
        rows.append(worker(method, args, sizes))
        r = rows[-1]
        if "collapsed" in r:
            print(f"{method:8s} collapsed: {r['collapsed']}", flush=True)
        else:
            print(f"{method:8s} accuracy {r['accuracy']:.4f} (target {r['target']}) "
                  f"train {r['train_seconds']:.0f} s, {r['train_reviews_per_s']:.1f} reviews/s",
                  flush=True)  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    shown = " ".join(["python benchmarks/transformers_minilm.py"] + sys.argv[1:])
    text = table(rows, shown, machine_line(), time.strftime("%Y-%m-%d"))
    print(text)
    if not args.no_write:
        write_section("transformers", text, args.out)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
