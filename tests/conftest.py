"""Fixtures shared by every test folder."""
import pytest

from papers.harness.policy import limit_threads


@pytest.fixture
def one_thread():
    """The `threads = 1` a paper declares, as the harness applies it around run(): tiny networks on
    shared cores run far faster on one compute thread than on several."""
    with limit_threads(1):
        yield


@pytest.fixture
def pld_epsilon():
    """epsilon(multipliers, delta): dp-accounting's PLD accountant composing one Gaussian event per
    release (noise multiplier z), the independent reference for a method's noise calibration."""
    from dp_accounting import GaussianDpEvent
    from dp_accounting.pld import PLDAccountant

    def epsilon(multipliers, delta):
        pld = PLDAccountant(value_discretization_interval=1e-4)
        for z in sorted(set(multipliers)):
            pld.compose(GaussianDpEvent(z), count=multipliers.count(z))
        return pld.get_epsilon(delta)

    return epsilon


@pytest.fixture
def gaussian_releases(monkeypatch):
    """spy(*modules) -> a list that gets (multiplier, sensitivities as a flat array) of every call
    of the modules' `gaussian_mechanism(value, sensitivity, multiplier, rng)`, which still runs."""
    import numpy as np

    def spy(*modules):
        seen = []
        real = modules[0].gaussian_mechanism

        def recording(value, sensitivity, multiplier, rng):
            seen.append((multiplier, np.asarray(sensitivity).ravel().copy()))
            return real(value, sensitivity, multiplier, rng)

        for module in modules:
            monkeypatch.setattr(module, "gaussian_mechanism", recording)
        return seen

    return spy
