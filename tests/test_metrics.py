import numpy as np
import pytest

from sentibench.metrics import classification_metrics, macro_f1, mcnemar_exact, wilson_interval


def test_wilson_closed_forms():
    # With zero successes the Wilson upper bound is z^2 / (n + z^2).
    z2 = 1.959963984540054**2
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(z2 / (10 + z2), rel=1e-9)
    # Symmetric around 1/2 for p = 1/2, and narrower than the normal interval's 0.402-0.598.
    low, high = wilson_interval(50, 100)
    assert low + high == pytest.approx(1.0)
    assert low == pytest.approx(0.4038, abs=1e-4)


def test_mcnemar_exact_known_value():
    labels = np.ones(10, dtype=int)
    a = np.array([1] + [0] * 9)  # a right once where b is wrong
    b = np.array([0] + [1] * 9)  # b right nine times where a is wrong
    result = mcnemar_exact(labels, a, b)
    assert (result["only_a_right"], result["only_b_right"]) == (1, 9)
    assert result["p_value"] == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(labels, a, a)["p_value"] == 1.0


def test_classification_metrics():
    labels = np.array([0, 0, 1, 1])
    metrics = classification_metrics(labels, np.array([0, 1, 1, 1]))
    assert metrics["accuracy"] == 0.75
    assert metrics["confusion_matrix"] == [[1, 1], [0, 2]]
    assert metrics["recall"]["negative"] == 0.5
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_the_loops_numpy_macro_f1_equals_sklearns():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    for predictions in (rng.integers(0, 2, 200), np.zeros(200, dtype=int), labels):
        expected = f1_score(labels, predictions, average="macro", zero_division=0)
        assert macro_f1(labels, predictions) == pytest.approx(expected)
