"""A real one-node Slurm cluster for the tests (scripts/slurm-local.sh), started once per
session and stopped at its end. Where it cannot start (not root, no apt-get to install
slurm-wlm and munge) the tests that need it skip with that reason; CI (.ci/run) has both."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm-local.sh"
TOOLS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")


def _install() -> str | None:
    """None once the Slurm tools are here, else why they cannot be."""
    if all(shutil.which(tool) for tool in TOOLS):
        return None
    if os.geteuid() != 0:
        return "a local Slurm cluster needs root (apt-get install slurm-wlm munge, its daemons)"
    if shutil.which("apt-get") is None:
        return "no apt-get here to install slurm-wlm and munge"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"]):  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=900, env=env)
    return None


def start_cluster(folder: Path):  # noqa: ANN201 - a generator fixture body
    reason = _install()
    if reason is not None:
        pytest.skip(reason)
    started = subprocess.run(
        [str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(folder / "slurm.conf")
    try:
        yield folder
    finally:
        subprocess.run([str(SCRIPT), "stop", str(folder)], timeout=120, check=False)
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
