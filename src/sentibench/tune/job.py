"""A tune's settings as one JSON-ready record: what the command, each parallel worker and the
preset writer share (a worker process gets it as its argument, like bench's worker)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentibench.errors import ConfigError

METRICS = ("accuracy", "macro_f1")


@dataclass
class TuneJob:
    model: str
    data: str
    trials: int
    study: str
    space: str  # the search space's path
    storage: str
    runs_root: str
    preset: str | None = None
    overrides: list[str] = field(default_factory=list)  # --set, applied to every trial
    sampler: str = "tpe"
    pruner: str = "median"
    metric: str = "accuracy"
    folds: int = 1  # >1: stratified k-fold on the training split (linear models' default)
    seed: int = 0
    deadline: float | None = None  # time.time() after which no new trial starts
    worker: int = 0  # index of this worker (its sampler seed is seed + worker)
    command: str = ""

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"--trials must be >= 1, got {self.trials}.")
        if self.metric not in METRICS:
            raise ConfigError(f"--metric {self.metric!r}: choose one of {', '.join(METRICS)}.")
        if self.folds < 1:
            raise ConfigError(f"--folds must be >= 1, got {self.folds}.")

    @property
    def folder(self) -> Path:
        return Path(self.runs_root) / "tune" / self.study

    def trial_dir(self, number: int) -> Path:
        return self.folder / f"trial-{number}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TuneJob:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})
