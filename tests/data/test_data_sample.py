import re

import pandas as pd
import pytest

from sentibench.data.dataset import SAMPLE_DIR, load_splits, sha256_file


@pytest.fixture(scope="module")
def sample():
    return {split: pd.read_parquet(SAMPLE_DIR / f"{split}.parquet") for split in ("train", "test")}


def test_sample_is_balanced_real_reviews(sample):
    for split, size in (("train", 2000), ("test", 1000)):
        frame = sample[split]
        assert len(frame) == size and frame["id"].is_unique
        assert (frame["label"] == 1).sum() == size // 2
        assert frame["text"].str.split().str.len().mean() > 100  # real reviews, not stubs


def test_sample_comes_from_the_official_split_blocks(sample):
    # npm ids are row indices: train rows in [12500, 25000) or [37500, 50000), test in the rest
    ids = {split: sample[split]["id"].astype(int) for split in sample}
    assert ids["train"].between(12_500, 24_999).sum() + ids["train"].ge(37_500).sum() == 2000
    assert ids["test"].lt(12_500).sum() + ids["test"].between(25_000, 37_499).sum() == 1000


def test_provenance_matches_files():
    text = (SAMPLE_DIR / "PROVENANCE.md").read_text()
    for split in ("train", "test"):
        row = re.search(rf"\| {split}.parquet \| (\d+) \|.*`([0-9a-f]{{64}})` \|", text)
        assert row is not None
        assert row.group(2) == sha256_file(SAMPLE_DIR / f"{split}.parquet")
    assert "Maas et al" in text and "Seed: 0" in text


def test_validation_is_stratified_seeded_and_disjoint(sample):
    first = load_splits("sample", val_fraction=0.1, seed=3)
    again = load_splits("sample", val_fraction=0.1, seed=3)
    other = load_splits("sample", val_fraction=0.1, seed=4)
    assert len(first.validation) == 200 and first.validation["label"].sum() == 100
    assert not set(first.train["id"]) & set(first.validation["id"])
    # validation is carved from the official train rows only; test is untouched
    assert set(first.train["id"]) | set(first.validation["id"]) == set(sample["train"]["id"])
    assert set(first.test["id"]) == set(sample["test"]["id"])
    assert first.validation["id"].tolist() == again.validation["id"].tolist()
    assert set(first.validation["id"]) != set(other.validation["id"])
    assert first.sha256 == other.sha256
