"""The classic recipe end to end: `train cnn --data sample --preset quick` writes a complete
run record that reloads to the same predictions; a huge learning rate is a collapsed run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sentibench.data.dataset import SAMPLE_DIR
from sentibench.errors import CollapseError
from sentibench.runs import RunDir, load_predictor, load_run
from sentibench.train.runner import run_training


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cnn"
    return run_training("cnn", data="sample", preset="quick", out=out)


def test_train_cnn_on_the_sample_writes_a_complete_record(cnn_run):
    record = load_run(cnn_run)
    assert record.status == "complete"
    assert record.config["config"]["model"]["widths"] == [3, 4, 5]
    metrics = record.metrics
    assert metrics["accuracy"] > 0.65  # 1,000 real test reviews; chance is 0.5
    assert metrics["n_parameters"] == metrics["n_trainable"] > 0
    run = RunDir(cnn_run)
    history = run.history()
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert {"train_loss", "val_accuracy", "reviews_per_s"} <= set(history[0])
    assert sorted(p.name for p in run.model_dir.iterdir()) == [
        "config.json",
        "model.safetensors",
        "vocab.json",
    ]
    assert not run.checkpoint_dir.exists()  # removed once the run completed
    log = run.log_path.read_text()
    assert "glove-6b-50d:" in log and "of training tokens have a pretrained vector" in log
    vocab = json.loads((run.model_dir / "vocab.json").read_text())
    assert vocab["itos"][:2] == ["<pad>", "<unk>"]


def test_reloaded_model_predicts_what_the_run_recorded(cnn_run):
    predictor = load_predictor(cnn_run)
    recorded = pd.read_csv(RunDir(cnn_run).predictions_path)
    test = pd.read_parquet(SAMPLE_DIR / "test.parquet")
    texts = test["text"].tolist()[:64]
    proba = predictor.predict_proba(texts)
    assert np.allclose(proba, recorded["prob_positive"].to_numpy()[:64], atol=1e-5)
    # batching by length must not change anyone's answer: one at a time gives the same
    alone = np.array([predictor.predict_proba([text])[0] for text in texts[:8]])
    assert np.allclose(alone, proba[:8], atol=1e-5)


def test_val_fraction_0_refits_on_every_training_review(tmp_path):
    out = tmp_path / "refit"
    run_training("cnn", "sample", "quick", overrides=["val_fraction=0", "epochs=2"], out=out)
    record = load_run(out)
    counts = record.config["data"]["counts"]
    assert record.status == "complete" and counts["validation"]["n"] == 0
    assert counts["train"]["n"] == 2000  # the sample's whole training split
    history = RunDir(out).history()
    assert [(row["epoch"], row["val_accuracy"]) for row in history] == [(1, None), (2, None)]
    assert record.metrics["accuracy"] > 0.6


def test_huge_learning_rate_ends_as_a_collapsed_run(tmp_path):
    out = tmp_path / "collapsed"
    with pytest.raises(CollapseError, match="loss became nan at step"):
        run_training("cnn", "sample", "quick", overrides=["lr=1e30", "clip_norm=0"], out=out)
    record = load_run(out)
    assert record.status == "collapsed" and "lower learning rate" in record.message
