"""The recipe shared by the seven classic nets: words -> vectors -> one architecture -> the loop.

    train split -> vocabulary (train only) -> aligned word vectors (coverage logged)
    -> ids, truncated to max_len (head or head+tail) -> length-bucketed batches
    -> the architecture module's build(...) -> train/loop.py -> ClassicPredictor

An architecture module (nn/cnn.py, rnn.py, ...) gives `Config` (its hyperparameters) and
`build(config, vectors, pad_index, freeze_embeddings, n_classes=2) -> nn.Module` whose
forward(ids, lengths) returns logits (B, n_classes) and whose `embedding` is the nn.Embedding
(n_classes is passed only for data of k > 2 classes). Everything else is here, once:
a registry line naming the module (ModelSpec(..., module="sentibench.nn.cnn")) is a model.
The model's own Config sits under the `model` key: `--set model.hidden=128`, `[model]` in TOML.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import torch
from accelerate import PartialState
from safetensors import safe_open
from torch import nn

from sentibench.config import BaseConfig, apply_values, to_dict
from sentibench.data.batching import (
    encode_texts,
    encode_tokens,
    evaluation_batches,
    training_batches,
)
from sentibench.data.dataset import Splits
from sentibench.data.text import tokenize
from sentibench.data.vectors import align, check_vectors_source
from sentibench.data.vocab import PAD_INDEX, Vocabulary
from sentibench.errors import ConfigError, DataError
from sentibench.labels import BINARY_LABELS
from sentibench.predictor import (
    Batch,
    binary_columns,
    class_proba_of_batches,
    proba_of_batches,
    require_binary,
)
from sentibench.registry import ModelSpec
from sentibench.runs import RunDir, atomic_write_json
from sentibench.train.checkpoint import load_weights, save_weights
from sentibench.train.loop import LoopConfig, train_loop


@dataclass
class ClassicConfig(BaseConfig):
    """Training fields shared by every classic net (the architecture's own are under `model`)."""

    vectors: str = field(
        default="glove-6b-50d",
        metadata={
            "help": "glove-6b-50d (offline package), glove-6b-100d (npm, converted once), "
            "a GloVe/word2vec file path, or none; the embedding size follows the vectors"
        },
    )
    embed_dim: int = field(default=100, metadata={"help": "vector size when vectors = none"})
    freeze_embeddings: bool = field(
        default=False, metadata={"help": "keep the word vectors fixed (the seed froze them)"}
    )
    embed_lr: float | None = field(
        default=None, metadata={"help": "learning rate of the word vectors; unset: same as lr"}
    )
    min_freq: int = field(default=2, metadata={"help": "training count a word needs to get an id"})
    max_vocab: int = field(default=50_000, metadata={"help": "most words kept; 0: no limit"})
    max_len: int = field(default=256, metadata={"help": "tokens kept per review"})
    truncation: Literal["head", "head_tail"] = field(
        default="head_tail",
        metadata={"help": "head: first max_len tokens; head_tail: also the end (the verdict)"},
    )
    head_tokens: int = field(
        default=64, metadata={"help": "head_tail: tokens kept from the start, rest from the end"}
    )
    batch_size: int = field(default=64, metadata={"help": "reviews per training batch"})
    eval_batch_size: int = field(default=256, metadata={"help": "reviews per prediction batch"})
    bucket: bool = field(
        default=True, metadata={"help": "batch reviews of similar length (less padding)"}
    )
    pad_to_max_len: bool = field(
        default=False, metadata={"help": "pad every batch to max_len (the naive baseline)"}
    )
    epochs: int = field(default=5, metadata={"help": "most epochs (early stopping may end sooner)"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW decoupled weight decay"})
    warmup_ratio: float = field(default=0.0, metadata={"help": "share of steps of linear warmup"})
    clip_norm: float = field(default=1.0, metadata={"help": "gradient norm clip; 0: off"})
    patience: int = field(
        default=2, metadata={"help": "epochs without a better val accuracy before stopping; 0: off"}
    )
    grad_accum: int = field(default=1, metadata={"help": "batches per optimizer step"})
    mixed_precision: Literal["no", "bf16", "fp16"] = field(
        default="no", metadata={"help": "autocast precision on CUDA (fp32 elsewhere)"}
    )
    deterministic: bool = field(
        default=False, metadata={"help": "deterministic torch algorithms (slower on GPU)"}
    )
    collapse_patience: int = field(
        default=2, metadata={"help": "epochs that may predict one class before it is a collapse"}
    )
    require_learning: bool = field(
        default=True,
        metadata={"help": "end-of-training checks: a loss far above chance or a validation "
                  "accuracy not above the majority rate (95% interval) is a collapse"},
    )  # fmt: skip
    min_vector_coverage: float = field(
        default=0.05,
        metadata={"help": "share of training tokens the word vectors must cover, else refused"},
    )
    if TYPE_CHECKING:  # the field each ClassicRecipe.config_cls adds: the architecture's Config
        model: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("embed_dim", "min_freq", "max_len", "batch_size", "eval_batch_size",
                     "epochs", "grad_accum"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f"Config key '{name}' must be >= 1, got {getattr(self, name)}.")
        if self.truncation == "head_tail" and not 0 < self.head_tokens < self.max_len:
            raise ConfigError(
                f"Config key 'head_tokens' must be between 1 and max_len - 1 ({self.max_len - 1}) "
                f"for head_tail truncation, got {self.head_tokens}."
            )
        if self.lr <= 0 or (self.embed_lr is not None and self.embed_lr < 0):
            raise ConfigError(
                f"Learning rates must be positive, got lr={self.lr}, embed_lr={self.embed_lr}."
            )

    def check_before_run(self) -> None:
        check_vectors_source(self.vectors)


def loop_config(config: ClassicConfig) -> LoopConfig:
    group_lr = {} if config.embed_lr is None else {"embedding": config.embed_lr}
    return LoopConfig.from_config(config, group_lr=group_lr)


class ClassicPredictor:
    """A trained classic net with its vocabulary: a TorchPredictor (ids, lengths -> logits)."""

    input_names: tuple[str, ...] = ("ids", "lengths")
    dynamic_axes = {"ids": {0: "batch", 1: "tokens"}, "lengths": {0: "batch"}}

    def __init__(
        self,
        config: ClassicConfig,
        vocab: Vocabulary,
        model: nn.Module,
        info: dict[str, Any] | None = None,
        label_names: tuple[str, ...] = BINARY_LABELS,
    ) -> None:
        self.config = config
        self.vocab = vocab
        self.model = model.eval()
        self.info = info or {}  # vocabulary size and vector coverage, for the run record
        self.label_names = tuple(label_names)  # one logit per name
        self.n_parameters = sum(p.numel() for p in model.parameters())
        self.n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, Batch]]:
        c = self.config
        encoded = encode_texts(texts, self.vocab, c.max_len, c.truncation, c.head_tokens)
        batches = evaluation_batches(encoded, None, c.eval_batch_size)
        for indices, batch in zip(batches.index_batches, batches, strict=True):
            yield indices, {name: batch[name] for name in self.input_names}

    def _logits_of(self) -> Any:  # Callable[[Batch], torch.Tensor]
        device = next(self.model.parameters()).device
        self.model.eval()

        def logits_of(batch: Batch) -> torch.Tensor:
            return self.model(**{name: tensor.to(device) for name, tensor in batch.items()})

        return logits_of

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        require_binary(self.label_names)
        return proba_of_batches(self.batches(texts), len(texts), self._logits_of())

    def predict_class_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) class probabilities in label_names order ([1 - p, p] for a binary model)."""
        if len(self.label_names) == 2:
            return binary_columns(self.predict_proba(texts))
        return class_proba_of_batches(self.batches(texts), len(texts), self._logits_of())

    def export_module(self) -> nn.Module:
        return copy.deepcopy(self.model).cpu().eval()

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.vocab.save(directory / "vocab.json")
        atomic_write_json(directory / "config.json", to_dict(self.config))
        dim = cast(nn.Embedding, self.model.embedding).embedding_dim
        metadata = {"vocab_size": str(len(self.vocab)), "embed_dim": str(dim)}
        if len(self.label_names) != 2:  # a binary model's weights carry none, as before
            metadata["label_names"] = json.dumps(list(self.label_names))
        save_weights(self.model, directory / "model.safetensors", metadata)


class ClassicRecipe:
    """Recipe (see registry.py) for one architecture module, e.g. ClassicRecipe("cnn",
    "sentibench.nn.cnn"), built from a registry line by recipe_for; `model_defaults` override
    the module's Config defaults (the rnn module serves lstm and gru through its `cell` field)."""

    def __init__(self, name: str, arch_module: str, **model_defaults: Any) -> None:
        self.name = name
        self.arch_module = arch_module
        self.model_defaults = model_defaults

    @cached_property
    def arch(self) -> ModuleType:
        return importlib.import_module(self.arch_module)

    @cached_property
    def config_cls(self) -> type[ClassicConfig]:
        arch_config = self.arch.Config
        defaults = self.model_defaults

        def default_model() -> Any:
            return apply_values(arch_config(), defaults)

        return dataclasses.make_dataclass(
            f"{self.name.title().replace('_', '')}Config",
            [("model", arch_config, field(default_factory=default_model,
                                           metadata={"help": "architecture hyperparameters"}))],
            bases=(ClassicConfig,),
        )  # fmt: skip

    def build_model(
        self, config: ClassicConfig, vectors: torch.Tensor, n_classes: int = 2
    ) -> nn.Module:
        max_positions = getattr(config.model, "max_positions", None)
        if max_positions is not None and config.max_len > max_positions:
            raise ConfigError(
                f"max_len {config.max_len} exceeds model.max_positions {max_positions}; "
                "raise model.max_positions or lower max_len."
            )
        arguments = (config.model, vectors, PAD_INDEX, config.freeze_embeddings)
        if n_classes == 2:  # binary: the four arguments every architecture module takes
            return self.arch.build(*arguments)
        return self.arch.build(*arguments, n_classes=n_classes)

    def train(self, config: ClassicConfig, splits: Splits, run: RunDir | None) -> ClassicPredictor:
        train_tokens = [tokenize(text) for text in splits.train["text"]]
        vocab = Vocabulary.build(train_tokens, config.min_freq, config.max_vocab or None)
        vectors = align(vocab, config.vectors, seed=config.seed, dim=config.embed_dim,
                        min_coverage=config.min_vector_coverage)  # fmt: skip
        if run is not None:
            run.log(f"vocabulary of {len(vocab):,} ids from the training split; "
                    f"{vectors.describe()}")  # fmt: skip

        c = config
        train_ids = encode_tokens(train_tokens, vocab, c.max_len, c.truncation, c.head_tokens)
        val_ids = encode_texts(splits.validation["text"], vocab, c.max_len, c.truncation,
                               c.head_tokens)  # fmt: skip
        train_labels = splits.train["label"].to_numpy(np.int64)
        pad_to = c.max_len if c.pad_to_max_len else None

        def train_batches(epoch: int):  # noqa: ANN202 - data.batching.Batches
            return training_batches(
                train_ids, train_labels, c.batch_size, c.seed, epoch, c.bucket, pad_to
            )

        names = splits.label_names
        model = self.build_model(config, torch.from_numpy(vectors.matrix), len(names))
        result = train_loop(
            model,
            train_batches,
            evaluation_batches(val_ids, splits.validation["label"].to_numpy(np.int64),
                               c.eval_batch_size),
            loop_config(config),
            run,
        )  # fmt: skip
        info = {**vectors.summary(), "best_epoch": result.best_epoch,
                "best_val_accuracy": result.best_accuracy}  # fmt: skip
        return ClassicPredictor(config, vocab, result.model, info, names)

    def load(self, config: ClassicConfig, model_dir: Path) -> ClassicPredictor:
        model_dir = Path(model_dir)
        vocab = Vocabulary.load(model_dir / "vocab.json")
        weights = model_dir / "model.safetensors"
        if not weights.is_file():
            raise DataError(f"{weights} is missing; the run's model was not saved completely.")
        with safe_open(str(weights), framework="pt") as handle:
            metadata = handle.metadata()
        dim = int(metadata["embed_dim"])
        names = tuple(json.loads(metadata["label_names"])) if "label_names" in metadata else None
        names = names or BINARY_LABELS  # weights saved without label names are binary
        model = self.build_model(config, torch.zeros(len(vocab), dim), len(names))
        load_weights(model, weights)
        return ClassicPredictor(config, vocab, model.to(PartialState().device), None, names)


@functools.cache  # one recipe per spec: its config_cls is then one class (configs compare equal)
def recipe_for(spec: ModelSpec) -> ClassicRecipe:
    """The recipe of a classic registry entry: the nn module it names, with its model defaults
    (registry.CLASSIC_RECIPE points here; ModelSpec.load_recipe calls it with the spec)."""
    if spec.module is None:
        raise ConfigError(f"Model '{spec.name}' names no nn module; classic nets need module=.")
    return ClassicRecipe(spec.name, spec.module, **spec.model_defaults)
