"""The report, built from fixture run records of the tiny keyword model: ranking, seeds,
significance, plots, error analysis, and a self-contained HTML page."""

from __future__ import annotations

import dataclasses
import re
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentibench.cli import app
from sentibench.errors import CollapseError, SentibenchError
from sentibench.eval.leaderboard import write_leaderboard
from sentibench.eval.plots import pareto_front
from sentibench.eval.report import length_bucket_labels, load_test_set, write_report
from sentibench.registry import REGISTRY
from sentibench.runs import RunDir, load_run
from sentibench.train.runner import run_training

PNG = b"\x89PNG\r\n\x1a\n"
# Without "great" and "bad", "simply bad" scores 0.5 and is called positive: 2 of 24 wrong.
VARIANT = ["words=['excellent', 'worst']"]


def make_runs(root, data):
    """Three seeds of keyword, a variant of it, and a collapsed, a failed, an unfinished run."""

    def train(name, model="keyword", **kwargs):
        return run_training(model, data=str(data), preset="quick", out=root / name, **kwargs)

    for seed in (0, 1, 2):
        train(f"keyword-s{seed}", seed=seed)
    train("variant", overrides=VARIANT)
    with pytest.raises(CollapseError):
        train("collapsed", overrides=["words=['film']", "collapse=true"])
    with pytest.raises(RuntimeError, match="boom"):
        train("exploded", model="exploding")
    shutil.copytree(root / "variant", root / "unfinished")
    RunDir(root / "unfinished").set_status("running")  # as a kill -9 leaves it


def test_report_ranks_groups_tests_gaps_and_lists_the_rest_apart(
    fakes, tiny_data, tmp_path, monkeypatch
):
    published = dataclasses.replace(REGISTRY["keyword"], published_accuracy=0.77256)
    monkeypatch.setitem(REGISTRY, "keyword", published)
    runs = tmp_path / "runs" / "suite"  # a suite folder one level down, like bench makes
    make_runs(runs, tiny_data)

    result = CliRunner().invoke(app, ["report", "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / "report"
    board = pd.read_csv(out / "leaderboard.csv")
    # ranked: the 3-seed group first (all right), then the variant; nothing else
    assert board["rank"].tolist() == [1, 2]
    assert board["seeds"].tolist() == [3, 1]
    assert board["accuracy"].tolist() == pytest.approx([1.0, 22 / 24])
    ranked_runs = ", ".join(board["runs"])
    for name in ("collapsed", "exploded", "unfinished"):
        assert name not in ranked_runs

    markdown = (out / "report.md").read_text()
    assert re.search(r"\| 1 \| keyword \| quick \| words=.* \| 3 \| 1\.0000 ± 0\.0000 \|", markdown)
    assert "not significant (p=0.5, 2:0)" in markdown  # McNemar: 2 discordant reviews
    assert "| 0.7726 |" in markdown  # the published accuracy next to ours
    not_ranked = markdown.split("## Not ranked")[1].split("##")[0]
    for name, status in (("collapsed", "collapsed"), ("exploded", "failed"),
                         ("unfinished", "running")):  # fmt: skip
        assert re.search(rf"suite/{name} \| keyword|suite/{name} \| exploding", not_ranked)
        assert f"**{status}**" in not_ranked
    assert "RuntimeError: boom in epoch 1" in not_ranked
    assert "simply bad" in markdown  # the variant's mistake, in the error analysis
    assert "**0 of 24 test reviews are misclassified by all 2 models.**" in markdown

    # accuracy, Pareto, confusion, length, reliability + one curve per run with a history (all
    # but exploded)
    plots = sorted((out / "plots").glob("*.png"))
    assert len(plots) == 5 + 6
    assert all(p.read_bytes().startswith(PNG) and p.stat().st_size > 2000 for p in plots)
    assert len(re.findall(r"!\[[^\]]*\]\(plots/[^)]+\.png\)", markdown)) == len(plots)

    html = (out / "report.html").read_text()
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == len(plots)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<link|<script|https?://", html)  # nothing fetched from elsewhere
    assert html.count("<table>") == 3  # leaderboard, confident mistakes, not ranked


def test_a_second_report_drops_figures_of_runs_that_are_gone(
    fakes, tiny_data, tmp_path, monkeypatch
):
    published = dataclasses.replace(REGISTRY["keyword"], published_accuracy=0.5)
    monkeypatch.setitem(REGISTRY, "keyword", published)  # slow has no published accuracy
    runs = tmp_path / "runs"
    run_training("keyword", data=str(tiny_data), preset="quick", out=runs / "k")
    run_training("slow", data=str(tiny_data), preset="quick", out=runs / "s",
                 overrides=["epochs=1", "epoch_seconds=0.0"])  # fmt: skip
    with pytest.raises(CollapseError):
        run_training("keyword", data=str(tiny_data), preset="quick", out=runs / "collapsed",
                     overrides=["words=['film']", "collapse=true"])  # fmt: skip
    first = write_report(tmp_path / "runs")
    shutil.rmtree(tmp_path / "runs" / "collapsed")
    second = write_report(tmp_path / "runs")
    assert len(second.plots) == len(first.plots) - 1
    assert sorted((tmp_path / "runs" / "report" / "plots").glob("*.png")) == sorted(second.plots)
    assert "nan" not in second.markdown.read_text().lower()  # no published figure: blank


def test_without_the_test_data_the_report_still_ranks_and_says_what_it_skipped(
    fakes, tiny_data, tmp_path
):
    for seed in (0, 1):
        run_training("keyword", data=str(tiny_data), preset="quick", seed=seed,
                     out=tmp_path / "runs" / f"k{seed}")  # fmt: skip
    record = load_run(tmp_path / "runs" / "k0")
    assert load_test_set(str(tiny_data), record.config["data"]["sha256"])[0] is not None
    shutil.rmtree(tiny_data)
    result = write_report(tmp_path / "runs")
    markdown = result.markdown.read_text()
    assert "Significance, length buckets and error analysis skipped: the data" in markdown
    assert "not on this machine" in markdown
    assert len(result.plots) == 3 + 2  # no length or reliability plot; two training curves


@pytest.mark.parametrize(
    ("without", "cell", "left_out", "variant_mistake_shown"),
    [
        ("v", "n/a (no predictions.csv)", "keyword-quick \\[words=\\['excellent'", False),
        ("k", "n/a (no predictions.csv above)", "keyword-quick \\[words=\\['great'", True),
    ],
)
def test_runs_kept_without_predictions_still_rank_and_sit_out_the_analyses(
    fakes, tiny_data, tmp_path, without, cell, left_out, variant_mistake_shown
):
    runs = tmp_path / "runs"
    run_training("keyword", data=str(tiny_data), preset="quick", out=runs / "k")
    run_training("keyword", data=str(tiny_data), preset="quick", out=runs / "v",
                 overrides=VARIANT)  # fmt: skip
    (runs / without / "predictions.csv").unlink()  # as in records committed without them
    result = write_report(runs)
    markdown = result.markdown.read_text()
    board = pd.read_csv(runs / "report" / "leaderboard.csv")
    assert board["accuracy"].tolist() == pytest.approx([1.0, 22 / 24])  # both still ranked
    assert f"| {cell} |" in markdown
    assert f"(no predictions.csv in the run folder): {left_out}" in markdown
    assert ("simply bad" in markdown) == variant_mistake_shown  # only the variant errs
    assert "### Error analysis" in markdown  # the run with predictions still has one
    assert len(result.plots) == 5 + 2  # accuracy, Pareto, confusion, length, reliability; 2 curves


def test_the_leaderboard_is_the_reports_group_table(fakes, tiny_data, tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1):
        run_training("keyword", data=str(tiny_data), preset="quick", seed=seed,
                     out=runs / f"k{seed}")  # fmt: skip
    run_training("keyword", data=str(tiny_data), preset="quick", out=runs / "v",
                 overrides=VARIANT)  # fmt: skip
    write_report(runs)
    frame, others = write_leaderboard(runs)
    board = pd.read_csv(runs / "leaderboard.csv")
    pd.testing.assert_frame_equal(board, pd.read_csv(runs / "report" / "leaderboard.csv"))
    assert board["seeds"].tolist() == [2, 1] and board["runs"].tolist() == ["k0, k1", "v"]
    assert frame["accuracy"].tolist() == pytest.approx([1.0, 22 / 24]) and others == []


def test_the_leaderboard_of_a_missing_or_empty_folder_is_one_sentence(tmp_path):
    with pytest.raises(SentibenchError, match="is not a folder of run directories"):
        write_leaderboard(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()  # nothing written where there was nothing
    (tmp_path / "empty").mkdir()
    with pytest.raises(SentibenchError, match="No run records under"):
        write_leaderboard(tmp_path / "empty")


def test_data_that_changed_since_the_runs_is_not_used(fakes, tiny_data, tmp_path):
    run_training("keyword", data=str(tiny_data), preset="quick", out=tmp_path / "run")
    sha = load_run(tmp_path / "run").config["data"]["sha256"]
    with open(tiny_data / "test.jsonl", "a") as handle:
        handle.write('{"id": "extra", "text": "great", "label": 1}\n')
    frame, why = load_test_set(str(tiny_data), sha)
    assert frame is None and "sha256 differs" in why


def test_pareto_front_keeps_only_undominated_points():
    seconds = [1.0, 2.0, 3.0, 0.5, 3.0]
    accuracy = [0.80, 0.70, 0.90, 0.60, 0.85]
    assert pareto_front(seconds, accuracy) == [3, 0, 2]  # fastest first


def test_length_buckets_are_quartiles_with_word_ranges():
    buckets = length_bucket_labels(pd.Series(range(1, 101)))
    assert list(buckets.cat.categories) == ["1–25", "26–50", "51–75", "76–100"]
    assert buckets.value_counts().tolist() == [25, 25, 25, 25]


def test_records_from_before_a_key_existed_group_with_its_default(tmp_path):
    from sentibench.eval.report.tables import run_table
    from sentibench.runs import RunRecord

    def record(name: str, **config) -> RunRecord:
        values = {"seed": 0, "lr": 1e-4, **config}
        return RunRecord(tmp_path / name, {"model": "minilm_full", "config": values},
                         "complete", None, {"accuracy": 0.9})  # fmt: skip

    table = run_table([
        record("old"),  # written before the keys existed
        record("new", attention_dropout=None, torch_compile=False, calibrate="none"),
        record("fast", attention_dropout=0.0),
    ], tmp_path)  # fmt: skip
    keys = dict(zip(table["run"], table["config_key"], strict=True))
    assert keys["old"] == keys["new"] != keys["fast"]
