"""The journeys of the command line — run, gradient, train, walk-forward — from Python."""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import numpy as np

from . import _tfmm
from ._prices import Prices, TimeLike, normalise, to_unix_ms
from ._results import Gradient, Result, TrainResult, WalkForward

if TYPE_CHECKING:  # pandas is optional at run time
    import pandas

PathLike = Union[str, "os.PathLike[str]"]


def _config(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise TypeError(
            "config: must be a dict (a native config or a quantammsim case), "
            f"not {type(config).__name__}"
        )
    return config


def _path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def _price_args(prices: Any, start: Optional[TimeLike]) -> dict[str, Any]:
    p = normalise(prices, start)
    if p is None:
        return {}
    return {"prices": p.array, "columns": p.columns, "start_ms": p.start_ms}


def run(
    config: dict[str, Any],
    prices: Any = None,
    data_dir: Optional[PathLike] = None,
    *,
    start: Optional[TimeLike] = None,
    base_dir: Optional[PathLike] = None,
    readouts: bool = False,
    out_dir: Optional[PathLike] = None,
) -> Result:
    """Simulates a pool over historic prices, as ``tfmm run`` does, and returns its
    timeseries and summary as a :class:`Result`.

    ``config`` is a dict in tfmm's native form (``{"pool": {...}, "market": {...},
    "window": {...}}``, docs/config.md) or a quantammsim case (``{"run_fingerprint": {...},
    "params": {...}}``). Prices come from, in order: ``prices`` — a pandas DataFrame indexed
    by UTC minute with token-named columns, or a 2-D array ``(minutes, tokens)`` in pool order
    with ``start`` (the time of row 0) — else ``data_dir`` (one price file per token), else
    the config's ``data.dir``, else the data built into tfmm. ``base_dir`` resolves relative
    file names inside the config (default: the working directory). ``readouts`` also records
    the rule's estimator state per chunk. ``out_dir`` also writes the files ``tfmm run``
    writes (timeseries.csv/.parquet, summary.json, plots).

    The GIL is released while the run loads and simulates.

    Raises ``TypeError`` for a config that is not a dict or holds a value of a type no config
    can, ``ValueError`` (message naming the field) for an unknown key, a value outside its
    domain or bad prices, ``OSError`` for files that cannot be read.
    """
    d = _tfmm.run(
        _config(config),
        data_dir=_path(data_dir),
        base_dir=_path(base_dir),
        readouts=readouts,
        out_dir=_path(out_dir),
        **_price_args(prices, start),
    )
    return Result._from_native(d)


def grad(
    config: dict[str, Any],
    objective: str = "daily_log_sharpe",
    prices: Any = None,
    data_dir: Optional[PathLike] = None,
    *,
    start: Optional[TimeLike] = None,
    base_dir: Optional[PathLike] = None,
    learn_initial_weights: bool = False,
) -> Gradient:
    """The objective (a quantammsim ``return_val`` name, docs/metrics.md) over the config's
    window and its exact gradient with respect to every parameter, as ``tfmm grad``.
    Strategy-rule (TFMM) pools only. Prices as in :func:`run`.

    ``learn_initial_weights`` also differentiates the initial weights (quantammsim stops
    their gradient)."""
    d = _tfmm.grad(
        _config(config),
        objective=objective,
        data_dir=_path(data_dir),
        base_dir=_path(base_dir),
        learn_initial_weights=learn_initial_weights,
        **_price_args(prices, start),
    )
    return Gradient(d["objective"], d["value"], dict(d["gradient"]))


def _with_settings(config: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    if not settings:
        return config
    if "run_fingerprint" in config:
        raise ValueError(
            f"{next(iter(settings))}: training settings given as arguments apply to native "
            "configs; a quantammsim case carries them in run_fingerprint.optimisation_settings"
        )
    merged = copy.copy(config)
    table = merged.get("train", {})
    if not isinstance(table, dict):
        raise TypeError(f"train: must be a dict, not {type(table).__name__}")
    merged["train"] = {**table, **settings}
    return merged


def train(
    config: dict[str, Any],
    prices: Any = None,
    data_dir: Optional[PathLike] = None,
    *,
    start: Optional[TimeLike] = None,
    base_dir: Optional[PathLike] = None,
    out_dir: Optional[PathLike] = None,
    resume: bool = False,
    **settings: Any,
) -> TrainResult:
    """Trains a strategy's parameters, as ``tfmm train``: gradient ascent (SGD / Adam /
    AdamW), CMA-ES or L-BFGS, as the config's ``train`` table (docs/training.md) or a
    quantammsim case's ``optimisation_settings`` say. Keyword ``settings`` override keys of
    the ``train`` table (``n_iterations=5``). Prices as in :func:`run`.

    ``out_dir`` also writes results.json, best_config.json and the training curve there;
    with ``resume``, training starts from an earlier results.json found there."""
    d = _tfmm.train(
        _with_settings(_config(config), settings),
        data_dir=_path(data_dir),
        base_dir=_path(base_dir),
        out_dir=_path(out_dir),
        resume=resume,
        **_price_args(prices, start),
    )
    return TrainResult(d["results"], d["best_config"], list(d["written"]))


def walk_forward(
    config: dict[str, Any],
    prices: Any = None,
    data_dir: Optional[PathLike] = None,
    *,
    start: Optional[TimeLike] = None,
    base_dir: Optional[PathLike] = None,
    **settings: Any,
) -> WalkForward:
    """Walk-forward evaluation, as ``tfmm walk``: the span from the window start to
    ``train.test_end`` is cut into ``n_cycles + 1`` segments; each cycle trains on one and
    tests on the next. Keyword ``settings`` override keys of the ``train`` table. Prices as
    in :func:`run`."""
    d = _tfmm.walk_forward(
        _with_settings(_config(config), settings),
        data_dir=_path(data_dir),
        base_dir=_path(base_dir),
        **_price_args(prices, start),
    )
    return WalkForward(d)


def load_prices(
    tokens: Sequence[str],
    data_dir: Optional[PathLike] = None,
    *,
    start: Optional[TimeLike] = None,
    end: Optional[TimeLike] = None,
) -> "pandas.DataFrame":
    """Prices of ``tokens`` from ``data_dir`` (``<T>.csv``, ``.csv.gz``, ``.ticks`` or
    ``<T>_USD.parquet`` files; default: the data built into tfmm) on the minutes common to
    all, holes forward-filled: the table a run reads. A DataFrame indexed by UTC minute with
    one column per token, cut to ``start <= time < end`` when given. It can be passed back
    as ``prices=`` to any call."""
    import pandas as pd

    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise TypeError(f"tokens: must be a list of tickers, not {type(tokens).__name__}")
    start_ms, array, provenance = _tfmm.load_prices(list(tokens), _path(data_dir))
    lo, hi = 0, array.shape[0]
    if start is not None:
        lo = max(0, -(-(to_unix_ms(start) - start_ms) // 60_000))
    if end is not None:
        hi = min(hi, max(0, -(-(to_unix_ms(end, "end") - start_ms) // 60_000)))
    if lo >= hi:
        raise ValueError(
            f"start/end: no minute of the data lies in the range asked for (the data starts "
            f"at {np.datetime64(start_ms, 'ms')} and has {array.shape[0]} minutes)"
        )
    ms = start_ms + 60_000 * np.arange(lo, hi, dtype=np.int64)
    index = pd.DatetimeIndex(ms.astype("datetime64[ms]"), name="time").tz_localize("UTC")
    frame = pd.DataFrame(array[lo:hi], index=index, columns=list(tokens))
    frame.attrs["provenance"] = provenance
    return frame


def read_config(path: PathLike) -> dict[str, Any]:
    """A config file (TOML or JSON) as the dict it holds, keys not yet checked. Relative
    file names inside it are relative to the file: pass ``base_dir=`` its folder when
    running it."""
    return _tfmm.read_config(os.fspath(path))


def resolve_config(config: dict[str, Any], base_dir: Optional[PathLike] = None) -> dict[str, Any]:
    """Checks a config without running it and returns it resolved: every default filled in,
    the rule's parameters under their internal names (the ``config`` of summary.json)."""
    return _tfmm.resolve_config(_config(config), _path(base_dir))


def grid(base: dict[str, Any], axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``axes`` applied to copies of ``base``, for :func:`sweep`.
    Keys are dotted paths into the config (``"pool.memory_days"``, ``"market.fees"``); the
    last axis varies fastest.

    >>> grid({"pool": {"rule": "momentum"}}, {"market.fees": [0.0, 0.003]})
    [{'pool': {'rule': 'momentum'}, 'market': {'fees': 0.0}}, {'pool': {'rule': 'momentum'}, 'market': {'fees': 0.003}}]
    """
    import itertools

    _config(base)
    keys = list(axes)
    configs = []
    for values in itertools.product(*(axes[k] for k in keys)):
        config = copy.deepcopy(base)
        for key, value in zip(keys, values):
            *parents, leaf = key.split(".")
            node = config
            for p in parents:
                child = node.setdefault(p, {})
                if not isinstance(child, dict):
                    raise TypeError(f"{key}: {p} is a {type(child).__name__}, not a table")
                node = child
            node[leaf] = value
        configs.append(config)
    return configs


__all__ = [
    "Prices",
    "grad",
    "grid",
    "load_prices",
    "read_config",
    "resolve_config",
    "run",
    "train",
    "walk_forward",
]
