"""Resume state of a training run, written at the end of every epoch into run/checkpoint/.

    checkpoint/
      model.safetensors      current weights (what the next epoch starts from)
      best.safetensors       weights of the best validation epoch so far (early stopping)
      optimizer.pt           optimizer state (torch.save of tensors and numbers, read back with
                             weights_only=True: private resume state, deleted when the run ends)
      rng.safetensors        torch CPU and CUDA generator states
      state.json             epoch counter, early-stopping state, scheduler and scaler state,
                             python and numpy RNG states, and the fingerprint of the loop config

The batch order is a function of (seed, epoch) (see data/batching.py), so the epoch counter is
the whole sampler state. A checkpoint is written into a temporary folder and renamed into
place, so a kill -9 leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from sentibench.errors import SentibenchError


@dataclass
class TrainingState:
    """Everything about the loop's progress that is not a tensor."""

    epoch: int = 0  # epochs completed
    global_step: int = 0  # optimizer steps taken
    best_accuracy: float = -1.0
    best_epoch: int = 0
    best_one_class_share: float = (
        1.0  # of the kept epoch's validation (refit: training) predictions
    )
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    finished: bool = False  # training ended; the model holds the best weights


def save_weights(model: nn.Module, path: Path, metadata: dict[str, str] | None = None) -> None:
    """The model's state dict as safetensors. Every tensor is copied to the CPU on its own:
    cuDNN packs an RNN's weights into one shared buffer, which safetensors refuses to save."""
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)


def load_weights(model: nn.Module, path: Path) -> None:
    model.load_state_dict(load_file(str(path)))


def _sibling(directory: Path, tag: str) -> Path:
    return directory.parent / f".{directory.name}.{tag}"


def _rng_tensors() -> dict[str, torch.Tensor]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{index}"] = state
    return tensors


def _rng_json() -> dict[str, Any]:
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    return {"python": random.getstate(), "numpy": numpy_state}


def _restore_rng(tensors: dict[str, torch.Tensor], states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = states["numpy"]
    numpy_state["state"]["key"] = np.asarray(numpy_state["state"]["key"], dtype=np.uint32)
    np.random.set_state(numpy_state)
    torch.set_rng_state(tensors["torch"])
    if torch.cuda.is_available():
        cuda = [tensors.get(f"cuda.{i}") for i in range(torch.cuda.device_count())]
        cuda_states = [state for state in cuda if state is not None]
        if len(cuda_states) == len(cuda):
            torch.cuda.set_rng_state_all(cuda_states)


def save_checkpoint(
    directory: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    best_weights: dict[str, torch.Tensor] | None,
    state: TrainingState,
    fingerprint: dict[str, Any],
) -> None:
    """Write the resume state atomically (temp folder + rename)."""
    directory = Path(directory)
    tmp, old = _sibling(directory, "tmp"), _sibling(directory, "old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(model, tmp / "model.safetensors")
    if best_weights is not None:
        save_file(best_weights, str(tmp / "best.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    save_file(_rng_tensors(), str(tmp / "rng.safetensors"))
    payload = {
        "state": asdict(state),
        "fingerprint": fingerprint,
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": _rng_json(),
    }
    (tmp / "state.json").write_text(json.dumps(payload), encoding="utf-8")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(directory: Path) -> Path | None:
    """The complete checkpoint folder, if any (also one left mid-swap by a kill)."""
    directory = Path(directory)
    for candidate in (directory, _sibling(directory, "old")):
        if (candidate / "state.json").is_file():
            return candidate
    return None


def load_checkpoint(
    directory: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    fingerprint: dict[str, Any],
) -> tuple[TrainingState, dict[str, torch.Tensor] | None] | None:
    """Restore model, optimizer, scheduler, scaler and RNG states in place from `directory`;
    return (state, best weights), or None when there is no checkpoint."""
    found = find_checkpoint(directory)
    if found is None:
        return None
    try:
        payload = json.loads((found / "state.json").read_text(encoding="utf-8"))
        if payload["fingerprint"] != fingerprint:
            raise SentibenchError(
                f"The checkpoint in {found} was written with other training settings; "
                "remove it to start afresh, or train with the settings it was made with."
            )
        load_weights(model, found / "model.safetensors")
        optimizer.load_state_dict(
            torch.load(found / "optimizer.pt", map_location="cpu", weights_only=True)
        )
        scheduler.load_state_dict(payload["scheduler"])
        if scaler is not None and payload["scaler"] is not None:
            scaler.load_state_dict(payload["scaler"])
        _restore_rng(load_file(str(found / "rng.safetensors")), payload["rng"])
        best_path = found / "best.safetensors"
        best = load_file(str(best_path)) if best_path.exists() else None
        return TrainingState(**payload["state"]), best
    except SentibenchError:
        raise
    except Exception as exc:  # safetensors, torch and json raise many types for damaged files
        raise SentibenchError(
            f"The checkpoint in {found} cannot be read ({type(exc).__name__}: {exc}); "
            "remove it to start the run afresh."
        ) from None
