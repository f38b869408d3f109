"""Hugging Face `stanfordnlp/imdb` (train / test / unsupervised; only train and test are read).

Needs the optional `datasets` package. A local folder is read with `load_from_disk` when it
was written by `save_to_disk` (it holds dataset_dict.json), else with `load_dataset(folder)`.
The dataset has no ids or ratings: ids are `<split>_<index>`, ratings null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sentibench.errors import ConfigError, DataError, one_line

HUB_NAME = "stanfordnlp/imdb"
SPLITS = ("train", "test")

# path -> mapping split -> rows (a datasets.Dataset, or any iterable of {"text", "label"} dicts)
Loader = Callable[[Path | None], Mapping[str, Any]]


def read(path: Path | None = None, loader: Loader | None = None) -> dict[str, pd.DataFrame]:
    """The official train and test splits; `loader` replaces `datasets` (tests, other stores)."""
    data = (loader or load_with_datasets)(path)
    where = str(path) if path is not None else HUB_NAME
    return {split: _frame(data, split, where) for split in SPLITS}


def load_with_datasets(path: Path | None) -> Mapping[str, Any]:
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            "The hf source needs the datasets package; pip install 'sentibench[datasets]'."
        ) from None
    try:
        if path is None:
            return datasets.load_dataset(HUB_NAME)
        if (Path(path) / "dataset_dict.json").is_file():
            return datasets.load_from_disk(str(path))
        return datasets.load_dataset(str(path))
    except Exception as exc:  # hub, network, offline-mode and format errors come in many types
        if path is None:
            raise DataError(
                f"Cannot load {HUB_NAME} from the Hugging Face hub ({type(exc).__name__}); "
                "pass a local dataset folder with --path."
            ) from None
        raise DataError(
            f"{path} cannot be loaded as a dataset ({type(exc).__name__}: {one_line(exc)})."
        ) from None


def _frame(data: Mapping[str, Any], split: str, where: str) -> pd.DataFrame:
    if split not in data:
        raise DataError(f"{where} has no {split} split (found {', '.join(map(str, data))}).")
    rows = data[split]
    table = rows.to_pandas() if hasattr(rows, "to_pandas") else pd.DataFrame(list(rows))
    missing = [c for c in ("text", "label") if c not in table.columns]
    if missing:
        raise DataError(f"{where} {split} split lacks column(s) {', '.join(missing)}.")
    return pd.DataFrame(
        {
            "id": [f"{split}_{i}" for i in range(len(table))],
            "text": table["text"].to_numpy(),
            "label": table["label"].to_numpy(),
            "rating": pd.array([pd.NA] * len(table), dtype="Int64"),
        }
    )


# -- any labelled dataset, for `data add NAME --source hf --hf-name X [--hf-config Y]` ----------


def load_named(hf_name: str | None, hf_config: str | None, path: Path | None) -> Mapping[str, Any]:
    """The splits of hub dataset `hf_name` (config `hf_config`), or of a local dataset folder."""
    try:
        import datasets
    except ImportError:
        raise DataError(
            "--source hf needs the datasets package; pip install datasets (or "
            "'sentibench[datasets]')."
        ) from None
    if path is None and not hf_name:
        raise ConfigError("--source hf needs --hf-name (a hub dataset) or --path (a local one).")
    try:
        if path is not None:
            if (Path(path) / "dataset_dict.json").is_file():
                return datasets.load_from_disk(str(path))
            return datasets.load_dataset(str(path), hf_config)
        return datasets.load_dataset(hf_name, hf_config)
    except Exception as exc:  # hub, network, offline-mode and format errors come in many types
        if path is None:
            config = f" (config {hf_config})" if hf_config else ""
            raise DataError(
                f"Cannot load {hf_name}{config} from the Hugging Face hub ({type(exc).__name__}: "
                f"{one_line(exc)}); check the name and the connection, or pass a local dataset "
                "folder with --path."
            ) from None
        raise DataError(
            f"{path} cannot be loaded as a dataset ({type(exc).__name__}: {one_line(exc)})."
        ) from None


def split_table(rows: Any) -> pd.DataFrame:
    """One split's rows as a frame (a datasets.Dataset, or any iterable of dicts)."""
    return rows.to_pandas() if hasattr(rows, "to_pandas") else pd.DataFrame(list(rows))


def class_names(rows: Any, column: str) -> tuple[str, ...] | None:
    """The names of a ClassLabel column (its ids' order), or None for any other column."""
    feature = (getattr(rows, "features", None) or {}).get(column)
    names = getattr(feature, "names", None)
    return tuple(str(n) for n in names) if names else None
