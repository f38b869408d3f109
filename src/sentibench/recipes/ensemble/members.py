"""Reading the member runs of an ensemble, and refusing any that cannot be combined: each must
be complete and scored on the same test reviews of the same data (sha256); a fitted method
also needs their validation predictions, on one shared validation split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentibench.data.dataset import data_sha256, read_split, resolve_data, split_file
from sentibench.errors import DataError, EnsembleError
from sentibench.runs import REMOTE_CODE_KEY, RunDir, RunRecord, load_run


@dataclass(frozen=True)
class Member:
    record: RunRecord
    test: pd.DataFrame  # predictions.csv: id, sentiment, prob_positive
    validation: pd.DataFrame | None  # val_predictions.csv; None where the run has none

    @property
    def sha256(self) -> str:
        return self.record.config["data"]["sha256"]


def _read_predictions(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"id": str})
    except (OSError, ValueError) as exc:
        raise EnsembleError(
            f"{path} cannot be read ({type(exc).__name__}); is it damaged?"
        ) from None
    if not {"id", "prob_positive"} <= set(frame.columns) or frame["id"].duplicated().any():
        raise EnsembleError(f"{path} is not a predictions file of unique ids with prob_positive.")
    return frame


def read_member(path: Path, method: str, fitted: bool) -> Member:
    """One run, refused with the reason if it cannot be a member of a `method` ensemble."""
    record = load_run(Path(path))
    if record.status != "complete":
        raise EnsembleError(
            f"Run {path} is {record.status}, not complete; only complete runs can be members."
        )
    split = (record.metrics or {}).get("split")
    if split is not None:
        raise EnsembleError(
            f"Run {path} was scored on its {split} split (a tune trial), not "
            "on test; only runs scored on the test split can be members."
        )
    if len(record.label_names) != 2:
        raise EnsembleError(f"Run {path} has {len(record.label_names)} classes; ensembles "
                            "combine binary runs only (their P(positive)).")  # fmt: skip
    values = record.config.get("config")
    if isinstance(values, dict) and values.get(REMOTE_CODE_KEY, False) is not False:
        raise EnsembleError(
            f"Run {path} was trained with trust_remote_code = true; an ensemble loads its "
            "members without running code from their folders, so it cannot include this run."
        )
    run = RunDir(path)
    if not run.predictions_path.is_file():
        raise EnsembleError(f"Run {path} has no predictions.csv, so it cannot be combined.")
    validation = None
    if run.val_predictions_path.is_file():
        validation = _read_predictions(run.val_predictions_path)
    elif fitted:
        raise EnsembleError(
            f"Run {path} has no val_predictions.csv (a refit with val_fraction = 0, or a run "
            f"recorded before runs kept them), and --method {method} fits on the members' "
            "validation predictions: out-of-fold predictions are not available for it, so "
            "use mean or vote, or members trained with val_fraction > 0."
        )
    return Member(record, _read_predictions(run.predictions_path), validation)


def _validation(member: Member) -> pd.DataFrame:
    if member.validation is None:  # read_member refused it for a fitted method
        raise EnsembleError(f"Run {member.record.path} has no val_predictions.csv.")
    return member.validation


def _same_ids(a: pd.Series, b: pd.Series) -> bool:
    return len(a) == len(b) and set(a) == set(b)


def read_members(paths: Sequence[Path], method: str, fitted: bool) -> list[Member]:
    """Every member, checked against the first: same data, test reviews and (fitted methods)
    validation reviews."""
    if len(paths) < 2:
        raise EnsembleError("An ensemble needs at least two --runs.")
    seen: dict[Path, Path] = {}
    for path in paths:
        resolved = Path(path).resolve()
        if resolved in seen:
            raise EnsembleError(f"--runs names {seen[resolved]} twice; name each member once.")
        seen[resolved] = Path(path)
    members = [read_member(Path(path), method, fitted) for path in paths]
    first = members[0]
    for member in members[1:]:
        a, b = first.record.path, member.record.path
        if member.sha256 != first.sha256:
            raise EnsembleError(
                f"Runs {a} and {b} were trained on different data (sha256 {first.sha256[:12]} "
                f"vs {member.sha256[:12]}); the members of an ensemble must share the dataset."
            )
        if not _same_ids(member.test["id"], first.test["id"]):
            raise EnsembleError(
                f"Runs {a} and {b} scored different test reviews; the members of an ensemble "
                "must be scored on the same test split."
            )
        if fitted and not _same_ids(_validation(member)["id"], _validation(first)["id"]):
            raise EnsembleError(
                f"Runs {a} and {b} were validated on different reviews (another seed or "
                f"val_fraction carves another split); --method {method} fits on validation "
                "predictions, so its members must share one validation split."
            )
    return members


def proba_matrix(members: Sequence[Member], ids: pd.Series, split: str) -> np.ndarray:
    """(n reviews in the order of `ids`, m members) of the members' recorded P(positive)."""
    frames = [m.test if split == "test" else _validation(m) for m in members]
    columns = [frame.set_index("id").loc[ids, "prob_positive"].to_numpy() for frame in frames]
    return np.column_stack(columns).astype(np.float64)


def shared_data(members: Sequence[Member]) -> Path:
    """The prepared folder the members were trained on, checked to be unchanged since."""
    data = members[0].record.config["data"]
    folder, _ = resolve_data(data["source"])
    if data_sha256(folder) != data["sha256"]:
        raise DataError(
            f"The data {data['source']} has changed since run {members[0].record.path} was "
            "trained on it (another sha256); train the members again on the data as it is now."
        )
    return folder


def labels_of(folder: Path, split: str, ids: pd.Series) -> np.ndarray:
    """The labels of the reviews `ids` in the `split` file ("train" holds validation)."""
    frame = read_split(split_file(folder, split)).set_index("id")
    missing = ids[~ids.isin(frame.index)]
    if len(missing):
        raise DataError(
            f"Review id {missing.iloc[0]!r} of the members' predictions is not in the {split} "
            f"file of {folder}; the members were scored on other data."
        )
    return frame.loc[ids, "label"].to_numpy(dtype=np.int64)
