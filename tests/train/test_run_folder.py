"""A run folder is claimed with a marker before anything is written: a folder that is not a
sentibench run is refused untouched (issue: `--out DIR` used to delete DIR/model/ and
DIR/checkpoint/ and overwrite DIR/predictions.csv), and bad --out values are one sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentibench.errors import SentibenchError
from sentibench.runs import MARKER, RunDir
from sentibench.train.runner import run_training


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentibench.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=180,
    )  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_folder_that_is_not_a_run_is_refused_untouched(tmp_path):
    precious = tmp_path / "precious"
    for name in ("model/weights.bin", "checkpoint/state.txt", "predictions.csv", "notes.md"):
        (precious / name).parent.mkdir(parents=True, exist_ok=True)
        (precious / name).write_text(f"the user's {name}\n")
    before = snapshot(precious)

    result = cli("train", "tfidf_lr", "--data", "sample", "--out", str(precious), cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "not a sentibench run folder" in message
    assert str(precious) in message and "Traceback" not in message
    assert snapshot(precious) == before  # nothing removed, nothing overwritten, nothing added


@pytest.mark.parametrize("kind", ["plain file", "read-only place", "below a file"])
def test_an_out_that_cannot_be_a_folder_is_one_sentence(kind, tmp_path):
    target = {
        "plain file": tmp_path / "a-file",
        "read-only place": Path("/sys/sentibench-run"),  # EPERM even for root
        "below a file": tmp_path / "a-file" / "run",
    }[kind]
    (tmp_path / "a-file").write_text("keep me\n")
    result = cli("train", "tfidf_lr", "--data", "sample", "--out", str(target), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert str(target) in message
    assert (tmp_path / "a-file").read_text() == "keep me\n"


def test_a_run_writes_its_marker_first_and_an_empty_folder_is_fine(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run_training("tfidf_lr", data="sample", out=empty)
    assert RunDir(empty).is_ours() and (empty / MARKER).is_file()
    assert (empty / "metrics.json").is_file()
    with pytest.raises(SentibenchError, match="already complete"):
        run_training("tfidf_lr", data="sample", out=empty)


def test_the_marker_comes_before_any_other_file(tmp_path):
    run = RunDir(tmp_path / "run")
    run.create()
    assert [p.name for p in run.path.iterdir()] == [MARKER]
    run.create()  # ours: claiming it again is fine


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("lr=nan", "'lr' must be a finite number, got nan"),
        ("lr=inf", "'lr' must be a finite number, got inf"),
        ("vectors='/no/such/vectors.txt'", "/no/such/vectors.txt does not exist"),
    ],
)
def test_config_errors_come_before_the_run_folder(override, fragment, tmp_path):
    out = tmp_path / "runs" / "cnn"
    result = cli("train", "cnn", "--data", "sample", "--preset", "quick", "--set", override,
                 "--out", str(out), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert fragment in message and len(message.splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # nothing half-written
