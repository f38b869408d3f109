"""Threads and seeds, applied once per process by the runner (train/runner.py) for every
family, so that no recipe sets them by hand and none forgets to (the linear ones did)."""

from __future__ import annotations

import random

from sentibench.errors import ConfigError


def set_threads(threads: int | None) -> None:
    """Intra-op threads for torch and for the BLAS/OpenMP pools under numpy and scikit-learn;
    None keeps the library defaults."""
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}.")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # numpy/scipy BLAS, OpenMP of scikit-learn
    try:
        import torch
    except ModuleNotFoundError:  # the linear family runs without torch
        return
    torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    """Python, numpy and (when installed) torch on every device, from one RNG seed."""
    random.seed(seed)
    try:
        from accelerate.utils import set_seed
    except ModuleNotFoundError:
        import numpy as np

        np.random.seed(seed)
        return
    set_seed(seed)


def apply(threads: int, seed: int) -> None:
    """What the runner calls before a recipe trains: `config.threads` (0: library default)
    and `config.seed`."""
    set_threads(threads or None)
    seed_everything(seed)
