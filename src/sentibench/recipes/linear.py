"""The linear baselines: TF-IDF + logistic regression, and NB-SVM (Wang & Manning 2012).

Both are "n-gram counts -> per-feature weighting -> logistic regression" and differ only in the
weighting, so they share one featuriser (ngrams.py), one predictor and one save format:

    tfidf_lr  1-2-gram counts, tf -> 1 + log(tf), x idf, rows L2-normalised
    nbsvm     1-3-gram presence (0/1), x the NB log-count ratio r = log((p/|p|1) / (q/|q|1)),
              p / q = alpha + feature counts over positive / negative reviews, rows
              L2-normalised; then logistic regression: the NB-LR form of NB-SVM used by
              Mesnil et al. (2014), whose trigram reproduction reached 0.9187 on IMDB (they
              did not normalise rows; `normalize=false, C=1` is their model).

Training: fit on the train split, report validation accuracy (optionally choosing C from a
grid there), then by default refit on train + validation with that C, as the published
baselines trained on all 25k labelled reviews. The test split is never seen here.

k > 2 classes (the data's label_names): tfidf_lr fits a multinomial (softmax) logistic
regression (lbfgs) on the same features; nbsvm goes one-vs-rest as Wang & Manning describe for
more than two classes: class c has its own log-count ratio (c against the rest), its own
weighted features and its own binary regression, and the k sigmoids are normalised to sum to 1
(as scikit-learn's one-vs-rest does). A binary model is exactly what it was, saved as v1.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from sentibench.config import BaseConfig
from sentibench.data.dataset import Splits
from sentibench.data.ngrams import NgramCounter, TokenizedCorpus, tokenize_corpus
from sentibench.errors import ConfigError, SentibenchError
from sentibench.labels import BINARY_LABELS
from sentibench.predictor import binary_columns, predicted_ids, require_binary
from sentibench.runs import RunDir, atomic_path, atomic_write_json

FORMAT = "sentibench-linear"
FORMAT_VERSION = 1  # a binary model's files; a k-class model's are version 2 (label_names)
CLASSES_VERSION = 2


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------
REFIT_REFUSED = (
    "Linear models choose C on the validation split, so val_fraction must be above 0; "
    "refit = true then fits the chosen C on train + validation."
)


@dataclass
class LinearConfig(BaseConfig):
    """Fields both linear baselines share; defaults are overridden per model below."""

    ngram_max: int = field(default=2, metadata={"help": "longest word n-gram (1-3)"})
    min_df: int = field(
        default=2, metadata={"help": "drop n-grams found in fewer training reviews than this"}
    )
    normalize: bool = field(
        default=True, metadata={"help": "scale each review's feature vector to unit L2 norm"}
    )
    C: float = field(default=1.0, metadata={"help": "inverse L2 strength of logistic regression"})
    C_grid: list[float] = field(
        default_factory=list,
        metadata={"help": "if not empty, choose C from these by validation accuracy"},
    )
    refit: bool = field(
        default=True,
        metadata={"help": "after validation, refit on train + validation with the chosen C"},
    )
    max_iter: int = field(default=1000, metadata={"help": "liblinear iteration limit"})
    # 1e-3 gave the same validation predictions as scikit-learn's 1e-4 here, ~25% faster
    tol: float = field(default=1e-3, metadata={"help": "liblinear stopping tolerance"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.val_fraction == 0:
            raise ConfigError(REFIT_REFUSED)
        if self.calibrate != "none" and self.refit:  # its validation reviews are then seen
            raise ConfigError(
                f"calibrate = {self.calibrate} is fitted on validation reviews the model never "
                "trained on, and refit = true trains on them; set refit = false to calibrate."
            )
        # codes of n-grams are int64: V**3 fits for vocabularies up to 2M tokens
        if not 1 <= self.ngram_max <= 3:
            raise ConfigError(f"ngram_max must be 1, 2 or 3, got {self.ngram_max}.")
        if self.min_df < 1:
            raise ConfigError(f"min_df must be >= 1, got {self.min_df}.")
        for value in [self.C, *self.C_grid]:
            if not value > 0:
                raise ConfigError(f"C and C_grid values must be > 0, got {value}.")
        if self.max_iter < 1:
            raise ConfigError(f"max_iter must be >= 1, got {self.max_iter}.")
        if not self.tol > 0:
            raise ConfigError(f"tol must be > 0, got {self.tol}.")


@dataclass
class TfidfLRConfig(LinearConfig):
    # 4-fold CV on the official train set: C from 16 to 256 within 0.001; 16 fits fastest
    C: float = field(default=16.0, metadata={"help": "inverse L2 strength of logistic regression"})
    sublinear_tf: bool = field(default=True, metadata={"help": "use 1 + log(tf) instead of tf"})


@dataclass
class NBSVMConfig(LinearConfig):
    ngram_max: int = field(default=3, metadata={"help": "longest word n-gram (1-3)"})
    # Mesnil et al. used unnormalised features and C=1: normalize=false, C=1 gives their model.
    # 5-fold CV on the official train set: unit-norm rows with C=300 +0.002 over that.
    C: float = field(default=300.0, metadata={"help": "inverse L2 strength of logistic regression"})
    alpha: float = field(default=1.0, metadata={"help": "NB smoothing added to every count"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.alpha > 0:
            raise ConfigError(f"alpha must be > 0, got {self.alpha}.")


# --------------------------------------------------------------------------------------------
# Feature weighting and the predictor both models share
# --------------------------------------------------------------------------------------------
@dataclass
class Weighting:
    """counts -> tf transform -> per-feature scale -> optional row L2 norm; a (k, features)
    scale (nbsvm one-vs-rest) weights the counts once per class."""

    tf: Literal["raw", "sublinear", "binary"]
    scale: np.ndarray  # idf (tfidf_lr) or NB log-count ratio (nbsvm), one per feature
    l2: bool

    @property
    def per_class(self) -> bool:
        return self.scale.ndim == 2

    def apply(self, counts: sp.csr_matrix, scale: np.ndarray | None = None) -> sp.csr_matrix:
        """Weighted copy of `counts` (for tf-idf: TfidfTransformer.transform's arithmetic)."""
        matrix = counts.copy()
        if self.tf == "sublinear":
            np.log(matrix.data, out=matrix.data)
            matrix.data += 1.0
        elif self.tf == "binary":
            matrix.data[:] = 1.0
        matrix.data *= (self.scale if scale is None else scale)[matrix.indices]
        return normalize(matrix, copy=False) if self.l2 else matrix

    def matrices(self, counts: sp.csr_matrix) -> list[sp.csr_matrix]:
        """The weighted matrix, or one per class for a per-class scale."""
        if not self.per_class:
            return [self.apply(counts)]
        return [self.apply(counts, row) for row in self.scale]


def tfidf_weighting(
    counts: sp.csr_matrix, labels: np.ndarray, config: TfidfLRConfig, n_classes: int = 2
) -> Weighting:
    idf = TfidfTransformer(sublinear_tf=config.sublinear_tf).fit(counts).idf_
    return Weighting("sublinear" if config.sublinear_tf else "raw", idf, l2=config.normalize)


def log_count_ratio(present: sp.csr_matrix, inside: np.ndarray, alpha: float) -> np.ndarray:
    """r = log((p / |p|1) / (q / |q|1)), p / q = alpha + presence counts of the rows `inside` /
    outside (Wang & Manning 2012)."""
    p = alpha + np.asarray(present[inside].sum(axis=0)).ravel()
    q = alpha + np.asarray(present[~inside].sum(axis=0)).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())


def nb_weighting(
    counts: sp.csr_matrix, labels: np.ndarray, config: NBSVMConfig, n_classes: int = 2
) -> Weighting:
    """One ratio (positive against negative) for two classes; one per class (that class
    against the rest) for more."""
    present = counts.copy()
    present.data[:] = 1.0
    if n_classes == 2:
        ratio = log_count_ratio(present, labels == 1, config.alpha)
    else:
        ratio = np.stack([log_count_ratio(present, labels == c, config.alpha)
                          for c in range(n_classes)])  # fmt: skip
    return Weighting("binary", ratio, l2=config.normalize)


class LinearTextModel:
    """n-gram counter + weighting + logistic regression weights: a Predictor.

    Binary: coef (features,), intercept a float. k classes: coef (k, features) and intercept
    (k,), combined by a softmax (one weighting: multinomial) or by normalised sigmoids (a
    per-class weighting: one-vs-rest)."""

    def __init__(
        self,
        counter: NgramCounter,
        weighting: Weighting,
        coef: np.ndarray,
        intercept: float | np.ndarray,
        label_names: tuple[str, ...] = BINARY_LABELS,
    ) -> None:
        self.counter = counter
        self.weighting = weighting
        self.coef = coef
        self.label_names = tuple(label_names)
        self.intercept: float | np.ndarray = (
            float(intercept) if len(self.label_names) == 2 else np.asarray(intercept, np.float64)
        )
        self.n_parameters = int(coef.size) + int(np.size(self.intercept))
        # P(positive) ((n, k) class probabilities for k > 2) on validation of the model chosen
        # before a refit (predictor.py); not saved
        self.held_out_validation_proba: np.ndarray | None = None

    @property
    def binary(self) -> bool:
        return len(self.label_names) == 2

    def features(self, texts: Sequence[str] | TokenizedCorpus) -> sp.csr_matrix:
        return self.weighting.apply(self.counter.transform(texts))

    def proba_of(self, matrices: list[sp.csr_matrix]) -> np.ndarray:
        """P(positive) (n,) of a binary model, (n, k) class probabilities of a k-class one, from
        Weighting.matrices of the counts."""
        if self.binary:
            return expit(matrices[0] @ self.coef + self.intercept)
        if self.weighting.per_class:  # one-vs-rest
            scores = np.column_stack([m @ w for m, w in zip(matrices, self.coef, strict=True)])
            sigmoids = expit(scores + self.intercept)
            return sigmoids / sigmoids.sum(axis=1, keepdims=True)
        return softmax(matrices[0] @ self.coef.T + self.intercept, axis=1)

    def predict_proba(self, texts: Sequence[str] | TokenizedCorpus) -> np.ndarray:
        require_binary(self.label_names)
        return expit(self.features(texts) @ self.coef + self.intercept)

    def predict_class_proba(self, texts: Sequence[str] | TokenizedCorpus) -> np.ndarray:
        """(n, k) class probabilities in label_names order ([1 - p, p] for a binary model)."""
        if self.binary:
            return binary_columns(self.predict_proba(texts))
        return self.proba_of(self.weighting.matrices(self.counter.transform(texts)))

    def save(self, directory: Path) -> None:
        """linear.json (parameters, vocabulary) + linear.npz (arrays, allow_pickle=False)."""
        directory = Path(directory)
        counter_params, arrays = self.counter.state()
        arrays.update(scale=self.weighting.scale, coef=self.coef,
                      intercept=np.atleast_1d(np.asarray(self.intercept)))  # fmt: skip
        with atomic_path(directory / "linear.npz") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
        params = {
            "format": FORMAT, "version": FORMAT_VERSION, "counter": counter_params,
            "weighting": {"tf": self.weighting.tf, "l2": self.weighting.l2},
        }  # fmt: skip
        if not self.binary:
            params.update(version=CLASSES_VERSION, label_names=list(self.label_names))
        atomic_write_json(directory / "linear.json", params)

    @classmethod
    def load(cls, directory: Path) -> LinearTextModel:
        directory = Path(directory)
        try:
            params = json.loads((directory / "linear.json").read_text(encoding="utf-8"))
            with np.load(directory / "linear.npz", allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except FileNotFoundError as exc:
            raise SentibenchError(
                f"{exc.filename} is missing; {directory} does not hold a saved linear model."
            ) from None
        except (OSError, ValueError, zipfile.BadZipFile) as exc:  # also object arrays (pickle)
            raise SentibenchError(
                f"The linear model in {directory} cannot be read ({exc}); train it again."
            ) from None
        if (
            not isinstance(params, dict)
            or params.get("format") != FORMAT
            or params.get("version") not in (FORMAT_VERSION, CLASSES_VERSION)
        ):
            raise SentibenchError(
                f"{directory / 'linear.json'} is not a {FORMAT} v{FORMAT_VERSION} or "
                f"v{CLASSES_VERSION} model."
            )
        try:
            counter = NgramCounter.from_state(params["counter"], arrays)
            tf, l2 = params["weighting"]["tf"], params["weighting"]["l2"]
            weighting = Weighting(tf, arrays["scale"], l2)
            if params["version"] == FORMAT_VERSION:
                return cls(counter, weighting, arrays["coef"], float(arrays["intercept"][0]))
            names = tuple(params["label_names"])
            return cls(counter, weighting, arrays["coef"], arrays["intercept"], names)
        except (KeyError, IndexError, TypeError) as exc:
            raise SentibenchError(
                f"The linear model in {directory} lacks {exc}; train it again."
            ) from None


# --------------------------------------------------------------------------------------------
# Training, shared by both recipes
# --------------------------------------------------------------------------------------------
ConfigT = TypeVar("ConfigT", bound=LinearConfig)
# counts, labels, config, number of classes -> the weighting (each model's takes its own
# config class)
WeightingFn = Callable[[sp.csr_matrix, np.ndarray, ConfigT, int], Weighting]


@dataclass
class Features:
    """A fitted counter and weighting, and the weighted training matrices they produced (one,
    or one per class for a per-class weighting)."""

    counter: NgramCounter
    weighting: Weighting
    matrices: list[sp.csr_matrix]

    def model(
        self,
        C: float,
        labels: np.ndarray,
        config: LinearConfig,
        label_names: tuple[str, ...] = BINARY_LABELS,
    ) -> LinearTextModel:
        """Fit logistic regression on `matrices` with this C."""
        if len(label_names) == 2:
            coef, intercept = _liblinear(self.matrices[0], labels, C, config)
            return LinearTextModel(self.counter, self.weighting, coef, intercept)
        if self.weighting.per_class:  # one-vs-rest: class c against the rest on its features
            fits = [_liblinear(m, (labels == c).astype(np.int64), C, config)
                    for c, m in enumerate(self.matrices)]  # fmt: skip
            coefs = np.stack([coef for coef, _ in fits])
            intercepts = np.array([intercept for _, intercept in fits])
        else:  # multinomial: liblinear has no softmax loss; lbfgs is scikit-learn's default
            classifier = LogisticRegression(
                C=C, solver="lbfgs", tol=config.tol, max_iter=config.max_iter,
                random_state=config.seed,
            ).fit(self.matrices[0], labels)  # fmt: skip
            coefs, intercepts = _all_classes(classifier, len(label_names))
        return LinearTextModel(self.counter, self.weighting, coefs, intercepts, label_names)


def _liblinear(
    matrix: sp.csr_matrix, labels: np.ndarray, C: float, config: LinearConfig
) -> tuple[np.ndarray, float]:
    """A binary logistic regression's (coef, intercept)."""
    # liblinear's dual solver: fast when features (~10^6) far outnumber reviews (~10^4)
    classifier = LogisticRegression(
        C=C,
        solver="liblinear",
        dual=True,
        tol=config.tol,
        max_iter=config.max_iter,
        random_state=config.seed,
    ).fit(matrix, labels)
    return classifier.coef_.ravel(), float(classifier.intercept_[0])


def _all_classes(classifier: LogisticRegression, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(k, features) coef and (k,) intercept; a class absent from the training labels gets a
    row that can never win (scikit-learn leaves it out)."""
    seen = classifier.classes_.astype(np.int64)
    coef = np.zeros((k, classifier.coef_.shape[1]))
    intercept = np.full(k, -1e9 if len(seen) < k else 0.0)
    coef[seen], intercept[seen] = classifier.coef_, classifier.intercept_
    return coef, intercept


def fit_features(
    config: ConfigT,
    corpus: TokenizedCorpus,
    labels: np.ndarray,
    weighting_fn: WeightingFn[ConfigT],
    n_classes: int = 2,
) -> Features:
    counter = NgramCounter(config.ngram_max, config.min_df)
    counts = counter.fit_transform(corpus)
    weighting = weighting_fn(counts, labels, config, n_classes)
    return Features(counter, weighting, weighting.matrices(counts))


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].to_numpy(dtype=np.int64)


def _accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted_ids(proba) == labels))


def train_linear(
    config: ConfigT, splits: Splits, run: RunDir | None, weighting_fn: WeightingFn[ConfigT]
) -> LinearTextModel:
    """Fit on train, score C (or each C of C_grid) on validation, then refit if asked."""
    if splits.validation.empty:
        raise ConfigError(REFIT_REFUSED)
    started = time.perf_counter()
    names = tuple(splits.label_names)
    train = tokenize_corpus(splits.train["text"].tolist())
    validation = tokenize_corpus(splits.validation["text"].tolist())
    train_labels, validation_labels = _labels(splits.train), _labels(splits.validation)

    features = fit_features(config, train, train_labels, weighting_fn, len(names))
    validation_matrices = features.weighting.matrices(features.counter.transform(validation))
    grid = config.C_grid or [config.C]
    labels = np.concatenate([train_labels, validation_labels])
    # liblinear releases the GIL (sklearn/svm/_liblinear.pyx), so with a second core free the
    # validation fits run while this thread builds the refit features.
    with ThreadPoolExecutor(max_workers=1) as pool:
        fits = [pool.submit(features.model, C, train_labels, config, names) for C in grid]
        if config.refit:
            both = TokenizedCorpus.concat(train, validation)
            refit_features = fit_features(config, both, labels, weighting_fn, len(names))
        models = [fit.result() for fit in fits]

    results = {}
    for C, model in zip(grid, models, strict=True):
        proba = model.proba_of(validation_matrices)
        results[C] = (_accuracy(proba, validation_labels), model, proba)
        _log(run, f"C={C:g}: validation accuracy {results[C][0]:.4f}")
    best_C = max(results, key=lambda c: results[c][0])  # the first in grid order among ties
    accuracy, model, held_out = results[best_C]
    if run is not None:
        run.append_history({"epoch": 1, "C": best_C, "val_accuracy": accuracy,
                            "n_features": features.counter.n_features})  # fmt: skip
    if config.refit:
        model = refit_features.model(best_C, labels, config, names)
        _log(run, f"refit on train + validation ({len(labels)} reviews) with C={best_C:g}")
    model.held_out_validation_proba = held_out  # val_predictions.csv: never the refit's
    _log(run, f"trained in {time.perf_counter() - started:.1f} s; "
              f"{model.counter.n_features} n-gram features")  # fmt: skip
    return model


def _log(run: RunDir | None, message: str) -> None:
    if run is not None:
        run.log(message)


@dataclass(frozen=True)
class LinearRecipe(Generic[ConfigT]):
    """A predictor.Recipe: one config class and one weighting; the rest is shared."""

    config_cls: type[ConfigT]
    weighting_fn: WeightingFn[ConfigT]

    def train(self, config: ConfigT, splits: Splits, run: RunDir | None) -> LinearTextModel:
        return train_linear(config, splits, run, self.weighting_fn)

    def load(self, config: ConfigT, model_dir: Path) -> LinearTextModel:
        return LinearTextModel.load(model_dir)


TFIDF_LR = LinearRecipe(TfidfLRConfig, tfidf_weighting)
NBSVM = LinearRecipe(NBSVMConfig, nb_weighting)
