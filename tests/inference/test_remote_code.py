"""A run folder is something people send each other: loading one never runs Python code shipped
in it unless the user who loads it says so (--trust-remote-code, trust_remote_code=True).

The malicious folder: a real transformer run whose config.json records trust_remote_code = true
and whose model/config.json has an auto_map to modeling_evil.py inside the folder; importing
that file writes a marker file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sentibench
from sentibench.errors import SentibenchError
from sentibench.inference.api import load_run
from sentibench.inference.export import export_run
from sentibench.runs import load_predictor
from sentibench.train.runner import reproduce

EVIL = """from pathlib import Path

Path({marker!r}).write_text("the run folder's code ran")

from transformers import BertConfig, BertModel


class EvilConfig(BertConfig):
    model_type = "evil"


class EvilModel(BertModel):
    config_class = EvilConfig
"""


def make_malicious(run: Path, folder: Path, marker: Path, recorded: bool, model_type: str) -> Path:
    """A copy of `run` whose model/ maps AutoConfig and AutoModel to its own modeling_evil.py."""
    shutil.copytree(run, folder)
    record = json.loads((folder / "config.json").read_text())
    record["config"]["trust_remote_code"] = recorded
    (folder / "config.json").write_text(json.dumps(record))
    model_config = json.loads((folder / "model" / "config.json").read_text())
    model_config["model_type"] = model_type
    model_config["auto_map"] = {
        "AutoConfig": "modeling_evil.EvilConfig",
        "AutoModel": "modeling_evil.EvilModel",
    }
    (folder / "model" / "config.json").write_text(json.dumps(model_config))
    (folder / "model" / "modeling_evil.py").write_text(EVIL.format(marker=str(marker)))
    return folder


@pytest.fixture
def transformer_run(family_run) -> Path:
    pytest.importorskip("transformers")
    return family_run("bert_full")  # a full fine-tune: model/ is a save_pretrained folder


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran.txt"


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`sentibench ARGS` in a fresh process; transformers' module cache stays in tmp_path."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "hf" / "modules")
    return subprocess.run(
        [sys.executable, "-m", "sentibench.cli", *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env,
    )  # fmt: skip


def assert_one_sentence(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert "Traceback" not in message
    last = message.splitlines()[-1]  # transformers may log a warning line before it
    assert last.startswith("error: ") and fragment in last, message


def test_load_run_refuses_a_recorded_trust_remote_code(transformer_run, tmp_path, marker):
    folder = make_malicious(transformer_run, tmp_path / "sent", marker, True, "bert")
    for load in (
        lambda: sentibench.load_run(folder),
        lambda: load_run(folder, backend="onnx"),
        lambda: load_predictor(folder),
        lambda: export_run(folder, "onnx"),
        lambda: reproduce(folder, out=tmp_path / "again"),  # trains with the recorded config
    ):
        with pytest.raises(SentibenchError, match="pass --trust-remote-code") as refused:
            load()
        assert "\n" not in str(refused.value)
    assert not marker.exists() and not (tmp_path / "again").exists()


def test_every_command_that_loads_a_run_refuses_it_in_one_sentence(
    transformer_run, tmp_path, marker
):
    folder = str(make_malicious(transformer_run, tmp_path / "sent", marker, True, "bert"))
    # export and reproduce refuse through the same functions (in-process test above); each
    # command here costs a process start
    for args in (
        ["predict", "--run", folder, "a great film"],
        ["serve", "--run", folder, "--port", "0"],
    ):
        result = cli(tmp_path, *args)
        assert_one_sentence(result, "trained with trust_remote_code = true")
        assert "--trust-remote-code" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1  # refused before transformers loads
    assert not marker.exists() and not (tmp_path / "again").exists()
    assert not (tmp_path / "hf" / "modules").exists()


def test_without_a_recorded_true_the_folder_code_never_runs(transformer_run, tmp_path, marker):
    # A known model type: transformers uses its own Bert code and ignores the auto_map; the
    # flag changes nothing, as the run was trained without remote code.
    known = make_malicious(transformer_run, tmp_path / "known", marker, False, "bert")
    for trust in (False, True):
        model = sentibench.load_run(known, trust_remote_code=trust)
        assert model.predict(["a wonderful film"]).shape == (1,)
    # An unknown model type that only the folder's code defines: refused in one sentence.
    unknown = make_malicious(transformer_run, tmp_path / "unknown", marker, False, "evil")
    with pytest.raises(SentibenchError, match="auto_map") as refused:
        sentibench.load_run(unknown, trust_remote_code=True)
    assert "\n" not in str(refused.value)
    assert not marker.exists()


def test_with_the_flag_running_it_is_the_users_choice(transformer_run, tmp_path, marker):
    folder = str(make_malicious(transformer_run, tmp_path / "sent", marker, True, "bert"))
    result = cli(tmp_path, "predict", "--run", folder, "--trust-remote-code", "a great film")
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "the run folder's code ran"
