"""The ensemble's config, its predictor and the registry's recipe for it.

An ensemble's model/ holds ensemble.json only (method, weights, and its members by their path
from the ensemble's own folder, with the identity each had when it was built); loading it
loads each member through the registry, as `predict` and `serve` load any run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from sentibench.config import BaseConfig
from sentibench.errors import ConfigError, SentibenchError
from sentibench.predictor import PROBA_DECIMALS, Predictor
from sentibench.recipes.ensemble.combine import METHODS, combine
from sentibench.runs import atomic_write_json, load_predictor, load_run

FORMAT = "sentibench-ensemble"
FORMAT_VERSION = 1
BUILT_BY_COMMAND = (
    "An ensemble is built from finished runs with `sentibench ensemble --runs R1 R2 ... "
    "--method mean|vote|stack|greedy --out DIR`, not trained with `train`."
)
IDENTITY = ("name", "model", "created", "sha256")  # what a member must still be at load


@dataclass
class EnsembleConfig(BaseConfig):
    method: Literal["mean", "vote", "stack", "greedy"] = field(
        default="mean", metadata={"help": "mean | vote | stack | greedy"}
    )
    members: list[Any] = field(
        default_factory=list,
        metadata={"help": "member runs: path (from the ensemble's folder), name, model, created, "
                  "data sha256"},
    )  # fmt: skip
    rounds: int = field(default=25, metadata={"help": "greedy: most forward-selection rounds"})
    C: float = field(
        default=1.0, metadata={"help": "stack: inverse L2 strength of the logistic regression"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        if self.rounds < 1:
            raise ConfigError(f"rounds must be >= 1, got {self.rounds}.")
        if not self.C > 0:
            raise ConfigError(f"C must be > 0, got {self.C}.")

    # fitted numbers, kept in metrics.json and model/ensemble.json since; ensembles built
    # before that recorded them in the config
    retired_keys: ClassVar[tuple[str, ...]] = ("weights", "intercept")

    def check_before_run(self) -> None:
        raise ConfigError(BUILT_BY_COMMAND)  # before `train ensemble` makes a run folder


@dataclass(frozen=True)
class EnsembleSpec:
    """What model/ensemble.json holds: a Predictor's save() without the members loaded."""

    method: str
    members: list[dict[str, Any]]
    weights: list[float]
    intercept: float = 0.0

    def save(self, directory: Path) -> None:
        atomic_write_json(Path(directory) / "ensemble.json", {
            "format": FORMAT, "version": FORMAT_VERSION, "method": self.method,
            "members": self.members, "weights": self.weights, "intercept": self.intercept,
        })  # fmt: skip

    @classmethod
    def read(cls, directory: Path) -> EnsembleSpec:
        path = Path(directory) / "ensemble.json"
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored.get("format") != FORMAT or stored.get("version") != FORMAT_VERSION:
                raise ValueError("another format")
            members, weights = list(stored["members"]), [float(w) for w in stored["weights"]]
            return cls(stored["method"], members, weights, float(stored["intercept"]))
        except FileNotFoundError:
            raise SentibenchError(
                f"{path} is missing; the ensemble's model is incomplete."
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SentibenchError(
                f"{path} is not a {FORMAT} v{FORMAT_VERSION} file ({exc}); build it again."
            ) from None


class EnsemblePredictor:
    """Members' P(positive), rounded as predictions.csv records them, combined as built."""

    def __init__(self, spec: EnsembleSpec, members: Sequence[Predictor]) -> None:
        self.spec = spec
        self.members = list(members)
        # members greedy never picked weigh 0: not loaded, not run
        self.used = [i for i, w in enumerate(spec.weights) if w != 0]
        assert len(self.used) == len(self.members)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        proba = np.column_stack(
            [np.asarray(m.predict_proba(texts), dtype=np.float64) for m in self.members]
        ).round(PROBA_DECIMALS)
        weights = [self.spec.weights[i] for i in self.used]
        return combine(self.spec.method, proba, weights, self.spec.intercept)

    def save(self, directory: Path) -> None:
        self.spec.save(directory)


def load_member(run_dir: Path, member: dict[str, Any]) -> Predictor:
    """A member's predictor, checked to be the run the ensemble was built from."""
    path = run_dir / member["path"]
    if not (path / "config.json").is_file():
        raise SentibenchError(
            f"Member {member['name']} of the ensemble {run_dir} is not at {path}; an ensemble "
            "finds its members by their path from its own folder, so move or copy them together."
        )
    config = load_run(path).config
    now = {"name": path.name, "model": config.get("model"), "created": config.get("created"),
           "sha256": (config.get("data") or {}).get("sha256")}  # fmt: skip
    changed = [key for key in IDENTITY if now[key] != member.get(key)]
    if changed:
        raise SentibenchError(
            f"Member {path} of the ensemble {run_dir} is not the run it was built from (its "
            f"{', '.join(changed)} changed); build the ensemble again."
        )
    return load_predictor(path)


@dataclass(frozen=True)
class EnsembleRecipe:
    """A predictor.Recipe whose `train` is `sentibench ensemble` (build.py)."""

    config_cls: type[EnsembleConfig] = EnsembleConfig

    def train(self, config: EnsembleConfig, splits: Any, run: Any) -> Predictor:
        raise ConfigError(BUILT_BY_COMMAND)

    def load(self, config: EnsembleConfig, model_dir: Path) -> EnsemblePredictor:
        spec = EnsembleSpec.read(model_dir)
        run_dir = Path(model_dir).parent
        used = [m for m, w in zip(spec.members, spec.weights, strict=True) if w != 0]
        return EnsemblePredictor(spec, [load_member(run_dir, member) for member in used])


RECIPE = EnsembleRecipe()
