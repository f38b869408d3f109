import hashlib
import io
import urllib.error

import pytest
from imdb_fixtures import ACL_REVIEWS, acl_members, write_acl_folder, write_tarball

from sentibench.data.fetch import fetch_imdb
from sentibench.data.sources import aclimdb
from sentibench.errors import DataError


@pytest.fixture
def tarball(tmp_path):
    return write_tarball(tmp_path / "aclImdb_v1.tar.gz", acl_members())


def test_tarball_reviews_ids_and_ratings(tarball):
    frames = aclimdb.read(tarball)
    train, test = frames["train"], frames["test"]
    assert list(train["id"]) == ["0_3", "2_1", "0_9", "1_7"]  # neg then pos, by number
    assert list(train["label"]) == [0, 0, 1, 1]
    assert list(train["rating"]) == [3, 1, 9, 7]
    assert train["text"].iloc[2] == "A wonderful film.<br /><br />Loved it."
    assert list(test["id"]) == ["0_2", "5_4", "0_10", "3_8"]
    # unsup reviews, URL lists and the vocabulary are not read
    assert "An unlabelled review." not in set(train["text"])


def test_folder_matches_tarball(tmp_path, tarball):
    root = write_acl_folder(tmp_path / "extracted")
    from_tar = aclimdb.read(tarball)
    for path in (root, root / "aclImdb"):
        frames = aclimdb.read(path)
        for split in ("train", "test"):
            assert frames[split].equals(from_tar[split])


def test_fetch_keeps_ids_shared_by_train_and_test(tarball, sentibench_home):
    manifest = fetch_imdb("aclimdb", tarball, allow_partial=True)
    assert manifest["counts"]["test"] == {"n": 4, "negative": 2, "positive": 2}
    assert manifest["official_split"] is False
    from sentibench.data.dataset import load_official

    train, test, _, _ = load_official("imdb")
    assert "0_9" in set(train["id"]) and "0_10" in set(test["id"])
    assert train["rating"].dtype == "Int64"


def test_official_counts_required_without_allow_partial(tarball):
    with pytest.raises(DataError, match=r"train split has 2 negative and 2 positive.*official"):
        fetch_imdb("aclimdb", tarball)


def test_truncated_tarball(tmp_path, tarball):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tarball.read_bytes()[:300])
    with pytest.raises(DataError, match=r"cut.tar.gz is truncated or not a valid tar.gz"):
        aclimdb.read(cut)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tarball at all")
    with pytest.raises(DataError, match=r"garbage.tar.gz is truncated or not a valid"):
        aclimdb.read(garbage)


@pytest.mark.parametrize(
    "data, message",
    [(b"caf\xe9 au lait", r"is not valid UTF-8 at byte 3"), (b"  \n", r"is an empty review")],
)
def test_bad_review_names_member(tmp_path, data, message):
    members = acl_members()
    members["aclImdb/test/neg/5_4.txt"] = data
    path = write_tarball(tmp_path / "bad.tar.gz", members)
    with pytest.raises(DataError, match=r"bad.tar.gz:aclImdb/test/neg/5_4.txt " + message):
        aclimdb.read(path)
    folder = write_acl_folder(tmp_path / "bad", members)
    with pytest.raises(DataError, match=r"aclImdb/test/neg/5_4.txt " + message):
        aclimdb.read(folder)


def test_bad_file_name_and_missing_class(tmp_path):
    members = acl_members()
    members["aclImdb/train/pos/notes.txt"] = b"stray"
    with pytest.raises(DataError, match=r"train/pos/notes.txt is not named <num>_<rating>.txt"):
        aclimdb.read(write_tarball(tmp_path / "a.tar.gz", members))
    members = {k: v for k, v in acl_members().items() if "/test/pos/" not in k}
    with pytest.raises(DataError, match=r"b.tar.gz has no aclImdb/test/pos/\*.txt"):
        aclimdb.read(write_tarball(tmp_path / "b.tar.gz", members))
    with pytest.raises(DataError, match=r"test/pos is missing"):
        aclimdb.read(write_acl_folder(tmp_path / "c", members))


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match=r"missing.tar.gz does not exist"):
        aclimdb.read(tmp_path / "missing.tar.gz")


class FakeResponse(io.BytesIO):
    headers = {"Content-Length": None}


def test_download_verifies_checksum(monkeypatch, tmp_path, sentibench_home):
    payload = write_tarball(tmp_path / "served.tar.gz", acl_members()).read_bytes()
    monkeypatch.setattr(aclimdb, "_open_url", lambda url, timeout: FakeResponse(payload))
    downloads = sentibench_home / "downloads"
    with pytest.raises(DataError, match=r"sha256 .* not the published c40f74a1"):
        aclimdb.read(None)
    assert not list(downloads.iterdir())  # the bad download was not kept, not even a temp file

    monkeypatch.setattr(aclimdb, "SHA256", hashlib.sha256(payload).hexdigest())
    frames = aclimdb.read(None)
    assert len(frames["train"]) == 4
    assert [p.name for p in downloads.iterdir()] == ["aclImdb_v1.tar.gz"]
    # a verified download is reused, not fetched again
    monkeypatch.setattr(aclimdb, "_open_url", lambda url, timeout: pytest.fail("downloaded"))
    assert len(aclimdb.read(None)["test"]) == sum(
        len(v) for k, v in ACL_REVIEWS.items() if k[0] == "test"
    )


def test_unreachable_download_asks_for_path(monkeypatch, sentibench_home):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(aclimdb, "_open_url", offline)
    with pytest.raises(DataError, match=r"Cannot download .*name resolution.*--path\.$"):
        aclimdb.read(None)
    assert not (sentibench_home / "imdb").exists()
