"""Property-based: a preset TOML file and `--set` values, resolved as `sentibench train` does,
give a config or one sentence for any generated input (tests/property_inputs.py)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_inputs import (
    BOUNDED,
    check_one_sentence_or_success,
    mutated,
    private_temp,
    raw_bytes,
    scratch,
)
from toml_inputs import literal, presets, set_values

from sentibench.config import apply_values, overrides_to_dict, parse_value, read_toml
from sentibench.errors import ConfigError
from sentibench.registry import REGISTRY
from sentibench.train.runner import resolve_config

MODELS = ["tfidf_lr", "nbsvm", "cnn", "lstm"]  # linear and classic: no transformers import
SHIPPED = [REGISTRY[m].preset_path(p).read_bytes() for m in MODELS for p in REGISTRY[m].presets()]


def resolve(model: str, preset: str | None, config_file, overrides: list[str]):
    spec = REGISTRY[model]
    config, _ = resolve_config(spec, spec.load_recipe(), preset, config_file, overrides, None)
    config.check_before_run()
    return config


@BOUNDED
@given(
    model=st.sampled_from(MODELS),
    preset=st.sampled_from([None, "cpu", "quick", "gpu", "nope"]),
    file=st.one_of(
        st.none(),
        presets.map(lambda text: text.encode("utf-8")),
        mutated(st.sampled_from(SHIPPED)),
        raw_bytes,
    ),
    overrides=st.lists(set_values, max_size=3),
)
def test_preset_file_and_set_values(
    tmp_path, monkeypatch, isolated_home, model, preset, file, overrides
):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        path = None
        if file is not None:
            path = folder / "mine.toml"
            path.write_bytes(file)
        config = check_one_sentence_or_success(
            "preset toml and --set",
            lambda: resolve(model, preset, path, overrides),
            folder,
            isolated_home,
            temp,
        )
    if config is not None:
        assert dataclasses.is_dataclass(config)


base_values = st.builds(
    lambda key, value: f"{key}={literal(value)}",
    st.sampled_from(["seed", "val_fraction", "threads"]),
    st.one_of(st.integers(-2, 5), st.floats(-1, 1), st.booleans(), st.just("x")),
)


@BOUNDED
@given(overrides=st.lists(base_values | set_values, max_size=3))
def test_set_values_alone(tmp_path, monkeypatch, isolated_home, overrides):
    """overrides_to_dict and apply_values over every base config field, as --set parses."""
    from sentibench.config import BaseConfig

    temp = private_temp(tmp_path, monkeypatch)
    check_one_sentence_or_success(
        "--set values",
        lambda: apply_values(BaseConfig(), overrides_to_dict(overrides)),
        isolated_home,
        temp,
    )
    for item in overrides:  # parse_value never raises: a value that is no TOML is a string
        parse_value(item.partition("=")[2])


# Found by the searches above.


def test_a_set_value_under_a_set_scalar_is_one_sentence():
    with pytest.raises(ConfigError, match="sets a field of 'model', which another --set gave"):
        overrides_to_dict(["model=1", "model.hidden=2"])


def test_a_preset_file_that_is_not_utf8_or_a_folder_is_one_sentence(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("lr = 1e-3 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="is not valid UTF-8"):
        read_toml(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_toml(tmp_path)
