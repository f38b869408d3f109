"""predictor.class_proba: one (n, k) view of binary and k-class predictors."""

from __future__ import annotations

import numpy as np
import pytest

from sentibench.predictor import class_proba, labels_from_class_proba, softmax_proba


class Binary:
    def predict_proba(self, texts):
        return np.linspace(0.0, 1.0, len(texts))


class ThreeWay:
    def predict_class_proba(self, texts):
        return softmax_proba(np.tile(np.array([[0.0, 2.0, 1.0]], np.float32), (len(texts), 1)))


def test_class_proba_of_a_binary_and_a_three_class_predictor():
    binary = class_proba(Binary(), ["a", "b", "c"])
    assert binary.tolist() == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    assert labels_from_class_proba(binary).tolist() == [0, 1, 1]  # 0.5 is positive, as before
    three = class_proba(ThreeWay(), ["a", "b"])
    assert three.shape == (2, 3) and three.dtype == np.float64
    assert np.allclose(three.sum(axis=1), 1.0) and labels_from_class_proba(three).tolist() == [1, 1]


def test_p_positive_is_refused_for_more_than_two_logits():
    from sentibench.predictor import positive_proba

    with pytest.raises(ValueError, match="two logits"):
        positive_proba(np.zeros((2, 3), np.float32))
