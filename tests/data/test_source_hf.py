import sys
import types

import pytest

from sentibench.data.fetch import fetch_imdb
from sentibench.data.sources import hf
from sentibench.errors import ConfigError, DataError

TINY = {
    "train": [{"text": "Great movie.", "label": 1}, {"text": "Terrible.", "label": 0}],
    "test": [
        {"text": "Bad.", "label": 0},
        {"text": "Lovely.", "label": 1},
        {"text": "Ok!", "label": 1},
    ],
    "unsupervised": [{"text": "Unlabelled.", "label": -1}],
}


def test_reads_injected_splits():
    frames = hf.read(None, loader=lambda path: TINY)
    assert list(frames["test"]["id"]) == ["test_0", "test_1", "test_2"]
    assert list(frames["test"]["label"]) == [0, 1, 1]
    assert frames["train"]["text"].iloc[0] == "Great movie."
    assert frames["train"]["rating"].isna().all()


def test_fetch_through_datasets_module(monkeypatch, tmp_path):
    fake = types.SimpleNamespace(load_dataset=lambda name: TINY, load_from_disk=None)
    monkeypatch.setitem(sys.modules, "datasets", fake)
    assert fetch_imdb("hf", allow_partial=True)["counts"]["test"]["n"] == 3
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "dataset_dict.json").write_text('{"splits": ["train", "test"]}')
    fake.load_from_disk = lambda path: TINY if path == str(saved) else pytest.fail(path)
    assert len(hf.read(saved)["train"]) == 2


def test_missing_datasets_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'sentibench\[datasets\]'"):
        hf.read(None)


def test_unreachable_hub_asks_for_local_folder(monkeypatch):
    def offline(name):
        raise ConnectionError(
            "Couldn't reach 'stanfordnlp/imdb' on the Hub (LocalEntryNotFoundError)"
        )

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=offline))
    with pytest.raises(DataError, match=r"Cannot load stanfordnlp/imdb .*ConnectionError.*--path"):
        hf.read(None)


def test_missing_split_and_column():
    with pytest.raises(DataError, match=r"has no test split"):
        hf.read(None, loader=lambda path: {"train": TINY["train"]})
    with pytest.raises(DataError, match=r"train split lacks column\(s\) label"):
        hf.read(None, loader=lambda path: {"train": [{"text": "x"}], "test": TINY["test"]})
