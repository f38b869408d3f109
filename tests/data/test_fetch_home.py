"""$SENTIBENCH_HOME problems: an unwritable home is one sentence (fetch) or no cache at all
(word vectors); the staging folders of a killed fetch are removed by the next one, and nothing
else is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from imdb_fixtures import acl_members, write_tarball

from sentibench.data.fetch import fetch_imdb
from sentibench.data.vectors import align, cache_path
from sentibench.data.vocab import Vocabulary
from sentibench.errors import DataError

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def tarball(tmp_path):
    return write_tarball(tmp_path / "aclImdb_v1.tar.gz", acl_members())


def unwritable_homes(tmp_path: Path) -> dict[str, Path]:
    """Homes no fetch can write, for root as for anyone: chmod does not stop root."""
    plain_file = tmp_path / "home-is-a-file"
    plain_file.write_text("not a folder")
    homes = {"a plain file": plain_file, "under a plain file": plain_file / "home"}
    if Path("/sys").is_dir() and sys.platform.startswith("linux"):
        homes["in /sys (EPERM, even for root)"] = Path("/sys/sentibench-home")
    return homes


def test_unwritable_home_on_fetch_is_one_sentence(tmp_path, tarball, monkeypatch):
    for label, home in unwritable_homes(tmp_path).items():
        monkeypatch.setenv("SENTIBENCH_HOME", str(home))
        with pytest.raises(DataError) as caught:
            fetch_imdb("aclimdb", tarball, allow_partial=True)
        message = str(caught.value)
        assert "\n" not in message and str(home) in message, label
        assert "SENTIBENCH_HOME" in message, label
    assert Path(tmp_path / "home-is-a-file").read_text() == "not a folder"


def test_unwritable_home_on_fetch_from_the_cli(tmp_path, tarball):
    for home in unwritable_homes(tmp_path).values():
        done = subprocess.run(
            [sys.executable, "-m", "sentibench.cli", "data", "fetch", "--source", "aclimdb",
             "--path", str(tarball), "--allow-partial"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "SENTIBENCH_HOME": str(home)},
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert done.stdout == ""


def test_read_only_existing_home_is_one_sentence(tmp_path, tarball, monkeypatch):
    """A home that exists but refuses new entries (a read-only mount; chmod 555 for non-root)."""
    home = tmp_path / "home"
    home.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setenv("SENTIBENCH_HOME", str(home))
    monkeypatch.setattr("sentibench.data.store.tempfile.mkdtemp", refuse)
    with pytest.raises(DataError, match=r"Cannot write the dataset cache in .*Permission denied"):
        fetch_imdb("aclimdb", tarball, allow_partial=True)
    assert list(home.iterdir()) == []


def test_vectors_cache_is_skipped_when_home_is_unwritable(tmp_path, monkeypatch):
    """The cache only saves time: a run with an unwritable home still gets its vectors."""
    vectors = tmp_path / "v.txt"
    vectors.write_text("good 0.5 0.25\nbad -0.5 1.5\n")
    vocab = Vocabulary.from_texts(["good bad film"])
    expected = align(vocab, str(vectors)).matrix
    for home in unwritable_homes(tmp_path).values():
        monkeypatch.setenv("SENTIBENCH_HOME", str(home))
        aligned = align(vocab, str(vectors))
        assert np.array_equal(aligned.matrix, expected)
        assert not cache_path(vocab, str(vectors)).exists()


def leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name.startswith(".imdb-"))


def test_stale_staging_folders_are_removed_and_nothing_else(tarball, sentibench_home):
    stale = sentibench_home / ".imdb-new-k1ll3d_x"
    stale.mkdir()
    (stale / "train.parquet").write_bytes(b"half written")
    graveyard = sentibench_home / ".imdb-old-abc123"
    graveyard.mkdir()
    keep = {
        ".imdb-new-Notes": "dir",  # not a name mkdtemp makes
        ".imdb-new-x.txt": "file",
        "imdb-new-abc": "dir",
        "my-notes.txt": "file",
    }
    for name, kind in keep.items():
        if kind == "dir":
            (sentibench_home / name).mkdir()
        else:
            (sentibench_home / name).write_text("precious")
    link_target = sentibench_home / "linked"
    link_target.mkdir()
    (sentibench_home / ".imdb-new-symlink1").symlink_to(link_target)

    fetch_imdb("aclimdb", tarball, allow_partial=True)

    names = {p.name for p in sentibench_home.iterdir()}
    assert stale.name not in names and graveyard.name not in names
    assert set(keep) | {"imdb", "linked", ".imdb-new-symlink1"} == names
    assert (sentibench_home / "my-notes.txt").read_text() == "precious"


def test_cache_moved_aside_by_a_killed_swap_is_restored(tarball, sentibench_home, monkeypatch):
    """Killed between moving the old cache aside and renaming the new one in: the next fetch
    starts by putting the old cache back (and a failed fetch then keeps it)."""
    fetch_imdb("aclimdb", tarball, allow_partial=True)
    manifest = (sentibench_home / "imdb" / "manifest.json").read_text()
    graveyard = sentibench_home / ".imdb-old-s1gkill"
    graveyard.mkdir()
    os.rename(sentibench_home / "imdb", graveyard / "imdb")

    with pytest.raises(DataError):
        fetch_imdb("aclimdb", tarball.parent / "missing.tar.gz", allow_partial=True)
    assert (sentibench_home / "imdb" / "manifest.json").read_text() == manifest
    assert leftovers(sentibench_home) == []


# A fetch that stops inside the staging folder (as a SIGTERM or kill -9 would find it).
STOPPED_FETCH = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from sentibench.data.fetch import fetch_imdb

    def hang(self, path, **kwargs):
        open(path, "wb").write(b"half")
        print("writing", flush=True)
        time.sleep(120)

    pd.DataFrame.to_parquet = hang
    fetch_imdb("aclimdb", sys.argv[1], allow_partial=True)
    """
)


def start_stopped_fetch(tarball: Path, home: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", STOPPED_FETCH, str(tarball)],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "SENTIBENCH_HOME": str(home), "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "writing"
    return process


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_fetch_after_a_killed_fetch_removes_its_staging_folder(tarball, sentibench_home, stop):
    process = start_stopped_fetch(tarball, sentibench_home)
    try:
        assert len(leftovers(sentibench_home)) == 1
        # While it is alive its folder is its own: a second fetch refuses, touching nothing.
        with pytest.raises(DataError, match="Another `sentibench data fetch` is writing"):
            fetch_imdb("aclimdb", tarball, allow_partial=True)
        assert len(leftovers(sentibench_home)) == 1
    finally:
        process.send_signal(stop)
        process.wait(timeout=30)
    assert len(leftovers(sentibench_home)) == 1  # what the kill left behind

    fetch_imdb("aclimdb", tarball, allow_partial=True)
    assert leftovers(sentibench_home) == [] and (sentibench_home / "imdb").is_dir()
