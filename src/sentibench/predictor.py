"""The seam between recipes and everything that uses a trained model.

    Predictor       what every trained model gives back: P(positive) for raw texts, and save
    TorchPredictor  a Predictor with a torch model behind texts -> batches; export, int8 and
                    bf16 (inference/export.py) work on any of them without knowing the family
    Recipe          how a family builds, trains and loads its Predictor (registry.py names one
                    per model)

A Predictor may also carry `held_out_validation_proba`: (n,) P(positive) or (n, k) class
probabilities on the validation split, which the runner takes (val_predictions.csv, the
temperature's fit, a tune trial's score) instead of predicting validation. A recipe that refit
on train + validation (the linear ones) gives the model chosen before the refit's, so that file
never comes from a model that trained on those reviews; the transformer recipe on the shared
loop gives the loop's evaluation of the kept epoch, so validation is not predicted again.

k classes: a binary Predictor gives P(positive) only. A model of k > 2 classes (a prepared
folder's label_names) also has `predict_class_proba(texts)` -> (n, k) and `label_names`;
`class_proba` is the one way the runner, metrics and predictions files read either kind (a
binary one's two columns are [1 - p, p], so its labels and files stay exactly as before).

torch appears here for type checking only, so that listing models or reading run records
never imports it; batch_logits / proba_of_batches import it when they run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import numpy as np

from sentibench.errors import SentibenchError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from sentibench.config import BaseConfig
    from sentibench.data.dataset import Splits
    from sentibench.runs import RunDir

Batch = dict[str, "torch.Tensor"]  # a model's inputs by name (input_names), on the CPU
ConfigT = TypeVar("ConfigT", bound="BaseConfig")


@runtime_checkable
class Predictor(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) for each text, shape (n,), float."""
        ...

    def save(self, directory: Path) -> None:
        """Write the model in a safe format (safetensors / npz / json; never pickle)."""
        ...


@runtime_checkable
class TorchPredictor(Predictor, Protocol):
    """A Predictor whose model is a torch module fed by one text -> batch pipeline.

    Its own predict_proba goes through batches() too (see proba_of_batches), so an export that
    swaps the module keeps the encoding, truncation and batch order of the original.
    """

    @property
    def input_names(self) -> tuple[str, ...]:
        """The names of a batch's tensors, in the order of the exported module's arguments."""
        ...

    @property
    def dynamic_axes(self) -> Mapping[str, Mapping[int, str]]:
        """ONNX: per input, its axes that vary between batches ({0: "batch", 1: "tokens"})."""
        ...

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, Batch]]:
        """(row indices into `texts`, CPU tensors by input name): length-sorted, each batch
        padded only to its longest member (dynamic padding)."""
        ...

    def export_module(self) -> nn.Module:
        """A CPU copy of the model in eval mode whose forward(**batch) returns logits (n, k),
        k = 2 for a binary model (LoRA adapters merged into the weights), to quantize or
        export."""
        ...


class Recipe(Protocol[ConfigT]):
    """A family's recipe; `Recipe` alone is Recipe[Any] (registry.ModelSpec.load_recipe)."""

    @property
    def config_cls(self) -> type[ConfigT]:
        """Its dataclass config (presets, --set and the run record's config.json fill it)."""
        ...

    def train(self, config: ConfigT, splits: Splits, run: RunDir | None) -> Predictor:
        """Fit on splits.train (choosing epochs / C on splits.validation); the test split is
        never read here. `run` receives the log and history (None: write nothing)."""
        ...

    def load(self, config: ConfigT, model_dir: Path) -> Predictor:
        """Rebuild what train returned and saved, from a run's model/ folder."""
        ...


def batch_logits(
    batches: Iterable[tuple[np.ndarray, Batch]],
    n: int,
    logits_of: Callable[[Batch], torch.Tensor],
    num_labels: int = 2,
) -> np.ndarray:
    """(n, k) float32 logits in the texts' order, from length-sorted batches (k: the model's
    output width; num_labels when there are no texts); `logits_of` runs a model on one batch (its
    device and precision are its own business)."""
    import torch

    out: np.ndarray | None = None
    with torch.no_grad():
        for indices, batch in batches:
            logits = logits_of(batch).float().cpu().numpy()
            if out is None:
                out = np.zeros((n, logits.shape[1]), dtype=np.float32)
            out[indices] = logits
    return np.zeros((n, num_labels), dtype=np.float32) if out is None else out


def positive_proba(logits: np.ndarray) -> np.ndarray:
    """P(positive), float64, from (n, 2) logits (softmax in float32, as the model computed)."""
    import torch

    if logits.shape[1] != 2:  # a k-class model: softmax_proba
        raise ValueError(f"P(positive) needs two logits per text, got {logits.shape[1]}")

    return torch.softmax(torch.from_numpy(logits), dim=1)[:, 1].double().numpy()


def softmax_proba(logits: np.ndarray) -> np.ndarray:
    """(n, k) class probabilities, float64, from (n, k) logits (softmax in float32, as the
    model computed)."""
    import torch

    return torch.softmax(torch.from_numpy(logits), dim=1).double().numpy()


def proba_of_batches(
    batches: Iterable[tuple[np.ndarray, Batch]],
    n: int,
    logits_of: Callable[[Batch], torch.Tensor],
) -> np.ndarray:
    """The one batches -> probabilities loop of every TorchPredictor and of their exports:
    P(positive) (n,) of a binary model."""
    return positive_proba(batch_logits(batches, n, logits_of))


def class_proba_of_batches(
    batches: Iterable[tuple[np.ndarray, Batch]],
    n: int,
    logits_of: Callable[[Batch], torch.Tensor],
) -> np.ndarray:
    """proba_of_batches for a k-class model: the (n, k) softmax of its logits."""
    return softmax_proba(batch_logits(batches, n, logits_of))


PROBA_DECIMALS = 6  # predictions.csv keeps P(positive) to 6 decimals


def labels_from_proba(proba: np.ndarray) -> np.ndarray:
    """0/1 labels with the one 0.5 threshold (predictions.csv, predict, export, serve)."""
    return (np.asarray(proba) >= 0.5).astype(np.int64)


def binary_columns(proba: np.ndarray) -> np.ndarray:
    """(n, 2) [1 - p, p] from P(positive) (n,), float64."""
    p = np.asarray(proba, dtype=np.float64)
    return np.column_stack([1.0 - p, p])


def class_proba(predictor: Predictor, texts: Sequence[str]) -> np.ndarray:
    """(n, k) class probabilities, float64: `predict_class_proba` where the predictor has it,
    else a binary predictor's [1 - p, p]."""
    method = getattr(predictor, "predict_class_proba", None)
    if method is None:
        return binary_columns(predictor.predict_proba(texts))
    proba = np.asarray(method(texts), dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != len(texts):
        raise ValueError(f"class probabilities of shape {proba.shape} for {len(texts)} texts")
    return proba


def labels_from_class_proba(proba: np.ndarray) -> np.ndarray:
    """Label ids from (n, k) probabilities: the 0.5 threshold on column 1 for two classes (the
    binary rule, ties to positive), the argmax (first among ties) for more."""
    proba = np.asarray(proba)
    if proba.shape[1] == 2:
        return labels_from_proba(proba[:, 1])
    return proba.argmax(axis=1).astype(np.int64)


def predicted_ids(proba: np.ndarray) -> np.ndarray:
    """Label ids from either form a model answers in: P(positive) per text (n,) or class
    probabilities per text (n, k); the same rule as labels_from_proba / labels_from_class_proba."""
    proba = np.asarray(proba)
    return labels_from_proba(proba) if proba.ndim == 1 else labels_from_class_proba(proba)


def require_binary(label_names: Sequence[str]) -> None:
    """predict_proba's guard: P(positive) exists only for a two-class model."""
    if len(label_names) != 2:
        raise SentibenchError(
            f"This model has {len(label_names)} classes ({', '.join(label_names)}), so it has "
            "no P(positive); use sentibench.predictor.class_proba(model, texts) for its class "
            "probabilities."
        )
