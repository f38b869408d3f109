"""The one registry: model name -> spec. `sentibench models` prints it.

A spec points at a *recipe* by import path so that listing models never imports torch or
transformers. A recipe is any object with:

    config_cls: type[BaseConfig]                                # its dataclass config
    train(config, splits, run) -> Predictor                     # fit on splits.train / .validation
    load(config, model_dir: Path) -> Predictor                  # rebuild from run_dir/"model"

Adding a model = one file in models/ + one line below + one preset in configs/.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentibench.errors import ConfigError

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # linear | classic | transformer
    summary: str
    recipe: str  # "module:attribute"
    seed_accuracy: float | None = None  # the seed project's published accuracy, for reports

    def load_recipe(self) -> Any:
        module_name, _, attribute = self.recipe.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"Model '{self.name}' needs the Python package '{exc.name}'; "
                "install it (e.g. pip install 'sentibench[transformers]')."
            ) from None
        return getattr(module, attribute)

    def presets(self) -> list[str]:
        return sorted(p.name.split(".")[1] for p in CONFIG_DIR.glob(f"{self.name}.*.toml"))

    def preset_path(self, preset: str) -> Path:
        return CONFIG_DIR / f"{self.name}.{preset}.toml"


_SPECS = [
    ModelSpec("tfidf_lr", "linear", "word 1-2-gram TF-IDF + logistic regression",
              "sentibench.models.linear:TFIDF_LR"),
    ModelSpec("nbsvm", "linear", "NB-SVM (Wang & Manning 2012): NB log-count-ratio scaled "
              "binary 1-3-grams + linear classifier", "sentibench.models.linear:NBSVM"),
]  # fmt: skip

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def register(spec: ModelSpec) -> None:
    """Add a spec (used by model families that live in optional modules, and by tests)."""
    REGISTRY[spec.name] = spec


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"Unknown model '{name}'; known models: {known}.") from None
