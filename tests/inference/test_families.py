"""Every family through load_run: predictions.csv is reproduced exactly from the saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from model_battery import classic_nets

import sentibench

# every classic net of the registry (and the toy): a new one gets this round trip unlisted
FAMILIES = ["nbsvm", *classic_nets(), "bert_full", "bert_lora"]


@pytest.mark.parametrize("name", FAMILIES)
def test_load_run_reproduces_the_test_predictions(family_run, keyword_data, name):
    path = family_run(name)
    model = sentibench.load_run(path, threads=1)
    test = pd.read_json(keyword_data / "test.jsonl", lines=True, dtype={"id": str})
    recorded = pd.read_csv(path / "predictions.csv", dtype={"id": str})
    assert recorded["id"].tolist() == test["id"].tolist()
    proba = model.predict_proba(test["text"].tolist(), batch_size=7)
    # predictions.csv rounds to 6 decimals (<= 5e-7); batches of 7 instead of the run's size
    # add float32 noise of a few 1e-8 (5.4e-7 seen on an AMD EPYC); the labels must match exactly
    assert np.abs(proba - recorded["prob_positive"].to_numpy()).max() <= 1e-6
    labels = model.predict(test["text"].tolist())
    assert labels.tolist() == recorded["sentiment"].tolist()
    assert (labels == test["label"].to_numpy()).mean() == model.test_accuracy


@pytest.mark.parametrize("name", ["nbsvm", "cnn", "bert_full"])
def test_explain_works_for_each_family(family_run, name):
    model = sentibench.load_run(family_run(name))
    explanation = model.explain("a wonderful cast but an awful story")
    assert [w.word for w in explanation.words][1] == "wonderful"
    assert explanation.label == ("positive" if explanation.prob_positive >= 0.5 else "negative")
    assert any(abs(w.contribution) > 0 for w in explanation.words)
