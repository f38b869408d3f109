"""Suite files: the runs a benchmark is made of, parsed and checked before anything trains.

A suite is a TOML file (the shipped ones live in sentibench/suites/):

    description = "what this suite measures"
    data = "sample"          # sample | imdb | a prepared folder (relative to this file)
    preset = "quick"         # default preset of every run
    seeds = [0]              # default seeds of every run
    budget_minutes = 5       # optional: a run still training after this is stopped

    [executor]               # optional: where the runs train (see bench/options.py)
    executor = "slurm"
    max_parallel = 8

    [[runs]]
    model = "cnn"
    seeds = [0, 1, 2]        # several seeds -> mean ± std in the report
    overrides = { lr = 1e-3, "model.hidden" = 64 }

A run may also set `preset`, `data` and `budget_minutes`. Each (entry, seed) becomes one run
directory `<model>-<preset>-s<seed>[-<hash>]`, the hash naming the overrides and data that differ
from the suite's, so the same suite always maps to the same directories.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentibench.bench.options import from_table
from sentibench.config import apply_values, overrides_to_dict
from sentibench.errors import ConfigError, one_line
from sentibench.registry import REGISTRY

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
TOP_KEYS = ("description", "data", "preset", "seeds", "budget_minutes", "executor", "runs")
RUN_KEYS = ("model", "preset", "seeds", "overrides", "data", "budget_minutes")
NAMED_DATA = ("sample", "imdb")
# Old names of shipped suites that still work: "seed" was the original project's settings,
# before "seed" came to mean only the RNG seed.
SUITE_ALIASES = {"seed": "published"}


@dataclass(frozen=True)
class SuiteRun:
    """One training of a suite: a model, a preset, a seed, overrides and data."""

    model: str
    preset: str
    seed: int
    data: str  # sample | imdb | an absolute folder path
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)  # flat dotted keys
    budget_seconds: float | None = None
    name: str = ""

    def override_args(self) -> list[str]:
        return set_args(self.overrides)


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    data: str
    runs: tuple[SuiteRun, ...]
    executor: dict[str, Any] = field(default_factory=dict)  # [executor]: see bench/options.py


def shipped_suites() -> list[str]:
    """The names --suite takes: the shipped files and their old names."""
    return sorted([p.stem for p in SUITES_DIR.glob("*.toml")] + list(SUITE_ALIASES))


def toml_literal(value: Any) -> str:
    """A TOML literal for an override value (JSON strings are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    raise ConfigError(f"Override value {value!r} is not a string, number, boolean or list.")


def set_args(overrides: dict[str, Any]) -> list[str]:
    """Overrides as the `--set key=value` strings the runner parses back."""
    return [f"{key}={toml_literal(value)}" for key, value in overrides.items()]


def _user_path(text: str) -> Path:
    """~ expanded; "~name" of no known user stays as typed (data.dataset imports sklearn)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def find_suite(name_or_path: str) -> Path:
    """A shipped suite by name, or a suite file by path."""
    path = _user_path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"Suite file {path} does not exist.")
        return path
    shipped = SUITES_DIR / f"{SUITE_ALIASES.get(name_or_path, name_or_path)}.toml"
    if not shipped.exists():
        raise ConfigError(
            f"Unknown suite '{name_or_path}'; shipped suites: {', '.join(shipped_suites())}, "
            "or give a .toml file."
        )
    return shipped


def normalise_data(data: str, base: Path) -> str:
    """sample/imdb stay names, auto is decided now, a folder becomes an absolute path."""
    if data == "auto":
        from sentibench.data.dataset import resolve_data  # imports sklearn: only when needed

        return resolve_data("auto")[1]
    if data in NAMED_DATA:
        return data
    if "\x00" in data:  # TOML can say "\u0000"; no file system can
        raise ConfigError(f"data {data!r} cannot be a folder name: it holds a NUL character.")
    path = _user_path(data)
    return str((path if path.is_absolute() else base / path).resolve())


def load_suite(name_or_path: str, data: str | None = None) -> Suite:
    """Parse and check a suite; `data` (from --data) replaces the data of every run."""
    path = find_suite(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Suite file {path} is not valid UTF-8 (byte {exc.start}).") from None
    except OSError as exc:  # a folder named like a .toml file, no permission
        raise ConfigError(f"Suite file {path} cannot be read ({exc.strerror or exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Suite file {path} is not valid TOML: {one_line(exc)}.") from None
    where = f"Suite file {path}"
    _check_keys(raw, TOP_KEYS, where)
    executor = from_table(raw["executor"], where) if "executor" in raw else {}
    suite_data = normalise_data(_get(raw, "data", str, where, "auto"), path.parent)
    if data is not None:
        suite_data = normalise_data(data, Path.cwd())
    entries = _get(raw, "runs", list, where, None)
    if not entries:
        raise ConfigError(f"{where} has no [[runs]]; add at least one with a model.")
    defaults = {
        "preset": _get(raw, "preset", str, where, None),
        "seeds": _seeds(raw, where, [0]),
        "budget_minutes": _budget(raw, where, None),
    }
    runs: dict[str, SuiteRun] = {}
    for index, entry in enumerate(entries, start=1):
        for run in _expand(entry, index, defaults, suite_data, data, path):
            if run.name in runs:
                raise ConfigError(
                    f"{where}, run {index} repeats {run.name} (same model, preset, seed and "
                    "overrides); remove one of them."
                )
            runs[run.name] = run
    description = _get(raw, "description", str, where, "")
    return Suite(path.stem, path, description, suite_data, tuple(runs.values()), executor)


def _expand(
    entry: Any,
    index: int,
    defaults: dict[str, Any],
    suite_data: str,
    cli_data: str | None,
    path: Path,
) -> list[SuiteRun]:
    """One [[runs]] entry -> one SuiteRun per seed, after checking every field."""
    where = f"Suite file {path}, run {index}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table with at least a model.")
    model = _get(entry, "model", str, where, None)
    if model is None:
        raise ConfigError(f'{where} has no model; add model = "NAME" (see `sentibench models`).')
    where = f"{where} (model '{model}')"
    _check_keys(entry, RUN_KEYS, where)
    spec = REGISTRY.get(model)
    if spec is None:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"{where}: unknown model '{model}'; known models: {known}.")
    preset = _get(entry, "preset", str, where, defaults["preset"])
    available = ", ".join(spec.presets()) or "none"
    if preset is None:
        raise ConfigError(
            f'{where} has no preset; set preset = "NAME" in it or at the top of the file '
            f"(available: {available})."
        )
    if preset not in spec.presets():
        raise ConfigError(f"{where}: no preset '{preset}' for this model; available: {available}.")
    overrides = _flatten(_get(entry, "overrides", dict, where, {}), where)
    _check_overrides(spec, overrides, where)
    data = suite_data
    if cli_data is None and "data" in entry:
        data = normalise_data(_get(entry, "data", str, where, None), path.parent)
    budget = _budget(entry, where, defaults["budget_minutes"])
    runs = []
    for seed in _seeds(entry, where, defaults["seeds"]):
        name = f"{model}-{preset}-s{seed}"
        if overrides or data != suite_data:
            identity = json.dumps({"overrides": overrides, "data": data}, sort_keys=True)
            name += "-" + hashlib.sha256(identity.encode()).hexdigest()[:8]
        budget_seconds = None if budget is None else budget * 60
        runs.append(SuiteRun(model, preset, seed, data, overrides, budget_seconds, name))
    return runs


def _check_keys(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            hint = "; put config values under overrides" if "runs" not in allowed else ""
            raise ConfigError(
                f"{where}: unknown key '{key}'; allowed keys: {', '.join(allowed)}{hint}."
            )


def _get(table: dict[str, Any], key: str, kind: Any, where: str, default: Any) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise ConfigError(f"{where}: '{key}' must be a {_KIND_NAMES[kind]}, got {value!r}.")
    return value


_KIND_NAMES = {str: "non-empty string", list: "list", dict: "table"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seeds(table: dict[str, Any], where: str, default: list[int]) -> list[int]:
    seeds = table.get("seeds", default)
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(_is_int(s) and s >= 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise ConfigError(
            f"{where}: 'seeds' must be a non-empty list of distinct integers >= 0, got {seeds!r}."
        )
    return seeds


def _budget(table: dict[str, Any], where: str, default: float | None) -> float | None:
    budget = table.get("budget_minutes", default)
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        raise ConfigError(f"{where}: 'budget_minutes' must be a positive number, got {budget!r}.")
    return float(budget)


def _flatten(table: dict[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    """{"model": {"hidden": 64}} -> {"model.hidden": 64}, sorted so names are stable."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, where, f"{prefix}{key}."))
        else:
            toml_literal(value)  # rejects values --set could not carry
            flat[f"{prefix}{key}"] = value
    if "seed" in flat:
        raise ConfigError(f"{where}: set seeds with seeds = [...], not with overrides.")
    return dict(sorted(flat.items()))


def _check_overrides(spec: Any, overrides: dict[str, Any], where: str) -> None:
    """Unknown keys or bad types fail now, not after an hour of other runs."""
    if not overrides:
        return
    try:
        config_cls = spec.load_recipe().config_cls
    except ConfigError:
        return  # its package is missing: that run will fail and say so; the others go on
    try:
        apply_values(config_cls(), overrides_to_dict(set_args(overrides)))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
