"""The CLI verbs end to end on the bundled sample, and user errors as one line + exit code 2."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentibench.cli import app

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_train_evaluate_leaderboard_predict_on_the_sample(tmp_path):
    runs = tmp_path / "runs"
    out = runs / "tfidf"
    invoke("train", "tfidf_lr", "--data", "sample", "--out", str(out), "--seed", "1")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.75 and metrics["n"] == 1000
    assert json.loads((out / "config.json").read_text())["data"]["source"] == "sample"

    evaluated = invoke("evaluate", str(out / "predictions.csv"), "--data", "sample")
    assert f"{metrics['accuracy']:.5f}" in evaluated

    invoke("leaderboard", "--runs", str(runs))
    board = pd.read_csv(runs / "leaderboard.csv")
    assert board["runs"].tolist() == ["tfidf"] and board["accuracy"][0] == metrics["accuracy"]
    assert "tfidf" in (runs / "leaderboard.md").read_text()

    labels = invoke("predict", "--run", str(out), "A wonderful, moving film. Superb acting.")
    assert "positive" in labels.splitlines()[-1] or ",1," in labels.splitlines()[-1]


def test_models_and_data_info():
    listing = invoke("models")
    for name in ("tfidf_lr", "nbsvm", "cnn", "capsule_lstm", "deberta_prefix"):
        assert name in listing
    info = json.loads(invoke("data", "info", "--data", "sample"))
    assert info["splits"]["train"]["n"] == 2000 and info["splits"]["test"]["n"] == 1000


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "nope"], "Unknown model 'nope'"),
        (["train", "nbsvm", "--data", "/no/such/folder"], "no such folder"),
        (["train", "nbsvm", "--set", "colour=3"], "Unknown config key 'colour'"),
        (["evaluate", "/no/such.csv", "--data", "sample"], "does not exist"),
        (["data", "fetch", "imdb", "--source", "ftp"], "Unknown data source 'ftp'"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args, fragment, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert fragment in message and "Traceback" not in message
    assert len(message.splitlines()) == 1
