"""Dataclass configs, TOML presets and `--set key=value` overrides.

Every model family owns one dataclass (fields with defaults and `metadata={"help": ...}`).
A preset is a TOML file of field values; overrides are `key=value` strings whose value is
parsed as TOML (so `lr=1e-3`, `vectors="glove"`, `widths=[3,4,5]` all work) and falls back to a
plain string. Nested dataclasses are addressed with dots: `model.hidden=128`.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from sentibench.errors import ConfigError, one_line

T = TypeVar("T")


@dataclasses.dataclass
class BaseConfig:
    """Fields every run has, whatever the model."""

    seed: int = dataclasses.field(default=0, metadata={"help": "seed for every RNG"})
    val_fraction: float = dataclasses.field(
        default=0.1,
        metadata={
            "help": "share of train carved out (stratified) for validation; 0 trains on all of "
            "it for every epoch and keeps the last (a refit after settings were chosen; nets "
            "and transformers only)"
        },
    )
    threads: int = dataclasses.field(
        default=0, metadata={"help": "CPU threads for torch/BLAS; 0 keeps the library default"}
    )
    calibrate: Literal["none", "temperature"] = dataclasses.field(
        default="none",
        metadata={
            "help": "temperature: after training, fit one temperature on the validation split "
            "and apply it wherever the run predicts (model/calibration.json); none: as trained"
        },
    )

    # keys a config no longer has that older run records may hold: dropped when a finished run
    # is loaded, unknown (an error) anywhere else
    retired_keys: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 0.5:
            raise ConfigError(f"val_fraction must be in [0, 0.5), got {self.val_fraction}.")
        if self.calibrate not in ("none", "temperature"):  # the Literal, for direct construction
            raise ConfigError(
                f"Config key 'calibrate' must be 'none' or 'temperature', got {self.calibrate!r}."
            )
        if self.calibrate != "none" and self.val_fraction == 0:
            raise ConfigError(
                f"calibrate = {self.calibrate} is fitted on the validation split, and "
                "val_fraction = 0 has none; set val_fraction > 0 or calibrate = none."
            )

    def check_before_run(self) -> None:
        """Checks that need the file system (a configured path exists): made by the runner
        before a run folder is created, and not when a finished run is loaded."""


def parse_value(text: str) -> Any:
    """Parse an override value as TOML, falling back to the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a field annotation; ints are accepted for floats."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"Config key '{key}' cannot take {value!r}: expected {annotation}.")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"Config key '{key}' expects a list, got {value!r}.")
        (item,) = typing.get_args(annotation)[:1] or (Any,)
        return [_coerce(v, item, key) for v in value]
    if origin is typing.Literal:
        if value not in typing.get_args(annotation):
            choices = ", ".join(map(repr, typing.get_args(annotation)))
            raise ConfigError(f"Config key '{key}' must be one of {choices}, got {value!r}.")
        return value
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, float) and not math.isfinite(value):
        # TOML reads nan and inf as floats; no setting here means either
        raise ConfigError(f"Config key '{key}' must be a finite number, got {value}.")
    if annotation is bool and not isinstance(value, bool):
        raise ConfigError(f"Config key '{key}' expects true or false, got {value!r}.")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise ConfigError(
            f"Config key '{key}' expects {annotation.__name__}, got {value!r} "
            f"({type(value).__name__})."
        )
    return value


def apply_values(config: T, values: dict[str, Any], prefix: str = "") -> T:
    """Return a copy of `config` with `values` (possibly nested dicts) applied and validated."""
    hints = typing.get_type_hints(type(config))
    fields = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(
                f"Unknown config key '{full}' for {type(config).__name__}; known: {known}."
            )
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"Config key '{full}' is a table; set its fields as {full}.NAME=..."
                )
            changes[key] = apply_values(current, value, prefix=f"{full}.")
        else:
            changes[key] = _coerce(value, hints[key], full)
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def overrides_to_dict(overrides: list[str]) -> dict[str, Any]:
    """Turn ["a.b=1", "c=x"] into {"a": {"b": 1}, "c": "x"}."""
    result: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Override '{item}' is not of the form key=value.")
        node = result
        *parents, leaf = key.strip().split(".")
        for depth, part in enumerate(parents, start=1):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):  # "a=1" then "a.b=2"
                table = ".".join(parents[:depth])
                raise ConfigError(
                    f"Override '{item}' sets a field of '{table}', which another --set gave "
                    f"the value {node!r}."
                )
        node[leaf] = parse_value(raw.strip())
    return result


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML preset, with a clear error for a missing or malformed file."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid UTF-8 (byte {exc.start}).") from None
    except OSError as exc:  # a folder, no permission
        raise ConfigError(f"Config file {path} cannot be read ({exc.strerror or exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {one_line(exc)}.") from None


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass."""
    return dataclasses.asdict(config)


def field_help(config_cls: type) -> list[tuple[str, str, str]]:
    """(name, default, help) for each field, for `sentibench models --verbose`."""
    rows = []
    for f in dataclasses.fields(config_cls):
        default = f.default if f.default is not dataclasses.MISSING else "(factory)"
        rows.append((f.name, repr(default), f.metadata.get("help", "")))
    return rows
