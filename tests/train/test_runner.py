import json

import pandas as pd
import pytest

from sentibench.errors import CollapseError, SentibenchError
from sentibench.eval.leaderboard import write_leaderboard
from sentibench.eval.submission import score_submission
from sentibench.runs import load_predictor, load_run
from sentibench.train.runner import reproduce, run_training


def test_run_record_is_complete_and_round_trips(keyword_model, tiny_data, tmp_path):
    path = run_training("keyword", data=str(tiny_data), out=tmp_path / "run", seed=3)
    record = load_run(path)
    assert record.status == "complete"
    assert record.config["config"]["seed"] == 3
    assert len(record.config["data"]["sha256"]) == 64
    assert record.config["versions"]["sentibench"]
    assert record.metrics["accuracy"] == 1.0 and record.metrics["n"] == 24
    assert record.metrics["n_parameters"] == 4
    predictions = pd.read_csv(path / "predictions.csv", dtype={"id": str})
    assert list(predictions.columns) == ["id", "sentiment", "prob_positive"]
    # evaluate agrees with metrics.json, and a reloaded model gives the same probabilities
    test = pd.read_json(tiny_data / "test.jsonl", lines=True, dtype={"id": str})
    assert (
        score_submission(path / "predictions.csv", test)["accuracy"] == record.metrics["accuracy"]
    )
    reloaded = load_predictor(path).predict_proba(test["text"].tolist())
    assert reloaded.round(6).tolist() == predictions["prob_positive"].tolist()
    assert (path / "history.jsonl").read_text().strip()
    assert not list(path.glob(".*tmp*"))


def test_a_validated_run_records_its_validation_predictions_and_a_refit_none(
    keyword_model, tiny_data, tmp_path
):
    path = run_training("keyword", data=str(tiny_data), out=tmp_path / "validated")
    validation = pd.read_csv(path / "val_predictions.csv", dtype={"id": str})
    assert list(validation.columns) == ["id", "sentiment", "prob_positive"]
    train = pd.read_json(tiny_data / "train.jsonl", lines=True, dtype={"id": str})
    assert len(validation) == 6 and set(validation["id"]) <= set(train["id"])  # 10% of 60
    texts = train.set_index("id").loc[validation["id"], "text"].tolist()
    kept = load_predictor(path).predict_proba(texts).round(6)
    assert validation["prob_positive"].tolist() == kept.tolist()
    assert validation["sentiment"].tolist() == (kept >= 0.5).astype(int).tolist()
    assert load_run(path).metrics["val_predict_seconds"] >= 0

    refit = run_training("keyword", data=str(tiny_data), out=tmp_path / "refit",
                         overrides=["val_fraction=0"])  # fmt: skip
    assert not (refit / "val_predictions.csv").exists()


def test_complete_run_is_not_overwritten(keyword_model, tiny_data, tmp_path):
    run_training("keyword", data=str(tiny_data), out=tmp_path / "run")
    with pytest.raises(SentibenchError, match="already complete"):
        run_training("keyword", data=str(tiny_data), out=tmp_path / "run")


def test_collapsed_run_is_marked_and_not_ranked(keyword_model, tiny_data, tmp_path):
    run_training("keyword", data=str(tiny_data), out=tmp_path / "runs" / "good")
    with pytest.raises(CollapseError, match="one class"):
        run_training(
            "keyword",
            data=str(tiny_data),
            out=tmp_path / "runs" / "bad",
            overrides=["words=['film']", "collapse=true"],
        )
    assert load_run(tmp_path / "runs" / "bad").status == "collapsed"
    frame, others = write_leaderboard(tmp_path / "runs")
    assert frame["runs"].tolist() == ["good"]
    assert [r.name for r in others] == ["bad"]
    summary = pd.read_csv(tmp_path / "runs" / "accuracy_summary.csv")
    assert list(summary.columns) == ["file", "accuracy"] and summary["file"].tolist() == ["good"]
    assert "collapsed" in (tmp_path / "runs" / "leaderboard.md").read_text()


def test_reproduce_gives_the_same_accuracy(keyword_model, tiny_data, tmp_path):
    first = run_training(
        "keyword", data=str(tiny_data), out=tmp_path / "a", overrides=["words=['great', 'bad']"]
    )
    second = reproduce(first, out=tmp_path / "b")
    a, b = load_run(first), load_run(second)
    assert b.config["config"] == a.config["config"]
    assert b.metrics["accuracy"] == a.metrics["accuracy"]


def test_unknown_model_is_a_clear_error():
    with pytest.raises(SentibenchError, match="Unknown model 'nope'; known models: .*nbsvm"):
        run_training("nope")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("id,label\nx,1\n", "lacks column"),
        ("id,sentiment\ntrain0_0,1\ntrain0_0,1\n", "appears twice"),
        ("id,sentiment\nzzz,1\n", "not in the test set"),
        ("id,sentiment\ntest0_0,1\n", "no prediction"),
        ("id,sentiment\ntest0_0,7\n", "not 0 or 1"),
    ],
)
def test_evaluate_rejects_bad_submissions(tmp_path, tiny_data, content, fragment):
    path = tmp_path / "pred.csv"
    path.write_text(content)
    test = pd.read_json(tiny_data / "test.jsonl", lines=True, dtype={"id": str})
    with pytest.raises(SentibenchError, match=fragment):
        score_submission(path, test)


def test_run_config_is_json(keyword_model, tiny_data, tmp_path):
    path = run_training("keyword", data=str(tiny_data), out=tmp_path / "run")
    config = json.loads((path / "config.json").read_text())
    assert config["model"] == "keyword" and config["command"]


def test_resumed_run_counts_the_training_time_of_its_kept_epochs(
    keyword_model, tiny_data, tmp_path, monkeypatch
):
    recipe = keyword_model.load_recipe()
    train = type(recipe).train

    def interrupted(self, config, splits, run):  # one epoch of 100 s kept, then a kill
        run.append_history({"epoch": 1, "seconds": 100.0, "val_seconds": 5.0})
        raise KeyboardInterrupt

    monkeypatch.setattr(type(recipe), "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_training("keyword", data=str(tiny_data), out=tmp_path / "run")
    monkeypatch.setattr(type(recipe), "train", train)
    run_training("keyword", data=str(tiny_data), out=tmp_path / "run")
    assert load_run(tmp_path / "run").metrics["train_seconds"] >= 105.0
    fresh = run_training("keyword", data=str(tiny_data), out=tmp_path / "fresh")
    assert load_run(fresh).metrics["train_seconds"] < 100.0
