import json
import sys
import types

import pytest
from imdb_fixtures import acl_members, write_tarball

from sentibench.data.dataset import sha256_file
from sentibench.data.fetch import data_info, fetch_imdb
from sentibench.data.sources import SOURCES, read_source
from sentibench.errors import ConfigError, DataError


@pytest.fixture
def tarball(tmp_path):
    return write_tarball(tmp_path / "aclImdb_v1.tar.gz", acl_members())


def test_manifest_sha256_matches_files(tarball, sentibench_home):
    manifest = fetch_imdb("aclimdb", tarball, allow_partial=True)
    folder = sentibench_home / "imdb"
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "test.parquet",
        "train.parquet",
    ]
    for name, entry in manifest["files"].items():
        assert sha256_file(folder / name) == entry["sha256"]
        assert (folder / name).stat().st_size == entry["bytes"]
    assert manifest["input"]["sha256"] == sha256_file(tarball)
    assert manifest["source"] == "aclimdb" and manifest["sentibench_version"]


def test_failed_fetch_keeps_previous_cache_and_no_temp_dirs(tmp_path, tarball, sentibench_home):
    fetch_imdb("aclimdb", tarball, allow_partial=True)
    before = {p.name: p.read_bytes() for p in (sentibench_home / "imdb").iterdir()}

    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tarball.read_bytes()[:200])
    with pytest.raises(DataError):
        fetch_imdb("aclimdb", cut, allow_partial=True)
    one_class = {k: v for k, v in acl_members().items() if "/train/neg/" not in k}
    with pytest.raises(DataError):  # also fails after reading: one class only
        fetch_imdb("aclimdb", write_tarball(tmp_path / "one.tar.gz", one_class), allow_partial=True)

    after = {p.name: p.read_bytes() for p in (sentibench_home / "imdb").iterdir()}
    assert after == before
    assert [p.name for p in sentibench_home.iterdir()] == ["imdb"]  # no temp dirs left


def test_write_failure_leaves_cache_intact(monkeypatch, tarball, sentibench_home):
    fetch_imdb("aclimdb", tarball, allow_partial=True)
    before = (sentibench_home / "imdb" / "manifest.json").read_text()

    def disk_full(self, path, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pandas.DataFrame.to_parquet", disk_full)
    with pytest.raises(OSError):
        fetch_imdb("aclimdb", tarball, allow_partial=True)
    assert (sentibench_home / "imdb" / "manifest.json").read_text() == before
    assert [p.name for p in sentibench_home.iterdir()] == ["imdb"]


def test_refetch_replaces_cache(tarball, sentibench_home):
    first = fetch_imdb("aclimdb", tarball, allow_partial=True)
    second = fetch_imdb("aclimdb", tarball, allow_partial=True)
    assert first["files"] == second["files"]  # same input, byte-identical prepared files
    assert [p.name for p in sentibench_home.iterdir()] == ["imdb"]


def test_one_class_is_rejected_even_when_partial(monkeypatch):
    one_class = {
        "train": [{"text": "Great.", "label": 1}, {"text": "Lovely.", "label": 1}],
        "test": [{"text": "Bad.", "label": 0}, {"text": "Good.", "label": 1}],
    }
    monkeypatch.setitem(
        sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda n: one_class)
    )
    with pytest.raises(DataError, match=r"source hf, train split has only one class"):
        fetch_imdb("hf", allow_partial=True)


def test_data_info(tarball, sentibench_home):
    fetch_imdb("aclimdb", tarball, allow_partial=True)
    info = data_info("imdb")
    assert info["folder"] == str(sentibench_home / "imdb")
    assert info["files_match_manifest"] is True
    assert info["manifest"]["source"] == "aclimdb"
    assert info["splits"]["train"] == {"n": 4, "negative": 2, "positive": 2, "mean_words": 3.8}
    assert data_info("auto")["data"] == "imdb"

    (sentibench_home / "imdb" / "manifest.json").write_text(
        json.dumps({**info["manifest"], "files": {"train.parquet": {"sha256": "0" * 64}}})
    )
    assert data_info("imdb")["files_match_manifest"] is False


def test_data_info_sample_without_cache():
    info = data_info("auto")
    assert info["data"] == "sample" and info["manifest"] is None
    assert info["files_match_manifest"] is None
    assert info["provenance"].endswith("PROVENANCE.md")
    assert info["splits"]["test"]["n"] == 1000


def test_unknown_source_lists_names():
    with pytest.raises(ConfigError, match=r"'imbd'; choose one of aclimdb, kaggle, npm, hf"):
        read_source("imbd")
    assert set(SOURCES) == {"aclimdb", "kaggle", "npm", "hf"}
