"""runtime.cpu_precision: bf16 only where the CPU computes it natively (the capability check
mocked), fp32 elsewhere with the reason; an explicit setting is obeyed."""

from __future__ import annotations

import pytest

from sentibench import runtime
from sentibench.errors import ConfigError


@pytest.mark.parametrize(
    ("flags", "feature"),
    [({"avx2", "avx512_bf16"}, "avx512_bf16"), ({"amx_bf16", "avx512_bf16"}, "amx_bf16")],
)
def test_auto_is_bf16_where_the_cpu_has_native_bf16(monkeypatch, flags, feature):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: flags)
    assert runtime.native_cpu_bf16() == feature
    chosen = runtime.cpu_precision("auto")
    assert chosen.bf16 and chosen.dtype == "bf16" and feature in chosen.reason


def test_auto_falls_back_to_fp32_with_the_reason(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "avx512f", "fma"})
    assert runtime.native_cpu_bf16() is None
    chosen = runtime.cpu_precision("auto")
    assert chosen.dtype == "fp32" and not chosen.bf16
    assert "no native bf16" in chosen.reason and "avx512_bf16" in chosen.reason


def test_explicit_settings_are_obeyed(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_flags", set)
    assert runtime.cpu_precision("fp32").dtype == "fp32"
    emulated = runtime.cpu_precision("bf16")
    assert emulated.dtype == "bf16" and "emulated" in emulated.reason
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512_bf16"})
    assert runtime.cpu_precision("fp32").dtype == "fp32"  # the default keeps fp32 everywhere
    with pytest.raises(ConfigError, match="cpu_precision must be one of"):
        runtime.cpu_precision("fp16")


def test_cpu_flags_reads_this_machine():
    flags = runtime.cpu_flags()
    assert isinstance(flags, set) and all(isinstance(flag, str) for flag in flags)
