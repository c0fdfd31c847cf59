"""scikit-learn's bundled data sets, split and standardised the same way for every paper."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_LOADERS = {"digits", "diabetes", "breast_cancer", "iris", "wine"}


@dataclass(frozen=True)
class Split:
    """Train and test arrays; X standardised with the training mean and std."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def load_split(name: str, seed: int = 0, test_fraction: float = 0.25, standardize: bool = True,
               dtype=np.float64) -> Split:
    """Load bundled set `name` (digits, diabetes, breast_cancer, iris, wine), shuffle with `seed`
    and split; classification splits are stratified. Nothing is downloaded."""
    if name not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; bundled: {', '.join(sorted(_LOADERS))}")
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    classification = name != "diabetes"
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y if classification else None)
    X_tr, X_te = X_tr.astype(dtype), X_te.astype(dtype)
    if standardize:
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
        std[std == 0] = 1.0
        X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
    if not classification:
        y_tr, y_te = y_tr.astype(dtype), y_te.astype(dtype)
    return Split(X_tr, X_te, y_tr, y_te)
