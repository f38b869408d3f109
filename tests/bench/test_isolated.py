"""run_isolated: one run in its own worker outside a suite (what benchmarks/ scripts call), and
the runner's `splits` (a benchmark's own subset or fold) recorded as the run's data."""

from __future__ import annotations

import os

import pytest

from sentibench.bench.isolated import run_isolated
from sentibench.data.dataset import Splits, load_official
from sentibench.runs import load_run
from sentibench.train.runner import run_training

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")


def test_a_run_is_trained_once_and_then_kept(fakes, tiny_data, tmp_path):
    out = tmp_path / "runs" / "keyword-a"
    record = run_isolated("keyword", out, str(tiny_data), "quick", ['words=["great", "bad"]'], 2,
                          fakes.WORKER)  # fmt: skip
    assert (record.status, record.config["config"]["seed"]) == ("complete", 2)
    assert record.metrics["accuracy"] == 1.0
    log = tmp_path / "runs" / "logs" / "keyword-a.log"
    attempts = log.read_text().count("=== worker pid")
    again = run_isolated("keyword", out, str(tiny_data), "quick", ['words=["great", "bad"]'], 2,
                         fakes.WORKER)  # fmt: skip
    assert again.metrics == record.metrics
    assert log.read_text().count("=== worker pid") == attempts  # kept, not trained again


def test_a_failing_run_leaves_a_failed_record(fakes, tiny_data, tmp_path):
    record = run_isolated("exploding", tmp_path / "boom", str(tiny_data), "quick",
                          worker=fakes.WORKER)  # fmt: skip
    assert (record.status, record.message) == ("failed", "RuntimeError: boom in epoch 1")


def test_given_splits_are_trained_on_and_recorded(keyword_model, tiny_data, tmp_path):
    train, test, source, sha256 = load_official(str(tiny_data))
    picked = test.groupby("label").head(3)  # both classes: one class only is a collapse
    splits = Splits(train.iloc[:8], train.iloc[8:12], picked, source, sha256)
    record = load_run(run_training("keyword", out=tmp_path / "run", splits=splits))
    counts = record.config["data"]["counts"]
    assert [counts[s]["n"] for s in ("train", "validation", "test")] == [8, 4, 6]
    assert record.metrics["n"] == 6 and record.config["data"]["source"] == source
