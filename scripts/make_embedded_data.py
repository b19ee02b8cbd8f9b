#!/usr/bin/env python3
"""Builds tfmm's embedded default data, data/binance-1m/<T>.ticks, from the Binance 1-minute
closes (gzip CSV, header unix_ms,close, gaps not filled). Run once by a developer:

    python3 scripts/make_embedded_data.py /path/to/binance-1m

Gaps are kept (the .ticks format stores them); tfmm's loader fills them when it aligns tokens.
"""

import csv
import gzip
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_reference_fixtures import decimals_of, encode_ticks, to_tick  # noqa: E402

TOKENS = ["BTC", "ETH", "SOL"]


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/binance-1m")
    out = Path(__file__).resolve().parent.parent / "data" / "binance-1m"
    out.mkdir(parents=True, exist_ok=True)
    for token in TOKENS:
        with gzip.open(src / f"{token}.csv.gz", "rt") as f:
            rows = csv.reader(f)
            assert next(rows) == ["unix_ms", "close"]
            data = [(int(t), c) for t, c in rows]
        texts = [repr(float(c)) for _, c in data]
        decimals = decimals_of(texts)
        raw = encode_ticks([t for t, _ in data], [to_tick(t, decimals) for t in texts], decimals)
        (out / f"{token}.ticks").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
        print(f"{token}: {len(data)} rows, {decimals} decimals")


if __name__ == "__main__":
    main()
