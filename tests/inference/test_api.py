"""sentibench.load_run: predictions reproduce the run record; explain finds the key words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sentibench
from sentibench.errors import ConfigError, DataError
from sentibench.inference.api import RunModel


def test_load_run_reproduces_predictions_csv(keyword_run, tiny_data):
    model = sentibench.load_run(keyword_run)
    assert isinstance(model, RunModel) and model.model == "keyword"
    test = pd.read_json(tiny_data / "test.jsonl", lines=True, dtype={"id": str})
    recorded = pd.read_csv(keyword_run / "predictions.csv", dtype={"id": str})
    # batch_size 5 cuts the length-sorted texts into several chunks: order must survive it
    proba = model.predict_proba(test["text"].tolist(), batch_size=5)
    assert proba.round(6).tolist() == recorded["prob_positive"].tolist()
    assert model.predict(test["text"].tolist()).tolist() == recorded["sentiment"].tolist()
    assert (model.predict(test["text"]) == test["label"]).mean() == model.test_accuracy


def test_predict_keeps_the_callers_order_and_reports_progress(keyword_run):
    model = sentibench.load_run(keyword_run)
    texts = ["great", "a very long and bad review of the worst film", "excellent!", "bad"]
    seen = []
    proba = model.predict_proba(texts, batch_size=3, progress=seen.append)
    one_by_one = np.array([model.predict_proba([t])[0] for t in texts])
    assert np.allclose(proba, one_by_one) and seen == [3, 1]
    assert model.predict(texts).tolist() == [1, 0, 1, 0]


def test_predict_rejects_a_bare_string_and_non_strings(keyword_run):
    model = sentibench.load_run(keyword_run)
    with pytest.raises(DataError, match="list of texts"):
        model.predict("great")
    with pytest.raises(DataError, match="Text 1 is int"):
        model.predict(["great", 3])


def test_unknown_backend_is_a_clear_error(keyword_run):
    with pytest.raises(ConfigError, match="backend must be one of"):
        sentibench.load_run(keyword_run, backend="tensorrt")


def test_explain_credits_the_sentiment_words(keyword_run):
    model = sentibench.load_run(keyword_run)
    text = "A great  film,\nbut the worst ending."
    explanation = model.explain(text)
    by_word = {w.word: w.contribution for w in explanation.words}
    assert by_word["great"] > 0.05 and by_word["worst"] < -0.05
    assert abs(by_word["film,\n".strip()]) < 1e-9  # not a keyword: dropping it changes nothing
    assert all(text[w.start : w.end] == w.word for w in explanation.words)
    assert explanation.prob_positive == pytest.approx(model.predict_proba([text])[0])
    assert explanation.top(1)[0].word in ("great", "worst")
    assert set(explanation.to_dict()) == {"text", "prob_positive", "label", "window", "words"}


def test_explain_caps_the_number_of_predictions(keyword_run):
    model = sentibench.load_run(keyword_run)
    calls = []
    inner = model.predictor.predict_proba
    model.predictor.predict_proba = lambda texts: calls.append(len(texts)) or inner(texts)
    text = " ".join(["plain"] * 30 + ["great"] + ["plain"] * 30)
    explanation = model.explain(text, max_variants=8)
    assert sum(calls) <= 8 + 2 and explanation.window >= 61 / 8
    great = next(w for w in explanation.words if w.word == "great")
    assert great.contribution > 0
    assert len(explanation.words) == 61


def test_explain_of_one_word_compares_with_undecided(keyword_run):
    model = sentibench.load_run(keyword_run)
    (word,) = model.explain("excellent").words
    assert word.contribution == pytest.approx(model.predict_proba(["excellent"])[0] - 0.5)
    with pytest.raises(DataError, match="empty"):
        model.explain("   ")
