"""The one registry: model name -> spec. `sentibench models` prints it.

A spec points at a *recipe* (a sentibench.predictor.Recipe: config_cls, train, load) by import
path, so that listing models never imports torch or transformers.

Adding a classic net = one file in nn/ (an nn.Module, its Config and build(...), as cnn.py)
+ one line below naming it (`module=`) + its presets in configs/ (`cpu` and `quick`, see
tests/test_registry.py); the tests find it here and run their whole battery on it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentibench.errors import ConfigError

if TYPE_CHECKING:  # numpy: the registry is read by `sentibench models`, which imports little
    from sentibench.predictor import Recipe

CONFIG_DIR = Path(__file__).parent / "configs"
LOCAL_CONFIG_DIR = Path("configs")  # of the current directory: presets a tune wrote
CLASSIC_RECIPE = "sentibench.recipes.classic:recipe_for"  # the one recipe of every classic net


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # linear | classic | transformer | ensemble
    summary: str
    recipe: str  # "module:attribute": a Recipe, or with `module` set a function spec -> Recipe
    published_accuracy: float | None = None  # the original project's accuracy, for reports
    module: str | None = None  # classic: the nn module (Config + build) its recipe trains
    # over the module's Config defaults (the rnn module serves lstm and gru through `cell`)
    model_defaults: dict[str, Any] = field(default_factory=dict, hash=False)
    preset_dir: Path = CONFIG_DIR  # where its presets <name>.<preset>.toml live

    def load_recipe(self) -> Recipe:
        module_name, _, attribute = self.recipe.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"Model '{self.name}' needs the Python package '{exc.name}'; "
                "install it (e.g. pip install 'sentibench[transformers]')."
            ) from None
        target = getattr(module, attribute)
        return target(self) if self.module is not None else target

    def presets(self) -> list[str]:
        return sorted(p.name.split(".")[1] for p in self.preset_dir.glob(f"{self.name}.*.toml"))

    def preset_path(self, preset: str) -> Path:
        """A shipped preset; else one `tune --write-preset` wrote to ./configs/; a name with a
        slash or ending in .toml is a file path."""
        if "/" in preset or preset.endswith(".toml"):
            return Path(preset)
        shipped = self.preset_dir / f"{self.name}.{preset}.toml"
        local = LOCAL_CONFIG_DIR / f"{self.name}.{preset}.toml"
        return local if not shipped.exists() and local.exists() else shipped


_SPECS = [
    ModelSpec("tfidf_lr", "linear", "word 1-2-gram TF-IDF + logistic regression",
              "sentibench.recipes.linear:TFIDF_LR"),
    ModelSpec("nbsvm", "linear", "NB-SVM (Wang & Manning 2012): NB log-count-ratio scaled "
              "binary 1-3-grams + linear classifier", "sentibench.recipes.linear:NBSVM"),
    ModelSpec("cnn", "classic", "Kim CNN: convolutions of widths 3/4/5, max over time",
              CLASSIC_RECIPE, 0.77256, module="sentibench.nn.cnn"),
    ModelSpec("lstm", "classic", "bidirectional LSTM, length-aware (never reads padding)",
              CLASSIC_RECIPE, 0.5, module="sentibench.nn.rnn", model_defaults={"cell": "lstm"}),
    ModelSpec("gru", "classic", "bidirectional GRU, length-aware (never reads padding)",
              CLASSIC_RECIPE, 0.76368, module="sentibench.nn.rnn", model_defaults={"cell": "gru"}),
    ModelSpec("attention_lstm", "classic", "BiLSTM + additive attention over time (masked)",
              CLASSIC_RECIPE, 0.86168, module="sentibench.nn.attention_lstm"),
    ModelSpec("capsule_lstm", "classic", "BiLSTM + capsules with dynamic routing (Sabour 2017)",
              CLASSIC_RECIPE, 0.5, module="sentibench.nn.capsule_lstm"),
    ModelSpec("cnnlstm", "classic", "convolution over time, then a BiLSTM over its steps",
              CLASSIC_RECIPE, 0.83648, module="sentibench.nn.cnnlstm"),
    ModelSpec("transformer", "classic", "transformer encoder from scratch, masked mean pooling",
              CLASSIC_RECIPE, 0.83208, module="sentibench.nn.transformer_encoder"),
    ModelSpec("bert_native", "transformer", "bert-base-uncased, full, sentibench loop",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.90088),
    ModelSpec("bert_trainer", "transformer", "bert-base-uncased, full, HF Trainer",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.93664),
    ModelSpec("bert_scratch", "transformer", "pretrained BERT + own pooled Linear head",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.93352),
    ModelSpec("distilbert_native", "transformer", "distilbert-base, full, sentibench loop",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.91252),
    ModelSpec("distilbert_trainer", "transformer", "distilbert-base, full, HF Trainer",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.92828),
    ModelSpec("roberta_trainer", "transformer", "roberta-base, full, HF Trainer",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.95404),
    ModelSpec("deberta_lora", "transformer", "deberta-v3-base, LoRA r=16 + head",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.95364),
    ModelSpec("deberta_ptuning", "transformer", "deberta-v3-base, P-tuning + head",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.95776),
    ModelSpec("deberta_prompt", "transformer", "deberta-v3-base, prompt tuning + head",
              "sentibench.recipes.transformer.recipe:RECIPE", 0.51532),
    ModelSpec("deberta_prefix", "transformer", "deberta-v3-base, own prefix tuning + head",
              "sentibench.recipes.transformer.recipe:RECIPE"),
    ModelSpec("minilm_full", "transformer", "bundled MiniLM-L6 (offline), full",
              "sentibench.recipes.transformer.recipe:RECIPE"),
    ModelSpec("minilm_lora", "transformer", "bundled MiniLM-L6 (offline), LoRA + head",
              "sentibench.recipes.transformer.recipe:RECIPE"),
    ModelSpec("minilm_prefix", "transformer", "bundled MiniLM-L6, prefix tuning + head",
              "sentibench.recipes.transformer.recipe:RECIPE"),
    ModelSpec("minilm_ptuning", "transformer", "bundled MiniLM-L6, P-tuning + head",
              "sentibench.recipes.transformer.recipe:RECIPE"),
    ModelSpec("minilm_prompt", "transformer", "bundled MiniLM-L6, prompt tuning + head",
              "sentibench.recipes.transformer.recipe:RECIPE"),
    # built from finished runs by `sentibench ensemble`, never by `train`; loads its members
    ModelSpec("ensemble", "ensemble", "runs combined: mean, vote, stack or greedy selection",
              "sentibench.recipes.ensemble.recipe:RECIPE"),
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
