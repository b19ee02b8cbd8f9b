"""Gradients, training, walk-forward and price loading from Python."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import tfmm

from conftest import small_config


def train_config() -> dict:
    config = small_config(start="2023-11-01", end="2024-01-01", burn_in_days=20)
    config["pool"].update(chunk_period=1440, weight_interpolation_period=1440)
    config["train"] = {
        "objective": "daily_log_sharpe",
        "test_end": "2024-02-01",
        "n_iterations": 4,
        "batch_size": 1,
        "n_parameter_sets": 2,
        "bout_offset_days": 20,
        "val_fraction": 0.2,
        "base_lr": 0.05,
    }
    return config


def test_grad_returns_a_finite_gradient_for_every_parameter(config):
    g = tfmm.grad(config, objective="daily_log_sharpe")
    resolved = tfmm.resolve_config(config)
    assert g.objective == "daily_log_sharpe" and math.isfinite(g.value)
    assert set(g.gradient) == set(resolved["params"])
    for name, d in g.gradient.items():
        assert d.shape == np.shape(resolved["params"][name]), name
        assert np.all(np.isfinite(d)), name
    assert np.any(g.gradient["logit_lamb"] != 0) and np.any(g.gradient["log_k"] != 0)
    # The objective is the run's metric of the same name (computed through dual numbers,
    # so equal to rounding).
    assert g.value == pytest.approx(tfmm.run(config).metrics["daily_log_sharpe"], rel=1e-9)


def test_train_a_few_steps_returns_a_runnable_best_set(tmp_path):
    config = train_config()
    t = tfmm.train(config, out_dir=tmp_path)
    # Step 0 evaluates the start, then n_iterations updates (as quantammsim counts).
    assert t.steps_taken == 5 and len(t.history) == 5
    assert t.results["method"] == "GradientDescent"
    best = t.best_metrics["validation"]["daily_log_sharpe"]
    start = t.initial_metrics["validation"]["daily_log_sharpe"]
    # The best set is chosen by the validation metric, which includes the start.
    assert best >= start
    assert {"logit_lamb", "log_k"} <= set(t.best_params)
    assert {p.rsplit("/", 1)[-1] for p in t.written} >= {"results.json", "best_config.json"}
    curve = t.to_pandas()
    assert list(curve.columns) == ["objective", "selection", "learning_rate"]
    # best_config runs as it is.
    r = tfmm.run(t.best_config)
    assert r.value.shape[0] == 61 * 1440
    # Keyword settings override the train table.
    t2 = tfmm.train(config, n_iterations=2)
    assert t2.steps_taken == 3


def test_walk_forward_runs_tiny():
    config = train_config()
    w = tfmm.walk_forward(config, n_cycles=2, n_iterations=2)
    assert len(w.cycles) == 2
    assert isinstance(w.is_effective, bool)
    frame = w.to_pandas()
    assert list(frame.index) == [1, 2] and "oos_sharpe" in frame


def test_load_prices_is_the_table_a_run_reads():
    frame = tfmm.load_prices(["ETH", "BTC"], start="2024-01-01", end="2024-01-02")
    assert list(frame.columns) == ["ETH", "BTC"]
    assert len(frame) == 1440 and frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert frame.dtypes.tolist() == [np.float64, np.float64]
    assert (frame.to_numpy() > 0).all()
    assert [p["token"] for p in frame.attrs["provenance"]] == ["ETH", "BTC"]
    whole = tfmm.load_prices(["BTC"])
    assert whole.index[0] == pd.Timestamp("2022-11-01", tz="UTC")
    assert whole.loc[frame.index[0], "BTC"] == frame.iloc[0]["BTC"]
