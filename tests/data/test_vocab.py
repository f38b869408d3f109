"""Vocabulary: training split only, <pad> != <unk>, frequency cut-offs, JSON round trip."""

from __future__ import annotations

import pytest

from sentibench.data.dataset import load_splits
from sentibench.data.text import tokenize
from sentibench.data.vocab import PAD, PAD_INDEX, UNK, UNK_INDEX, Vocabulary
from sentibench.errors import DataError


def test_pad_and_unk_are_distinct_first_ids():
    vocab = Vocabulary.from_texts(["a good film", "a bad film"])
    assert (vocab.itos[PAD_INDEX], vocab.itos[UNK_INDEX]) == (PAD, UNK)
    assert PAD_INDEX != UNK_INDEX
    assert vocab.encode(["film", "unseen"]) == [vocab.stoi["film"], UNK_INDEX]
    assert PAD_INDEX not in vocab.encode(tokenize("a good film, never seen before"))


def test_min_freq_max_size_and_frequency_order():
    texts = ["b b b a a c", "b a d"]
    vocab = Vocabulary.from_texts(texts, min_freq=2)
    assert vocab.itos == [PAD, UNK, "b", "a"]  # c and d seen once
    assert vocab.counts == [0, 0, 4, 3]
    assert vocab.total_tokens == 9  # every token, kept or not
    assert Vocabulary.from_texts(texts, max_size=1).itos == [PAD, UNK, "b"]
    # ties are broken alphabetically, so ids never depend on text order
    assert Vocabulary.from_texts(["y x"]).itos == Vocabulary.from_texts(["x y"]).itos


def test_no_test_word_enters_the_vocabulary():
    splits = load_splits("sample", 0.1, 0)
    vocab = Vocabulary.from_texts(splits.train["text"], min_freq=1)
    train_words = {w for text in splits.train["text"] for w in tokenize(text)}
    test_only = {w for text in splits.test["text"] for w in tokenize(text)} - train_words
    validation_only = {w for t in splits.validation["text"] for w in tokenize(t)} - train_words
    assert test_only and validation_only  # the sample does have such words
    assert not (test_only | validation_only) & set(vocab.itos)


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary.from_texts(["it's not bad!", "not good?"])
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert (loaded.itos, loaded.counts, loaded.total_tokens) == (
        vocab.itos,
        vocab.counts,
        vocab.total_tokens,
    )
    assert loaded.encode(["not", "bad"]) == vocab.encode(["not", "bad"])


def test_bad_vocab_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        Vocabulary.load(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text('{"itos": ["x"]')
    with pytest.raises(DataError, match="broken.json is malformed"):
        Vocabulary.load(tmp_path / "broken.json")
