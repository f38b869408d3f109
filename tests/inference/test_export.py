"""ONNX and int8 exports: written atomically, scored next to the original, loadable as backends."""

from __future__ import annotations

import copy
import json
import shutil
import string

import numpy as np
import pandas as pd
import pytest
import torch
from model_battery import classic_nets
from torch import nn
from torch.ao.nn.quantized import dynamic as quantized
from typer.testing import CliRunner

import sentibench
from sentibench.cli import app
from sentibench.errors import SentibenchError
from sentibench.inference.export import (
    bf16_predictor,
    export_run,
    int8_predictor,
    onnx_predictor,
    write_onnx,
)
from sentibench.predictor import TorchPredictor, proba_of_batches

pytest.importorskip("onnxruntime", reason="ONNX export needs the serve extra (onnx, onnxruntime)")


# every classic net of the registry (and the toy net) gets every format, unlisted
TORCH_RUNS = [*classic_nets(), "bert_full", "bert_lora"]


def texts_of(keyword_data) -> list[str]:
    return pd.read_json(keyword_data / "test.jsonl", lines=True)["text"].tolist()


@pytest.mark.parametrize("name", TORCH_RUNS)
def test_onnx_export_matches_the_original(family_run, keyword_data, name):
    path = family_run(name)
    result = export_run(path, "onnx", threads=1)
    saved = json.loads((path / "export" / "onnx" / "export.json").read_text())
    assert saved["accuracy"] == result["accuracy"] == saved["original_accuracy"]
    assert saved["agreement_with_original"] == 1.0 and saved["max_abs_prob_diff"] < 1e-4
    assert saved["files"]["model.onnx"] > 0 and saved["reviews_per_second"] > 0
    assert not list((path / "export").glob(".*tmp"))
    # a backend of its own: other batch sizes and lengths than at export time
    texts = texts_of(keyword_data)
    original = sentibench.load_run(path).predict_proba(texts)
    onnx = sentibench.load_run(path, backend="onnx", threads=1)
    assert np.abs(onnx.predict_proba(texts, batch_size=5) - original).max() < 1e-4


@pytest.mark.parametrize("name", TORCH_RUNS)
def test_int8_quantizes_linear_and_recurrent_layers(family_run, keyword_data, name):
    path = family_run(name)
    result = export_run(path, "int8", threads=1)
    assert result["quantized"] == ["Linear", "LSTM", "GRU"]
    assert result["original_accuracy"] is not None and 0 <= result["accuracy"] <= 1
    assert result["max_abs_prob_diff"] < 0.05  # int8 weights: close, not equal
    model = sentibench.load_run(path, backend="int8")
    modules = list(model.predictor.module.modules())
    assert any(isinstance(m, quantized.Linear) for m in modules)
    assert name != "lstm" or any(isinstance(m, quantized.LSTM) for m in modules)
    texts = texts_of(keyword_data)
    original = sentibench.load_run(path).predict_proba(texts)
    assert np.abs(model.predict_proba(texts) - original).max() < 0.05


@pytest.mark.parametrize("name", [*classic_nets(), "bert_full"])
def test_bf16_is_close_to_fp32(family_run, name):
    result = export_run(family_run(name), "bf16", threads=1)
    assert result["native_bf16"] in (True, False) and result["quantized"] == []
    assert result["max_abs_prob_diff"] < 0.05 and result["agreement_with_original"] >= 0.9
    model = sentibench.load_run(family_run(name), backend="bf16")
    assert model.predict(["a wonderful film"]).shape == (1,)


def test_linear_models_and_missing_exports_are_clear_errors(family_run, tmp_path):
    unexported = tmp_path / "cnn-copy"
    shutil.copytree(family_run("cnn"), unexported, ignore=shutil.ignore_patterns("export"))
    with pytest.raises(SentibenchError, match="linear model .nbsvm.; ONNX, int8 and bf16"):
        export_run(family_run("nbsvm"), "onnx")
    with pytest.raises(SentibenchError, match="--format must be one of onnx, int8, bf16"):
        export_run(family_run("cnn"), "tflite")
    with pytest.raises(SentibenchError, match="sentibench export --run .* --format onnx"):
        sentibench.load_run(unexported, backend="onnx")


def test_cli_export_and_predict_with_the_export(family_run, tmp_path):
    path = family_run("cnn")
    result = CliRunner().invoke(app, ["export", "--run", str(path), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.stdout and "onnx" in result.stdout
    result = CliRunner().invoke(
        app, ["predict", "--run", str(path), "--backend", "onnx", "--threads", "1", "simply great"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split(",")[0] in ("positive", "negative")


class LetterCounts(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden, self.out = nn.Linear(26, 8), nn.Linear(8, 2)

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(counts)))


class LetterPredictor:
    """The smallest TorchPredictor: no family, no registry entry, no run record."""

    input_names = ("counts",)
    dynamic_axes = {"counts": {0: "batch"}}

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = LetterCounts().eval()

    def batches(self, texts):
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), 4):
            chunk = order[start : start + 4]
            rows = [[texts[i].count(c) for c in string.ascii_lowercase] for i in chunk]
            yield chunk, {"counts": torch.tensor(rows, dtype=torch.float32)}

    def predict_proba(self, texts):
        return proba_of_batches(self.batches(texts), len(texts), lambda batch: self.model(**batch))

    def export_module(self) -> nn.Module:
        return copy.deepcopy(self.model).eval()

    def save(self, directory) -> None:
        raise NotImplementedError


def test_every_format_works_on_any_torch_predictor(keyword_data, tmp_path):
    source = LetterPredictor()
    assert isinstance(source, TorchPredictor)
    texts = texts_of(keyword_data)
    expected = source.predict_proba(texts)
    assert write_onnx(source, tmp_path / "model.onnx", texts[:8]) in ("torchscript", "dynamo")
    onnx = onnx_predictor(source, tmp_path / "model.onnx", threads=1)
    assert np.abs(onnx.predict_proba(texts) - expected).max() < 1e-4
    for exported in (int8_predictor(source), bf16_predictor(source)):
        assert np.abs(exported.predict_proba(texts) - expected).max() < 0.05
