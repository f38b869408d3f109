"""Ensembles as run records: the combinations against hand-computed ones, stack and greedy fit
on validation only, an ensemble reloads and predicts, and members that cannot be combined are
refused. The members are three small linear runs on part of the bundled sample, trained once."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import sentibench
from sentibench.cli import app
from sentibench.config import apply_values
from sentibench.data.dataset import SAMPLE_DIR, load_splits, read_split, split_file
from sentibench.errors import ConfigError, EnsembleError, SentibenchError
from sentibench.eval.leaderboard import write_leaderboard
from sentibench.recipes.ensemble import build
from sentibench.recipes.ensemble.build import build_ensemble
from sentibench.recipes.ensemble.combine import combine
from sentibench.recipes.ensemble.fit import greedy_counts
from sentibench.recipes.ensemble.recipe import EnsembleConfig
from sentibench.runs import load_run
from sentibench.train.runner import run_training

# unigrams only, so that each trains in about a second; nbsvm refits on train + validation
MEMBERS = {
    "tfidf": ("tfidf_lr", ["ngram_max=1", "refit=false"]),
    "tfidf_raw": ("tfidf_lr", ["ngram_max=1", "sublinear_tf=false", "C=1.0", "refit=false"]),
    "nbsvm": ("nbsvm", ["ngram_max=1"]),
}


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("members")
    sample = load_splits("sample")  # the carve of val_fraction 0.1, seed 0: as the runs record
    part = dataclasses.replace(sample, train=sample.train.iloc[::2], test=sample.test.iloc[::3])
    return {
        name: run_training(model, data="sample", overrides=overrides, out=root / name, splits=part)
        for name, (model, overrides) in MEMBERS.items()
    }


def true_test_labels(ids: pd.Series) -> np.ndarray:
    return read_split(split_file(SAMPLE_DIR, "test")).set_index("id").loc[ids, "label"].to_numpy()


def recorded(path: Path, file: str = "predictions.csv") -> pd.DataFrame:
    return pd.read_csv(path / file, dtype={"id": str})


def test_mean_and_vote_equal_the_hand_computed_combination(members, tmp_path):
    paths = list(members.values())
    proba = np.column_stack([recorded(p)["prob_positive"] for p in paths])
    ids = recorded(paths[0])["id"]

    mean = tmp_path / "mean"  # the command takes the runs after one --runs
    args = ["ensemble", "--runs", *map(str, paths), "--method", "mean", "--out", str(mean)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0 and "mean of 3 runs" in result.output, result.output
    got = recorded(mean)
    assert got["id"].tolist() == ids.tolist()
    assert np.abs(got["prob_positive"] - proba.mean(axis=1)).max() <= 5e-7
    assert got["sentiment"].tolist() == (proba.mean(axis=1) >= 0.5).astype(int).tolist()

    vote = build_ensemble(paths, "vote", tmp_path / "vote")
    majority = ((proba >= 0.5).sum(axis=1) >= 2).astype(int)  # three voters: no ties
    assert recorded(vote)["sentiment"].tolist() == majority.tolist()
    record = load_run(vote)
    assert record.status == "complete" and record.config["family"] == "ensemble"
    assert record.metrics["accuracy"] == np.mean(majority == true_test_labels(ids))
    from sentibench.metrics import calibration_metrics  # ECE like any run, of what it predicts

    voted = recorded(vote)["prob_positive"].to_numpy()
    expected = calibration_metrics(true_test_labels(ids), voted)["ece"]  # csv: 6 decimals
    assert record.metrics["ece"] == pytest.approx(expected, abs=1e-5)
    listed = record.config["config"]["members"]
    assert [m["name"] for m in listed] == list(members)
    assert record.metrics["weights"] == [1, 1, 1]
    assert "weights" not in record.config["config"]  # fitted numbers are the model's
    assert {m["sha256"] for m in listed} == {record.config["data"]["sha256"]}

    # two voters that disagree: the mean probability decides
    pair = build_ensemble(paths[:2], "vote", tmp_path / "pair")
    two = proba[:, :2]
    split = (two >= 0.5).sum(axis=1) == 1
    assert split.any()
    tie_break = (two.mean(axis=1) >= 0.5).astype(int)
    assert (recorded(pair)["sentiment"].to_numpy()[split] == tie_break[split]).all()


def test_stack_fits_on_validation_and_never_reads_the_test_labels(members, tmp_path, monkeypatch):
    paths = list(members.values())
    first = build_ensemble(paths, "stack", tmp_path / "first")

    # the stacker is scikit-learn's logistic regression on the validation log-odds
    validation = [recorded(p, "val_predictions.csv") for p in paths]
    train = read_split(split_file(SAMPLE_DIR, "train")).set_index("id")
    labels = train.loc[validation[0]["id"], "label"].to_numpy()
    odds = np.column_stack([logit(v["prob_positive"].clip(1e-6, 1 - 1e-6)) for v in validation])
    expected = LogisticRegression().fit(odds, labels)
    fitted = load_run(first).metrics
    assert np.allclose(fitted["weights"], expected.coef_.ravel())
    assert np.isclose(fitted["intercept"], expected.intercept_[0])

    real = build.labels_of

    def permuted_test_labels(folder, split, ids):
        labels = real(folder, split, ids)
        return np.random.default_rng(0).permutation(labels) if split == "test" else labels

    monkeypatch.setattr(build, "labels_of", permuted_test_labels)
    second = build_ensemble(paths, "stack", tmp_path / "second")
    again = load_run(second)
    assert again.metrics["weights"] == fitted["weights"]
    assert again.metrics["intercept"] == fitted["intercept"]
    assert recorded(second).equals(recorded(first))
    assert again.metrics["accuracy"] != load_run(first).metrics["accuracy"]  # labels did change


def test_nbsvm_refit_records_the_validation_predictions_of_the_model_before_the_refit(members):
    record = load_run(members["nbsvm"])
    assert record.config["config"]["refit"] is True
    validation = recorded(members["nbsvm"], "val_predictions.csv")
    train = read_split(split_file(SAMPLE_DIR, "train")).set_index("id")
    accuracy = np.mean(validation["sentiment"] == train.loc[validation["id"], "label"].to_numpy())
    history = json.loads((members["nbsvm"] / "history.jsonl").read_text().splitlines()[0])
    assert accuracy == history["val_accuracy"]  # the chosen model's, not the refit's (~1.0)
    refit = sentibench.load_run(members["nbsvm"]).predict_proba(
        train.loc[validation["id"], "text"].tolist()
    )
    assert np.mean((refit >= 0.5) == train.loc[validation["id"], "label"]) > accuracy


def test_greedy_picks_a_duplicate_member_when_it_helps():
    # all positive reviews, then the same mirrored as negatives; A is best alone (4 of 7),
    # A + B better (5 of 7), and A twice with B gets all 7, which no other mix does
    a = np.array([0.8, 0.8, 0.4, 0.45, 0.45, 0.7, 0.7])
    b = np.array([0.1, 0.1, 0.9, 0.62, 0.62, 0.35, 0.35])
    proba = np.vstack([np.column_stack([a, b]), 1 - np.column_stack([a, b])])
    labels = np.array([1] * 7 + [0] * 7)
    assert greedy_counts(proba, labels, rounds=25) == [2.0, 1.0]
    for weights in ([1, 0], [1, 1], [1, 2]):
        assert np.mean((combine("greedy", proba, weights) >= 0.5) == labels) < 1.0
    assert np.mean((combine("greedy", proba, [2, 1]) >= 0.5) == labels) == 1.0
    assert greedy_counts(proba, labels, rounds=1) == [1.0, 0.0]


def test_an_ensemble_reloads_with_its_members_predicts_and_is_ranked(members, tmp_path):
    paths = list(members.values())
    path = build_ensemble(paths, "greedy", tmp_path / "runs" / "greedy", rounds=3)
    model = sentibench.load_run(path, threads=1)
    assert model.model == "ensemble"
    kept = recorded(path).iloc[:100]
    texts = read_split(split_file(SAMPLE_DIR, "test")).set_index("id").loc[kept["id"], "text"]
    proba = model.predict_proba(texts.tolist())
    # 6-decimal rounding plus float32 noise of other batch shapes (as in test_families)
    assert np.abs(proba - kept["prob_positive"].to_numpy()).max() <= 1e-6
    assert model.predict(texts.tolist()).tolist() == kept["sentiment"].tolist()

    for name, member in members.items():
        shutil.copytree(member, tmp_path / "runs" / name)
    build_ensemble(paths, "mean", tmp_path / "runs" / "mean")
    frame, others = write_leaderboard(tmp_path / "runs")
    assert "greedy" in frame["runs"].tolist() and not others
    # two ensembles of the same members are told apart by their method, not their weights
    variants = dict(zip(frame["runs"], frame["variant"], strict=True))
    assert "method=greedy" in variants["greedy"] and "method=mean" in variants["mean"]
    assert not any("weights" in v or "sha256" in v for v in variants.values()), variants
    row = frame[frame["runs"] == "greedy"].iloc[0]
    assert row["model"] == "ensemble"
    assert row["train_s"] > max(load_run(p).metrics["train_seconds"] for p in paths)

    # an ensemble built when its config recorded the fitted weights still loads (as fitted)
    edit_json(path / "config.json", lambda c: c["config"].update(weights=[9.0], intercept=1.0))
    again = sentibench.load_run(path, threads=1).predict_proba(texts.tolist())
    assert np.array_equal(again, proba)
    with pytest.raises(SentibenchError, match="Unknown config key 'weights'"):
        apply_values(EnsembleConfig(), {"weights": [1.0]})  # anywhere else: no such key

    moved = tmp_path / "alone"
    shutil.copytree(path, moved)  # without its members beside it
    with pytest.raises(SentibenchError, match="finds its members by their path"):
        sentibench.load_run(moved)


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def other_data(run: Path) -> None:
    edit_json(run / "config.json", lambda c: c["data"].update(sha256="0" * 64))


def other_test_ids(run: Path) -> None:
    recorded(run).iloc[1:].to_csv(run / "predictions.csv", index=False)


def other_validation(run: Path) -> None:
    recorded(run, "val_predictions.csv").iloc[1:].to_csv(run / "val_predictions.csv", index=False)


def a_refit(run: Path) -> None:
    (run / "val_predictions.csv").unlink()


def unfinished(run: Path) -> None:
    edit_json(run / "status.json", lambda s: s.update(status="running"))


@pytest.mark.parametrize(
    ("method", "spoil", "message", "names_both"),
    [
        ("mean", other_data, "trained on different data", True),
        ("vote", other_test_ids, "scored different test reviews", True),
        ("stack", other_validation, "validated on different reviews", True),
        ("greedy", a_refit, "out-of-fold predictions are not available", False),
        ("mean", unfinished, "is running, not complete", False),
    ],
)
def test_members_that_cannot_be_combined_are_refused(
    members, tmp_path, method, spoil, message, names_both
):
    good = members["tfidf"]
    bad = tmp_path / "bad"
    shutil.copytree(members["nbsvm"], bad)
    spoil(bad)
    out = tmp_path / "ensemble"
    with pytest.raises(EnsembleError, match=message) as refused:
        build_ensemble([good, bad], method, out)
    assert str(bad) in str(refused.value) and (str(good) in str(refused.value)) == names_both
    assert not out.exists()


def test_mean_and_vote_take_refit_members_and_a_bad_out_folder_is_refused(members, tmp_path):
    refit = tmp_path / "refit"
    shutil.copytree(members["nbsvm"], refit)
    a_refit(refit)
    built = build_ensemble([members["tfidf"], refit], "vote", tmp_path / "vote")
    assert load_run(built).status == "complete"

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(SentibenchError, match="not a sentibench run folder"):
        build_ensemble([members["tfidf"], refit], "mean", taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    with pytest.raises(EnsembleError, match="at least two"):
        build_ensemble([members["tfidf"]], "mean", tmp_path / "one")
    with pytest.raises(ConfigError, match="rounds must be >= 1"):
        build_ensemble([members["tfidf"], refit], "greedy", tmp_path / "g", rounds=0)
    with pytest.raises(ConfigError, match="sentibench ensemble --runs"):
        run_training("ensemble", data="sample", out=tmp_path / "trained")
    assert not (tmp_path / "trained").exists()
