import numpy as np
import pytest

from papers.common.datasets import load_split


def test_digits_split_is_stratified_and_standardised():
    s = load_split("digits", seed=3)
    assert s.X_train.shape[1] == 64 and len(s.X_train) + len(s.X_test) == 1797
    assert np.allclose(s.X_train.mean(axis=0), 0, atol=1e-12)
    assert set(np.unique(s.y_test)) == set(range(10))


def test_same_seed_same_split_and_other_seed_differs():
    a, b, c = load_split("diabetes", 1), load_split("diabetes", 1), load_split("diabetes", 2)
    assert np.array_equal(a.X_train, b.X_train) and not np.array_equal(a.X_train, c.X_train)


def test_unknown_set_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown data set"):
        load_split("mnist")
