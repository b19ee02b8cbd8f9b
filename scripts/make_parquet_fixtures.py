#!/usr/bin/env python3
"""Build testdata/parquet/: small parquet files written the way quantammsim
writes `<TICKER>_USD.parquet` (pandas + pyarrow `DataFrame.to_parquet`), plus
variants for the reader's other accepted types and its error paths.

Needs numpy, pandas and pyarrow (only to run this script):

    python3 scripts/make_parquet_fixtures.py [--out testdata/parquet]

Prices are synthetic (seeded), on a 2-decimal grid; `expected/<T>.csv` holds
the same rows as text so a test can compare bit for bit.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FIRST_MS = 1_640_995_200_000  # 2022-01-01 00:00 UTC
STEP_MS = 60_000


def quantammsim_frame(token, unix_ms, close):
    """Columns and dtypes as in quantammsim's data builder."""
    close = np.asarray(close, dtype=np.float64)
    opens = np.concatenate([[close[0]], close[:-1]])
    dates = pd.to_datetime(unix_ms, unit="ms").strftime("%Y-%m-%d %H:%M:%S")
    return pd.DataFrame(
        {
            "unix": np.asarray(unix_ms, dtype=np.int64),
            "date": dates.astype(str),
            "symbol": f"{token}/USD",
            "open": opens,
            "high": np.maximum(opens, close),
            "low": np.minimum(opens, close),
            "close": close,
            "Volume USD": np.round(close * 0.5, 2),
            f"Volume {token}": np.full(len(close), 0.5),
        }
    )


def prices(rng, n, start, decimals):
    steps = rng.normal(0.0, 0.001, n)
    return np.round(start * np.exp(np.cumsum(steps)), decimals)


def write_expected(path, unix_ms, close):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write("unix_ms,close\n")
        for t, c in zip(unix_ms, close):
            f.write(f"{int(t)},{float(c)!r}\n")


def main():
    repo = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=repo / "testdata" / "parquet")
    out = ap.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)

    # BTC: 300 gap-free minutes from 2022-01-01, `unix` a plain column
    # (RangeIndex, not stored), default snappy compression.
    n = 300
    btc_ms = FIRST_MS + STEP_MS * np.arange(n)
    btc = prices(rng, n, 40000.0, 2)
    quantammsim_frame("BTC", btc_ms, btc).to_parquet(out / "BTC_USD.parquet", engine="pyarrow")
    write_expected(out / "expected" / "BTC.csv", btc_ms, btc)

    # ETH: starts 10 minutes later, has holes (one 3-minute, one 1-minute),
    # and `unix` is the pandas index (stored as a column named unix).
    eth_ms = FIRST_MS + STEP_MS * np.arange(10, 10 + n)
    eth_ms = np.delete(eth_ms, [50, 51, 52, 120])
    eth = prices(rng, len(eth_ms), 3000.0, 2)
    frame = quantammsim_frame("ETH", eth_ms, eth).set_index("unix")
    frame.to_parquet(out / "ETH_USD.parquet", engine="pyarrow")
    write_expected(out / "expected" / "ETH.csv", eth_ms, eth)

    # Variants: 30 rows each, same values.
    v = out / "variants"
    v.mkdir(exist_ok=True)
    m = 30
    ms = btc_ms[:m]
    base = quantammsim_frame("BTC", ms, btc[:m])
    write_expected(v / "expected.csv", ms, btc[:m])

    base.to_parquet(v / "gzip.parquet", compression="gzip")
    base.to_parquet(v / "uncompressed.parquet", compression=None)
    base.to_parquet(v / "row_groups.parquet", row_group_size=7)
    base.assign(unix=base["unix"].astype(np.float64)).to_parquet(v / "unix_float64.parquet")
    base.assign(unix=pd.to_datetime(base["unix"], unit="ms").astype("datetime64[ns]")).to_parquet(v / "unix_timestamp_ns.parquet")
    table = pa.Table.from_pandas(base, preserve_index=False)
    table = table.set_column(0, "unix", pa.array(ms, type=pa.timestamp("ms", tz="UTC")))
    pq.write_table(table, v / "unix_timestamp_ms.parquet")
    small = base.assign(unix=(base["unix"] - FIRST_MS).astype(np.int32))
    small.to_parquet(v / "unix_int32.parquet")

    # Error paths.
    base.to_parquet(v / "zstd.parquet", compression="zstd")
    base.drop(columns=["close"]).to_parquet(v / "no_close.parquet")
    nulls = base.assign(close=pd.array(list(btc[:m]), dtype="Float64"))
    nulls.loc[5, "close"] = pd.NA
    nulls.to_parquet(v / "null_close.parquet")
    # pandas turns NaN into null on the way to arrow; write a real NaN directly.
    nan_close = btc[:m].copy()
    nan_close[7] = np.nan
    table = pa.Table.from_pandas(base, preserve_index=False)
    table = table.set_column(6, "close", pa.array(nan_close, from_pandas=False))
    pq.write_table(table, v / "nan_close.parquet")
    unsorted = base.copy()
    unsorted.loc[[10, 11], "unix"] = unsorted.loc[[11, 10], "unix"].to_numpy()
    unsorted.to_parquet(v / "unsorted.parquet")
    base.assign(close=base["close"].astype(str)).to_parquet(v / "close_text.parquet")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
