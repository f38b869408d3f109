"""The registry and its presets, torchtune-style: every preset file is globbed and must load
into its model's config; every model has the presets it needs; the test-only toy net never
leaks into the registry that users see."""

from __future__ import annotations

import pytest
from model_battery import TOY, TOY_PRESETS
from typer.testing import CliRunner

from sentibench.cli import app
from sentibench.config import apply_values, read_toml, to_dict
from sentibench.registry import CONFIG_DIR, REGISTRY, get_spec

PRESET_FILES = sorted([*CONFIG_DIR.glob("*.toml"), *TOY_PRESETS.glob("*.toml")])
# cpu: the default preset where no GPU is visible, so `sentibench train NAME` runs anywhere;
# quick: the smoke run on the bundled sample (the quick suite, the tests: the nn battery takes
# a classic net's sizes from it). gpu is optional. An ensemble is built from runs: no presets.
REQUIRED = {"linear": {"cpu"}, "classic": {"cpu", "quick"}, "transformer": {"cpu", "quick"},
            "ensemble": set()}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "preset"), [tuple(p.name.split(".")[:2]) for p in PRESET_FILES],
    ids=[p.name for p in PRESET_FILES],
)  # fmt: skip
def test_every_preset_file_loads_into_its_models_config(name, preset):
    spec = get_spec(name)  # a preset of no registered model is an error
    path = spec.preset_path(preset)
    assert path.name == f"{name}.{preset}.toml" and path.is_file() and preset in spec.presets()
    config_cls = spec.load_recipe().config_cls
    config = apply_values(config_cls(), read_toml(path))
    assert apply_values(config_cls(), to_dict(config)) == config  # how runs reload it


@pytest.mark.parametrize("name", [*REGISTRY, TOY])
def test_every_model_has_the_presets_its_family_needs(name):
    spec = get_spec(name)
    assert REQUIRED[spec.family] <= set(spec.presets()), (name, spec.presets())


def test_a_recipe_is_loaded_once_per_spec():
    assert get_spec("cnn").load_recipe() is get_spec("cnn").load_recipe()
    assert get_spec("lstm").load_recipe() is not get_spec("gru").load_recipe()


def test_the_toy_net_is_registered_only_while_a_test_names_it():
    assert TOY not in REGISTRY
    listing = CliRunner().invoke(app, ["models"])
    assert listing.exit_code == 0 and "cnn" in listing.stdout and TOY not in listing.stdout
