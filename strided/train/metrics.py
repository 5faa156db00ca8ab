"""Classification metrics on NumPy arrays: accuracy, top-k accuracy, confusion matrix, report.

Labels are integer class indices of shape (N,). Predictions are either class indices (N,) or
scores of shape (N, num_classes) (logits or probabilities: only their order matters), in which
case the predicted class is the argmax. The definitions and the report's layout follow
scikit-learn's (``classification_report(..., output_dict=True)``), with 0 where a ratio has
nothing to divide by (a class never predicted has precision 0).
"""

import numpy as np

from ..functional.args import positive_int

__all__ = ["accuracy", "classification_report", "confusion_matrix", "precision_recall_f1", "top_k_accuracy"]


def _labels(y_true, what: str = "y_true") -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.ndim != 1 or not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError(f"{what}: expected integer class indices of shape (N,), got {y_true.dtype} {y_true.shape}")
    return y_true


def _predicted_classes(y_true: np.ndarray, y_pred) -> np.ndarray:
    """Class indices from indices or from (N, num_classes) scores, checked against y_true."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    y_pred = _labels(y_pred, "y_pred")
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred: expected {y_true.shape[0]} predictions, got {y_pred.shape[0]}")
    return y_pred


def accuracy(y_true, y_pred) -> float:
    """The fraction of samples whose predicted class (or argmax of the scores) is the true class."""
    y_true = _labels(y_true)
    y_pred = _predicted_classes(y_true, y_pred)
    return float(np.mean(y_pred == y_true)) if y_true.size else 0.0


def top_k_accuracy(y_true, scores, k: int = 5) -> float:
    """The fraction of samples whose true class is among the ``k`` highest scores.

    A sample counts when fewer than ``k`` classes score strictly higher than its true class (so
    ties are resolved in the sample's favour; without ties this is the usual definition).
    """
    y_true = _labels(y_true)
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"top_k_accuracy: expected scores of shape ({y_true.shape[0]}, num_classes), got {scores.shape}"
        )
    positive_int(k, "k", "top_k_accuracy")
    if y_true.size == 0:
        return 0.0
    true_scores = scores[np.arange(len(y_true)), y_true]
    higher = np.sum(scores > true_scores[:, None], axis=1)
    return float(np.mean(higher < k))


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """``cm[i, j]`` = number of samples of true class i predicted as class j (int64).

    ``num_classes`` defaults to one more than the largest label seen in either array.
    """
    y_true = _labels(y_true)
    y_pred = _predicted_classes(y_true, y_pred)
    seen = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = seen
    elif seen > num_classes:
        raise ValueError(f"confusion_matrix: a label {seen - 1} is out of range for num_classes={num_classes}")
    if min(y_true.min(initial=0), y_pred.min(initial=0)) < 0:
        raise ValueError("confusion_matrix: labels must be non-negative class indices")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def precision_recall_f1(y_true, y_pred, num_classes: int | None = None) -> dict:
    """Per-class precision, recall, F1 and support (arrays indexed by class), from the confusion matrix.

    precision_c = TP / (TP + FP), recall_c = TP / (TP + FN), F1 = 2 P R / (P + R); 0 when undefined.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    true_positives = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = _ratio(true_positives, predicted)
    recall = _ratio(true_positives, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def classification_report(y_true, y_pred, class_names=None, num_classes: int | None = None) -> dict:
    """scikit-learn's report as a dict: one entry per class name, then 'accuracy', 'macro avg', 'weighted avg'.

    Each class entry is ``{'precision', 'recall', 'f1-score', 'support'}`` (Python numbers, JSON-ready).
    """
    if class_names is not None and num_classes is None:
        num_classes = len(class_names)
    scores = precision_recall_f1(y_true, y_pred, num_classes)
    count = len(scores["support"])
    names = [str(i) for i in range(count)] if class_names is None else [str(name) for name in class_names]
    if len(names) != count:
        raise ValueError(f"classification_report: {len(names)} class names for {count} classes")
    report = {}
    for i, name in enumerate(names):
        report[name] = {
            "precision": float(scores["precision"][i]),
            "recall": float(scores["recall"][i]),
            "f1-score": float(scores["f1"][i]),
            "support": int(scores["support"][i]),
        }
    total = int(scores["support"].sum())
    weights = scores["support"] / total if total else np.zeros(count)
    report["accuracy"] = accuracy(y_true, y_pred)
    for key, w in (("macro avg", np.full(count, 1.0 / max(count, 1))), ("weighted avg", weights)):
        report[key] = {
            "precision": float(np.dot(w, scores["precision"])),
            "recall": float(np.dot(w, scores["recall"])),
            "f1-score": float(np.dot(w, scores["f1"])),
            "support": total,
        }
    return report
