"""Fixtures of the bench tests: the fake models of fake_models.py, registered for one test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "sentibench_bench_fakes", Path(__file__).with_name("fake_models.py")
)
fake_models = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fake_models  # dataclasses look their module up while it executes
_spec.loader.exec_module(fake_models)


@pytest.fixture
def fakes(monkeypatch):
    """keyword / slow / exploding / oom in the registry, each with a `quick` preset."""
    fake_models.register(monkeypatch.setitem)
    return fake_models
