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

# Trains a small MLP for 3 epochs through train_loop (batch sizes and grad_accum from argv);
# rank 0 writes the process count, the rows its forward saw in training, and the history.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from torch import nn
    from sentibench.train.loop import LoopConfig, train_loop

    sizes, accum = json.loads(sys.argv[2]), int(sys.argv[3])

    def batches(epoch):
        g = torch.Generator().manual_seed(epoch)
        x = torch.randn(sum(sizes), 6, generator=g)
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
        return [{"x": part, "labels": label} for part, label in
                zip(x.split(sizes), y.split(sizes))]

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
    config = LoopConfig(epochs=3, lr=0.05, seed=0, threads=1, progress=False, grad_accum=accum,
                        require_learning=False)  # tiny data: the mechanics only  # fmt: skip
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


def launch(script: Path, out: Path, world: int, sizes: list[int], accum: int) -> list:
    port = str(free_port())
    processes = []
    for rank in range(world):
        env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # gloo on CPUs
        if world > 1:  # what torchrun / accelerate launch set for each process
            env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, WORLD_SIZE=str(world),
                       RANK=str(rank), LOCAL_RANK=str(rank))  # fmt: skip
        command = [sys.executable, str(script), str(out), json.dumps(sizes), str(accum)]
        processes.append(subprocess.Popen(command, env=env))
    return processes


def histories(script: Path, out: Path, sizes: list[int], accum: int) -> list[list[dict]]:
    """The loss curves of one process and of two gloo processes, trained at the same time."""
    worlds = (1, 2)
    processes = {world: launch(script, out / f"{world}.json", world, sizes, accum)
                 for world in worlds}  # fmt: skip
    try:
        codes = {world: [p.wait(timeout=120) for p in ps] for world, ps in processes.items()}
    finally:
        for ps in processes.values():
            for p in ps:
                p.kill()
    curves = []
    for world in worlds:
        assert codes[world] == [0] * world
        written = json.loads((out / f"{world}.json").read_text())
        assert written["world"] == world  # the processes did form one process group
        # rank 0 trained on its slice of each batch (the first, larger one of an uneven
        # split), and on the whole of a batch with fewer rows than processes
        rows = sum(-(-n // world) if n >= world else n for n in sizes)
        assert written["rows"] == 3 * rows
        curves.append(written["history"])
    return curves


@pytest.mark.parametrize(
    ("sizes", "accum"),
    # uneven batches, a tiny tail and accumulation in one case (each case costs ~12 s of
    # process start-up; a case without accumulation tested nothing this one does not)
    [([8, 7, 8, 1], 2)],
    ids=["uneven-tiny-tail-accumulation"],
)
def test_two_gloo_processes_follow_the_one_process_loss_curve(sizes, accum, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    one, two = histories(script, tmp_path, sizes, accum)
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
