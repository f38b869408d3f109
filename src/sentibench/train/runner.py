"""`sentibench train`: resolve the config, train through the model's recipe, score the official
test split once, and write the run record. The only place that turns a model into a run."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sentibench import runtime
from sentibench.calibration import TemperatureScaled, fit_on_validation, uncalibrated
from sentibench.config import apply_values, overrides_to_dict, read_toml, to_dict
from sentibench.data.dataset import Splits, load_splits, load_training_splits
from sentibench.errors import CollapseError, ConfigError, Pruned, SentibenchError
from sentibench.labels import BINARY_LABELS
from sentibench.metrics import (
    calibration_metrics,
    classification_metrics,
    majority_prediction_share,
)
from sentibench.predictor import (
    PROBA_DECIMALS,
    Predictor,
    binary_columns,
    class_proba,
    labels_from_class_proba,
)
from sentibench.provenance import (
    command_line,
    git_commit,
    machine,
    package_versions,
    peak_gpu_mib,
    peak_rss_mib,
)
from sentibench.registry import ModelSpec, get_spec
from sentibench.runs import (
    RunDir,
    atomic_path,
    atomic_write_json,
    load_run,
    now_iso,
    refuse_remote_code,
)
from sentibench.train.guard import check_not_one_class  # one rule for validation and test


def default_preset(spec: ModelSpec) -> str:
    """gpu where a GPU is visible and the model has a gpu preset, else cpu."""
    presets = spec.presets()
    if "gpu" in presets and spec.family != "linear":
        import torch

        if torch.cuda.is_available():
            return "gpu"
    return "cpu" if "cpu" in presets or not presets else presets[0]


def resolve_config(
    spec: ModelSpec,
    recipe: Any,
    preset: str | None,
    config_file: Path | None,
    overrides: list[str],
    seed: int | None,
) -> tuple[Any, str]:
    """Dataclass defaults <- preset <- config file <- --set overrides <- --seed."""
    preset = preset or default_preset(spec)
    config = recipe.config_cls()
    if spec.presets():
        path = spec.preset_path(preset)
        if not path.exists():
            raise ConfigError(
                f"Model '{spec.name}' has no preset '{preset}'; "
                f"available: {', '.join(spec.presets())}."
            )
        config = apply_values(config, read_toml(path))
    if config_file is not None:
        config = apply_values(config, read_toml(Path(config_file)))
    config = apply_values(config, overrides_to_dict(overrides))
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    return config, preset


def prepare_run_dir(run: RunDir, record: dict[str, Any]) -> bool:
    """Create the run dir, or check that an unfinished one is the same run. True if resuming."""
    if not run.writes:  # another process of a multi-process launch: the main one checks
        return run.config_path.exists()
    run.create()  # refuses a folder that is not a run of ours, before anything is written
    if not run.config_path.exists():
        atomic_write_json(run.config_path, record)
        return False
    existing = load_run(run.path)
    if existing.status == "complete":
        raise SentibenchError(f"Run {run.path} is already complete; pass another --out.")
    same = (existing.config["model"], existing.config["config"], existing.config["data"]["sha256"])
    if same != (record["model"], record["config"], record["data"]["sha256"]):
        raise SentibenchError(
            f"Run {run.path} exists with another model, config or data; "
            "pass another --out or remove it."
        )
    return True


class Saving(Protocol):
    def save(self, directory: Path) -> None: ...


def save_model(predictor: Saving, run: RunDir) -> None:
    """Write the model to a temporary folder, then swap it in: never a half-written model/."""
    tmp = run.path / ".model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    predictor.save(tmp)
    shutil.rmtree(run.model_dir, ignore_errors=True)
    tmp.rename(run.model_dir)


def write_predictions(
    path: Path,
    ids: pd.Series,
    proba: np.ndarray,
    label_names: tuple[str, ...] = BINARY_LABELS,
) -> np.ndarray:
    """predictions.csv (or val_predictions.csv) from (n, k) class probabilities (or P(positive)
    (n,)); return the label ids. Binary: id, sentiment (the 0.5 threshold) and prob_positive,
    the Kaggle submission format; k > 2: id, label (the argmax's name), prob_<name> per class."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = binary_columns(proba)
    labels = labels_from_class_proba(proba)
    if proba.shape[1] == 2:
        columns = {"id": ids, "sentiment": labels,
                   "prob_positive": proba[:, 1].round(PROBA_DECIMALS)}  # fmt: skip
    else:
        columns = {"id": ids, "label": np.asarray(label_names, dtype=object)[labels]}
        for index, name in enumerate(label_names):
            columns[f"prob_{name}"] = proba[:, index].round(PROBA_DECIMALS)
    frame = pd.DataFrame(columns)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return labels


def held_out_validation_proba(predictor: Predictor, validation: pd.DataFrame) -> np.ndarray:
    """(n, k) class probabilities on the validation split from a model that never trained on
    it: the predictor's `held_out_validation_proba` where the recipe kept them (the training
    loop's evaluation of the kept model; a refit's model chosen first), else predicted now."""
    held_out = getattr(predictor, "held_out_validation_proba", None)
    if held_out is None:
        proba = np.asarray(class_proba(predictor, validation["text"].tolist()), dtype=np.float64)
    else:
        proba = np.asarray(held_out, dtype=np.float64)
        proba = binary_columns(proba) if proba.ndim == 1 else proba
    if proba.ndim != 2 or proba.shape[0] != len(validation):
        raise ValueError(f"validation probabilities of shape {proba.shape} for {len(validation)}")
    return proba


def raise_if_collapsed(name: str, metrics: dict[str, Any], split: str) -> None:
    """A model that predicts (almost) one class of data that has others has collapsed, on
    validation or on test (the confusion matrix's rows are the true classes)."""
    truth = np.asarray(metrics["confusion_matrix"]).sum(axis=1)
    true_share = float(truth.max() / max(truth.sum(), 1))
    check_not_one_class(name, majority_prediction_share(metrics), true_share, split)


@contextmanager
def recording_outcome(run: RunDir) -> Iterator[None]:
    """Mark the run collapsed, pruned or failed, with the reason, if the block raises."""
    try:
        yield
    except CollapseError as exc:
        run.set_status("collapsed", str(exc))
        run.log(f"collapsed: {exc}")
        raise
    except Pruned as exc:
        shutil.rmtree(run.checkpoint_dir, ignore_errors=True)  # never resumed: a new trial is
        run.set_status("pruned", str(exc))
        run.log(f"pruned: {exc}")
        raise
    except BaseException as exc:
        run.set_status("failed", f"{type(exc).__name__}: {exc}")
        run.log(f"failed: {type(exc).__name__}: {exc}")
        raise


def data_record(splits: Splits) -> dict[str, Any]:
    """config.json's data block: the splits' summary, and their label names for k > 2 (a
    record without them is binary: negative, positive)."""
    record = splits.summary()
    if len(splits.label_names) != 2:
        record["label_names"] = list(splits.label_names)
    return record


def _predictor_facts(predictor: Predictor) -> dict[str, Any]:
    """Parameter counts and, where the predictor knows them, the precisions it trained and
    scored in (e.g. {"train_precision": "bf16", "score_precision": "bf16"})."""
    facts: dict[str, Any] = {
        key: int(getattr(predictor, key))
        for key in ("n_parameters", "n_trainable")
        if getattr(predictor, key, None) is not None
    }
    facts.update(getattr(predictor, "precisions", {}))
    return facts


def _peak_gpu() -> dict[str, float]:
    peak = peak_gpu_mib()
    return {} if peak is None else {"peak_gpu_mib": round(peak, 1)}


def run_training(
    model: str,
    data: str = "auto",
    preset: str | None = None,
    config_file: Path | None = None,
    overrides: list[str] | None = None,
    seed: int | None = None,
    out: Path | None = None,
    runs_root: Path = Path("runs"),
    resolved: dict[str, Any] | None = None,
    splits: Splits | None = None,
    score_on: str = "test",
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Train `model` and write its complete run record; return the run directory.

    score_on="validation" (a tune trial) never loads the test split: the record's metrics are
    the validation split's (marked "split": "validation") and there is no predictions.csv.
    on_epoch_end(row) is called after each epoch of the shared loop (a trial's pruner report);
    raising errors.Pruned there records the run as pruned.

    `resolved` (a run record's config) replaces preset, file and overrides: used by reproduce.
    `splits` replaces load_splits(data): a benchmark's own subset, carve or fold, already drawn
    (its source should name a prepared folder holding its train and test rows).
    """
    spec = get_spec(model)
    recipe = spec.load_recipe()
    if resolved is None:
        config, preset = resolve_config(spec, recipe, preset, config_file, overrides or [], seed)
    else:
        config = apply_values(recipe.config_cls(), resolved)
    config.check_before_run()  # e.g. a missing vectors file: before any run folder exists
    if score_on not in ("test", "validation"):
        raise ValueError(f"score_on must be test or validation, not {score_on!r}")
    if splits is None:
        load = load_splits if score_on == "test" else load_training_splits
        splits = load(data, config.val_fraction, config.seed)
    run = RunDir(out or Path(runs_root) / f"{model}-{datetime.now():%Y%m%d-%H%M%S}")
    run.on_epoch_end = on_epoch_end
    record = {
        "model": model,
        "family": spec.family,
        "preset": preset,
        "config": to_dict(config),
        "data": data_record(splits),
        "versions": package_versions(),
        "git_commit": git_commit(),
        # native_bf16: the CPU feature that makes cpu_precision auto pick bf16 (None: fp32)
        "machine": {**machine(), "native_bf16": runtime.native_cpu_bf16()},
        "command": command_line(),
        "created": now_iso(),
    }
    resuming = prepare_run_dir(run, record)
    run.set_status("running")
    run.log(
        ("resuming" if resuming else "starting") + f" {model} (preset {preset}) on {splits.source}"
    )
    # a resumed run's training time includes the epochs it kept from before (their seconds)
    earlier = sum(r.get("seconds", 0) + r.get("val_seconds", 0) for r in run.history())
    with recording_outcome(run):
        # threads and seeds for every family, here and nowhere else (the new head, the
        # adapters and the nets' weights are initialised from this seed)
        runtime.apply(config.threads, config.seed)
        started, cpu_started = time.perf_counter(), time.process_time()
        predictor = recipe.train(config, splits, run)
        train_seconds = (earlier if resuming else 0.0) + time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        if not run.writes:  # the main process of a multi-process launch scores and saves
            return run.path
        calibration, raw_validation, validation_proba = None, None, None
        validation_seconds = 0.0  # predicting validation, wherever it happens
        if config.calibrate == "temperature":  # fitted on validation, before test is read
            validation = splits.validation
            started = time.perf_counter()
            # where the recipe kept them (the training loop's evaluation, a linear model's grid)
            # they are the kept model's own: calibrate is refused with a refit, whose held-out
            # probabilities come from the model chosen before it
            raw_validation = held_out_validation_proba(predictor, validation)
            validation_seconds = time.perf_counter() - started
            predictor, calibration = fit_on_validation(
                predictor, raw_validation, validation["label"].to_numpy()
            )
            validation_proba = predictor.scale(raw_validation)  # predicted once, not twice
            run.log(f"temperature {calibration['temperature']:.4f} fitted on validation")
        save_model(predictor, run)
        names = splits.label_names
        validation_timing = {}  # val_predict_seconds: 0 where the recipe kept its probabilities
        if score_on == "test" and not splits.validation.empty:  # what ensembles fit on
            started = time.perf_counter()
            held_out = (  # calibrated: the temperature-scaled ones
                validation_proba
                if validation_proba is not None
                else held_out_validation_proba(predictor, splits.validation)
            )
            write_predictions(run.val_predictions_path, splits.validation["id"], held_out, names)
            validation_seconds += time.perf_counter() - started
            validation_timing["val_predict_seconds"] = round(validation_seconds, 3)
        scored = splits.test if score_on == "test" else splits.validation
        started, cpu_started = time.perf_counter(), time.process_time()
        # (n, k) class probabilities; a binary model's are [1 - p, p] (predictor.class_proba)
        if score_on == "validation":  # a tune trial (refit off): the kept model's validation
            # probabilities, predicted once for calibration, kept by the recipe, or predicted now
            if raw_validation is None:
                raw_validation = held_out_validation_proba(predictor, scored)
            raw = raw_validation
            predicted_before = validation_seconds  # a calibration's prediction is scoring time
        else:
            raw = class_proba(uncalibrated(predictor), scored["text"].tolist())
            predicted_before = 0.0
        proba = predictor.scale(raw) if isinstance(predictor, TemperatureScaled) else raw
        predict_seconds = predicted_before + time.perf_counter() - started
        cpu_seconds += time.process_time() - cpu_started
        if proba.shape[1] != len(names):
            raise ValueError(f"{model} gives {proba.shape[1]} classes, the data {len(names)}")
        if score_on == "test":
            labels = write_predictions(run.predictions_path, scored["id"], proba, names)
        else:  # no predictions.csv: reports read it as the test split's
            labels = labels_from_class_proba(proba)
        truth = scored["label"].to_numpy()
        metrics = classification_metrics(truth, labels, names)
        metrics.update(calibration_metrics(truth, proba))  # of the probabilities predicted
        if calibration is not None:
            before = calibration_metrics(truth, raw)
            calibration[score_on] = {"ece_before": before["ece"], "ece_after": metrics["ece"],
                                     "log_loss_before": before["log_loss"],
                                     "log_loss_after": metrics["log_loss"]}  # fmt: skip
            metrics["calibration"] = calibration
        if score_on != "test":
            metrics["split"] = score_on
        metrics.update(
            train_seconds=round(train_seconds, 3),
            predict_seconds=round(predict_seconds, 3),
            **validation_timing,
            train_reviews_per_second=round(len(splits.train) / max(train_seconds, 1e-9), 2),
            # CPU seconds of training and scoring, all threads (a resumed run: this session's)
            cpu_seconds=round(cpu_seconds, 3),
            peak_rss_mib=round(peak_rss_mib(), 1),
            **_peak_gpu(),
            **_predictor_facts(uncalibrated(predictor)),
        )
        atomic_write_json(run.metrics_path, metrics)
        raise_if_collapsed(model, metrics, score_on)
    shutil.rmtree(run.checkpoint_dir, ignore_errors=True)
    run.set_status("complete")
    run.log(f"complete: {score_on} accuracy {metrics['accuracy']:.4f}")
    return run.path


def reproduce(
    run_path: Path,
    out: Path | None = None,
    runs_root: Path = Path("runs"),
    trust_remote_code: bool = False,
) -> Path:
    """Train again with a run record's model, data and resolved config. A recorded
    trust_remote_code = true (the backbone's own code would run) needs `trust_remote_code`."""
    loaded = load_run(Path(run_path))
    refuse_remote_code(loaded, trust_remote_code)
    record = loaded.config
    return run_training(
        record["model"],
        data=record["data"]["source"],
        preset=record.get("preset"),
        out=out,
        runs_root=runs_root,
        resolved=record["config"],
    )
