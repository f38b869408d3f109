"""Fake models for the bench tests, usable in the test process and in bench worker processes.

A worker is a separate Python process that cannot see pytest fixtures, so the bench tests start
`python fake_models.py worker JOB` (registers the fakes, then runs the real worker) and
`python fake_models.py bench SUITE RUNS` (a bench whose workers are this file).

keyword   the tiny real model of tests/conftest.py
slow      writes one history row and a checkpoint per epoch, resumes from the checkpoint
exploding raises in train (a bug in a model)
oom       SIGKILLs its own process (what the out-of-memory killer does)
missing   its recipe's package is not installed (fails before the runner makes a record)
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import sys
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = (sys.executable, str(Path(__file__).resolve()), "worker")


def _load_conftest() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sentibench_tests_conftest", HERE.parent / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


_conftest = _load_conftest()
KeywordConfig, KeywordPredictor, KeywordRecipe = (
    _conftest.KeywordConfig,
    _conftest.KeywordPredictor,
    _conftest.KeywordRecipe,
)


@dataclasses.dataclass
class SlowConfig(KeywordConfig):
    epochs: int = 4
    epoch_seconds: float = 0.4


class SlowRecipe(KeywordRecipe):
    """Epochs that take time, checkpointed like the real training loop."""

    config_cls = SlowConfig

    def train(self, config, splits, run):
        checkpoint = run.checkpoint_dir / "epoch.json"
        start = json.loads(checkpoint.read_text())["epoch"] if checkpoint.exists() else 0
        run.truncate_history(start)
        for epoch in range(start + 1, config.epochs + 1):
            time.sleep(config.epoch_seconds)
            run.append_history({"epoch": epoch, "train_loss": 1 / epoch, "val_accuracy": 0.9})
            run.checkpoint_dir.mkdir(exist_ok=True)
            checkpoint.write_text(json.dumps({"epoch": epoch}))
        return KeywordPredictor({"great": 2.0, "excellent": 2.0, "bad": -2.0, "worst": -2.0})


class ExplodingRecipe(KeywordRecipe):
    def train(self, config, splits, run):
        raise RuntimeError("boom in epoch 1")


class OomRecipe(KeywordRecipe):
    def train(self, config, splits, run):
        os.kill(os.getpid(), signal.SIGKILL)


def register(setitem) -> None:
    """Register the fakes with `setitem(mapping, key, value)` (monkeypatch.setitem in tests)."""
    from sentibench.registry import REGISTRY, ModelSpec

    def fake_spec(name: str, summary: str, recipe: str) -> ModelSpec:
        return ModelSpec(name, "linear", summary, recipe, preset_dir=HERE / "presets")

    recipes = {
        "keyword": KeywordRecipe(),
        "slow": SlowRecipe(),
        "exploding": ExplodingRecipe(),
        "oom": OomRecipe(),
    }
    module = types.ModuleType("sentibench_test_fakes")
    setitem(sys.modules, module.__name__, module)
    for name, recipe in recipes.items():
        setattr(module, name, recipe)
        setitem(REGISTRY, name, fake_spec(name, f"test model {name}", f"{module.__name__}:{name}"))
    setitem(REGISTRY, "missing", fake_spec("missing", "test", "sentibench_no_such_pkg:x"))


def _setitem(mapping, key, value) -> None:
    mapping[key] = value


if __name__ == "__main__":
    register(_setitem)
    if sys.argv[1] == "worker":
        from sentibench.bench.worker import main

        sys.exit(main(sys.argv[2:]))
    from sentibench.bench.runner import run_suite
    from sentibench.bench.suite import load_suite

    run_suite(load_suite(sys.argv[2]), Path(sys.argv[3]), worker=WORKER, report=False)
