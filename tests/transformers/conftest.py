"""Fixtures of the transformer tests (builders in transformer_fixtures.py; --import-mode=importlib
does not put test folders on sys.path)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# Before anything imports huggingface_hub, which reads it once: no test may try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformer_fixtures import ARCHES, save_tiny_backbone  # noqa: E402


@pytest.fixture(scope="session")
def tiny_backbones(tmp_path_factory) -> dict[str, Path]:
    """arch -> a saved tiny encoder folder with its tokenizer, built once per session."""
    root = tmp_path_factory.mktemp("backbones")
    return {arch: save_tiny_backbone(root / arch, arch) for arch in ARCHES}
