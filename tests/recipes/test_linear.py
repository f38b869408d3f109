"""tfidf_lr and nbsvm: the n-gram featuriser against scikit-learn, learning on the bundled
sample, the save/load round trip, and config errors. Runs in a few seconds on one core."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from sentibench import runtime
from sentibench.config import apply_values, read_toml
from sentibench.data.dataset import load_splits
from sentibench.data.ngrams import NgramCounter, TokenizedCorpus, tokenize_corpus
from sentibench.data.text import tokenize
from sentibench.errors import ConfigError, SentibenchError
from sentibench.recipes.linear import (
    NBSVM,
    TFIDF_LR,
    NBSVMConfig,
    TfidfLRConfig,
    nb_weighting,
    tfidf_weighting,
)
from sentibench.registry import get_spec
from sentibench.runs import RunDir

TEXTS = [
    "I didn't like it!!! <br /><br />Not &amp; good?",
    "A GREAT film, great acting... it's the best; can't wait.",
    "Worst film ever: bad, bad, BAD.",
    "great film, not bad",
]


def reference_ngrams(text: str, ngram_max: int) -> list[str]:
    """The n-grams of sentibench.data.text.tokenize, as CountVectorizer would build them."""
    tokens = tokenize(text)
    return [
        " ".join(tokens[i : i + n])
        for n in range(1, ngram_max + 1)
        for i in range(len(tokens) - n + 1)
    ]


def counts_by_ngram(counter: NgramCounter, matrix) -> list[Counter]:
    """Row-wise {n-gram string: count} of a counter's matrix, independent of column order."""
    names = []
    vocabulary = [token.decode() for token in counter.vocabulary]
    size = len(vocabulary)
    for n, grams in enumerate(counter.grams, start=1):
        for code in grams:
            ids = [(int(code) // size**k) % size for k in reversed(range(n))]
            names.append(" ".join(vocabulary[i] for i in ids))
    return [
        Counter({names[j]: matrix[row, j] for j in matrix[row].indices})
        for row in range(matrix.shape[0])
    ]


@pytest.fixture(scope="module")
def sample():
    return load_splits("sample")


def test_tokens_match_the_shared_tokenizer_on_ascii_text():
    corpus = tokenize_corpus(TEXTS)
    tokens = corpus.types[corpus.codes]
    for index, text in enumerate(TEXTS):
        ours = [t.decode() for t in tokens[corpus.review == index] if t != b"\x01"]
        assert ours == tokenize(text)


def test_non_ascii_letters_stay_inside_words():
    corpus = tokenize_corpus(["Un café\x96très cliché, don\u2019t \u201cgo\u201d"])
    words = [t.decode() for t in corpus.types[corpus.codes]]
    assert words == ["un", "café", "très", "cliché", "do", "n't", "go"]


@pytest.mark.parametrize("ngram_max", [1, 2, 3])
def test_counts_equal_count_vectorizer(ngram_max):
    counter = NgramCounter(ngram_max)
    ours = counts_by_ngram(counter, counter.fit_transform(TEXTS))
    vectorizer = CountVectorizer(analyzer=lambda text: reference_ngrams(text, ngram_max))
    matrix = vectorizer.fit_transform(TEXTS)
    names = vectorizer.get_feature_names_out()
    theirs = [
        Counter({names[j]: matrix[row, j] for j in matrix[row].indices})
        for row in range(len(TEXTS))
    ]
    assert ours == theirs
    assert counter.n_features == len(names)


def test_min_df_unseen_ngrams_and_review_boundaries():
    counter = NgramCounter(2, min_df=2)
    counts = counter.fit_transform(["good movie", "good movie", "bad"])
    assert counts_by_ngram(counter, counts)[0] == Counter({"good": 1, "movie": 1, "good movie": 1})
    assert counts[2].nnz == 0  # "bad" is in one review only
    # n-grams never span two reviews, and unknown words break n-grams
    transformed = counter.transform(["movie good", "good strange movie", ""])
    assert counts_by_ngram(counter, transformed) == [
        Counter({"movie": 1, "good": 1}),
        Counter({"good": 1, "movie": 1}),
        Counter(),
    ]
    assert counter.transform([]).shape == (0, counter.n_features)


def test_concatenated_corpus_equals_tokenizing_together():
    joined = TokenizedCorpus.concat(tokenize_corpus(TEXTS[:2]), tokenize_corpus(TEXTS[2:]))
    direct = tokenize_corpus(TEXTS)
    assert joined.n_reviews == direct.n_reviews
    assert np.array_equal(joined.types[joined.codes], direct.types[direct.codes])
    assert np.array_equal(joined.review, direct.review)


def test_weightings():
    counter = NgramCounter(2)
    counts = counter.fit_transform(TEXTS)
    labels = np.array([0, 1, 0, 1])
    weighting = tfidf_weighting(counts, labels, TfidfLRConfig())
    expected = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    assert np.allclose(weighting.apply(counts).toarray(), expected.toarray())

    nb = nb_weighting(counts, labels, NBSVMConfig(alpha=1.0, normalize=False))
    column = counter.vocabulary.get_loc(b"bad")  # unigram ids are their feature columns
    column = counter.grams[0].get_loc(column)
    # "bad" is in review 2 (negative) and 3 (positive), once each as presence
    p, q = counts[labels == 1].sign().sum(), counts[labels == 0].sign().sum()
    assert nb.scale[column] == pytest.approx(np.log((1 + 1) / (counts.shape[1] + p))
                                             - np.log((1 + 1) / (counts.shape[1] + q)))  # fmt: skip
    assert np.array_equal(nb.apply(counts).toarray(), counts.sign().toarray() * nb.scale)
    normalized = nb_weighting(counts, labels, NBSVMConfig(alpha=1.0)).apply(counts)
    assert np.allclose(np.linalg.norm(normalized.toarray(), axis=1), 1.0)


@pytest.mark.parametrize("name", ["tfidf_lr", "nbsvm"])
def test_learns_the_sample_and_round_trips(name, sample, tmp_path):
    spec = get_spec(name)
    recipe = spec.load_recipe()
    config = apply_values(recipe.config_cls(), read_toml(spec.preset_path("cpu")))
    run = RunDir(tmp_path / "run")
    run.create()
    runtime.apply(config.threads, config.seed)
    model = recipe.train(config, sample, run)

    proba = model.predict_proba(sample.test["text"].tolist())
    accuracy = np.mean((proba >= 0.5) == sample.test["label"].to_numpy())
    assert accuracy > 0.75
    (history,) = run.history()
    assert 0.5 < history["val_accuracy"] <= 1.0

    model.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["linear.json", "linear.npz"]
    with np.load(tmp_path / "model" / "linear.npz", allow_pickle=False) as stored:
        assert all(stored[key].dtype != object for key in stored.files)
    loaded = recipe.load(config, tmp_path / "model")
    assert np.array_equal(loaded.predict_proba(sample.test["text"].tolist()), proba)
    assert loaded.n_parameters == model.n_parameters


def test_c_grid_is_scored_on_validation_without_refit(sample, tmp_path):
    run = RunDir(tmp_path)
    config = TfidfLRConfig(C_grid=[1.0, 16.0], refit=False)
    runtime.apply(config.threads, config.seed)
    model = TFIDF_LR.train(config, sample, run)
    (history,) = run.history()
    logged = [
        line for line in run.log_path.read_text().splitlines() if "validation accuracy" in line
    ]
    scores = {float(line.split("C=")[1].split(":")[0]): float(line.split()[-1]) for line in logged}
    assert set(scores) == {1.0, 16.0}
    assert history["C"] == max(scores, key=scores.get)
    # without refit the model is the one scored on validation: features of train only
    assert model.counter.n_features == history["n_features"]
    # ... and its held-out validation probabilities (val_predictions.csv) are its own
    own = model.predict_proba(sample.validation["text"].tolist())
    assert np.allclose(model.held_out_validation_proba, own)


def test_no_validation_split_is_refused_with_the_refit_option_named(sample, tmp_path):
    without = dataclasses.replace(sample, validation=sample.validation.iloc[:0])
    with pytest.raises(ConfigError, match="val_fraction must be above 0; refit = true"):
        TFIDF_LR.train(TfidfLRConfig(), without, RunDir(tmp_path))
    with pytest.raises(ConfigError, match="val_fraction must be above 0"):  # before any run
        TfidfLRConfig(val_fraction=0.0)


def test_load_rejects_a_foreign_or_incomplete_model_dir(tmp_path):
    with pytest.raises(SentibenchError, match="linear.json"):
        TFIDF_LR.load(TfidfLRConfig(), tmp_path)
    (tmp_path / "linear.json").write_text(json.dumps({"format": "other"}))
    np.savez(tmp_path / "linear.npz", coef=np.zeros(1))
    with pytest.raises(SentibenchError, match="not a sentibench-linear"):
        NBSVM.load(NBSVMConfig(), tmp_path)
    # a well-formed header over arrays that need pickle is refused, not unpickled
    (tmp_path / "linear.json").write_text(json.dumps({"format": "sentibench-linear", "version": 1}))
    np.savez(tmp_path / "linear.npz", coef=np.array([{"x": 1}], dtype=object))
    with pytest.raises(SentibenchError, match="cannot be read"):
        NBSVM.load(NBSVMConfig(), tmp_path)
    (tmp_path / "linear.npz").write_bytes(b"not a zip file")
    with pytest.raises(SentibenchError, match="cannot be read"):
        NBSVM.load(NBSVMConfig(), tmp_path)


@pytest.mark.parametrize(
    ("config_cls", "values", "message"),
    [
        (TfidfLRConfig, {"C": -1.0}, "C and C_grid"),
        (TfidfLRConfig, {"C_grid": [1.0, 0.0]}, "C and C_grid"),
        (TfidfLRConfig, {"ngram_max": 4}, "ngram_max"),
        (TfidfLRConfig, {"min_df": 0}, "min_df"),
        (TfidfLRConfig, {"tol": 0.0}, "tol"),
        (NBSVMConfig, {"alpha": 0.0}, "alpha"),
        (NBSVMConfig, {"C": "big"}, "expects float"),
        (NBSVMConfig, {"sublinear_tf": True}, "Unknown config key"),
    ],
)
def test_bad_config_values_raise_config_error(config_cls, values, message):
    with pytest.raises(ConfigError, match=message):
        apply_values(config_cls(), values)
