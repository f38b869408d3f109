"""Cross-domain transfer: a trained run scored on the test split of another prepared dataset.

    sentibench evaluate --run R --data NAME [--map neutral=drop --map pos=positive ...]

The target's label names are mapped to the run's: a name both have maps to itself, `--map
SRC=DST` maps the target's SRC to the run's DST, `--map SRC=drop` leaves SRC's rows out (they
are counted). Nothing is trained and the target's train split is never read (its file is only
hashed, for the sha256 that names the dataset, as for a run). The record:

R/transfer/NAME/
  metrics.json     accuracy, Wilson 95% CI, macro-F1, per class, confusion (the run's label
                   order), n scored, rows dropped per target label, the mapping, the target
                   (name, source, sha256) and the run's own test accuracy for reference
  predictions.csv  id, label (predicted, the run's name), true_label (mapped), prob_<name>...

written into a hidden sibling and renamed into place: re-running replaces it whole.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentibench.errors import ConfigError, DataError, SentibenchError
from sentibench.metrics import classification_metrics
from sentibench.predictor import PROBA_DECIMALS, class_proba, labels_from_class_proba
from sentibench.runs import load_run, now_iso, read_json, refuse_remote_code, replace_dir

TRANSFER_DIR = "transfer"
DROP = "drop"
RECORD_FILES = frozenset({"metrics.json", "predictions.csv"})


@dataclass(frozen=True)
class TransferResult:
    path: Path  # R/transfer/NAME
    metrics: dict[str, Any]


def parse_maps(items: Sequence[str]) -> dict[str, str]:
    """--map SRC=DST items as {SRC: DST}; a malformed or repeated SRC is an error."""
    given: dict[str, str] = {}
    for item in items:
        source, sep, target = (part.strip() for part in item.partition("="))
        if not sep or not source or not target:
            raise ConfigError(f"--map {item!r}: expected SRC=DST or SRC=drop, e.g. neutral=drop.")
        if source in given:
            raise ConfigError(f"--map names the target label {source!r} twice; give it once.")
        given[source] = target
    return given


def resolve_mapping(
    target_names: Sequence[str], run_names: Sequence[str], given: dict[str, str], where: str
) -> dict[str, str]:
    """Each target label name -> the run's label name or "drop"; `where` names the target."""
    run_list = ", ".join(run_names)
    for source, target in given.items():
        if source not in target_names:
            raise ConfigError(
                f"--map {source}={target}: {where} has no label {source!r} "
                f"(its labels: {', '.join(target_names)})."
            )
        if target != DROP and target not in run_names:
            raise ConfigError(
                f"--map {source}={target}: the run has no label {target!r} "
                f"(its labels: {run_list}; or {DROP})."
            )
    unmapped = [name for name in target_names if name not in given and name not in run_names]
    if unmapped:
        hint = " ".join(f"--map {name}={DROP}" for name in unmapped)
        raise ConfigError(
            f"{where} has label(s) {', '.join(unmapped)} that the run does not know "
            f"(its labels: {run_list}); map each to one of those or drop its rows: {hint}."
        )
    return {name: given.get(name, name) for name in target_names}


def folder_name(display: str, folder: Path) -> str:
    """R/transfer/<this>: the --data display name (a path's last part), safe as a folder."""
    name = folder.resolve().name if display == str(folder) else display
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "data"


def evaluate_transfer(
    run: Path, data: str, maps: Sequence[str] = (), trust_remote_code: bool = False
) -> TransferResult:
    """Score the complete run `run` on the test split of `data` (see the module's docstring)."""
    from sentibench.data.dataset import label_names_of, load_test, resolve_data
    from sentibench.runs import load_predictor

    run = Path(run)
    record = load_run(run)
    if record.status != "complete":
        raise SentibenchError(f"Run {run} is {record.status}, not complete; nothing to score.")
    refuse_remote_code(record, trust_remote_code)  # before any data is read
    run_names = record.label_names
    folder, display = resolve_data(data)
    target_names = label_names_of(folder)
    mapping = resolve_mapping(target_names, run_names, parse_maps(maps), f"--data {data}")
    test, digest = load_test(data)

    # target label id -> the run's label id, or -1 for a dropped row
    to_run = np.array([-1 if m == DROP else run_names.index(m) for m in mapping.values()])
    truth = to_run[test["label"].to_numpy()]
    kept = test[truth >= 0].reset_index(drop=True)
    if kept.empty:
        raise DataError(f"--data {data}: every test row was dropped by --map; nothing to score.")
    dropped = {
        name: int((test["label"] == i).sum())
        for i, (name, target) in enumerate(mapping.items())
        if target == DROP
    }

    predictor = load_predictor(run, trust_remote_code=trust_remote_code)
    started = time.perf_counter()
    proba = class_proba(predictor, kept["text"].tolist())
    seconds = time.perf_counter() - started
    if proba.shape != (len(kept), len(run_names)):
        raise SentibenchError(
            f"Run {run} gives {proba.shape[-1]} class probabilities but records "
            f"{len(run_names)} labels ({', '.join(run_names)}); its record is inconsistent."
        )
    predicted = labels_from_class_proba(proba)
    true = truth[truth >= 0]

    own = record.metrics or {}
    source = _manifest_source(folder) or display
    metrics = {
        **classification_metrics(true, predicted, run_names),
        "label_names": list(run_names),
        "n_dropped": sum(dropped.values()),
        "dropped": dropped,
        "mapping": mapping,
        "target": {"name": display, "source": source, "sha256": digest,
                   "label_names": list(target_names), "n_test": len(test)},
        "run": {"name": record.name, "model": record.model,
                "data": (record.config.get("data") or {}).get("source"),
                "sha256": (record.config.get("data") or {}).get("sha256"),
                "accuracy": own.get("accuracy"), "accuracy_ci95": own.get("accuracy_ci95"),
                "n": own.get("n")},
        "predict_seconds": round(seconds, 3),
        "created": now_iso(),
    }  # fmt: skip
    columns = {
        f"prob_{name}": proba[:, i].round(PROBA_DECIMALS) for i, name in enumerate(run_names)
    }
    predictions = pd.DataFrame(
        {
            "id": kept["id"],
            "label": [run_names[i] for i in predicted],
            "true_label": [run_names[i] for i in true],
            **columns,
        }
    )
    final = run / TRANSFER_DIR / folder_name(display, folder)
    _write_record(final, metrics, predictions)
    return TransferResult(final, metrics)


def transfer_records(run: Path) -> dict[str, dict[str, Any]]:
    """NAME -> metrics.json of each R/transfer/NAME/ (none: {}), by name."""
    root = Path(run) / TRANSFER_DIR
    if not root.is_dir():
        return {}
    return {
        child.name: read_json(child / "metrics.json")
        for child in sorted(root.iterdir())
        if not child.name.startswith(".") and (child / "metrics.json").is_file()
    }


def _manifest_source(folder: Path) -> str | None:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        found = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return found.get("source") if isinstance(found, dict) else None


def _write_record(final: Path, metrics: dict[str, Any], predictions: pd.DataFrame) -> None:
    """Write both files into a hidden sibling, then swap it onto `final` (the old record is
    moved aside first and restored if the rename fails)."""
    parent = final.parent
    if final.exists() and not (
        final.is_dir() and {p.name for p in final.iterdir()} <= RECORD_FILES
    ):
        raise SentibenchError(
            f"{final} exists and holds files other than a transfer record; move it away, "
            "nothing was changed."
        )
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-new-", dir=parent))
    except OSError as exc:
        raise SentibenchError(
            f"Cannot write into {parent} ({exc.strerror or exc}); the run folder must be writable."
        ) from None
    try:
        staging.chmod(0o755)  # mkdtemp makes it owner-only; a record is an ordinary folder
        predictions.to_csv(staging / "predictions.csv", index=False)
        text = json.dumps(metrics, indent=2, default=str) + "\n"
        (staging / "metrics.json").write_text(text, encoding="utf-8")
        replace_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone after a successful rename
