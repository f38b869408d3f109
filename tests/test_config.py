from dataclasses import dataclass, field
from typing import Literal

import pytest

from sentibench.config import BaseConfig, apply_values, overrides_to_dict, read_toml
from sentibench.errors import ConfigError


@dataclass
class Inner:
    hidden: int = 8
    cell: Literal["lstm", "gru"] = "lstm"


@dataclass
class Outer(BaseConfig):
    lr: float = 1e-3
    widths: list[int] = field(default_factory=lambda: [3, 4])
    vectors: str | None = None
    model: Inner = field(default_factory=Inner)


def test_overrides_are_parsed_as_toml_and_nested():
    values = overrides_to_dict(["lr=2", "widths=[5, 6]", "vectors=glove", "model.hidden=64"])
    config = apply_values(Outer(), values)
    assert config.lr == 2.0 and isinstance(config.lr, float)
    assert config.widths == [5, 6]
    assert config.vectors == "glove"
    assert config.model.hidden == 64 and config.model.cell == "lstm"


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("nope=1", "Unknown config key 'nope'"),
        ("lr=fast", "expects float"),
        ("model.cell=rnn", "must be one of"),
        ("model.size=3", "Unknown config key 'model.size'"),
        ("val_fraction=0.9", "val_fraction"),
        ("lr", "key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        apply_values(Outer(), overrides_to_dict([override]))


def test_read_toml_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_toml(bad)
