"""Several processes (gloo on CPU) train like one process with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sentibench.runs import RunDir

# Trains a small MLP for 3 epochs of 4 batches of 8 rows through train_loop; writes the history.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from torch import nn
    from sentibench.train.loop import LoopConfig, train_loop

    def batches(epoch):
        g = torch.Generator().manual_seed(epoch)
        x = torch.randn(32, 6, generator=g)
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
        return [{"x": x[i : i + 8], "labels": y[i : i + 8]} for i in range(0, 32, 8)]

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
    config = LoopConfig(epochs=3, lr=0.05, seed=0, threads=1, progress=False)
    trained_rows = [0]

    def forward(m, b):
        trained_rows[0] += len(b["x"]) if m.training else 0
        return m(b["x"])

    result = train_loop(model, batches, batches(99), config, forward=forward)
    dist = torch.distributed
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        written = {"world": world, "rows": trained_rows[0], "history": result.history}
        open(sys.argv[1], "w").write(json.dumps(written))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(script: Path, out: Path, world: int) -> list[subprocess.Popen]:
    port = str(free_port())
    processes = []
    for rank in range(world):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        if world > 1:  # what torchrun / accelerate launch set for each process
            env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, WORLD_SIZE=str(world),
                       RANK=str(rank), LOCAL_RANK=str(rank))  # fmt: skip
        processes.append(subprocess.Popen([sys.executable, str(script), str(out)], env=env))
    return processes


def history(script: Path, out: Path, world: int) -> list[dict]:
    processes = launch(script, out, world)
    codes = [p.wait(timeout=120) for p in processes]
    assert codes == [0] * world
    written = json.loads(out.read_text())
    assert written["world"] == world  # the processes did form one process group
    assert written["rows"] == 3 * 32 // world  # and each trained on its share of every batch
    return written["history"]


def test_two_gloo_processes_follow_the_one_process_loss_curve(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    one = history(script, tmp_path / "one.json", 1)
    two = history(script, tmp_path / "two.json", 2)
    assert len(one) == len(two) == 3
    for a, b in zip(one, two, strict=True):
        # each process saw half the rows, yet the epoch figures cover all of them
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["train_accuracy"] == pytest.approx(b["train_accuracy"], abs=1e-9)
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)
        assert a["val_accuracy"] == b["val_accuracy"]
    assert one[0]["train_loss"] > one[-1]["train_loss"]  # it did learn something


def test_only_the_main_process_writes_the_run_record(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    worker = RunDir(tmp_path / "run")
    worker.create()
    worker.set_status("running")
    worker.log("hello")
    worker.append_history({"epoch": 1})
    assert not (tmp_path / "run").exists()
    monkeypatch.setenv("RANK", "0")
    main = RunDir(tmp_path / "run")
    main.create()
    main.append_history({"epoch": 1})
    assert main.history() == [{"epoch": 1}]
