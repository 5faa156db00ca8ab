"""Metrics: hand-computed examples, and agreement with a plain counting loop on random data."""

import numpy as np
import pytest

from strided.train import metrics

Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 1])
Y_PRED = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 1])
# By hand: class 0: TP 2, FP 1 (a 2 predicted as 0), FN 1 -> P 2/3, R 2/3
#          class 1: TP 2, FP 1 (a 0 predicted as 1), FN 1 -> P 2/3, R 2/3
#          class 2: TP 3, FP 1 (a 1 predicted as 2), FN 1 -> P 3/4, R 3/4
HAND_CM = np.array([[2, 1, 0], [0, 2, 1], [1, 0, 3]])


def test_accuracy_by_hand():
    assert metrics.accuracy(Y_TRUE, Y_PRED) == 0.7
    scores = np.eye(3)[Y_PRED] * 5.0 - 1.0  # scores whose argmax is Y_PRED
    assert metrics.accuracy(Y_TRUE, scores) == 0.7


def test_top_k_accuracy_by_hand():
    scores = np.array([[0.1, 0.5, 0.4],   # true 0: rank 3
                       [0.2, 0.3, 0.5],   # true 1: rank 2
                       [0.7, 0.2, 0.1],   # true 0: rank 1
                       [0.3, 0.3, 0.4]])  # true 1: tie with class 0, one class strictly higher -> rank 2
    y = np.array([0, 1, 0, 1])
    assert metrics.top_k_accuracy(y, scores, k=1) == 0.25
    assert metrics.top_k_accuracy(y, scores, k=2) == 0.75
    assert metrics.top_k_accuracy(y, scores, k=3) == 1.0


def test_confusion_matrix_by_hand():
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(cm, HAND_CM)
    assert cm.dtype == np.int64
    assert metrics.confusion_matrix(Y_TRUE, Y_PRED, num_classes=5).shape == (5, 5)


def test_precision_recall_f1_by_hand():
    scores = metrics.precision_recall_f1(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(scores["precision"], [2 / 3, 2 / 3, 3 / 4], rtol=1e-15)
    np.testing.assert_allclose(scores["recall"], [2 / 3, 2 / 3, 3 / 4], rtol=1e-15)
    np.testing.assert_allclose(scores["f1"], [2 / 3, 2 / 3, 3 / 4], rtol=1e-15)
    np.testing.assert_array_equal(scores["support"], [3, 3, 4])


def test_classification_report_by_hand():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 0])  # class 2 is never predicted: precision 0, not an error
    report = metrics.classification_report(y_true, y_pred, class_names=["cat", "dog", "eel"])
    assert list(report) == ["cat", "dog", "eel", "accuracy", "macro avg", "weighted avg"]
    # cat: TP 1, predicted 3, support 2 -> P 1/3, R 1/2, F1 2/5; dog: TP 2, predicted 3, support 3 -> P R F1 2/3
    assert report["cat"] == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1-score": 0.4, "support": 2})
    assert report["dog"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1-score": 2 / 3, "support": 3})
    assert report["eel"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert report["accuracy"] == 0.5
    assert report["macro avg"]["f1-score"] == pytest.approx((0.4 + 2 / 3 + 0) / 3)
    assert report["weighted avg"]["recall"] == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 6)
    assert report["weighted avg"]["support"] == 6


@pytest.mark.parametrize("seed", range(5))
def test_against_a_counting_loop(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 8))
    y_true = rng.integers(0, classes, 200)
    scores = rng.standard_normal((200, classes))
    y_pred = scores.argmax(1)
    cm = np.zeros((classes, classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[t, p] += 1
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, scores, num_classes=classes), cm)
    for k in range(1, classes + 1):
        ranks = [np.sum(s > s[t]) for s, t in zip(scores, y_true, strict=True)]
        assert metrics.top_k_accuracy(y_true, scores, k) == np.mean(np.array(ranks) < k)
    scores_ = metrics.precision_recall_f1(y_true, y_pred, classes)
    for c in range(classes):
        tp = np.sum((y_true == c) & (y_pred == c))
        predicted, actual = np.sum(y_pred == c), np.sum(y_true == c)
        assert scores_["precision"][c] == (tp / predicted if predicted else 0.0)
        assert scores_["recall"][c] == (tp / actual if actual else 0.0)


def test_errors():
    with pytest.raises(ValueError, match="integer class indices"):
        metrics.accuracy(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="expected 3 predictions, got 2"):
        metrics.accuracy(np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metrics.top_k_accuracy(np.array([0]), np.ones((1, 3)), k=0)
    with pytest.raises(ValueError, match=r"scores of shape \(2, num_classes\)"):
        metrics.top_k_accuracy(np.array([0, 1]), np.ones(3))
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        metrics.confusion_matrix(np.array([0, 2]), np.array([0, 1]), num_classes=2)
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        metrics.classification_report(Y_TRUE, Y_PRED, class_names=["a", "b"], num_classes=3)
