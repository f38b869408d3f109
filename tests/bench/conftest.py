"""The bench tests' own fixtures: a real one-node Slurm cluster (slurm_cluster.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _cluster_module():
    name = "sentibench_tests_slurm_cluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("slurm_cluster.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A running local Slurm cluster (SLURM_CONF set for this process and its children)."""
    yield from _cluster_module().start_cluster(tmp_path_factory.mktemp("slurm"))
