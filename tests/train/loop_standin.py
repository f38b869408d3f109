"""A tiny stand-in word model and a learnable synthetic dataset for the loop tests.

Also runnable as a script (the kill -9 test): `python loop_standin.py RUN_DIR KILL_AT_BATCH`.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentibench.data.batching import evaluation_batches, training_batches
from sentibench.runs import RunDir
from sentibench.train.loop import LoopConfig, LoopResult, train_loop

VOCAB = 30
POSITIVE, NEGATIVE = 2, 3  # the two informative word ids; 4.. are noise


class MeanPool(nn.Module):
    """Embedding, dropout (so resume must restore the RNG), masked mean, linear."""

    def __init__(self, kill_at_batch: int = 0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 8, padding_idx=0)
        self.dropout = nn.Dropout(0.2)
        self.out = nn.Linear(8, 2)
        self.kill_at_batch, self.calls = kill_at_batch, 0

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == self.kill_at_batch:
                os.kill(os.getpid(), signal.SIGKILL)
        mask = (ids != 0).unsqueeze(-1).float()
        pooled = (self.embedding(ids) * mask).sum(1) / lengths.unsqueeze(1).float()
        return self.out(self.dropout(pooled))


class Constant(nn.Module):
    """Ignores its input: can only ever predict one class."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.0, 1.0]))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(ids), 2)


def make_data(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    encoded = []
    for label in labels:
        noise = rng.integers(4, VOCAB, size=rng.integers(2, 12))
        signal_word = POSITIVE if label else NEGATIVE
        encoded.append(np.insert(noise, rng.integers(0, len(noise)), signal_word))
    return encoded, labels


TRAIN, VALIDATION = make_data(160, 0), make_data(60, 1)


def train(
    model: nn.Module,
    config: LoopConfig,
    run: RunDir | None = None,
    on_epoch_end=None,
    validate: bool = True,
) -> LoopResult:
    """validate=False: no validation batches at all (the loop's refit mode)."""
    encoded, labels = TRAIN
    return train_loop(
        model,
        lambda epoch: training_batches(encoded, labels, 16, config.seed, epoch),
        evaluation_batches(*VALIDATION, batch_size=32) if validate else [],
        config,
        run=run,
        on_epoch_end=on_epoch_end,
    )


def resume_config() -> LoopConfig:
    return LoopConfig(epochs=3, lr=0.05, warmup_ratio=0.2, threads=1, progress=False, seed=5,
                      require_learning=False)  # fmt: skip


if __name__ == "__main__":
    run = RunDir(Path(sys.argv[1]))
    run.create()
    torch.manual_seed(0)
    train(MeanPool(kill_at_batch=int(sys.argv[2])), resume_config(), run)
