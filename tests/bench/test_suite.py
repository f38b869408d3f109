"""Suite files: parsing, run names, and one-sentence errors that name the file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentibench.bench.suite import load_suite, shipped_suites, toml_literal
from sentibench.config import parse_value
from sentibench.errors import ConfigError
from sentibench.registry import REGISTRY


def write_suite(folder: Path, text: str, name: str = "mine") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_entries_expand_to_one_named_run_per_seed(fakes, tiny_data, tmp_path):
    path = write_suite(
        tmp_path,
        f"""
data = "{tiny_data}"
preset = "quick"
budget_minutes = 2

[[runs]]
model = "keyword"
seeds = [0, 1]

[[runs]]
model = "keyword"
overrides = {{ words = ["great", "bad"], collapse = false }}
budget_minutes = 0.5
""",
    )
    suite = load_suite(str(path))
    names = [run.name for run in suite.runs]
    assert suite.name == "mine" and suite.data == str(tiny_data)
    assert names[:2] == ["keyword-quick-s0", "keyword-quick-s1"]
    assert (
        names[2].startswith("keyword-quick-s0-") and len(names[2]) == len("keyword-quick-s0-") + 8
    )
    assert [run.budget_seconds for run in suite.runs] == [120, 120, 30]
    assert suite.runs[2].override_args() == ["collapse=false", 'words=["great", "bad"]']
    assert load_suite(str(path)).runs == suite.runs  # the same file always names the same runs
    # --data replaces the data of every run, and the names say so
    other = load_suite(str(path), data="sample")
    assert {run.data for run in other.runs} == {"sample"}
    assert other.runs[0].name == "keyword-quick-s0"  # the suite's own data is now sample


def test_relative_data_is_relative_to_the_suite_file(fakes, tiny_data):
    path = write_suite(
        tiny_data.parent, '[[runs]]\nmodel = "keyword"\npreset = "quick"\ndata = "tiny"\n'
    )
    suite = load_suite(str(path))
    assert suite.runs[0].data == str(tiny_data.resolve())
    assert suite.runs[0].name.startswith("keyword-quick-s0-")  # differs from the suite's data


RUN = '[[runs]]\nmodel = "keyword"\n'
QUICK = 'preset = "quick"\n' + RUN  # a valid suite, to which each case adds one mistake


@pytest.mark.parametrize(
    "body, message",
    [
        (RUN.replace("keyword", "nope"), r"run 1 \(model 'nope'\): unknown model 'nope'; known mo"),
        (QUICK + "lr = 0.1", r"unknown key 'lr'; allowed keys: .*put config values under overr"),
        ('colour = "red"\n' + QUICK, r"Suite file \S+: unknown key 'colour'; allowed keys: desc"),
        (RUN + 'preset = "gpu"', r"no preset 'gpu' for this model; available: quick"),
        (RUN, r"run 1 \(model 'keyword'\) has no preset; set preset = \"NAME\""),
        (QUICK + "seeds = 3", r"'seeds' must be a non-empty list of distinct integers"),
        (QUICK + "seeds = [1, 1]", r"'seeds' must be a non-empty list"),
        ("budget_minutes = -1\n" + QUICK, r"'budget_minutes' must be a positive number, got -1"),
        (QUICK + 'overrides = "lr=1"', r"'overrides' must be a table, got 'lr=1'"),
        (QUICK + "overrides = { lr = 1 }", r"Unknown config key 'lr' for KeywordConfig"),
        (QUICK + 'overrides = { collapse = "yes" }', r"'collapse' expects true or false"),
        (QUICK + "overrides = { seed = 1 }", r"set seeds with seeds = \[...\]"),
        ('preset = "quick"\n[[runs]]\nmodel = 3', r"'model' must be a non-empty string, got 3"),
        ('preset = "quick"\n[[runs]]\nseeds = [1]', r"run 1 has no model"),
        ('preset = "quick"', r"has no \[\[runs\]\]"),
        (QUICK + RUN, r"run 2 repeats keyword-quick-s0"),
        ("[[runs]\nmodel =", r"is not valid TOML"),
    ],
)
def test_bad_suite_files_give_one_clear_sentence(fakes, tmp_path, body, message):
    path = write_suite(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as error:
        load_suite(str(path))
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_unknown_suite_name_lists_the_shipped_ones():
    with pytest.raises(
        ConfigError,
        match=r"Unknown suite 'nope'; shipped suites: cpu, cpu_long, published, quick, seed",
    ):
        load_suite("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite("missing.toml")


@pytest.mark.parametrize(
    "value", [1, 2.5e-05, -3, True, 'a "quoted" word\n', [3, 4, 5], ["x", "y"]]
)
def test_override_values_survive_the_trip_through_set(value):
    assert parse_value(toml_literal(value)) == value


@pytest.mark.parametrize("name", ["quick", "cpu", "cpu_long", "seed"])
def test_shipped_suites_name_registered_models_and_existing_presets(name):
    """Fails when a shipped suite names a model or preset that the package does not have."""
    assert name in shipped_suites()
    suite = load_suite(name)
    assert suite.runs and all(run.model in REGISTRY for run in suite.runs)
    assert (
        suite.data == {"quick": "sample", "cpu": "imdb", "cpu_long": "imdb", "seed": "imdb"}[name]
    )


def test_seed_suite_has_the_seeds_sixteen_entries():
    models = {run.model for run in load_suite("seed").runs}
    assert len(models) == 16 and {"capsule_lstm", "deberta_prompt", "roberta_trainer"} <= models
    assert {run.preset for run in load_suite("seed").runs} == {"gpu"}
