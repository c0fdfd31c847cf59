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


def test_classification_splits_are_stratified_with_the_test_fraction_asked_for():
    for seed in (0, 1, 2):
        s = load_split("iris", seed=seed, test_fraction=0.2)
        assert len(s.y_test) == 30 and np.bincount(s.y_test).tolist() == [10, 10, 10]


def test_standardised_features_are_sklearns_standard_scaling_in_the_dtype_asked_for():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X_tr, X_te, _, _ = train_test_split(X, y, test_size=0.25, random_state=4, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    s = load_split("wine", seed=4)
    assert np.allclose(s.X_train, scaler.transform(X_tr), atol=1e-12)
    assert np.allclose(s.X_test, scaler.transform(X_te), atol=1e-12)
    single = load_split("wine", seed=4, dtype=np.float32)
    assert single.X_train.dtype == single.X_test.dtype == np.float32


def test_a_feature_constant_in_training_is_only_centred_as_in_sklearn():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, _, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    constant = X_tr.std(axis=0) == 0
    assert constant.any() and (X_te[:, constant] != X_tr[0, constant]).any()
    s = load_split("digits", seed=0)
    np.testing.assert_allclose(s.X_test, StandardScaler().fit(X_tr).transform(X_te), atol=1e-12)


def test_regression_targets_come_in_the_dtype_asked_for():
    s = load_split("diabetes", dtype=np.float32)
    assert s.y_train.dtype == s.y_test.dtype == s.X_train.dtype == np.float32
    assert load_split("digits", dtype=np.float32).y_train.dtype.kind == "i"  # class labels stay integers
