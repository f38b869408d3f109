"""Shared fixtures: an isolated SENTIBENCH_HOME, one torch thread, a tiny fake recipe, the toy
net of the model battery, the bench's fake models and tiny transformer backbones."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

# Before anything imports huggingface_hub, which reads it once: no test may try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# --import-mode=importlib does not put test folders on sys.path; the shared helper modules
# (model_battery, transformer_fixtures) live here.
sys.path.insert(0, str(Path(__file__).parent))

from model_battery import TOY, register_toy, unregister_toy  # noqa: E402

from sentibench.config import BaseConfig  # noqa: E402
from sentibench.registry import REGISTRY, ModelSpec  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's cache, or reaches a hub."""
    home = tmp_path_factory.mktemp("sentibench_home")
    monkeypatch.setenv("SENTIBENCH_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


@pytest.fixture(autouse=True)
def toy_net_when_named(request):
    """A test parametrised with the toy net's name (model_battery.classic_nets()) finds it in
    the registry; no other test does."""
    callspec = getattr(request.node, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    if not any(isinstance(value, str) and value == TOY for value in params):
        yield
        return
    register_toy()
    try:
        yield
    finally:
        unregister_toy()


@pytest.fixture(autouse=True)
def denormals_restored():
    """The training loop turns on flush-to-zero for speed (train/loop.py) and leaves it on;
    hypothesis then refuses to generate floats, so each test starts with it off."""
    yield
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_flush_denormal(False)


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@dataclass
class KeywordConfig(BaseConfig):
    """A model with a handful of parameters, so runner and CLI tests take milliseconds."""

    words: list[str] = field(default_factory=lambda: ["great", "excellent", "bad", "worst"])
    collapse: bool = False


class KeywordPredictor:
    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights
        self.n_parameters = len(weights)

    def predict_proba(self, texts):
        scores = [sum(w * t.lower().count(k) for k, w in self.weights.items()) for t in texts]
        return 1 / (1 + np.exp(-np.asarray(scores, dtype=float)))

    def save(self, directory: Path) -> None:
        (Path(directory) / "weights.json").write_text(json.dumps(self.weights))


class KeywordRecipe:
    config_cls = KeywordConfig

    def train(self, config, splits, run):
        weights = {}
        for word in config.words:
            has = splits.train["text"].str.lower().str.contains(word)
            positive = splits.train["label"][has].mean() if has.any() else 0.5
            weights[word] = (
                100.0 if config.collapse else float(np.log((positive + 0.01) / (1.01 - positive)))
            )
        run.append_history({"epoch": 1, "val_accuracy": 0.5})
        return KeywordPredictor(weights)

    def load(self, config, model_dir):
        return KeywordPredictor(json.loads((Path(model_dir) / "weights.json").read_text()))


@pytest.fixture
def keyword_model(monkeypatch):
    """Register `keyword` (a tiny real model) in the registry for the duration of a test."""
    module = types.ModuleType("sentibench_test_keyword")
    module.RECIPE = KeywordRecipe()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    spec = ModelSpec("keyword", "linear", "test keyword model", f"{module.__name__}:RECIPE")
    monkeypatch.setitem(REGISTRY, "keyword", spec)
    return spec


POSITIVE = [
    "a great film, excellent acting",
    "great fun and excellent music",
    "simply great",
    "an excellent story, great cast",
    "great! excellent!",
    "excellent and great direction",
]
NEGATIVE = [
    "a bad film, the worst acting",
    "bad plot and the worst music",
    "simply bad",
    "the worst story, bad cast",
    "bad! worst!",
    "worst and bad direction",
]


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    """A prepared folder (train.jsonl / test.jsonl) with a learnable keyword signal."""
    import pandas as pd

    folder = tmp_path / "tiny"
    folder.mkdir()
    for split, repeat in (("train", 5), ("test", 2)):
        rows = [
            {"id": f"{split}{i}_{k}", "text": t, "label": label}
            for k in range(repeat)
            for i, (t, label) in enumerate([(t, 1) for t in POSITIVE] + [(t, 0) for t in NEGATIVE])
        ]
        pd.DataFrame(rows).to_json(folder / f"{split}.jsonl", orient="records", lines=True)
    return folder


@pytest.fixture(scope="session")
def tiny_backbones(tmp_path_factory) -> dict[str, Path]:
    """arch -> a saved tiny encoder folder with its tokenizer (transformer_fixtures.py), built
    once per session: the transformers/ and recipes/transformer/ tests share them."""
    from transformer_fixtures import ARCHES, save_tiny_backbone

    root = tmp_path_factory.mktemp("backbones")
    return {arch: save_tiny_backbone(root / arch, arch) for arch in ARCHES}


@pytest.fixture
def fakes(monkeypatch):
    """keyword / slow / exploding / oom of bench/fake_models.py in the registry for one test,
    each with a `quick` preset (the bench and the report tests use them)."""
    name = "sentibench_bench_fakes"
    if name not in sys.modules:  # loaded here, not at import: fake_models.py loads this file
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "bench" / "fake_models.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    sys.modules[name].register(monkeypatch.setitem)
    return sys.modules[name]


def pytest_terminal_summary(terminalreporter):
    """How many generated inputs the property-based tests tried (tests/property_inputs.py)."""
    module = sys.modules.get("property_inputs")
    if module is not None and module.TRIED:
        tried, parsed = module.TRIED, module.PARSED
        each = ", ".join(f"{name} {n} ({parsed[name]} parsed)" for name, n in sorted(tried.items()))
        total = sum(tried.values())
        terminalreporter.write_line(f"property-based tests: {total} generated inputs: {each}")
