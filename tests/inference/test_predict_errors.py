"""`sentibench predict` on a damaged run or a wrong --output: one sentence, exit code 2, and
nothing half-written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sentibench
from sentibench.errors import SentibenchError


def predict(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "predict", *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip


def assert_one_sentence(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert "Traceback" not in message and len(message.splitlines()) == 1, message
    assert message.startswith("error: ") and fragment in message, message


def truncated_copy(run: Path, folder: Path) -> Path:
    """A copy of `run` whose model/model.safetensors lost its second half (a cut-off copy)."""
    shutil.copytree(run, folder)
    weights = folder / "model" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return folder


@pytest.mark.parametrize("name", ["cnn", "bert_full"])
def test_a_truncated_model_file_is_one_sentence(family_run, tmp_path, name):
    if name == "bert_full":
        pytest.importorskip("transformers")
    damaged = truncated_copy(family_run(name), tmp_path / "damaged")
    with pytest.raises(SentibenchError, match="cannot be read"):
        sentibench.load_run(damaged)
    out = tmp_path / "labels.csv"
    result = predict(tmp_path, "--run", str(damaged), "-o", str(out), "a great film")
    assert_one_sentence(result, "damaged or incomplete")
    assert "model.safetensors" in result.stderr or "SafetensorError" in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".labels.csv.*"))


def test_output_an_existing_folder_is_one_sentence(family_run, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    result = predict(tmp_path, "--run", str(family_run("nbsvm")), "-o", str(folder), "great")
    assert_one_sentence(result, "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert (folder / "keep.txt").read_text() == "precious"
