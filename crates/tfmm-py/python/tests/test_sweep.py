"""Sweeps: local processes and a local Ray cluster give the serial numbers bit for bit."""

from __future__ import annotations

import pytest

import tfmm

from conftest import small_config


def grid() -> list[dict]:
    return tfmm.grid(small_config(), {"pool.memory_days": [5, 20], "market.fees": [0.0, 0.003]})


@pytest.fixture(scope="module")
def prices():
    return tfmm.load_prices(["BTC", "ETH", "SOL"], start="2024-01-15", end="2024-03-22")


@pytest.fixture(scope="module")
def serial(prices):
    return [tfmm.run(c, prices) for c in grid()]


def test_serial_backend(prices, serial):
    results = tfmm.sweep(grid(), prices, backend="serial")
    assert all(a.identical(b) for a, b in zip(results, serial))


def test_local_processes_equal_serial(prices, serial):
    results = tfmm.sweep(grid(), prices, backend="local", max_workers=2)
    assert len(results) == len(serial)
    assert all(a.identical(b) for a, b in zip(results, serial))


def test_ray_equals_serial_bit_for_bit(ray_cluster, prices, serial):
    results = tfmm.sweep(grid(), prices, backend="ray")
    assert len(results) == len(serial)
    assert all(a.identical(b) for a, b in zip(results, serial))
    # Without prices, each task loads the embedded data itself.
    own = tfmm.sweep(grid()[:2], backend="ray")
    assert all(a.value.tobytes() == b.value.tobytes() for a, b in zip(own, serial))


def test_ray_passes_errors_through(ray_cluster):
    bad = small_config()
    bad["pool"]["rulez"] = "momentum"
    with pytest.raises(ValueError, match=r"pool\.rulez"):
        tfmm.sweep([bad], backend="ray")


def test_bad_sweep_arguments():
    with pytest.raises(TypeError, match=r"configs\[1\]: must be a dict"):
        tfmm.sweep([small_config(), "x"], backend="serial")
    with pytest.raises(ValueError, match="backend"):
        tfmm.sweep([small_config()], backend="dask")
    assert tfmm.sweep([], backend="local") == []
