"""`sentibench ensemble`: combine finished runs into a run record of its own.

The members' recorded predictions are all it reads: val_predictions.csv to fit stack and
greedy (with the validation labels of the training file), predictions.csv for the test split.
The test labels are read once, at the end, to score what was already decided.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentibench.config import to_dict
from sentibench.errors import EnsembleError
from sentibench.metrics import calibration_metrics, classification_metrics
from sentibench.provenance import command_line, git_commit, machine, package_versions
from sentibench.recipes.ensemble.combine import FITTED, combine
from sentibench.recipes.ensemble.fit import fit_stack, greedy_counts
from sentibench.recipes.ensemble.members import (
    Member,
    labels_of,
    proba_matrix,
    read_members,
    shared_data,
)
from sentibench.recipes.ensemble.recipe import EnsembleConfig, EnsembleSpec
from sentibench.runs import RunDir, atomic_write_json, now_iso
from sentibench.train.runner import (
    prepare_run_dir,
    raise_if_collapsed,
    recording_outcome,
    save_model,
    write_predictions,
)

MODEL = FAMILY = "ensemble"


def _reference(member: Member, out: Path) -> dict[str, Any]:
    """How the ensemble names a member: its path from the ensemble's folder, and identity."""
    path = member.record.path.resolve()
    try:
        relative = os.path.relpath(path, out.resolve())
    except ValueError:  # another drive (Windows): no relative path
        relative = str(path)
    config = member.record.config
    return {"path": Path(relative).as_posix(), "name": path.name, "model": config["model"],
            "created": config.get("created"), "sha256": member.sha256,
            "test_accuracy": (member.record.metrics or {}).get("accuracy")}  # fmt: skip


def _fit(config: EnsembleConfig, members: list[Member], folder: Path) -> EnsembleSpec:
    """The members' weights (and intercept): fitted on validation, or 1 each. They are the
    model (model/ensemble.json, and metrics.json for reading), not the config."""
    if config.method not in FITTED:
        return EnsembleSpec(config.method, config.members, [1.0] * len(members))
    ids = members[0].validation["id"]  # type: ignore[index]  # read_members checked it
    proba = proba_matrix(members, ids, "validation")
    labels = labels_of(folder, "train", ids)  # validation is carved from the training file
    if config.method == "stack":
        weights, intercept = fit_stack(proba, labels, config.C)
        return EnsembleSpec(config.method, config.members, weights, intercept)
    counts = greedy_counts(proba, labels, config.rounds)
    return EnsembleSpec(config.method, config.members, counts)


def _sum_of(members: list[Member], key: str) -> float | None:
    values = [(m.record.metrics or {}).get(key) for m in members]
    return None if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]


def _costs(members: list[Member], used: list[Member], fit_seconds: float) -> dict[str, Any]:
    """What the ensemble cost: its members' training and test scoring, plus its own fit."""
    train = _sum_of(members, "train_seconds")
    costs: dict[str, Any] = {"fit_seconds": round(fit_seconds, 3)}
    if train is not None:
        costs.update(members_train_seconds=round(train, 3),
                     train_seconds=round(train + fit_seconds, 3))  # fmt: skip
    predict = _sum_of(used, "predict_seconds")
    if predict is not None:
        costs["predict_seconds"] = round(predict, 3)  # its members', on the test split
    parameters = _sum_of(used, "n_parameters")
    if parameters is not None:
        costs["n_parameters"] = int(parameters)
    return costs


def build_ensemble(
    runs: Sequence[Path], method: str, out: Path, rounds: int = 25, C: float = 1.0
) -> Path:
    """Check the members, fit on validation where the method does, write the run record in
    `out` and score it on the test split; return `out`."""
    # a bad method, rounds or C is refused before any run is read
    EnsembleConfig(method=method, rounds=rounds, C=C)  # type: ignore[arg-type]
    members = read_members(runs, method, method in FITTED)
    run = RunDir(Path(out))
    for member in members:
        if member.record.path.resolve() == run.path.resolve():
            raise EnsembleError(f"--out {out} is one of the --runs; pass a new folder.")
    folder = shared_data(members)
    first = members[0].record.config
    source = first["data"]["source"]
    config = EnsembleConfig(
        method=method,  # type: ignore[arg-type]
        members=[_reference(m, run.path) for m in members],
        rounds=rounds,
        C=C,
        # stack / greedy: the validation split they fit on; mean / vote fit nothing on one
        val_fraction=first["config"].get("val_fraction", 0.0) if method in FITTED else 0.0,
    )
    started = time.perf_counter()
    spec = _fit(config, members, folder)
    fit_seconds = time.perf_counter() - started
    validation_n = 0 if members[0].validation is None else len(members[0].validation)
    record = {
        "model": MODEL,
        "family": FAMILY,
        "preset": None,
        "config": to_dict(config),
        "data": {"source": source, "sha256": members[0].sha256,
                 "counts": {"validation": {"n": validation_n if method in FITTED else 0},
                            "test": {"n": len(members[0].test)}}},
        "versions": package_versions(),
        "git_commit": git_commit(),
        "machine": machine(),
        "command": command_line(),
        "created": now_iso(),
    }  # fmt: skip
    prepare_run_dir(run, record)  # refuses a folder that is not a run, or a complete one
    run.set_status("running")
    names = ", ".join(m.record.name for m in members)
    run.log(f"starting ensemble ({method}) of {names} on {source}")
    with recording_outcome(run):
        save_model(spec, run)
        used = [m for m, w in zip(members, spec.weights, strict=True) if w != 0]
        fitted: dict[str, Any] = {"weights": spec.weights}  # metrics.json keeps them too
        intercept = ""
        if method == "stack":
            fitted["intercept"] = spec.intercept
            intercept = f", intercept {spec.intercept:.4f}"
        run.log(f"weights {spec.weights}{intercept}")
        ids = members[0].test["id"]
        proba = combine(method, proba_matrix(used, ids, "test"),
                        [w for w in spec.weights if w != 0], spec.intercept)  # fmt: skip
        predicted = write_predictions(run.predictions_path, ids, proba)
        labels = labels_of(folder, "test", ids)  # the test labels: read here, once, to score
        metrics = classification_metrics(labels, predicted)
        metrics.update(calibration_metrics(labels, proba))  # ECE, Brier, log loss like any run
        metrics.update(_costs(members, used, fit_seconds))
        metrics.update(fitted)
        atomic_write_json(run.metrics_path, metrics)
        raise_if_collapsed(f"The {method} ensemble", metrics, "test")
    run.set_status("complete")
    run.log(f"complete: test accuracy {metrics['accuracy']:.4f}")
    return run.path
