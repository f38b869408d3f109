"""Is a gap between two ranked runs real? McNemar's exact test on the same test reviews.

Predictions are joined by review id with the test labels, so two runs are compared on exactly
the reviews both scored; the caller only pairs runs whose data has the same sha256. The test is
on correctness (right or wrong per review), so it is the same for any number of classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sentibench.metrics import mcnemar_exact
from sentibench.runs import load_run

ALPHA = 0.05  # a gap with p < ALPHA is called real (unadjusted, one test per adjacent pair)


def read_predictions(run_path: Path) -> pd.DataFrame:
    """predictions.csv of a run with `predicted`, the predicted label id, added: binary files
    hold id (str), sentiment (0/1), prob_positive; a k-class file id, label (a name: here
    renamed predicted_name, so that it never meets the test labels' `label`) and prob_<name>
    per class, in label id order."""
    # label names stay strings even where they are numbers ("1" to "5" stars)
    frame = pd.read_csv(Path(run_path) / "predictions.csv", dtype={"id": str, "label": str})
    if "sentiment" in frame.columns:
        return frame.assign(predicted=frame["sentiment"])
    names = load_run(Path(run_path)).label_names
    ids = frame["label"].map({name: index for index, name in enumerate(names)})
    if ids.isna().any():
        unknown = frame["label"][ids.isna()].iloc[0]
        raise ValueError(f"{run_path}/predictions.csv names a class {unknown!r} it was not given")
    frame = frame.rename(columns={"label": "predicted_name"})
    return frame.assign(predicted=ids.astype(np.int64))


def _with_predicted(predictions: pd.DataFrame) -> pd.DataFrame:
    if "predicted" in predictions.columns:
        return predictions
    return predictions.assign(predicted=predictions["sentiment"])


def probabilities(predictions: pd.DataFrame) -> np.ndarray:
    """P(positive) (n,) of a binary predictions file, (n, k) class probabilities of a k-class
    one (its prob_ columns, written in label id order)."""
    if "prob_positive" in predictions.columns and "sentiment" in predictions.columns:
        return predictions["prob_positive"].to_numpy(dtype=np.float64)
    columns = [c for c in predictions.columns if c.startswith("prob_")]
    return predictions[columns].to_numpy(dtype=np.float64)


def has_predictions(run_path: Path) -> bool:
    """Whether a run kept its predictions.csv (copied run records may leave it out)."""
    return (Path(run_path) / "predictions.csv").is_file()


def with_truth(predictions: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Predictions joined with the test labels (and texts) on id; unknown ids are dropped."""
    return predictions.merge(truth, on="id", how="inner", validate="one_to_one")


def mcnemar_between(upper: pd.DataFrame, lower: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """McNemar's exact test of two runs' predictions (read_predictions, or a binary file's
    own columns) on the reviews both scored."""
    upper, lower = _with_predicted(upper), _with_predicted(lower)
    joined = upper[["id", "predicted"]].merge(
        lower[["id", "predicted"]], on="id", suffixes=("_a", "_b"), validate="one_to_one"
    )
    joined = with_truth(joined, truth[["id", "label"]])
    result = mcnemar_exact(
        joined["label"].to_numpy(),
        joined["predicted_a"].to_numpy(),
        joined["predicted_b"].to_numpy(),
    )
    result["n"] = len(joined)
    result["real"] = result["p_value"] < ALPHA
    return result


def adjacent_tests(run_paths: list[Path], truth: pd.DataFrame) -> list[dict | None]:
    """For runs in rank order, the test of each against the one ranked just above it; None
    where either run has no predictions.csv."""
    predictions = [read_predictions(path) if has_predictions(path) else None for path in run_paths]
    return [None] + [
        None if above is None or below is None else mcnemar_between(above, below, truth)
        for above, below in zip(predictions, predictions[1:], strict=False)
    ]
