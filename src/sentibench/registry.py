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
              "sentibench.recipes.linear:TFIDF_LR"),
    ModelSpec("nbsvm", "linear", "NB-SVM (Wang & Manning 2012): NB log-count-ratio scaled "
              "binary 1-3-grams + linear classifier", "sentibench.recipes.linear:NBSVM"),
    ModelSpec("cnn", "classic", "Kim CNN: convolutions of widths 3/4/5, max over time",
              "sentibench.recipes.classic:CNN_RECIPE", 0.77256),
    ModelSpec("lstm", "classic", "bidirectional LSTM, length-aware (never reads padding)",
              "sentibench.recipes.classic:LSTM_RECIPE", 0.5),
    ModelSpec("gru", "classic", "bidirectional GRU, length-aware (never reads padding)",
              "sentibench.recipes.classic:GRU_RECIPE", 0.76368),
    ModelSpec("attention_lstm", "classic", "BiLSTM + additive attention over time (masked)",
              "sentibench.recipes.classic:ATTENTION_LSTM_RECIPE", 0.86168),
    ModelSpec("capsule_lstm", "classic", "BiLSTM + capsules with dynamic routing (Sabour 2017)",
              "sentibench.recipes.classic:CAPSULE_LSTM_RECIPE", 0.5),
    ModelSpec("cnnlstm", "classic", "convolution over time, then a BiLSTM over its steps",
              "sentibench.recipes.classic:CNNLSTM_RECIPE", 0.83648),
    ModelSpec("transformer", "classic", "transformer encoder from scratch, masked mean pooling",
              "sentibench.recipes.classic:TRANSFORMER_RECIPE", 0.83208),
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
