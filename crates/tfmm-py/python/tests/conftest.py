"""Shared fixtures: the repository's files, the `tfmm` binary, small configs, a Ray cluster."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# crates/tfmm-py/python/tests -> the repository root.
REPO = Path(os.environ.get("TFMM_REPO", Path(__file__).resolve().parents[4]))

# scripts/test-python.sh sets this: there, a test that cannot run is a failure, not a skip.
STRICT = os.environ.get("TFMM_TEST_STRICT") == "1"


def need(what: str, reason: str) -> None:
    if STRICT:
        pytest.fail(f"{what} missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tfmm_bin() -> str:
    """The `tfmm` command line built from this checkout (TFMM_BIN, else target/debug)."""
    candidates = [os.environ.get("TFMM_BIN"), str(REPO / "target" / "debug" / "tfmm")]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    found = shutil.which("tfmm")
    if found:
        return found
    need("tfmm binary", "set TFMM_BIN to the tfmm binary (cargo build -p tfmm-cli)")
    raise AssertionError("unreachable")


def small_config(**window: str) -> dict:
    """Momentum on the embedded BTC/ETH/SOL data over a few weeks: fast in any build."""
    return {
        "name": "python test",
        "pool": {
            "tokens": ["BTC", "ETH", "SOL"],
            "rule": "momentum",
            "memory_days": 10,
            "k_per_day": 1,
            "chunk_period": 60,
        },
        "market": {"fees": 0.003},
        "window": {"start": "2024-03-01", "end": "2024-03-22", "burn_in_days": 30, **window},
    }


@pytest.fixture
def config() -> dict:
    return small_config()


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster of two CPUs for the session, shut down at its end."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    # Ray warns at start-up that a later version changes how it sets CUDA_VISIBLE_DEVICES.
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    try:
        import ray
    except ImportError:
        need("ray", "Ray is not installed (pip install 'tfmm[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()
