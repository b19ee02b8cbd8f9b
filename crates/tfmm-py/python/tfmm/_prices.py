"""Prices from Python objects into the form the native module reads."""

from __future__ import annotations

import datetime as _dt
from typing import Any, NamedTuple, Optional, Sequence, Union

import numpy as np

MS_PER_MINUTE = 60_000

#: When a price array starts: unix milliseconds, a UTC ``"YYYY-MM-DD HH:MM:SS"`` text, a
#: ``datetime`` (naive means UTC) or a ``numpy.datetime64``.
TimeLike = Union[int, str, _dt.datetime, np.datetime64]


class Prices(NamedTuple):
    """Prices ready for the native module: a C-contiguous float64 array of shape
    ``(minutes, columns)``, the column names (``None``: the config's tokens in pool order)
    and the unix ms of row 0. Picklable, so it is what a sweep puts in Ray's object store."""

    array: np.ndarray
    columns: Optional[list[str]]
    start_ms: int


def to_unix_ms(t: TimeLike, field: str = "start") -> int:
    """Unix milliseconds of ``t``."""
    if isinstance(t, (bool, np.bool_)):
        raise TypeError(f"{field}: must be a time, not {type(t).__name__}")
    if isinstance(t, (int, np.integer)):
        return int(t)
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        delta = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return delta // _dt.timedelta(milliseconds=1)
    if isinstance(t, _dt.date):
        return to_unix_ms(_dt.datetime(t.year, t.month, t.day), field)
    if isinstance(t, (str, np.datetime64)):
        try:
            return int(np.datetime64(t, "ms").astype(np.int64))
        except ValueError as e:
            raise ValueError(
                f"{field} = {t!r}: is not a time (UTC \"YYYY-MM-DD HH:MM:SS\")"
            ) from e
    raise TypeError(
        f"{field}: must be unix ms, a UTC text, a datetime or a numpy.datetime64, "
        f"not {type(t).__name__}"
    )


def _is_frame(obj: Any) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "index") and hasattr(obj, "to_numpy")


def _frame(frame: Any) -> Prices:
    import pandas as pd

    if not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError(
            "prices: a DataFrame needs a DatetimeIndex (one row per minute), not "
            f"{type(frame.index).__name__}"
        )
    if len(frame.index) == 0:
        raise ValueError("prices: the DataFrame has no rows")
    index = frame.index
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    ms = index.values.astype("datetime64[ms]").astype(np.int64)
    steps = np.diff(ms)
    bad = np.flatnonzero(steps != MS_PER_MINUTE)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"prices: the index must step one minute per row; row {i + 1} ({index[i + 1]}) "
            f"follows row {i} ({index[i]}) by {steps[i] / 1000:g} s"
        )
    for column, dtype in frame.dtypes.items():
        if dtype.kind not in "fiu":
            raise TypeError(f"prices: column {column} must hold numbers, not {dtype}")
    return Prices(
        _array(frame.to_numpy(dtype=np.float64)),
        [str(c) for c in frame.columns],
        int(ms[0]),
    )


def _array(values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind not in "fiu":
        raise TypeError(f"prices: must hold numbers, not dtype {values.dtype}")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"prices: must be a 2-D array of numbers or a DataFrame, not {type(values).__name__}"
        ) from e
    if array.ndim != 2:
        raise ValueError(
            f"prices: must be 2-D (minutes, tokens), but has shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"prices: shape {array.shape} holds no prices")
    return np.ascontiguousarray(array)


def normalise(
    prices: Any,
    start: Optional[TimeLike] = None,
    columns: Optional[Sequence[str]] = None,
) -> Optional[Prices]:
    """``prices`` (``None``, a :class:`Prices`, a DataFrame indexed by minute or a 2-D array
    with ``start``) as :class:`Prices`."""
    if prices is None:
        if start is not None:
            raise ValueError("start: given without prices")
        return None
    if isinstance(prices, Prices):
        return prices
    if _is_frame(prices):
        if start is not None:
            raise ValueError("start: a DataFrame's index already says when it starts")
        return _frame(prices)
    array = _array(prices)
    if start is None:
        raise ValueError(
            "start: prices given as an array need the time of their first row "
            "(start=, a UTC \"YYYY-MM-DD HH:MM:SS\", unix ms or a datetime)"
        )
    names = None
    if columns is not None:
        names = [str(c) for c in columns]
        if len(names) != array.shape[1]:
            raise ValueError(
                f"columns: {len(names)} names for prices of shape {array.shape}"
            )
    return Prices(array, names, to_unix_ms(start))
