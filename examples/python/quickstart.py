"""tfmm from Python, notebook style: run a momentum pool, plot it against HODL, train it a
few steps and run the trained parameters.

    pip install ./crates/tfmm-py matplotlib pandas     # docs/python.md
    python examples/python/quickstart.py [OUT_DIR]     # writes OUT_DIR/quickstart.png

Each block below is a notebook cell.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, not windows: runs the same in a notebook, a terminal or CI
import matplotlib.pyplot as plt

import tfmm

out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/python")
out.mkdir(parents=True, exist_ok=True)

# %% A config is a dict: tfmm's native form (docs/config.md) or a quantammsim case.
config = {
    "pool": {
        "tokens": ["BTC", "ETH", "SOL"],
        "rule": "momentum",
        "memory_days": 10,
        "k_per_day": 1,
        "chunk_period": 1440,
        "weight_interpolation_period": 1440,
    },
    "market": {"fees": 0.003},
    "window": {"start": "2023-10-01", "end": "2024-01-01", "burn_in_days": 30},
}

# %% Prices: the BTC/ETH/SOL minutes built into tfmm, as a DataFrame (any DataFrame indexed
# by minute with token columns works the same, as does a 2-D array with start=).
prices = tfmm.load_prices(["BTC", "ETH", "SOL"], start="2023-09-01", end="2024-03-01")
print(f"prices: {prices.shape[0]:,} minutes of {', '.join(prices.columns)}")

# %% Run the pool.
result = tfmm.run(config, prices)
print(result)
frame = result.to_pandas()
print(
    f"return {result.metrics['returns']:+.2%}, over HODL "
    f"{result.metrics['returns_over_hodl']:+.2%}, sharpe {result.metrics['sharpe']:.2f}"
)

# %% Train: gradient ascent on daily log Sharpe over sampled 20-day-offset windows of
# the run's window, selecting the best set on the training data, tested on January 2024.
# A few steps only; docs/training.md has every setting (validation, early stopping, ...).
config["train"] = {
    "objective": "daily_log_sharpe",
    "test_end": "2024-02-01",
    "n_iterations": 8,
    "base_lr": 0.2,
    "batch_size": 2,
    "n_parameter_sets": 2,
    "bout_offset_days": 20,
    "val_fraction": 0.0,
}
trained = tfmm.train(config, prices)
for slice_ in ("train", "test"):
    before = trained.initial_metrics[slice_]["sharpe"]
    after = trained.best_metrics[slice_]["sharpe"]
    print(f"sharpe ({slice_}): {before:.3f} -> {after:.3f}")
best = tfmm.run(trained.best_config, prices)

# %% Plot value against HODL, before and after training.
fig, ax = plt.subplots(figsize=(10, 5))
frame["value"].plot(ax=ax, label="momentum (initial parameters)")
steps = config["train"]["n_iterations"]
best.to_pandas()["value"].plot(ax=ax, label=f"momentum (trained {steps} steps)")
frame["hodl"].plot(ax=ax, label="HODL", linestyle="--")
ax.set_ylabel("pool value (USDT)")
ax.set_title("tfmm: momentum pool over BTC/ETH/SOL against HODL")
ax.legend()
fig.tight_layout()
png = out / "quickstart.png"
fig.savefig(png, dpi=100)
print(f"wrote {png}")
