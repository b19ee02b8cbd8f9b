"""tfmm: simulate, back-test and train dynamic-weight AMM pools from Python.

The same journeys as the ``tfmm`` command line, with numpy and pandas objects in and out::

    import tfmm

    config = {
        "pool": {"tokens": ["BTC", "ETH", "SOL"], "rule": "momentum",
                 "memory_days": 10, "k_per_day": 1},
        "market": {"fees": 0.003},
        "window": {"start": "2024-01-01", "end": "2024-03-01"},
    }
    result = tfmm.run(config)                  # the embedded BTC/ETH/SOL data
    result.to_pandas()[["value", "hodl"]].plot()
    g = tfmm.grad(config, objective="daily_log_sharpe")
    trained = tfmm.train(config, n_iterations=20)
    results = tfmm.sweep(tfmm.grid(config, {"market.fees": [0.001, 0.003]}), backend="ray")

Configs are dicts in tfmm's native form (docs/config.md) or quantammsim cases; results are
plain dataclasses of numpy arrays and dicts, so they pickle. See docs/python.md.
"""

from ._api import grad, grid, load_prices, read_config, resolve_config, run, train, walk_forward
from ._prices import Prices
from ._results import Gradient, Result, TrainResult, WalkForward
from ._sweep import sweep
from ._tfmm import __version__

__all__ = [
    "Gradient",
    "Prices",
    "Result",
    "TrainResult",
    "WalkForward",
    "__version__",
    "grad",
    "grid",
    "load_prices",
    "read_config",
    "resolve_config",
    "run",
    "sweep",
    "train",
    "walk_forward",
]
