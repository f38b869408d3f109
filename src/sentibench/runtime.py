"""Threads and seeds, applied once per process by the runner (train/runner.py) for every
family, so that no recipe sets them by hand and none forgets to (the linear ones did); and
whether this CPU computes bfloat16 natively, which decides where bf16 autocast pays."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from sentibench.errors import ConfigError

# CPU features that compute bfloat16 matrix products in hardware, best first (Linux names).
# Without one, oneDNN emulates bf16 on fp32 units: measured on an AVX2-only EPYC (Zen 3, 1
# thread, 1024^3 matmul) 0.5 GFLOP/s in bf16 against 46 in fp32.
NATIVE_BF16_FEATURES = ("amx_bf16", "avx512_bf16")
CPU_PRECISIONS = ("fp32", "bf16", "auto")


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


def cpu_flags() -> set[str]:
    """The feature flags of this CPU from /proc/cpuinfo; empty where there is none (macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def native_cpu_bf16() -> str | None:
    """The feature with which this CPU computes bf16 natively (amx_bf16 or avx512_bf16), or
    None: there bf16 is emulated and slower than fp32."""
    flags = cpu_flags()
    return next((feature for feature in NATIVE_BF16_FEATURES if feature in flags), None)


@dataclass(frozen=True)
class CpuPrecision:
    dtype: str  # "bf16": autocast matrix products to bfloat16; "fp32": none
    reason: str  # one sentence for the run's log

    @property
    def bf16(self) -> bool:
        return self.dtype == "bf16"


def cpu_precision(setting: str) -> CpuPrecision:
    """What a CPU run computes in for the config value `setting` (fp32 | bf16 | auto).

    auto is bf16 only where the CPU has native bf16; an explicit bf16 is obeyed everywhere
    (with a warning where it is emulated). Weights and optimizer state stay fp32 either way.
    """
    if setting not in CPU_PRECISIONS:
        raise ConfigError(
            f"cpu_precision must be one of {', '.join(CPU_PRECISIONS)}, got {setting!r}."
        )
    if setting == "fp32":
        return CpuPrecision("fp32", "cpu_precision fp32: computing in fp32")
    feature = native_cpu_bf16()
    if feature is not None:
        return CpuPrecision("bf16", f"cpu_precision {setting}: bf16 autocast ({feature} native)")
    if setting == "bf16":
        return CpuPrecision(
            "bf16",
            "cpu_precision bf16: bf16 autocast although this CPU has no native bf16 "
            f"({' / '.join(NATIVE_BF16_FEATURES)}): it is emulated, far slower than fp32",
        )
    return CpuPrecision(
        "fp32",
        "cpu_precision auto: fp32, because this CPU has no native bf16 "
        f"(no {' or '.join(NATIVE_BF16_FEATURES)} flag in /proc/cpuinfo) and emulated bf16 "
        "is slower than fp32",
    )
