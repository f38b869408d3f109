import numpy as np
import pytest

from sentibench.metrics import (
    calibration_metrics,
    classification_metrics,
    expected_calibration_error,
    macro_f1,
    mcnemar_exact,
    reliability_bins,
    wilson_interval,
)


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


def test_ece_against_a_hand_computed_case():
    # confidences 0.95, 0.81, 0.70, 0.62 fall alone in bins 14, 12, 10, 9 (right, wrong,
    # right, right); 0.94 and 0.98 share bin 14 (one right: accuracy 0.5, confidence 0.96)
    proba = np.array([0.95, 0.81, 0.30, 0.62]), np.array([0.94, 0.02])
    labels = np.array([1, 0, 0, 1]), np.array([1, 1])
    assert expected_calibration_error(labels[0], proba[0]) == pytest.approx(1.54 / 4)
    assert expected_calibration_error(labels[1], proba[1]) == pytest.approx(0.46)
    # together bin 14 holds 0.95, 0.94 (right) and 0.98 (wrong): 3 x |2/3 - 2.87/3| = 0.87
    both = expected_calibration_error(np.concatenate(labels), np.concatenate(proba))
    assert both == pytest.approx((0.81 + 0.30 + 0.38 + 0.87) / 6)
    bins = reliability_bins(np.concatenate(labels), np.concatenate(proba))
    assert bins["count"].tolist() == [0] * 9 + [1, 1, 0, 1, 0, 3]
    assert np.isnan(bins["accuracy"][0]) and bins["accuracy"][14] == pytest.approx(2 / 3)
    # 0.5 is called positive (the labels' threshold); confidence 1 sits in the last bin
    assert expected_calibration_error(np.array([1, 0]), np.array([0.5, 0.0])) == 0.25


def test_brier_and_log_loss_sanity():
    labels = np.array([0, 1, 1, 0])
    perfect = calibration_metrics(labels, labels.astype(float))
    assert perfect["brier"] == 0.0 and perfect["log_loss"] < 1e-9 and perfect["ece"] == 0.0
    coin = calibration_metrics(labels, np.full(4, 0.5))
    assert coin["brier"] == pytest.approx(0.25)
    assert coin["log_loss"] == pytest.approx(np.log(2))
    wrong = calibration_metrics(labels, np.array([0.9, 0.1, 0.2, 0.7]))
    assert wrong["brier"] == pytest.approx((0.81 + 0.81 + 0.64 + 0.49) / 4)
    assert wrong["log_loss"] == pytest.approx(-np.mean(np.log([0.1, 0.1, 0.2, 0.3])))


def test_classification_metrics_of_three_classes_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predictions = np.array([0, 1, 1, 1, 2, 0])
    names = ("negative", "neutral", "positive")
    metrics = classification_metrics(labels, predictions, names)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows: true
    assert metrics["precision"] == pytest.approx({"negative": 0.5, "neutral": 2 / 3, "positive": 1})
    assert metrics["recall"] == pytest.approx({"negative": 0.5, "neutral": 1.0, "positive": 0.5})
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert metrics["predicted_rate"] == pytest.approx({"negative": 1 / 3, "neutral": 1 / 2,
                                                       "positive": 1 / 6})  # fmt: skip
    assert "positive_rate" not in metrics
    # binary keeps exactly its keys (no predicted_rate)
    binary = classification_metrics(np.array([0, 1]), np.array([1, 1]))
    assert set(binary) == {"accuracy", "accuracy_ci95", "macro_f1", "precision", "recall",
                           "confusion_matrix", "n", "positive_rate"}  # fmt: skip


def test_calibration_of_three_classes_by_hand_and_binary_columns_unchanged():
    labels = np.array([0, 1, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.2, 0.5, 0.3]])
    found = calibration_metrics(labels, proba)
    assert found["brier"] == pytest.approx((0.14 + 0.26 + 0.78) / 3)  # summed over classes
    assert found["log_loss"] == pytest.approx(-np.log([0.7, 0.6, 0.3]).mean())
    # top-class confidences 0.7, 0.6 (right) and 0.5 (wrong) fall alone in their bins
    assert found["ece"] == pytest.approx((0.3 + 0.4 + 0.5) / 3)
    from sentibench.predictor import binary_columns

    binary, p = np.array([0, 1, 1, 0]), np.array([0.9, 0.1, 0.5, 0.3])
    assert calibration_metrics(binary, binary_columns(p)) == calibration_metrics(binary, p)
