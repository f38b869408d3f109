"""Every preset of every classic net (the registry's, and the toy net of model_battery.py)
loads into its config and builds a model; the registry names the original project's seven nets
with their published accuracy and cpu / gpu / quick presets."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from model_battery import classic_nets

from sentibench.config import apply_values, overrides_to_dict, read_toml, to_dict
from sentibench.errors import ConfigError
from sentibench.registry import get_spec

PUBLISHED = ["cnn", "lstm", "gru", "attention_lstm", "capsule_lstm", "cnnlstm", "transformer"]


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_original_seven_nets_have_published_accuracies_and_three_presets(name):
    spec = get_spec(name)
    assert spec.family == "classic" and spec.published_accuracy is not None
    assert spec.presets() == ["cpu", "gpu", "quick"]


@pytest.mark.parametrize("name", classic_nets())
def test_presets_load_and_build(name):
    spec = get_spec(name)
    assert spec.presets(), name
    recipe = spec.load_recipe()
    for preset in spec.presets():
        config = apply_values(recipe.config_cls(), read_toml(spec.preset_path(preset)))
        model = recipe.build_model(config, torch.randn(12, 6))
        ids = torch.randint(2, 12, (3, min(config.max_len, 20)))
        logits = model(ids, torch.tensor([ids.shape[1], 5, 1]))
        assert logits.shape == (3, 2), (name, preset)
        assert config.vectors == "glove-6b-50d"  # every preset runs offline as shipped


def test_lstm_and_gru_share_a_module_but_not_a_cell():
    assert get_spec("lstm").load_recipe().config_cls().model.cell == "lstm"
    assert get_spec("gru").load_recipe().config_cls().model.cell == "gru"


def test_nested_overrides_and_json_round_trip():
    recipe = get_spec("gru").load_recipe()
    config = apply_values(recipe.config_cls(), overrides_to_dict(["model.hidden=16", "lr=3e-3"]))
    assert (config.model.hidden, config.lr) == (16, 3e-3)
    assert apply_values(recipe.config_cls(), to_dict(config)) == config  # how runs reload


def test_invalid_training_settings_are_config_errors():
    config_cls = get_spec("cnn").load_recipe().config_cls
    with pytest.raises(ConfigError, match="head_tokens"):
        config_cls(max_len=64, head_tokens=64)
    with pytest.raises(ConfigError, match="batch_size"):
        config_cls(batch_size=0)
    transformer = get_spec("transformer").load_recipe()
    config = dataclasses.replace(transformer.config_cls(), max_len=1024)
    with pytest.raises(ConfigError, match="max_positions"):
        transformer.build_model(config, torch.randn(12, 6))
