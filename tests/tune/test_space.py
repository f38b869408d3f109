"""Search spaces: parsing, the shipped ones against every model of their family, and every
kind of bad space as one ConfigError naming the file and the key, before any trial."""

from __future__ import annotations

import pytest

from sentibench.errors import ConfigError
from sentibench.registry import REGISTRY, get_spec
from sentibench.train.runner import resolve_config
from sentibench.tune.space import Choice, Range, load_space, shipped_space


def base(model: str):
    spec = get_spec(model)
    return resolve_config(spec, spec.load_recipe(), None, None, [], None)[0]


def write(tmp_path, text: str):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def test_ranges_choices_and_tables_parse(tmp_path):
    text = """
lr = {low = 1e-4, high = 1e-2, log = true}
epochs = {low = 2, high = 6, step = 2}
"model.filters" = [16, 32]
[model]
dropout = {low = 0.1, high = 0.5}
"""
    path = write(tmp_path, text)
    space = load_space(path, base("cnn"))
    assert space.params["lr"] == Range(1e-4, 1e-2, log=True)
    assert space.params["epochs"] == Range(2, 6, step=2, integer=True)
    assert space.params["model.filters"] == Choice((16, 32))
    assert space.params["model.dropout"] == Range(0.1, 0.5)


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("learning_rate = {low = 1e-4, high = 1e-2}", "learning_rate", "Unknown config key"),
        ("lr = {low = 1e-2, high = 1e-4}", "lr", "must be below high"),
        ("lr = {low = 0.0, high = 1e-2, log = true}", "lr", "low > 0"),
        ('"model.filters" = []', "model.filters", "empty list"),
        ("epochs = {low = 1.5, high = 4.5}", "epochs", "expects int"),
        ('"model.nonsense" = [1, 2]', "model.nonsense", "Unknown config key"),
        ("lr = {low = 1e-4}", "lr", "needs low and high"),
    ],
)
def test_bad_space_is_one_error_naming_file_and_key(tmp_path, text, key, says):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_space(path, base("cnn"))
    message = str(caught.value)
    assert str(path) in message and f"'{key}'" in message and says in message


@pytest.mark.parametrize("model", ["tfidf_lr", "nbsvm", "cnn", "gru", "lstm", "attention_lstm"])
def test_shipped_spaces_fit_their_models(model):
    space = load_space(shipped_space(model, REGISTRY[model].family), base(model))
    assert space.params  # every key was checked against the model's config by load_space
