"""Three classes end to end: tfidf_lr (multinomial), nbsvm (one-vs-rest) and a quick cnn on the
tiny 3-class folder of three_class_fixtures.py write k-class run records that reload, the
report ranks them with 3 x 3 confusions, and a model predicting one class of three collapses."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from three_class_fixtures import LABEL_NAMES, write_three_class_folder

from sentibench.config import BaseConfig
from sentibench.errors import CollapseError
from sentibench.eval.leaderboard import write_leaderboard
from sentibench.eval.report import write_report
from sentibench.predictor import class_proba
from sentibench.registry import REGISTRY, ModelSpec
from sentibench.runs import RunDir, load_predictor, load_run
from sentibench.train.runner import run_training

PROBABILITIES = [f"prob_{name}" for name in LABEL_NAMES]
# vectors none (no GloVe read), a small vocabulary and net: the cnn trains in about a second
TINY_CNN = ['vectors="none"', "embed_dim=16", "min_freq=1", "max_len=16", "head_tokens=4",
            "epochs=6", "batch_size=8", "lr=0.03", "model.filters=8", "val_fraction=0.2",
            "patience=0"]  # fmt: skip
RUNS = {
    "tfidf_lr": ("tfidf_lr", ["min_df=1"]),
    "nbsvm": ("nbsvm", ["min_df=1"]),
    "tfidf_calibrated": ("tfidf_lr", ["min_df=1", "refit=false", 'calibrate="temperature"']),
    "cnn": ("cnn", TINY_CNN),
}


@pytest.fixture(scope="module")
def three_class(tmp_path_factory) -> tuple[Path, Path]:
    """The 3-class folder and a runs folder holding one complete run of each of RUNS."""
    data = write_three_class_folder(tmp_path_factory.mktemp("three") / "data")
    runs = tmp_path_factory.mktemp("runs")
    for name, (model, overrides) in RUNS.items():
        preset = "quick" if model == "cnn" else None
        run_training(model, str(data), preset, overrides=overrides, out=runs / name)
    return data, runs


@pytest.mark.parametrize("name", list(RUNS))
def test_a_three_class_run_learns_and_records_per_class_probabilities(three_class, name):
    data, runs = three_class
    record = load_run(runs / name)
    assert record.status == "complete", record.message
    assert record.label_names == LABEL_NAMES
    assert record.config["data"]["label_names"] == list(LABEL_NAMES)
    metrics = record.metrics
    test = pd.read_parquet(data / "test.parquet")
    majority = test["label"].value_counts(normalize=True).max()
    assert metrics["accuracy"] > majority + 0.2  # 30 balanced test rows: majority 1/3
    assert np.asarray(metrics["confusion_matrix"]).shape == (3, 3)
    assert np.asarray(metrics["confusion_matrix"]).sum() == len(test)
    assert set(metrics["recall"]) == set(LABEL_NAMES) == set(metrics["predicted_rate"])
    assert 0 <= metrics["ece"] <= 1 and 0 <= metrics["brier"] <= 2 and metrics["log_loss"] > 0
    for file in ("predictions.csv", "val_predictions.csv"):
        predictions = pd.read_csv(runs / name / file, dtype={"id": str})
        assert list(predictions.columns) == ["id", "label", *PROBABILITIES]
        sums = predictions[PROBABILITIES].sum(axis=1)
        assert np.allclose(sums, 1.0, atol=3e-6)  # each probability rounded to 6 places
        best = predictions[PROBABILITIES].to_numpy().argmax(axis=1)
        assert predictions["label"].tolist() == [LABEL_NAMES[i] for i in best]
    # the reloaded model is the k-way one that wrote predictions.csv
    predictor = load_predictor(runs / name)
    recorded = pd.read_csv(runs / name / "predictions.csv", dtype={"id": str})
    proba = class_proba(predictor, test["text"].tolist())
    assert proba.shape == (len(test), 3)
    assert np.allclose(proba, recorded[PROBABILITIES].to_numpy(), atol=2e-6)
    if name == "tfidf_calibrated":
        assert metrics["calibration"]["temperature"] > 0
        assert (RunDir(runs / name).model_dir / "calibration.json").is_file()


def test_the_report_ranks_three_class_runs_with_three_by_three_confusions(three_class, tmp_path):
    data, runs = three_class
    result = write_report(runs, tmp_path / "report")
    (board,) = result.leaderboards.values()  # one dataset
    assert sorted(board["model"]) == ["cnn", "nbsvm", "tfidf_lr", "tfidf_lr"]
    text = result.markdown.read_text()
    assert "P(predicted)" in text and "neutral" in text  # k-class error analysis
    assert "vs rank above" in text and "n/a" not in text  # McNemar for every adjacent pair
    assert any(path.name.endswith("-confusion.png") for path in result.plots)
    assert any(path.name.endswith("-reliability.png") for path in result.plots)
    frame, others = write_leaderboard(runs)
    assert len(frame) == len(RUNS) and not others


@dataclass
class OneClassConfig(BaseConfig):
    """Predicts `label` for every review (a model that collapsed onto one class)."""

    label: int = 1


class OneClassPredictor:
    label_names = LABEL_NAMES

    def __init__(self, label: int) -> None:
        self.label = label

    def predict_proba(self, texts):
        raise AssertionError("a k-class predictor is read through predict_class_proba")

    def predict_class_proba(self, texts):
        proba = np.full((len(texts), 3), 0.1)
        proba[:, self.label] = 0.8
        return proba

    def save(self, directory: Path) -> None:
        (Path(directory) / "one_class.json").write_text(json.dumps({"label": self.label}))


class OneClassRecipe:
    config_cls = OneClassConfig

    def train(self, config, splits, run):
        return OneClassPredictor(config.label)

    def load(self, config, model_dir):
        return OneClassPredictor(
            json.loads((Path(model_dir) / "one_class.json").read_text())["label"]
        )


def test_predicting_one_class_of_three_is_a_collapse(monkeypatch, tmp_path):
    module = types.ModuleType("sentibench_test_one_class")
    module.RECIPE = OneClassRecipe()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    spec = ModelSpec("one_class", "linear", "test one-class model", f"{module.__name__}:RECIPE")
    monkeypatch.setitem(REGISTRY, "one_class", spec)
    data = write_three_class_folder(tmp_path / "data", n_train=30, n_test=15)
    with pytest.raises(CollapseError, match=r"one class for 100\.0% of the test reviews"):
        run_training("one_class", str(data), out=tmp_path / "run")
    record = load_run(tmp_path / "run")
    assert record.status == "collapsed"
    assert record.metrics["predicted_rate"] == {"negative": 0.0, "neutral": 1.0, "positive": 0.0}
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert set(predictions["label"]) == {"neutral"}


def test_classes_named_by_numbers_stay_names_in_the_records(tmp_path):
    """Star ratings "1".."3": predictions.csv's label column reads back as names, not ints."""
    from sentibench.eval.significance import probabilities, read_predictions

    data = write_three_class_folder(tmp_path / "stars")
    (data / "manifest.json").write_text(json.dumps({"label_names": ["1", "2", "3"]}))
    run = run_training("tfidf_lr", str(data), None, overrides=["min_df=1"], out=tmp_path / "r")
    frame = read_predictions(run)
    assert load_run(run).label_names == ("1", "2", "3")
    assert (frame["predicted"].to_numpy() == probabilities(frame).argmax(axis=1)).all()
    assert set(frame["predicted_name"]) <= {"1", "2", "3"}
