"""The bundled 3-class tweets sample end to end: tfidf_lr learns it (above the majority-class
rate), and a run trained on the IMDB sample is scored on its negative and positive tweets with
neutral dropped, which the report's transfer table shows beside the in-domain accuracy."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sentibench.data.dataset import TWEETS_SAMPLE_DIR, load_splits
from sentibench.eval.report import write_report
from sentibench.eval.transfer import evaluate_transfer
from sentibench.runs import load_run
from sentibench.train.runner import run_training

LABELS = ("negative", "neutral", "positive")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    for data in ("tweets-sample", "sample"):
        run_training("tfidf_lr", data, "cpu", out=folder / data)
    return folder


def test_the_tweets_sample_has_three_classes_and_no_leak():
    splits = load_splits("tweets-sample")
    assert splits.label_names == LABELS
    assert set(splits.test["label"]) == {0, 1, 2}
    train = pd.read_parquet(TWEETS_SAMPLE_DIR / "train.parquet")
    assert not set(train["text"]) & set(splits.test["text"])


def test_tfidf_lr_learns_the_tweets_sample(runs):
    record = load_run(runs / "tweets-sample")
    assert record.status == "complete" and record.label_names == LABELS
    metrics = record.metrics
    test = load_splits("tweets-sample").test
    majority = test["label"].value_counts(normalize=True).max()
    assert metrics["accuracy_ci95"][0] > majority, (metrics["accuracy"], majority)
    assert len(metrics["confusion_matrix"]) == 3


def test_an_imdb_sample_run_transfers_to_the_tweets_with_neutral_dropped(runs):
    run = runs / "sample"
    result = evaluate_transfer(run, "tweets-sample", ["neutral=drop"])
    test = load_splits("tweets-sample").test
    neutral = int((test["label"] == 1).sum())
    metrics = json.loads((run / "transfer" / "tweets-sample" / "metrics.json").read_text())
    assert metrics == result.metrics
    assert metrics["n"] == len(test) - neutral and metrics["dropped"] == {"neutral": neutral}
    markdown = write_report(runs).markdown.read_text()
    section = markdown.split("## Cross-domain transfer")[1].split("\n## ")[0]
    assert "| run | model | trained on | in-domain | tweets-sample |" in section
    assert f"n={metrics['n']:,}, {neutral} dropped" in section
