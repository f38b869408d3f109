"""`tune --write-preset NAME`: the best trial as a preset file anyone can read, rerun and cite.

configs/<model>.<NAME>.toml (of the current directory; a NAME with a slash or ending in .toml
is the path) = the base preset + the tune's --set values + the best trial's settings, with
the validation split the trials used, so `train MODEL --preset NAME` is the best trial again
and `--set val_fraction=0` its refit on all of train. A header names where it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentibench.config import overrides_to_dict, read_toml
from sentibench.errors import ConfigError, SentibenchError
from sentibench.registry import LOCAL_CONFIG_DIR, get_spec
from sentibench.runs import atomic_write_text, load_run
from sentibench.train.runner import default_preset
from sentibench.tune.job import TuneJob
from sentibench.tune.space import SearchSpace, as_overrides, toml_value

MACHINE_KEYS = ("threads",)  # settings of the machine the tune ran on, not of the model


def preset_target(model: str, name: str) -> Path:
    if "/" in name or name.endswith(".toml"):
        return Path(name)
    if get_spec(model).preset_dir.joinpath(f"{model}.{name}.toml").exists():
        raise ConfigError(
            f"--write-preset {name}: {model} ships a preset of that name; pick another."
        )
    return LOCAL_CONFIG_DIR / f"{model}.{name}.toml"


def merge(into: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def to_toml(values: dict[str, Any], table: str = "") -> list[str]:
    """Scalars and lists first, then each table as [name] (TOML's order)."""
    lines = [f"{key} = {toml_value(v)}" for key, v in values.items() if not isinstance(v, dict)]
    for key, value in values.items():
        if isinstance(value, dict):
            name = f"{table}.{key}" if table else key
            lines += ["", f"[{name}]", *to_toml(value, name)]
    return lines


def best_preset(job: TuneJob, space: SearchSpace, study: Any) -> tuple[dict[str, Any], Any]:
    """The preset's values and the best trial."""
    try:
        best = study.best_trial
    except ValueError:
        raise SentibenchError(f"Study {job.study!r} has no complete trial yet.") from None
    spec = get_spec(job.model)
    values: dict[str, Any] = {}
    if spec.presets():
        values = read_toml(spec.preset_path(job.preset or default_preset(spec)))
    user = [item for item in job.overrides if item.partition("=")[0].strip() not in MACHINE_KEYS]
    merge(values, overrides_to_dict(user))
    run = load_run(Path(best.user_attrs["run"]) / ("fold-0" if job.folds > 1 else ""))
    values["val_fraction"] = run.config["config"]["val_fraction"]
    merge(
        values,
        overrides_to_dict(as_overrides(space.decode(best.params))),
    )
    return values, best


def write_preset(job: TuneJob, space: SearchSpace, study: Any, name: str) -> Path:
    values, best = best_preset(job, space, study)
    run = load_run(Path(best.user_attrs["run"]) / ("fold-0" if job.folds > 1 else ""))
    path = preset_target(job.model, name)
    # linear models refit on train + validation themselves (refit = true); the nets need it said
    refit = "" if "refit" in values else "--set val_fraction=0 "
    scored = f"{job.folds}-fold mean" if job.folds > 1 else "validation"
    header = [
        f"# {job.model}, tuned by `sentibench tune` (study {job.study!r}, trial {best.number}).",
        f"#   sentibench train {job.model} --preset {name} {refit}--seed 0  # the refit",
        f"# {scored} {job.metric} {best.value:.4f} on {run.config['data']['source']}, "
        f"train split sha256 {run.config['data']['sha256']}",
        f"# written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by: {job.command}",
        f"# search space: {job.space}; sampler {job.sampler}, pruner {job.pruner}",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join([*header, *to_toml(values)]) + "\n")
    return path
