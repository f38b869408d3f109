"""The report's tables, from run records only: one row per run, and per dataset one ranked row
per group of seeds (group = model + preset + resolved config without the seed). The group
table is also the leaderboard: `sentibench leaderboard` and leaderboard.csv show it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from sentibench.eval.report.reviews import length_bucket_labels
from sentibench.eval.significance import probabilities, read_predictions, with_truth
from sentibench.eval.transfer import transfer_records
from sentibench.labels import BINARY_LABELS
from sentibench.metrics import expected_calibration_error, reliability_bins, wilson_interval
from sentibench.registry import REGISTRY
from sentibench.runs import RunRecord, atomic_path

# The columns of a group table, in order (ranked() puts `rank` first; leaderboard.csv adds data).
GROUP_COLUMNS = [
    "label",
    "model",
    "preset",
    "variant",
    "seeds",
    "accuracy",
    "accuracy_std",
    "ci_low",
    "ci_high",
    "macro_f1",
    "macro_f1_std",
    "ece",
    "train_s",
    "reviews_s",
    "params",
    "trainable",
    "published_accuracy",
    "representative",
    "runs",
    "n_test",
]


# Config keys added after run records existed, at the value that records without them imply:
# left out of the group key, so an old record and a new one of the same setting group together.
ADDED_DEFAULTS = {
    "calibrate": "none",
    # the transformer recipe's CPU speed keys (issue 18)
    "cpu_precision": "fp32",
    "batch_tokens": 0,
    "torch_compile": False,
    "attention_dropout": None,
}


def run_table(records: list[RunRecord], root: Path) -> pd.DataFrame:
    """One row per run with what every section needs."""
    rows = []
    for record in records:
        config = dict(record.config.get("config") or {})
        seed = config.pop("seed", None)
        for key, default in ADDED_DEFAULTS.items():
            if key in config and config[key] == default:
                del config[key]
        data = record.config.get("data") or {}
        metrics = record.metrics or {}
        low, high = metrics.get("accuracy_ci95", (math.nan, math.nan))
        label = record.path.relative_to(root).as_posix() if record.path != root else record.name
        rows.append(
            {
                "run": label,
                "path": record.path,
                "model": record.model,
                "preset": record.config.get("preset") or "",
                "seed": seed,
                "status": record.status,
                "message": record.message or "",
                # a tune trial's metrics are its validation split's: never ranked beside test
                "data": data.get("source")
                if metrics.get("split") is None
                else f"{data.get('source')} ({metrics['split']})",
                "sha256": data.get("sha256"),
                "config_key": json.dumps(config, sort_keys=True, default=str),
                "accuracy": metrics.get("accuracy", math.nan),
                "ci_low": low,
                "ci_high": high,
                "macro_f1": metrics.get("macro_f1", math.nan),
                # calibration: blank for records written before runs measured it
                "ece": metrics.get("ece", math.nan),
                "brier": metrics.get("brier", math.nan),
                "log_loss": metrics.get("log_loss", math.nan),
                "train_s": metrics.get("train_seconds", math.nan),
                "reviews_s": metrics.get("train_reviews_per_second", math.nan),
                "params": metrics.get("n_parameters"),
                "trainable": metrics.get("n_trainable"),
                "n": metrics.get("n"),
                "confusion_matrix": metrics.get("confusion_matrix"),
                "label_names": record.label_names,
            }
        )
    return pd.DataFrame(rows)


def by_dataset(runs: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """(name, complete runs) per dataset: runs are only ranked against runs on the same sha256."""
    complete = runs[(runs["status"] == "complete") & runs["sha256"].notna()]
    for _, data_runs in complete.groupby("sha256", sort=False):
        yield f"{data_runs['data'].iloc[0]} ({data_runs['sha256'].iloc[0][:8]})", data_runs


def _flat(config: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            # an ensemble's members (run id, sha256, ...): named by their run folders
            flat[f"{prefix}{key}"] = "+".join(str(v.get("name", "?")) for v in value)
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _variants(complete: pd.DataFrame) -> dict[str, str]:
    """config_key -> the settings that tell it apart from other configs of its model+preset."""
    variants: dict[str, str] = {}
    for _, same in complete.groupby(["model", "preset"]):
        keys = sorted(same["config_key"].unique())
        if len(keys) < 2:
            continue
        flats = [_flat(json.loads(key)) for key in keys]
        differing = sorted(
            {k for flat in flats for k in flat if any(f.get(k) != flat.get(k) for f in flats)}
        )
        for key, flat in zip(keys, flats, strict=True):
            variants[key] = ", ".join(
                f"{k}={flat.get(k, ADDED_DEFAULTS.get(k))}" for k in differing
            )
    return variants


def _first(values: pd.Series) -> object:
    """The first known value (parameter counts are the same for every seed)."""
    known = values.dropna()
    return known.iloc[0] if len(known) else None


def ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Best accuracy first (ties: faster training first), with a 1-based `rank` column."""
    frame = frame.sort_values(["accuracy", "train_s"], ascending=[False, True], kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def group_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Complete runs of one dataset as ranked groups of seeds (best mean accuracy first)."""
    complete = runs[runs["status"] == "complete"]
    variants = _variants(complete)
    rows = []
    for (model, preset, config_key), members in complete.groupby(
        ["model", "preset", "config_key"], sort=False
    ):
        ordered = members.sort_values("accuracy", kind="stable")
        representative = ordered.iloc[(len(ordered) - 1) // 2]  # the (lower) median seed
        n_test = int(members["n"].iloc[0])
        accuracy = float(members["accuracy"].mean())
        low, high = wilson_interval(round(accuracy * n_test), n_test)
        variant = variants.get(config_key, "")
        spec = REGISTRY.get(model)
        # the original project's figures are of IMDB's two classes: none for k-class data
        names = members["label_names"].iloc[0] if "label_names" in members else BINARY_LABELS
        binary = tuple(names) == BINARY_LABELS  # IMDB's pair, not any two-class data
        published = spec.published_accuracy if spec and binary else None
        several = len(members) > 1
        rows.append(
            {
                "label": f"{model}-{preset}" + (f" [{variant}]" if variant else ""),
                "model": model,
                "preset": preset,
                "variant": variant,
                "seeds": len(members),
                "accuracy": accuracy,
                "accuracy_std": float(members["accuracy"].std()) if several else math.nan,
                "ci_low": low,
                "ci_high": high,
                "macro_f1": float(members["macro_f1"].mean()),
                "macro_f1_std": float(members["macro_f1"].std()) if several else math.nan,
                "ece": float(members["ece"].mean()),  # NaN when no seed recorded it
                "train_s": float(members["train_s"].mean()),
                "reviews_s": float(members["reviews_s"].mean()),
                "params": _first(members["params"]),
                "trainable": _first(members["trainable"]),
                "published_accuracy": published,
                "representative": representative["path"],
                "runs": ", ".join(members["run"]),
                "n_test": n_test,
            }
        )
    return ranked(pd.DataFrame(rows, columns=GROUP_COLUMNS))


def leaderboards(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Dataset name -> its ranked group table (what `sentibench leaderboard` shows)."""
    return {name: group_table(data_runs) for name, data_runs in by_dataset(runs)}


def leaderboard_table(leaderboards: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The group tables of every dataset in one frame, each row naming its dataset in `data`:
    the one leaderboard.csv format (a group of one run is a row too)."""
    frames = [groups.assign(data=name) for name, groups in leaderboards.items()]
    if not frames:
        return pd.DataFrame(columns=["rank", *GROUP_COLUMNS, "data"])
    return pd.concat(frames, ignore_index=True)


def write_leaderboard_csv(path: Path, leaderboards: dict[str, pd.DataFrame]) -> None:
    with atomic_path(path) as tmp:
        leaderboard_table(leaderboards).to_csv(tmp, index=False)


TRANSFER_COLUMNS = ["run", "model", "trained_on", "dataset", "in_domain", "accuracy",
                    "ci_low", "ci_high", "n", "n_dropped"]  # fmt: skip


def transfer_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, dataset) of every run with transfer records: first the run's own test
    accuracy (in_domain), then each R/transfer/NAME/ record in name order."""
    rows = []
    for run in runs.itertuples():
        records = transfer_records(run.path)
        if not records:
            continue
        trained_on = Path(str(run.data)).name or str(run.data)  # sample, imdb, a folder's name
        base = [run.run, run.model, trained_on]
        rows.append([*base, trained_on, True, run.accuracy, run.ci_low, run.ci_high, run.n, 0])
        for name, metrics in records.items():
            low, high = metrics["accuracy_ci95"]
            rows.append([*base, name, False, metrics["accuracy"], low, high, metrics["n"],
                         metrics.get("n_dropped", 0)])  # fmt: skip
    return pd.DataFrame(rows, columns=TRANSFER_COLUMNS)


def per_run_points(runs: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Complete runs in group rank order, labelled by group (and seed when a group has several)."""
    points = []
    for row in groups.itertuples():
        members = runs[runs["run"].isin(row.runs.split(", "))].sort_values("seed")
        for run in members.itertuples():
            label = row.label + (f" s{run.seed}" if row.seeds > 1 else "")
            points.append(
                {"label": label, "accuracy": run.accuracy, "ci_low": run.ci_low,
                 "ci_high": run.ci_high, "published_accuracy": row.published_accuracy}
            )  # fmt: skip
    return pd.DataFrame(points)


def length_table(groups: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of each group's median seed per review-length bucket (rows: buckets)."""
    buckets = length_bucket_labels(truth.set_index("id")["words"])
    table = {}
    for row in groups.itertuples():
        joined = with_truth(read_predictions(row.representative), truth[["id", "label"]])
        correct = (joined["predicted"] == joined["label"]).to_numpy()
        bucket = buckets.loc[joined["id"]].array  # stays categorical: buckets keep their order
        table[row.label] = pd.Series(correct).groupby(bucket, observed=False).mean()
    return pd.DataFrame(table)


def reliability_curves(groups: pd.DataFrame, truth: pd.DataFrame) -> dict[str, dict]:
    """Each group's median seed: label (with its test ECE) -> metrics.reliability_bins of its
    predictions.csv against the test labels."""
    curves = {}
    for row in groups.itertuples():
        joined = with_truth(read_predictions(row.representative), truth[["id", "label"]])
        labels, proba = joined["label"].to_numpy(), probabilities(joined)
        ece = expected_calibration_error(labels, proba)
        curves[f"{row.label} (ECE {ece:.3f})"] = reliability_bins(labels, proba)
    return curves
