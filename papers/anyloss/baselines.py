"""The paper's baselines that change the data rather than the loss: BCE trained on a training set
rebalanced by SMOTE or by random undersampling (imbalanced-learn); MSE and BCE themselves are losses
in method.loss_fn."""
from __future__ import annotations

import numpy as np


def resample(X: np.ndarray, y: np.ndarray, kind: str | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training set unchanged (kind None), oversampled to balance by SMOTE (kind "smote", five
    neighbours or fewer when the minority is smaller) or undersampled to balance at random
    (kind "under")."""
    if kind is None:
        return X, y
    if kind == "smote":
        from imblearn.over_sampling import SMOTE

        k = int(min(5, np.bincount(y.astype(int)).min() - 1))
        return SMOTE(k_neighbors=k, random_state=seed).fit_resample(X, y)
    if kind == "under":
        from imblearn.under_sampling import RandomUnderSampler

        return RandomUnderSampler(random_state=seed).fit_resample(X, y)
    raise ValueError(f"unknown resampling {kind!r}")
