"""Bad input arrives as ValueError / TypeError naming the field, with the CLI's message."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import tfmm


def cli_error(tfmm_bin: str, config: dict, tmp_path) -> str:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [tfmm_bin, "run", str(path), "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    return done.stderr.strip().removeprefix("error: ")


def prices_for(config: dict, rows: int = 60 * 24 * 40) -> tuple[np.ndarray, str]:
    frame = tfmm.load_prices(["BTC", "ETH", "SOL"], start="2024-01-30")
    return frame.to_numpy()[:rows].copy(), "2024-01-30"


def test_config_that_is_not_a_dict_is_a_type_error():
    for bad in ("configs/examples/momentum.toml", ["pool"], None, 3):
        with pytest.raises(TypeError, match=r"^config: must be a dict"):
            tfmm.run(bad)
    with pytest.raises(TypeError, match="config"):
        tfmm.grad("nope")
    with pytest.raises(TypeError, match="config"):
        tfmm.train(42)


def test_unknown_key_names_its_path_with_the_cli_message(config, tfmm_bin, tmp_path):
    config["pool"]["memory_dayz"] = 10
    with pytest.raises(ValueError) as e:
        tfmm.run(config)
    assert str(e.value).startswith("pool.memory_dayz = 10: is not a known key")
    assert str(e.value) == cli_error(tfmm_bin, config, tmp_path)


def test_value_out_of_range_has_the_cli_message(config, tfmm_bin, tmp_path):
    config["market"]["fees"] = -0.5
    with pytest.raises(ValueError, match=r"market\.fees") as e:
        tfmm.run(config)
    assert str(e.value) == cli_error(tfmm_bin, config, tmp_path)


def test_wrong_value_type_in_a_config(config):
    config["pool"]["tokens"] = {"BTC", "ETH"}
    with pytest.raises(TypeError, match=r"^pool\.tokens = .*: a set cannot appear"):
        tfmm.run(config)
    config["pool"]["tokens"] = ["BTC", "ETH"]
    config["pool"][3] = "x"
    with pytest.raises(TypeError, match=r"^pool: key 3 is a int, not a string"):
        tfmm.run(config)


def test_nan_in_a_config_names_the_field(config):
    config["market"]["fees"] = float("nan")
    with pytest.raises(ValueError, match=r"^market\.fees = NaN: must be a finite number"):
        tfmm.run(config)


def test_numpy_values_in_a_config_are_read_as_numbers(config):
    config["pool"]["memory_days"] = np.array([5.0, 10.0, 20.0])
    config["market"]["fees"] = np.float32(0.0)
    assert tfmm.resolve_config(config)["fees"] == 0.0


def test_prices_of_the_wrong_shape(config):
    prices, start = prices_for(config)
    with pytest.raises(ValueError, match=r"^prices: must be 2-D \(minutes, tokens\)"):
        tfmm.run(config, prices[:, 0], start=start)
    with pytest.raises(ValueError, match=r"^prices: shape \(57600, 2\) has 2 columns but the pool holds 3 tokens \(BTC, ETH, SOL\)"):
        tfmm.run(config, prices[:, :2], start=start)
    with pytest.raises(ValueError, match=r"^prices: .*holds no prices"):
        tfmm.run(config, prices[:0], start=start)


def test_prices_need_a_start_and_numbers(config):
    prices, _ = prices_for(config)
    with pytest.raises(ValueError, match=r"^start: prices given as an array need"):
        tfmm.run(config, prices)
    with pytest.raises(TypeError, match=r"^prices: must hold numbers"):
        tfmm.run(config, prices.astype(str), start="2024-01-30")
    with pytest.raises(TypeError, match=r"^prices: must be a 2-D array of numbers"):
        tfmm.run(config, object(), start="2024-01-30")


def test_nan_in_prices_names_the_row_and_token(config):
    prices, start = prices_for(config)
    prices[1234, 1] = np.nan
    with pytest.raises(ValueError, match=r"^prices: price table row 1234, ETH: price = NaN is not finite"):
        tfmm.run(config, prices, start=start)
    prices[1234, 1] = -1.0
    with pytest.raises(ValueError, match=r"row 1234, ETH: price = -1 is not a positive price"):
        tfmm.run(config, prices, start=start)


def test_a_frame_must_step_one_minute(config):
    frame = tfmm.load_prices(["BTC", "ETH", "SOL"], start="2024-01-30", end="2024-03-22")
    with pytest.raises(ValueError, match=r"^prices: the index must step one minute per row; row 10 "):
        tfmm.run(config, frame.drop(frame.index[10]))
    with pytest.raises(ValueError, match=r"^prices: no column for token SOL \(columns: BTC, ETH\)"):
        tfmm.run(config, frame[["BTC", "ETH"]])
    with pytest.raises(TypeError, match="DatetimeIndex"):
        tfmm.run(config, frame.reset_index(drop=True))
    with pytest.raises(TypeError, match=r"^prices: column ETH must hold numbers, not object"):
        tfmm.run(config, frame.assign(ETH="x"))


def test_missing_price_file_is_file_not_found(config, tmp_path):
    with pytest.raises(FileNotFoundError, match="no price file for token BTC"):
        tfmm.run(config, data_dir=tmp_path)


def test_training_errors_name_the_field(config):
    with pytest.raises(ValueError, match=r"^train\.n_iterationz = .*: is not a known training key \(did you mean `n_iterations`\?\)"):
        tfmm.train(config, n_iterationz=3)
    with pytest.raises(ValueError, match="objective"):
        tfmm.grad(config, objective="not_a_metric")
    config["pool"] = {"tokens": ["BTC", "ETH"], "rule": "balancer"}
    with pytest.raises(ValueError, match=r"^rule = balancer: training tunes strategy-rule"):
        tfmm.grad(config)


def test_missing_config_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.toml"):
        tfmm.read_config(tmp_path / "nowhere.toml")


def test_a_config_that_contains_itself_is_a_value_error(config):
    config["pool"]["loop"] = config
    with pytest.raises(ValueError, match=r"^pool\.loop\.pool\.loop.*: nested more than 128 levels"):
        tfmm.resolve_config(config)


def test_resume_without_a_folder_is_refused(config):
    with pytest.raises(ValueError, match=r"^resume = True: needs out_dir"):
        tfmm.train(config, resume=True, n_iterations=1)
