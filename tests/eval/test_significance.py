"""McNemar between runs (predictions joined by id) and Wilson against published values."""

from __future__ import annotations

import pandas as pd
import pytest

from sentibench.eval.significance import adjacent_tests, mcnemar_between
from sentibench.metrics import wilson_interval


def write_predictions(folder, ids, sentiment):
    folder.mkdir()
    frame = pd.DataFrame({"id": ids, "sentiment": sentiment, "prob_positive": sentiment})
    frame.to_csv(folder / "predictions.csv", index=False)
    return folder


def test_mcnemar_joins_by_id_and_gives_the_exact_binomial_p(tmp_path):
    ids = [f"r{i}" for i in range(20)]
    truth = pd.DataFrame({"id": ids, "label": [i % 2 for i in range(20)]})
    right = truth["label"].tolist()
    # b is wrong on the first 10 reviews, a on none: 10 discordant pairs, all for a
    wrong_first_ten = [1 - y if i < 10 else y for i, y in enumerate(right)]
    a = write_predictions(tmp_path / "a", ids, right)
    # b lists its reviews in another order, plus one the test set does not have
    b = write_predictions(tmp_path / "b", ids[::-1] + ["stray"], wrong_first_ten[::-1] + [1])
    above, below = adjacent_tests([a, b], truth)
    assert above is None  # the top run has nothing above it
    assert (below["only_a_right"], below["only_b_right"], below["n"]) == (10, 0, 20)
    assert below["p_value"] == pytest.approx(2 * 0.5**10)  # two-sided exact binomial
    assert below["real"]
    # 3 discordant pairs, 2:1, cannot be told apart from chance
    c = write_predictions(tmp_path / "c", ids, [1 - y if i < 2 else y for i, y in enumerate(right)])
    d = pd.read_csv(a / "predictions.csv", dtype={"id": str})
    d.loc[2, "sentiment"] = 1 - d.loc[2, "sentiment"]
    result = mcnemar_between(pd.read_csv(c / "predictions.csv", dtype={"id": str}), d, truth)
    assert (result["only_a_right"], result["only_b_right"]) == (1, 2)
    assert result["p_value"] == pytest.approx(1.0) and not result["real"]


@pytest.mark.parametrize(
    "successes, total, low, high",
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605)],  # Newcombe 1998, Stat Med 17:857
)
def test_wilson_matches_published_intervals(successes, total, low, high):
    assert wilson_interval(successes, total) == pytest.approx((low, high), abs=5e-5)
