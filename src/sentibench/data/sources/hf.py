"""Hugging Face `stanfordnlp/imdb` (train / test / unsupervised; only train and test are read),
and any labelled dataset for `data add --source hf` (a hub name, or a save_to_disk folder).

Needs the optional `datasets` package. An IMDB folder is read with `load_from_disk` when it
was written by `save_to_disk` (it holds dataset_dict.json), else with `load_dataset(folder)`.
IMDB has no ids or ratings: ids are `<split>_<index>`, ratings null.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
    """The splits of hub dataset `hf_name` (config `hf_config`), or of a folder written by
    `save_to_disk` (a DatasetDict; a single Dataset is one split)."""
    try:
        import datasets
    except ImportError:
        raise DataError(
            "--source hf needs the datasets package; pip install datasets (or "
            "'sentibench[datasets]')."
        ) from None
    if path is not None:
        if hf_name or hf_config:
            raise ConfigError(
                "--source hf takes --path (a folder written by save_to_disk) or --hf-name "
                "[--hf-config] (a hub dataset), not both."
            )
        return _load_saved(datasets, Path(path))
    if not hf_name:
        raise ConfigError("--source hf needs --hf-name (a hub dataset) or --path (a local one).")
    return _load_hub(datasets, hf_name, hf_config)


# what save_to_disk writes at the top of its folder: a DatasetDict, a single Dataset
SAVED_MARKERS = ("dataset_dict.json", "state.json")


def _load_saved(datasets: Any, path: Path) -> Mapping[str, Any]:
    if not any((path / marker).is_file() for marker in SAVED_MARKERS):
        raise DataError(
            f"{path} is not a dataset written by datasets' save_to_disk (no dataset_dict.json "
            "or state.json in it); save one there, or read data files with --source file."
        )
    try:
        data = datasets.load_from_disk(str(path))
    except Exception as exc:  # a damaged or foreign folder fails in many types
        raise DataError(
            f"{path} cannot be loaded as a saved dataset ({type(exc).__name__}: "
            f"{one_line(exc).rstrip('.')})."
        ) from None
    if isinstance(data, Mapping):  # a DatasetDict
        return data
    return {str(getattr(data, "split", None) or "train"): data}  # one Dataset: one split


def _load_hub(datasets: Any, name: str, config: str | None) -> Mapping[str, Any]:
    what = name + (f" (config {config})" if config else "")
    offline = _offline_now(datasets)
    try:
        with _library_offline(datasets, offline):
            return datasets.load_dataset(name, config)
    except Exception as exc:  # hub, network, offline-mode and format errors come in many types
        if offline and (isinstance(exc, ConnectionError) or "offline" in str(exc).lower()):
            raise DataError(
                f"Hub dataset {what} is not in the local Hugging Face cache and cannot be "
                "fetched offline (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set); run once "
                "with a connection, or pass a folder written by save_to_disk with --path."
            ) from None
        raise DataError(
            f"Hub dataset {what} could not be reached or found ({type(exc).__name__}: "
            f"{one_line(exc).rstrip('.')}); check the name, --hf-config and the connection, "
            "or pass a folder written by save_to_disk with --path."
        ) from None


def _offline_now(datasets: Any) -> bool:
    flags = (os.environ.get(v, "") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return bool(getattr(datasets.config, "HF_HUB_OFFLINE", False)) or any(
        flag.strip().upper() in {"1", "ON", "YES", "TRUE"} for flag in flags
    )


@contextmanager
def _library_offline(datasets: Any, offline: bool) -> Iterator[None]:
    """datasets and huggingface_hub read the offline flags once, at import; one set later (a
    notebook, a test) would otherwise be ignored and the hub retried for half a minute."""
    if not offline:
        yield
        return
    from huggingface_hub import constants

    modules: tuple[Any, ...] = (datasets.config, constants)
    saved = [(module, getattr(module, "HF_HUB_OFFLINE", None)) for module in modules]
    try:
        for module, _ in saved:
            module.HF_HUB_OFFLINE = True
        yield
    finally:
        for module, value in saved:
            module.HF_HUB_OFFLINE = value


def split_table(rows: Any) -> pd.DataFrame:
    """One split's rows as a frame (a datasets.Dataset, or any iterable of dicts)."""
    return rows.to_pandas() if hasattr(rows, "to_pandas") else pd.DataFrame(list(rows))


def class_names(rows: Any, column: str) -> tuple[str, ...] | None:
    """The names of a ClassLabel column (its ids' order), or None for any other column."""
    feature = (getattr(rows, "features", None) or {}).get(column)
    names = getattr(feature, "names", None)
    return tuple(str(n) for n in names) if names else None
