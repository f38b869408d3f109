"""A run of three classes through load_run, `predict`, the service and the ONNX / int8 / bf16
exports: label names and one probability per class everywhere (binary runs: the other tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformer_fixtures import THREE_CLASS_TEXTS, THREE_CLASSES, tiny_settings
from typer.testing import CliRunner

import sentibench
from sentibench.cli import app
from sentibench.config import to_dict
from sentibench.errors import SentibenchError
from sentibench.inference.batch_io import Inputs, write_results
from sentibench.recipes.transformer.predictor import TransformerPredictor
from sentibench.runs import RunDir, atomic_write_json
from sentibench.transformers.backbone import load_tokenizer
from sentibench.transformers.modeling import build_model

TEXTS = [text for texts in THREE_CLASS_TEXTS.values() for text in texts]
LABELS = [label for label, texts in THREE_CLASS_TEXTS.items() for _ in texts]


@pytest.fixture(scope="module")
def three_class_run(tiny_backbones, tmp_path_factory):
    """A complete run record of a 3-class tiny BERT (full fine-tuning, a few steps), written as
    the runner writes one: config.json naming the label names in its data block, model/."""
    backbone = str(tiny_backbones["bert"])
    config = tiny_settings(backbone, method="full")
    tokenizer = load_tokenizer(backbone)
    torch.manual_seed(0)
    model = build_model(config, backbone, tokenizer, THREE_CLASSES)
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt", return_token_type_ids=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(8):  # enough to make the classes differ; learning is not the point here
        optimizer.zero_grad()
        model(**inputs, labels=torch.tensor(LABELS)).loss.backward()
        optimizer.step()
    run = RunDir(tmp_path_factory.mktemp("runs") / "three")
    run.create()
    data = {"source": "three-class", "sha256": "0" * 64, "label_names": list(THREE_CLASSES)}
    record = {"model": "minilm_full", "family": "transformer", "preset": None,
              "config": to_dict(config), "data": data}  # fmt: skip
    atomic_write_json(run.config_path, record)
    TransformerPredictor(model, tokenizer, config, backbone, label_names=THREE_CLASSES).save(
        run.model_dir
    )
    atomic_write_json(run.metrics_path, {"accuracy": 0.5})
    run.set_status("complete")
    return run.path


def test_load_run_answers_label_names_and_class_probabilities(three_class_run):
    model = sentibench.load_run(three_class_run)
    assert model.label_names == THREE_CLASSES
    proba = model.predict_class_proba(TEXTS, batch_size=4)  # several length-sorted chunks
    assert proba.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(proba, model.predictor.predict_class_proba(TEXTS), atol=1e-6)
    assert len({tuple(row.round(4)) for row in proba}) > 1  # texts are told apart
    labels = model.predict(TEXTS)
    assert labels.tolist() == [THREE_CLASSES[i] for i in proba.argmax(axis=1)]
    with pytest.raises(SentibenchError, match="3 classes"):
        model.predict_proba(TEXTS)
    explanation = model.explain("a great film , loved the acting")
    assert explanation.prob_positive is None and explanation.label in THREE_CLASSES
    assert set(explanation.to_dict()) == {"text", "label", "probabilities", "window", "words"}
    assert explanation.probabilities[explanation.label] == max(explanation.probabilities.values())


def test_predict_writes_the_label_name_and_a_probability_per_class(three_class_run, tmp_path):
    out = tmp_path / "out.csv"
    args = ["predict", "--run", str(three_class_run), "-o", str(out), "simply great !"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = sentibench.load_run(three_class_run).predict_class_proba(["simply great !"])[0]
    header, row = out.read_text().splitlines()
    assert header == "label,prob_negative,prob_neutral,prob_positive"
    label, *values = row.split(",")
    np.testing.assert_allclose([float(v) for v in values], expected, atol=1e-6)
    assert label == THREE_CLASSES[int(np.argmax(expected))]
    # JSONL: the same keys, with the table's ids first
    jsonl = tmp_path / "out.jsonl"
    inputs = Inputs(["a", "b"], ids=["r1", "r2"])
    write_results(inputs, np.array([[0.2, 0.5, 0.3], [0.7, 0.1, 0.2]]), jsonl, "jsonl",
                  THREE_CLASSES)  # fmt: skip
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert rows[1] == {"id": "r2", "label": "negative", "prob_negative": 0.7,
                       "prob_neutral": 0.1, "prob_positive": 0.2}  # fmt: skip
    assert rows[0]["label"] == "neutral"


def test_serve_answers_every_class_probability(three_class_run):
    pytest.importorskip("fastapi", reason="the service needs the serve extra (fastapi, httpx)")
    from fastapi.testclient import TestClient

    from sentibench.inference.service import create_app

    model = sentibench.load_run(three_class_run)
    with TestClient(create_app(model)) as client:
        one = client.post("/predict", json={"text": TEXTS[0], "id": "r1"}).json()
        batch = client.post("/predict", json={"texts": TEXTS[:4]}).json()["predictions"]
        explained = client.post("/explain", json={"text": TEXTS[0]}).json()
    assert set(one) == {"label", "probabilities", "id"} and one["id"] == "r1"
    assert list(one["probabilities"]) == list(THREE_CLASSES)
    assert sum(one["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert one["label"] == max(one["probabilities"], key=one["probabilities"].get)
    expected = model.predict_class_proba(TEXTS[:4])
    for answer, row in zip(batch, expected, strict=True):
        assert [answer["probabilities"][name] for name in THREE_CLASSES] == pytest.approx(row)
    assert explained["label"] == one["label"] and "prob_positive" not in explained
    assert explained["probabilities"] == pytest.approx(one["probabilities"])


def test_exports_give_k_class_probabilities(three_class_run, tmp_path):
    pytest.importorskip("onnxruntime", reason="ONNX export needs the serve extra")
    from sentibench.inference.export import (
        bf16_predictor,
        int8_predictor,
        onnx_predictor,
        write_onnx,
    )

    source = sentibench.load_run(three_class_run).predictor
    expected = source.predict_class_proba(TEXTS)
    assert write_onnx(source, tmp_path / "model.onnx", TEXTS[:8]) in ("torchscript", "dynamo")
    onnx = onnx_predictor(source, tmp_path / "model.onnx", threads=1)
    got = onnx.predict_class_proba(TEXTS)
    assert got.shape == (len(TEXTS), 3) and np.abs(got - expected).max() < 1e-4
    with pytest.raises(SentibenchError, match="3 classes"):
        onnx.predict_proba(TEXTS)
    for exported in (int8_predictor(source), bf16_predictor(source)):
        close = exported.predict_class_proba(TEXTS)
        assert close.shape == (len(TEXTS), 3) and np.abs(close - expected).max() < 0.05
