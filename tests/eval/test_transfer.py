"""Cross-domain transfer: `evaluate --run R --data NAME` scores a trained run (the tiny keyword
model) on a 3-class target's test split with labels mapped, and the report shows it."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentibench.cli import app, main
from sentibench.errors import ConfigError
from sentibench.eval.report import run_table, write_report
from sentibench.eval.report.markdown import transfer_lines
from sentibench.eval.report.tables import transfer_table
from sentibench.eval.transfer import evaluate_transfer, resolve_mapping
from sentibench.runs import find_runs, load_run
from sentibench.train.runner import run_training

NEGATIVE = ["the worst charger", "bad battery, worst screen", "bad", "worst purchase ever",
            "bad fit and bad colour", "great until it broke"]  # fmt: skip
NEUTRAL = ["it arrived on tuesday", "the box is blue", "bad box, great content",
           "ordered two of them"]  # fmt: skip
POSITIVE = ["great phone", "excellent battery, great screen", "excellent", "great value",
            "excellent fit", "not bad at all"]  # fmt: skip
# wrong: "great until it broke" (called positive) and "not bad at all" (called negative)
LABELS = ["negative", "neutral", "positive"]


@pytest.fixture
def target(tmp_path):
    """A prepared 3-class folder: 16 test rows (6 negative, 4 neutral, 6 positive)."""
    folder = tmp_path / "gadgets"
    folder.mkdir()
    rows = [(t, i) for i, texts in enumerate([NEGATIVE, NEUTRAL, POSITIVE]) for t in texts]
    test = pd.DataFrame(
        {"id": [f"g{k}" for k in range(len(rows))], "text": [t for t, _ in rows],
         "label": [label for _, label in rows], "rating": [None] * len(rows)}
    )  # fmt: skip
    test.to_parquet(folder / "test.parquet", index=False)
    # label 7 would fail validation: any read of the train split breaks the test
    train = test.assign(id="t" + test["id"], label=7)
    train.to_parquet(folder / "train.parquet", index=False)
    manifest = {"source": "gadget reviews", "label_names": LABELS}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def run(keyword_model, tiny_data, tmp_path):
    path = tmp_path / "runs" / "keyword"
    run_training("keyword", data=str(tiny_data), preset="quick", out=path)
    return path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_transfer_drops_and_counts_neutral_and_the_report_shows_it(run, target, tmp_path):
    assert transfer_lines(transfer_table(run_table(find_runs(run.parent), run.parent))) == []

    output = invoke("evaluate", "--run", str(run), "--data", str(target), "--map", "neutral=drop")
    record = run / "transfer" / "gadgets"
    said = " ".join(output.split())  # rich wraps long lines
    assert "accuracy 0.8333" in said and "12 scored, dropped neutral 4" in said
    metrics = json.loads((record / "metrics.json").read_text())
    assert metrics["n"] == 12 and metrics["n_dropped"] == 4 and metrics["dropped"] == {"neutral": 4}
    assert metrics["mapping"] == {"negative": "negative", "neutral": "drop", "positive": "positive"}
    assert metrics["target"]["source"] == "gadget reviews" and metrics["target"]["n_test"] == 16
    assert len(metrics["target"]["sha256"]) == 64
    own = load_run(run).metrics
    assert metrics["run"]["accuracy"] == own["accuracy"] and metrics["run"]["model"] == "keyword"

    predictions = pd.read_csv(record / "predictions.csv", dtype={"id": str})
    assert list(predictions.columns) == ["id", "label", "true_label", "prob_negative",
                                         "prob_positive"]  # fmt: skip
    assert len(predictions) == 12 and "neutral" not in set(predictions["true_label"])
    by_hand = (predictions["label"] == predictions["true_label"]).mean()
    assert metrics["accuracy"] == pytest.approx(by_hand)
    assert metrics["accuracy"] == pytest.approx(10 / 12)
    assert sum(map(sum, metrics["confusion_matrix"])) == 12
    low, high = metrics["accuracy_ci95"]
    assert low < metrics["accuracy"] < high

    # re-running replaces the record whole: neutral now counts as negative
    invoke("evaluate", "--run", str(run), "--data", str(target), "--map", "neutral=negative")
    again = json.loads((record / "metrics.json").read_text())
    assert again["n"] == 16 and again["dropped"] == {} and again["n_dropped"] == 0
    assert sorted(p.name for p in (run / "transfer").iterdir()) == ["gadgets"]  # no leftovers
    invoke("evaluate", "--run", str(run), "--data", str(target), "--map", "neutral=drop")

    # the run's own data scored the same way gives back its recorded test accuracy
    own_data = load_run(run).config["data"]["source"]
    same = evaluate_transfer(run, own_data).metrics
    assert same["accuracy"] == own["accuracy"] and same["n"] == own["n"]

    result = write_report(run.parent)
    markdown = result.markdown.read_text()
    section = markdown.split("## Cross-domain transfer")[1].split("##")[0]
    header = next(line for line in section.splitlines() if line.startswith("| run"))
    assert header == "| run | model | trained on | in-domain | gadgets | tiny |"
    row = next(line for line in section.splitlines() if line.startswith("| keyword"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    low_own, high_own = own["accuracy_ci95"]
    assert cells[2] == "tiny"
    assert cells[3] == f"{own['accuracy']:.4f} [{low_own:.4f}–{high_own:.4f}] n={own['n']}"
    assert cells[4] == f"{10 / 12:.4f} [{low:.4f}–{high:.4f}] n=12, 4 dropped"
    assert "<h2>Cross-domain transfer</h2>" in result.html.read_text()


def test_an_unmapped_or_unknown_label_is_refused_before_anything_is_written(run, target):
    with pytest.raises(ConfigError, match=r"label\(s\) neutral .*--map neutral=drop\."):
        evaluate_transfer(run, str(target))
    with pytest.raises(ConfigError, match="has no label 'meh'"):
        evaluate_transfer(run, str(target), ["meh=drop"])
    with pytest.raises(ConfigError, match="the run has no label 'meh'"):
        evaluate_transfer(run, str(target), ["neutral=meh"])
    with pytest.raises(ConfigError, match="expected SRC=DST"):
        evaluate_transfer(run, str(target), ["neutral"])
    assert not (run / "transfer").exists()
    # a binary target on a 3-class run: every name is the run's own
    assert resolve_mapping(["negative", "positive"], LABELS, {}, "x") == {
        "negative": "negative", "positive": "positive"}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--run", "{tmp}/nope", "--data", "sample"], "is not a sentibench run directory"),
        (["--run", "{run}", "--data", "{tmp}/no-such-data"], "no such folder"),
        (["--run", "{run}"], "needs --data NAME"),
        (["{run}/predictions.csv", "--run", "{run}", "--data", "sample"], "not both"),
        (["--data", "sample"], "got neither"),
        (["{run}/predictions.csv", "--map", "neutral=drop"], "--map works with --run only"),
        (["{run}/predictions.csv", "--data", "tweets-sample"], "scores two classes"),
    ],
)
def test_bad_input_exits_with_code_2_and_one_line(run, tmp_path, monkeypatch, capsys, args,
                                                  fragment):  # fmt: skip
    argv = [a.format(tmp=tmp_path, run=run) for a in args]
    monkeypatch.setattr(sys, "argv", ["sentibench", "evaluate", *argv])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    message = capsys.readouterr().err.strip()
    assert fragment in message.replace("\n", " ") and "Traceback" not in message
