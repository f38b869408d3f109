"""Search spaces in TOML: which config keys a study varies, and over what.

    lr = {low = 1e-4, high = 1e-2, log = true}     # a float range (log: sampled in log space)
    epochs = {low = 2, high = 8}                    # ints: an int range (step = 1 by default)
    "model.filters" = [100, 200, 300]               # a list: one of these (categorical)
    [model]                                         # tables nest like presets: model.dropout
    dropout = {low = 0.1, high = 0.6}

Every key is checked against the model's config the way `--set` is (name, type, the config's
own validation of both ends and every choice) before any trial starts; a bad space is one
ConfigError naming the file and the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentibench.config import apply_values, overrides_to_dict, read_toml
from sentibench.errors import ConfigError

SPACE_DIR = Path(__file__).parent.parent / "spaces"
RANGE_KEYS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    def values(self) -> list[Any]:
        """The ends, which the config must accept (it then accepts everything between)."""
        return [self.low, self.high]


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def values(self) -> list[Any]:
        return list(self.options)


Param = Range | Choice


@dataclass(frozen=True)
class SearchSpace:
    path: Path
    params: dict[str, Param]  # dotted config key -> what it ranges over

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One value per key, drawn by an Optuna trial (dotted key -> value)."""
        values: dict[str, Any] = {}
        for key, param in self.params.items():
            if isinstance(param, Choice):
                # Optuna's categoricals hold scalars; a list choice (widths) travels as JSON
                encoded = [_encode(option) for option in param.options]
                values[key] = _decode(trial.suggest_categorical(key, encoded))
            elif param.integer:
                values[key] = trial.suggest_int(
                    key, int(param.low), int(param.high), step=int(param.step or 1), log=param.log
                )
            else:
                values[key] = trial.suggest_float(
                    key, param.low, param.high, step=param.step, log=param.log
                )
        return values

    def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        """A trial's stored params back as config values (list choices were JSON)."""
        return {key: _decode(value) for key, value in params.items()}

    def grid(self) -> dict[str, list[Any]]:
        """Every point of the space, for the grid sampler: lists and stepped ranges only."""
        grid: dict[str, list[Any]] = {}
        for key, param in self.params.items():
            if isinstance(param, Choice):
                grid[key] = [_encode(option) for option in param.options]
            elif param.step is not None or param.integer:
                step, value, points = param.step or 1, param.low, []
                while value <= param.high + 1e-12:
                    points.append(int(value) if param.integer else value)
                    value += step
                grid[key] = points
            else:
                raise ConfigError(
                    f"Search space {self.path}: key '{key}' is a continuous range; the grid "
                    "sampler needs a list or a range with a step."
                )
        return grid


def _encode(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def toml_value(value: Any) -> str:
    """A value as `--set` reads it (TOML): JSON's numbers, strings, lists and booleans are."""
    return json.dumps(value)


def as_overrides(values: dict[str, Any]) -> list[str]:
    """Dotted key -> value as `key=value` strings for run_training's overrides."""
    return [f"{key}={toml_value(value)}" for key, value in values.items()]


def shipped_space(model: str, family: str) -> Path:
    """spaces/<model>.toml if there is one (architecture keys), else spaces/<family>.toml."""
    for name in (model, family):
        path = SPACE_DIR / f"{name}.toml"
        if path.exists():
            return path
    raise ConfigError(f"No shipped search space for '{model}'; pass --space FILE.toml.")


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and not ("low" in value or "high" in value):
            flat.update(_flatten(value, f"{full}."))
        else:
            flat[full] = value
    return flat


def _param(path: Path, key: str, spec: Any) -> Param:
    where = f"Search space {path}: key '{key}'"
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where} has an empty list of choices; give at least one value.")
        return Choice(tuple(spec))
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where} must be a list of choices or {{low = ..., high = ...}}, got {spec!r}."
        )
    unknown = set(spec) - RANGE_KEYS
    if unknown or "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where} needs low and high (and optionally log, step); got {spec}.")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    numbers = [v for v in (low, high, step) if v is not None]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        raise ConfigError(f"{where}: low, high and step must be numbers, got {spec}.")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}.")
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high}).")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {low}.")
    if step is not None and (step <= 0 or log):
        raise ConfigError(f"{where}: step must be > 0 and cannot go with log, got {spec}.")
    integer = all(isinstance(v, int) for v in numbers)
    return Range(low, high, log, step, integer)


def load_space(path: Path, base_config: Any) -> SearchSpace:
    """Read and check a search space against `base_config` (the model's resolved config)."""
    path = Path(path)
    params = {key: _param(path, key, spec) for key, spec in _flatten(read_toml(path)).items()}
    if not params:
        raise ConfigError(f"Search space {path} names no config keys; nothing to search.")
    for key, param in params.items():
        for value in param.values():
            try:
                apply_values(base_config, overrides_to_dict([f"{key}={toml_value(value)}"]))
            except ConfigError as exc:
                raise ConfigError(f"Search space {path}: key '{key}' = {value!r}: {exc}") from None
    return SearchSpace(path, params)
