"""The registry as the test battery sees it: the models each battery test runs over, read from
the registry at collection time, and a toy net that proves a new model needs no test edits.

The toy is tests/nn/toy_net.py (an nn.Module, its Config and build) plus the one
`register(ModelSpec(...))` below; tests/conftest.py registers it only while a test whose
parameters name it runs, and removes it afterwards (`sentibench models` never lists it).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sentibench.registry import CLASSIC_RECIPE, REGISTRY, ModelSpec, register

TOY = "toy_net"
TOY_FILE = Path(__file__).parent / "nn" / "toy_net.py"
TOY_PRESETS = TOY_FILE.parent / "toy_presets"  # toy_net.cpu.toml, toy_net.quick.toml


def _import_toy_module() -> None:
    """Make tests/nn/toy_net.py importable as `toy_net` (pytest's importlib mode does not put
    test folders on sys.path), once: its Config must stay one class for the whole session."""
    if TOY in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(TOY, TOY_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[TOY] = module  # dataclasses and type hints look their module up by name
    spec.loader.exec_module(module)


def register_toy() -> None:
    _import_toy_module()
    register(ModelSpec(TOY, "classic", "the tests' toy net: token features, max over time",
                       CLASSIC_RECIPE, module=TOY, preset_dir=TOY_PRESETS))  # fmt: skip


def unregister_toy() -> None:
    REGISTRY.pop(TOY, None)


def classic_nets() -> list[str]:
    """Every classic net of the registry, then the toy: what each battery test is run over."""
    registered = [spec.name for spec in REGISTRY.values() if spec.family == "classic"]
    return [name for name in registered if name != TOY] + [TOY]
