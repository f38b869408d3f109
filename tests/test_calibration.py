"""Temperature scaling: the fit, where it is stored, and that every reload applies it."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
import pytest

from sentibench.calibration import (
    CALIBRATION_FILE,
    TemperatureScaled,
    fit_temperature,
    scale_proba,
)
from sentibench.errors import ConfigError, SentibenchError
from sentibench.metrics import calibration_metrics
from sentibench.runs import load_predictor
from sentibench.train.runner import run_training


def over_confident(n: int = 4000, sharpness: float = 3.0, seed: int = 0):
    """Labels drawn from sigmoid(z), reported as sigmoid(sharpness * z): too sure by 3x."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return labels, 1 / (1 + np.exp(-sharpness * z))


def test_temperature_scaling_lowers_the_log_loss_of_an_over_confident_model():
    labels, proba = over_confident()
    temperature = fit_temperature(labels[:2000], proba[:2000])  # fitted on one half
    assert temperature == pytest.approx(3.0, rel=0.15)
    before = calibration_metrics(labels[2000:], proba[2000:])  # scored on the other
    after = calibration_metrics(labels[2000:], scale_proba(proba[2000:], temperature))
    assert after["log_loss"] < before["log_loss"] - 0.05
    assert after["ece"] < before["ece"] / 2


def test_scaling_keeps_the_ranking_and_moves_saturated_probabilities():
    proba = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    assert np.allclose(scale_proba(proba, 1.0)[1:-1], proba[1:-1])
    softened = scale_proba(proba, 2.0)
    assert (np.diff(softened) > 0).all() and softened[2] == 0.5
    assert 0.5 < softened[-1] < 1.0 and 0.0 < softened[0] < 0.5  # float32 saturation clipped


def count_predictions(keyword_model, monkeypatch, seconds_each: float = 0.0) -> list[int]:
    """The rows of each predict_proba call on the model the keyword recipe trains, as made;
    each call lasts at least `seconds_each` (a known time for the run to record)."""
    scored: list[int] = []
    recipe = sys.modules[keyword_model.recipe.split(":")[0]].RECIPE
    train = recipe.train

    def counted_train(config, splits, run):
        predictor = train(config, splits, run)
        predict = predictor.predict_proba

        def counted(texts):
            scored.append(len(texts))
            time.sleep(seconds_each)
            return predict(texts)

        predictor.predict_proba = counted
        return predictor

    monkeypatch.setattr(recipe, "train", counted_train)
    return scored


def test_calibrate_temperature_is_stored_and_applied_on_reload(
    keyword_model, tiny_data, tmp_path, monkeypatch
):
    scored = count_predictions(keyword_model, monkeypatch)
    out = run_training("keyword", data=str(tiny_data), out=tmp_path / "run",
                       overrides=["calibrate=temperature"])  # fmt: skip
    validation = pd.read_csv(out / "val_predictions.csv")
    test_rows = len(pd.read_json(tiny_data / "test.jsonl", lines=True))
    assert scored == [len(validation), test_rows]  # validation predicted once: fit and csv
    stored = json.loads((out / "model" / CALIBRATION_FILE).read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    entry = metrics["calibration"]
    assert stored["method"] == "temperature" and stored["temperature"] > 0
    assert entry["temperature"] == pytest.approx(stored["temperature"], abs=1e-6)
    assert entry["test"]["ece_after"] == metrics["ece"]
    assert set(entry["validation"]) == {"ece_before", "ece_after", "log_loss_before",
                                        "log_loss_after"}  # fmt: skip
    loaded = load_predictor(out)
    assert isinstance(loaded, TemperatureScaled) and loaded.temperature == stored["temperature"]
    predictions = pd.read_csv(out / "predictions.csv")
    test = pd.read_json(tiny_data / "test.jsonl", lines=True)
    again = loaded.predict_proba(test["text"].tolist())
    assert np.allclose(again, predictions["prob_positive"], atol=1e-6)
    # val_predictions.csv holds the scaled validation probabilities, not the raw ones
    texts = pd.read_json(tiny_data / "train.jsonl", lines=True).set_index("id")["text"]
    held_out = loaded.predict_proba(texts.loc[validation["id"].astype(str)].tolist())
    assert np.allclose(held_out, validation["prob_positive"], atol=1e-6)
    raw = loaded.inner.predict_proba(test["text"].tolist())
    assert not np.allclose(raw, again, atol=1e-3)  # the temperature did change them
    # a damaged calibration record is one sentence, not a traceback
    (out / "model" / CALIBRATION_FILE).write_text('{"method": "temperature"}')
    with pytest.raises(SentibenchError, match="is not a calibration record"):
        load_predictor(out)


def test_a_calibrated_tune_trial_predicts_validation_once(
    keyword_model, tiny_data, tmp_path, monkeypatch
):
    scored = count_predictions(keyword_model, monkeypatch, seconds_each=0.05)
    out = run_training("keyword", data=str(tiny_data), out=tmp_path / "trial",
                       overrides=["calibrate=temperature"], score_on="validation")  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(scored) == 1 and metrics["n"] == scored[0]  # the fit's prediction, scored too
    # that one prediction's time is the trial's scoring time
    assert metrics["split"] == "validation" and metrics["predict_seconds"] >= 0.05
    entry = metrics["calibration"]["validation"]
    assert (
        entry["ece_after"] == metrics["ece"] and entry["log_loss_after"] <= entry["log_loss_before"]
    )


def test_uncalibrated_runs_gain_calibration_metrics_only(keyword_model, tiny_data, tmp_path):
    out = run_training("keyword", data=str(tiny_data), out=tmp_path / "run")
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"ece", "brier", "log_loss"} <= set(metrics) and "calibration" not in metrics
    assert not (out / "model" / CALIBRATION_FILE).exists()
    assert not isinstance(load_predictor(out), TemperatureScaled)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["calibrate=platt"], "must be one of 'none', 'temperature'"),
        (["calibrate=temperature", "val_fraction=0"], "val_fraction = 0 has none"),
    ],
)
def test_bad_calibrate_settings_fail_before_training(
    keyword_model, tiny_data, tmp_path, overrides, message
):
    with pytest.raises(ConfigError, match=message):
        run_training("keyword", data=str(tiny_data), out=tmp_path / "run", overrides=overrides)
    assert not (tmp_path / "run").exists()


def test_temperature_scaling_of_three_classes_divides_the_logits():
    from scipy.special import softmax

    from sentibench.calibration import scale_class_proba

    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 1.5, (3000, 3))
    labels = np.array([rng.choice(3, p=row) for row in softmax(z, axis=1)])
    proba = softmax(3.0 * z, axis=1)  # too sure by 3x
    temperature = fit_temperature(labels, proba)
    assert temperature == pytest.approx(3.0, rel=0.15)
    unclipped = proba.min(axis=1) > 1e-6  # logs are clipped at float32's resolution
    assert unclipped.mean() > 0.9
    back = scale_class_proba(proba, 3.0)
    assert np.allclose(back[unclipped], softmax(z, axis=1)[unclipped], atol=1e-9)
    after = calibration_metrics(labels, scale_class_proba(proba, temperature))
    assert after["log_loss"] < calibration_metrics(labels, proba)["log_loss"] - 0.1
