"""Results as plain Python objects (dataclasses of numpy arrays and dicts): they pickle, so
they come back from worker processes and Ray tasks unchanged."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:  # pandas is optional at run time
    import pandas


def _frame_index(unix_ms: np.ndarray) -> "pandas.DatetimeIndex":
    import pandas as pd

    return pd.DatetimeIndex(unix_ms.astype("datetime64[ms]"), name="time").tz_localize("UTC")


def _numbers(table: dict[str, Any]) -> dict[str, float]:
    # summary.json writes metrics a window is too short for as null; numbers read better NaN.
    return {k: (math.nan if v is None else v) for k, v in table.items()}


@dataclass(eq=False)
class Result:
    """One run of a pool, minute by minute, with its summary.

    Arrays have one row per simulated minute; per-token columns follow ``tokens`` (the
    pool order). ``summary`` is exactly what ``tfmm run`` writes to ``summary.json``."""

    tokens: list[str]
    #: Unix ms of each minute (int64).
    unix_ms: np.ndarray
    #: Pool value in the quote currency.
    value: np.ndarray
    #: ``(minutes, tokens)``.
    weights: np.ndarray
    reserves: np.ndarray
    prices: np.ndarray
    #: Fees kept by LPs and diverted to the protocol, per minute.
    fee_revenue: np.ndarray
    protocol_fee_revenue: np.ndarray
    #: Value of the initial reserves held, and of the initial value split equally and held.
    hodl: np.ndarray
    uniform_hodl: np.ndarray
    #: Every training objective (quantammsim ``return_val`` names); NaN where undefined.
    metrics: dict[str, float]
    #: The back-test report metrics (quantammsim's evaluation names).
    evaluation: dict[str, float]
    summary: dict[str, Any]
    #: With a ``lvr__`` / ``rvr__`` rule, the pool's own value and LP fees (``value`` is
    #: then the rebalancing benchmark's).
    pool_value: Optional[np.ndarray] = None
    pool_fee_revenue: Optional[np.ndarray] = None
    #: With ``readouts=True``: ``{"columns", "unix_ms", "values"}``, the rule's estimator
    #: state per chunk.
    readouts: Optional[dict[str, Any]] = None

    @classmethod
    def _from_native(cls, d: dict[str, Any]) -> "Result":
        summary = d["summary"]
        return cls(
            tokens=list(summary["tokens"]),
            unix_ms=d["unix_ms"],
            value=d["value"],
            weights=d["weights"],
            reserves=d["reserves"],
            prices=d["prices"],
            fee_revenue=d["fee_revenue"],
            protocol_fee_revenue=d["protocol_fee_revenue"],
            hodl=d["hodl"],
            uniform_hodl=d["uniform_hodl"],
            metrics=_numbers(summary["metrics"]),
            evaluation=_numbers(summary["evaluation"]),
            summary=summary,
            pool_value=d.get("pool_value"),
            pool_fee_revenue=d.get("pool_fee_revenue"),
            readouts=d.get("readouts"),
        )

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config (every default filled in), as in summary.json."""
        return self.summary["config"]

    @property
    def final_value(self) -> float:
        return float(self.value[-1])

    @property
    def time(self) -> np.ndarray:
        """Each minute as ``datetime64[ms]`` (UTC)."""
        return self.unix_ms.astype("datetime64[ms]")

    def to_pandas(self) -> "pandas.DataFrame":
        """The timeseries as a DataFrame indexed by UTC minute: the columns of
        ``timeseries.csv`` (``value``, ``weight_<T>``..., ``reserve_<T>``..., ``price_<T>``...,
        ``fee_revenue``, ``protocol_fee_revenue`` [, ``pool_value``, ``pool_fee_revenue``,
        ``lvr``/``rvr``]) followed by ``hodl`` and ``uniform_hodl``."""
        import pandas as pd

        columns: dict[str, np.ndarray] = {"value": self.value}
        for prefix, matrix in (
            ("weight", self.weights),
            ("reserve", self.reserves),
            ("price", self.prices),
        ):
            for i, t in enumerate(self.tokens):
                columns[f"{prefix}_{t}"] = matrix[:, i]
        columns["fee_revenue"] = self.fee_revenue
        columns["protocol_fee_revenue"] = self.protocol_fee_revenue
        benchmark = self.summary.get("benchmark")
        if self.pool_value is not None and benchmark:
            columns["pool_value"] = self.pool_value
            columns["pool_fee_revenue"] = self.pool_fee_revenue
            columns[benchmark["kind"]] = self.value - self.pool_value
        columns["hodl"] = self.hodl
        columns["uniform_hodl"] = self.uniform_hodl
        return pd.DataFrame(columns, index=_frame_index(self.unix_ms))

    def identical(self, other: "Result") -> bool:
        """Whether ``other`` holds the same numbers, bit for bit (NaN equal to NaN)."""
        if not isinstance(other, Result):
            return False
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (
                    isinstance(a, np.ndarray)
                    and isinstance(b, np.ndarray)
                    and a.dtype == b.dtype
                    and a.shape == b.shape
                    and a.tobytes() == b.tobytes()
                ):
                    return False
            elif f.name in ("metrics", "evaluation"):
                # NaN != NaN: compare the bits of each number.
                if a.keys() != b.keys() or any(
                    np.float64(a[k]).tobytes() != np.float64(b[k]).tobytes() for k in a
                ):
                    return False
            elif f.name == "readouts" and a is not None and b is not None:
                if a["columns"] != b["columns"] or any(
                    a[k].tobytes() != b[k].tobytes() for k in ("unix_ms", "values")
                ):
                    return False
            elif a != b:
                return False
        return True

    def __repr__(self) -> str:
        n = len(self.value)
        return (
            f"Result({self.summary['rule']} over {'/'.join(self.tokens)}, {n} minutes from "
            f"{self.summary['start']}, final value {self.final_value:,.2f})"
        )


@dataclass(eq=False)
class Gradient:
    """An objective over a config's window and its exact gradient with respect to every
    parameter (internal names; zeros for elements the objective does not depend on)."""

    objective: str
    value: float
    gradient: dict[str, np.ndarray]


@dataclass(eq=False)
class TrainResult:
    """What training produced: ``results`` is ``results.json`` (settings, what was tuned, the
    starting and best parameters with their train / validation / test metrics, every step),
    ``best_config`` a config with the best parameters that :func:`tfmm.run` accepts."""

    results: dict[str, Any]
    best_config: dict[str, Any]
    #: Files written when ``out_dir`` was given.
    written: list[str] = field(default_factory=list)

    @property
    def best_params(self) -> dict[str, Any]:
        return self.results["best"]["params"]

    @property
    def best_metrics(self) -> dict[str, dict[str, Any]]:
        """``{"train": {...}, "validation": {...}, "test": {...}}`` of the best set."""
        return self.results["best"]["metrics"]

    @property
    def initial_metrics(self) -> dict[str, dict[str, Any]]:
        """The same metrics for the starting parameters (set 0)."""
        return self.results["initial_metrics"][0]

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.results["history"]

    @property
    def steps_taken(self) -> int:
        return self.results["steps_taken"]

    def to_pandas(self) -> "pandas.DataFrame":
        """The training curve: per step, the mean objective and selection metric over the
        parameter sets, and the learning rate."""
        import pandas as pd

        def mean(xs: list[Optional[float]]) -> float:
            finite = [x for x in xs if x is not None and math.isfinite(x)]
            return sum(finite) / len(finite) if finite else math.nan

        rows = [
            {
                "step": r["step"],
                "objective": mean(r["objective"]),
                "selection": mean(r["selection"]),
                "learning_rate": r["learning_rate"],
            }
            for r in self.history
        ]
        return pd.DataFrame(rows).set_index("step") if rows else pd.DataFrame()


@dataclass(eq=False)
class WalkForward:
    """Walk-forward evaluation: ``summary`` is ``walk.json`` (per-cycle in-sample,
    out-of-sample and fresh-deposit metrics, walk-forward efficiency, the verdict)."""

    summary: dict[str, Any]

    @property
    def cycles(self) -> list[dict[str, Any]]:
        return self.summary["cycles"]

    @property
    def is_effective(self) -> bool:
        return bool(self.summary["is_effective"])

    @property
    def mean_wfe(self) -> float:
        v = self.summary["mean_wfe"]
        return math.nan if v is None else v

    def to_pandas(self, metric: str = "sharpe") -> "pandas.DataFrame":
        """One row per cycle: its dates, ``metric`` in and out of sample (carried-on pool and
        fresh deposit), walk-forward efficiency and steps taken."""
        import pandas as pd

        def get(table: dict[str, Any]) -> float:
            v = table.get(metric)
            return math.nan if v is None else v

        rows = [
            {
                "cycle": c["cycle"],
                "train_start": c["train_start"],
                "train_end": c["train_end"],
                "test_end": c["test_end"],
                f"is_{metric}": get(c["in_sample"]),
                f"oos_{metric}": get(c["out_of_sample"]),
                f"fresh_oos_{metric}": get(c["fresh_out_of_sample"]),
                "walk_forward_efficiency": c["walk_forward_efficiency"],
                "steps_taken": c["steps_taken"],
            }
            for c in self.cycles
        ]
        return pd.DataFrame(rows).set_index("cycle")
