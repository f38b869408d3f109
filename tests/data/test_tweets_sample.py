"""The bundled 3-class tweets sample end to end: tfidf_lr and nbsvm learn it (above the
majority-class rate), and a run trained on the IMDB sample is scored on its negative and
positive tweets with neutral dropped, which the report's transfer table shows beside the
in-domain accuracy."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sentibench.data.dataset import TWEETS_SAMPLE_DIR, load_splits
from sentibench.eval.report import run_table
from sentibench.eval.report.markdown import transfer_lines
from sentibench.eval.report.tables import transfer_table
from sentibench.eval.transfer import evaluate_transfer
from sentibench.runs import find_runs, load_run
from sentibench.train.runner import run_training

LABELS = ("negative", "neutral", "positive")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    for model, data in (("tfidf_lr", "tweets-sample"), ("nbsvm", "tweets-sample"),
                        ("tfidf_lr", "sample")):  # fmt: skip
        run_training(model, data, "cpu", out=folder / f"{model}-{data}")
    return folder


def test_the_tweets_sample_has_three_classes_and_no_leak():
    splits = load_splits("tweets-sample")
    assert splits.label_names == LABELS
    assert set(splits.test["label"]) == {0, 1, 2}
    train = pd.read_parquet(TWEETS_SAMPLE_DIR / "train.parquet")
    assert not set(train["text"]) & set(splits.test["text"])


@pytest.mark.parametrize("model", ["tfidf_lr", "nbsvm"])
def test_a_linear_model_learns_the_tweets_sample(runs, model):
    record = load_run(runs / f"{model}-tweets-sample")
    assert record.status == "complete" and record.label_names == LABELS
    metrics = record.metrics
    test = load_splits("tweets-sample").test
    majority = test["label"].value_counts(normalize=True).max()
    assert metrics["accuracy_ci95"][0] > majority, (metrics["accuracy"], majority)
    assert len(metrics["confusion_matrix"]) == 3


def test_an_imdb_sample_run_transfers_to_the_tweets_with_neutral_dropped(runs):
    run = runs / "tfidf_lr-sample"
    result = evaluate_transfer(run, "tweets-sample", ["neutral=drop"])
    test = load_splits("tweets-sample").test
    neutral = int((test["label"] == 1).sum())
    metrics = json.loads((run / "transfer" / "tweets-sample" / "metrics.json").read_text())
    assert metrics == result.metrics
    assert metrics["n"] == len(test) - neutral and metrics["dropped"] == {"neutral": neutral}
    section = "\n".join(transfer_lines(transfer_table(run_table(find_runs(runs), runs))))
    assert "| run | model | trained on | in-domain | tweets-sample |" in section
    assert f"n={metrics['n']:,}, {neutral} dropped" in section
