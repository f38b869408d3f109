"""Is a gap between two ranked runs real? McNemar's exact test on the same test reviews.

Predictions are joined by review id with the test labels, so two runs are compared on exactly
the reviews both scored; the caller only pairs runs whose data has the same sha256.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sentibench.metrics import mcnemar_exact

ALPHA = 0.05  # a gap with p < ALPHA is called real (unadjusted, one test per adjacent pair)


def read_predictions(run_path: Path) -> pd.DataFrame:
    """predictions.csv of a run: id (str), sentiment (0/1), prob_positive."""
    return pd.read_csv(Path(run_path) / "predictions.csv", dtype={"id": str})


def has_predictions(run_path: Path) -> bool:
    """Whether a run kept its predictions.csv (copied run records may leave it out)."""
    return (Path(run_path) / "predictions.csv").is_file()


def with_truth(predictions: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Predictions joined with the test labels (and texts) on id; unknown ids are dropped."""
    return predictions.merge(truth, on="id", how="inner", validate="one_to_one")


def mcnemar_between(upper: pd.DataFrame, lower: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """McNemar's exact test of two runs' predictions on the reviews both scored."""
    joined = upper[["id", "sentiment"]].merge(
        lower[["id", "sentiment"]], on="id", suffixes=("_a", "_b"), validate="one_to_one"
    )
    joined = with_truth(joined, truth[["id", "label"]])
    result = mcnemar_exact(
        joined["label"].to_numpy(),
        joined["sentiment_a"].to_numpy(),
        joined["sentiment_b"].to_numpy(),
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
