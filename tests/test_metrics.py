import numpy as np
import pytest

from mir.evaluation.metrics import classification_metrics, confusion, validate

LABELS = ["a", "b", "c"]


def test_known_values():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y, p, LABELS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: P=1/2 R=1/2 F=.5 ; b: P=2/3 R=1 F=.8 ; c: P=1 R=1/2 F=2/3
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    np.testing.assert_array_equal(confusion(y, p, LABELS), [[1, 1, 0], [0, 2, 0], [1, 0, 1]])


def test_never_predicted_class_scores_zero():
    m = classification_metrics(np.array([0, 1, 2]), np.array([0, 0, 0]), LABELS)
    assert m["per_class"]["b"]["precision"] == 0 and m["per_class"]["b"]["f1"] == 0


@pytest.mark.parametrize("y, p, msg", [
    (np.array([0, 1]), np.array([0]), "equal length"),
    (np.array([], dtype=int), np.array([], dtype=int), "no examples"),
    (np.array([0, 3]), np.array([0, 1]), "outside"),
])
def test_validate_rejects_bad_input(y, p, msg):
    with pytest.raises(ValueError, match=msg):
        validate(y, p, LABELS)
