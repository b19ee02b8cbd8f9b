"""tfmm.run: the same numbers as `tfmm run`, result shapes, pandas, pickling, prices in memory."""

from __future__ import annotations

import csv
import json
import pickle
import subprocess
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tfmm

from conftest import small_config


def cli_run(tfmm_bin: str, config: Path, out: Path, *extra: str) -> tuple[dict, dict]:
    """Runs `tfmm run` and reads back its timeseries.csv (column -> float64 array) and
    summary.json."""
    subprocess.run(
        [tfmm_bin, "run", str(config), "--out", str(out), "--no-plots", "--quiet", *extra],
        check=True,
    )
    with open(out / "timeseries.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    # float() of the shortest round-trip text tfmm writes gives back the exact double.
    columns = {
        name: np.array([float(r[i]) for r in body], dtype=np.float64)
        for i, name in enumerate(header)
    }
    columns["unix_ms"] = np.array([int(r[0]) for r in body], dtype=np.int64)
    with open(out / "summary.json") as f:
        summary = json.load(f)
    return columns, summary


def assert_same_as_cli(result: tfmm.Result, columns: dict, summary: dict) -> None:
    frame = result.to_pandas()
    assert np.array_equal(result.unix_ms, columns["unix_ms"])
    for name, cli in columns.items():
        if name == "unix_ms":
            continue
        ours = frame[name].to_numpy()
        assert ours.tobytes() == cli.tobytes(), f"column {name} differs from the CLI's"
    # The CLI's --no-plots only changes the recorded output settings.
    ours, theirs = dict(result.summary), dict(summary)
    ours["config"] = {k: v for k, v in ours["config"].items() if k != "output"}
    theirs["config"] = {k: v for k, v in theirs["config"].items() if k != "output"}
    assert ours == theirs


def test_native_example_matches_the_cli_bit_for_bit(repo, tfmm_bin, tmp_path):
    path = repo / "configs" / "examples" / "momentum.toml"
    columns, summary = cli_run(tfmm_bin, path, tmp_path / "cli")
    result = tfmm.run(tfmm.read_config(path), base_dir=path.parent)
    assert_same_as_cli(result, columns, summary)


def test_rebalancing_benchmark_columns_match_the_cli(repo, tfmm_bin, tmp_path):
    # to_pandas lays out the pool and benchmark columns itself: held to the CLI's file.
    config = tfmm.read_config(repo / "configs" / "examples" / "momentum.toml")
    config["pool"]["rule"] = "lvr__momentum"
    path = tmp_path / "lvr.json"
    path.write_text(json.dumps(config))
    columns, summary = cli_run(tfmm_bin, path, tmp_path / "cli")
    result = tfmm.run(config)
    assert result.pool_value is not None
    assert {"pool_value", "pool_fee_revenue", "lvr"} <= set(columns)
    assert_same_as_cli(result, columns, summary)


def test_quantammsim_case_matches_the_cli_bit_for_bit(repo, tfmm_bin, tmp_path):
    case = repo / "testdata/reference/cases/momentum_3a_f30_arb1_cp60_lin_1m/case.json"
    prices = repo / "testdata/reference/prices"
    columns, summary = cli_run(tfmm_bin, case, tmp_path / "cli", "--data-dir", str(prices))
    with open(case) as f:
        config = json.load(f)
    result = tfmm.run(config, data_dir=prices, base_dir=case.parent)
    assert_same_as_cli(result, columns, summary)


def test_result_arrays_have_one_row_per_minute(config):
    r = tfmm.run(config)
    minutes = 21 * 1440
    assert r.tokens == ["BTC", "ETH", "SOL"]
    assert r.unix_ms.dtype == np.int64 and r.unix_ms.shape == (minutes,)
    assert np.all(np.diff(r.unix_ms) == 60_000)
    for name in ("value", "fee_revenue", "protocol_fee_revenue", "hodl", "uniform_hodl"):
        a = getattr(r, name)
        assert a.dtype == np.float64 and a.shape == (minutes,), name
    for name in ("weights", "reserves", "prices"):
        a = getattr(r, name)
        assert a.dtype == np.float64 and a.shape == (minutes, 3), name
    assert np.allclose(r.weights.sum(axis=1), 1.0)
    # Value is reserves at prices; HODL starts at the deposit.
    assert np.allclose((r.reserves * r.prices).sum(axis=1), r.value, rtol=1e-12)
    assert r.value[0] == r.hodl[0] == 1e6
    assert r.fee_revenue.sum() > 0
    assert r.pool_value is None and r.readouts is None
    assert r.final_value == r.summary["final_value"]
    assert set(r.metrics) >= {"sharpe", "daily_log_sharpe", "returns_over_hodl"}
    assert r.summary["start"] == "2024-03-01 00:00:00"
    assert r.config["rule"] == "momentum"
    assert "momentum over BTC/ETH/SOL" in repr(r)


def test_to_pandas_is_indexed_by_utc_minute(config):
    r = tfmm.run(config)
    f = r.to_pandas()
    assert isinstance(f.index, pd.DatetimeIndex) and str(f.index.tz) == "UTC"
    assert f.index[0] == pd.Timestamp("2024-03-01", tz="UTC")
    assert list(f.columns[:4]) == ["value", "weight_BTC", "weight_ETH", "weight_SOL"]
    assert "price_SOL" in f and "hodl" in f and "uniform_hodl" in f
    assert np.array_equal(f["reserve_ETH"].to_numpy(), r.reserves[:, 1])


def test_results_and_configs_pickle(config):
    r = tfmm.run(config, readouts=True)
    back = pickle.loads(pickle.dumps(r))
    assert back.identical(r)
    assert back.readouts["columns"] == r.readouts["columns"] and r.readouts["columns"]
    assert pickle.loads(pickle.dumps(config)) == config
    g = tfmm.grad(config)
    g2 = pickle.loads(pickle.dumps(g))
    assert g2.value == g.value and g2.gradient.keys() == g.gradient.keys()


def test_prices_in_memory_give_the_same_run(config):
    from_data = tfmm.run(config)
    frame = tfmm.load_prices(["BTC", "ETH", "SOL"], start="2024-01-01", end="2024-04-01")
    from_frame = tfmm.run(config, frame)
    # Columns in another order are picked by name.
    shuffled = tfmm.run(config, frame[["SOL", "BTC", "ETH"]])
    from_array = tfmm.run(config, frame.to_numpy(), start=frame.index[0])
    for other in (from_frame, shuffled, from_array):
        for name in ("value", "weights", "reserves", "prices", "fee_revenue"):
            assert getattr(other, name).tobytes() == getattr(from_data, name).tobytes(), name
        assert other.metrics == from_data.metrics


def test_a_quote_token_without_a_column_is_priced_one(config):
    config["pool"]["tokens"] = ["BTC", "USDC"]
    frame = tfmm.load_prices(["BTC"], start="2024-01-20", end="2024-03-22")
    r = tfmm.run(config, frame)
    assert np.all(r.prices[:, 1] == 1.0)


def test_benchmark_rules_return_the_pools_own_value(config):
    config["pool"]["rule"] = "lvr__momentum"
    r = tfmm.run(config)
    assert r.pool_value is not None and r.pool_value.shape == r.value.shape
    assert "lvr" in r.to_pandas()


def test_out_dir_writes_what_the_cli_writes(config, tmp_path):
    config["output"] = {"plots": False}
    tfmm.run(config, out_dir=tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "timeseries.csv",
        "timeseries.parquet",
        "summary.json",
    }


def test_threads_give_the_serial_numbers():
    configs = [small_config(), small_config(start="2024-03-05")]
    serial = [tfmm.run(c) for c in configs]
    threaded = [None, None]

    def work(i: int) -> None:
        threaded[i] = tfmm.run(configs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.identical(b) for a, b in zip(serial, threaded))


def test_resolve_config_fills_in_defaults(config):
    resolved = tfmm.resolve_config(config)
    assert resolved["fees"] == 0.003
    assert resolved["chunk_period"] == 60
    assert "logit_lamb" in resolved["params"]


def test_grid_varies_the_named_keys(config):
    configs = tfmm.grid(config, {"pool.memory_days": [5, 10], "market.fees": [0.0, 0.003]})
    assert [(c["pool"]["memory_days"], c["market"]["fees"]) for c in configs] == [
        (5, 0.0),
        (5, 0.003),
        (10, 0.0),
        (10, 0.003),
    ]
    assert config["market"]["fees"] == 0.003  # the base is not changed
