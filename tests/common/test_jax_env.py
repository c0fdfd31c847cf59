"""papers.common.jax_env: the float64 block restores the previous precision, and device names map
onto jax's backends."""
import jax
import jax.numpy as jnp
import pytest

from papers.common.jax_env import float64, jax_device


@pytest.mark.parametrize("before", [False, True])
def test_float64_block_switches_precision_and_restores_it(before):
    jax.config.update("jax_enable_x64", before)
    try:
        with float64():
            assert jnp.ones(2).dtype == jnp.float64
        assert jax.config.jax_enable_x64 is before
    finally:
        jax.config.update("jax_enable_x64", False)


def test_float64_block_restores_precision_when_the_body_raises():
    jax.config.update("jax_enable_x64", False)
    with pytest.raises(KeyError), float64():
        raise KeyError
    assert jnp.ones(2).dtype == jnp.float32


def test_cpu_is_jax_cpu_device_and_a_missing_backend_is_named():
    assert jax_device("cpu").platform == "cpu"
    if not any(d.platform == "gpu" for d in jax.devices()) and jax.default_backend() == "cpu":
        with pytest.raises(NotImplementedError, match="cuda"):
            jax_device("cuda")


def test_cuda_asks_jax_for_its_gpu_backend(monkeypatch):
    asked = []
    monkeypatch.setattr(jax, "devices", lambda backend=None: asked.append(backend) or [f"first {backend}"])
    assert (jax_device("cuda"), jax_device("cpu")) == ("first gpu", "first cpu")
    assert asked == ["gpu", "cpu"]
