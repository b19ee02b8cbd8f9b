#!/usr/bin/env python3
"""Build testdata/reference/ from the quantammsim reference outputs.

Run once by a developer (needs numpy only):

    python3 scripts/make_reference_fixtures.py \
        --reference /work/shared/reference --out testdata/reference

It writes
  prices/{BTC,ETH,USDC}.ticks  the reference prices, first N_ROWS minutes, in
                               tfmm's .ticks format (docs/data-format.md)
  prices/check.csv             ~1000 rows of the original CSV values, so a test
                               can prove the .ticks decode bit-exactly
  cases/<name>/                per case: case.json and gradient.json (copies),
                               golden.csv.gz, rule_outputs.csv.gz,
                               readouts.csv.gz, final.json (subsampled, see
                               testdata/reference/README.md)
Outputs are deterministic (gzip mtime 0), so re-running gives the same bytes.
"""

import argparse
import csv
import gzip
import io
import json
import shutil
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np

TOKENS = ["BTC", "ETH", "USDC"]
FIRST_MS = 1_640_995_200_000  # 2022-01-01 00:00 UTC
STEP_MS = 60_000
# 548 days, through 2023-07-02 23:59: the six-month cases (end 2023-07-01
# 00:00) keep the rest of the end day plus one more day (alignment.data_len =
# 789,120), the most any case reads.
N_ROWS = 789_120
MAGIC = b"TFMMTCK1"
MAX_TICK = 2**53

# Golden subsampling (see README): first/last rows in full, then a stride
# coprime with the 60/240/1440 chunk periods so every phase gets visited.
GOLDEN_HEAD = 240
GOLDEN_TAIL = 240
GOLDEN_STRIDE = 53
SIXMONTH_STRIDE = 3
SIXMONTH_EDGE = 20
RULE_OUTPUT_MARGIN = 5
RULE_OUTPUT_STRIDE = 17


def gz_write(path, text):
    # mtime=0 keeps the archive bytes reproducible.
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
            gz.write(text.encode())


def varint(out, v):
    assert v >= 0
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def zigzag(v):
    return (v << 1) if v >= 0 else ((-v) << 1) - 1


def decimals_of(texts):
    return max(max(0, -Decimal(t).as_tuple().exponent) for t in texts)


def to_tick(text, decimals):
    """Exact integer tick of a decimal text; asserts it decodes to the same float."""
    v = float(text)
    d = Decimal(repr(v)).scaleb(decimals)
    assert d == d.to_integral_value(), (text, decimals)
    tick = int(d)
    assert abs(tick) <= MAX_TICK, (text, tick)
    # int / int is correctly rounded in Python, like tfmm's f64 division.
    assert tick / 10**decimals == v, (text, tick, decimals)
    return tick


def encode_ticks(unix_ms, ticks, decimals):
    n = len(unix_ms)
    out = bytearray(struct.pack("<8sBqIQq", MAGIC, decimals, unix_ms[0], STEP_MS, n, ticks[0]))
    for a, b in zip(unix_ms, unix_ms[1:]):
        gap, rem = divmod(b - a, STEP_MS)
        assert rem == 0 and gap >= 1
        varint(out, gap - 1)
    for a, b in zip(ticks, ticks[1:]):
        varint(out, zigzag(b - a))
    return bytes(out)


def read_price_texts(path, n_rows):
    """First n_rows of (unix_ms, close text) from a reference price CSV."""
    with gzip.open(path, "rt") as f:
        rows = csv.reader(f)
        assert next(rows) == ["unix_ms", "close"]
        out = []
        for row in rows:
            out.append((int(row[0]), row[1]))
            if len(out) == n_rows:
                break
    assert len(out) == n_rows, (path, len(out))
    for i, (t, _) in enumerate(out):
        assert t == FIRST_MS + STEP_MS * i, (path, i, t)
    return out


def make_prices(ref, out):
    out.mkdir(parents=True, exist_ok=True)
    columns = {}
    for token in TOKENS:
        rows = read_price_texts(ref / "prices" / f"{token}.csv.gz", N_ROWS)
        texts = [repr(float(t)) for _, t in rows]
        decimals = decimals_of(texts)
        ticks = [to_tick(t, decimals) for t in texts]
        unix_ms = [t for t, _ in rows]
        raw = encode_ticks(unix_ms, ticks, decimals)
        (out / f"{token}.ticks").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
        columns[token] = texts
        print(f"{token}: {decimals} decimals, {len(raw)} bytes raw")
    # ~1000 check rows: both ends in full, then a stride across the range.
    picks = sorted(set(range(10)) | set(range(0, N_ROWS, 797)) | set(range(N_ROWS - 10, N_ROWS)))
    with open(out / "check.csv", "w", newline="") as f:
        f.write("unix_ms," + ",".join(TOKENS) + "\n")
        for i in picks:
            f.write(f"{FIRST_MS + STEP_MS * i}," + ",".join(columns[t][i] for t in TOKENS) + "\n")


def fmt(v):
    return repr(float(v))


def write_table(path, header, rows):
    buf = io.StringIO()
    buf.write(",".join(header) + "\n")
    for row in rows:
        buf.write(",".join(row) + "\n")
    gz_write(path, buf.getvalue())


def make_case(case_dir, out):
    out.mkdir(parents=True, exist_ok=True)
    case = json.loads((case_dir / "case.json").read_text())
    shutil.copyfile(case_dir / "case.json", out / "case.json")
    if (case_dir / "gradient.json").exists():
        shutil.copyfile(case_dir / "gradient.json", out / "gradient.json")
    al = case["alignment"]
    tokens = case["tokens_sorted"]
    npz = np.load(case_dir / "outputs.npz")

    # golden.csv.gz
    with gzip.open(case_dir / "golden.csv.gz", "rt") as f:
        reader = csv.reader(f)
        header = next(reader)
        stored = list(reader)
    assert len(stored) == al["stored_rows"], case_dir
    keep_cols = [i for i, h in enumerate(header) if not h.startswith("price_")]
    assert header[0] == "unix_ms"
    fee = npz["fee_revenue"]
    with_fee = bool(np.any(fee != 0))
    assert len(fee) == len(stored)
    n_full, n_stored, every = al["n_rows_full"], len(stored), al["store_every"]
    rows = []
    for i, rec in enumerate(stored):
        offset = int(rec[0]) - al["start_unix_ms"]
        assert offset % STEP_MS == 0
        r = offset // STEP_MS
        # Stored rows are every `every`-th minute, plus the last minute.
        assert r == every * i or (i == n_stored - 1 and r == n_full - 1), (case_dir, i, r)
        if every == 1:
            keep = r < GOLDEN_HEAD or r >= n_full - GOLDEN_TAIL or r % GOLDEN_STRIDE == 0
        else:
            keep = i % SIXMONTH_STRIDE == 0 or i < SIXMONTH_EDGE or i >= n_stored - SIXMONTH_EDGE
        if not keep:
            continue
        row = [str(r), rec[0]] + [fmt(rec[c]) for c in keep_cols[1:]]
        if with_fee:
            row.append(fmt(fee[i]))
        rows.append(row)
    out_header = ["row"] + [header[c] for c in keep_cols] + (["fee_revenue"] if with_fee else [])
    write_table(out / "golden.csv.gz", out_header, rows)

    # rule_outputs.csv.gz
    if "rule_outputs" in npz.files:
        ro = npz["rule_outputs"]
        cp = case["run_fingerprint"]["chunk_period"]
        start_chunk = al["start_idx_in_data"] // cp
        rows = [
            [str(i)] + [fmt(v) for v in ro[i]]
            for i in range(ro.shape[0])
            if i >= start_chunk - RULE_OUTPUT_MARGIN or i % RULE_OUTPUT_STRIDE == 0
        ]
        write_table(out / "rule_outputs.csv.gz", ["row"] + tokens, rows)

    # readouts.csv.gz
    order = ["readout_ewma", "readout_running_a", "readout_gradients"]
    keys = [k for k in order if k in npz.files]
    keys += sorted(k for k in npz.files if k.startswith("readout_") and k not in order)
    if keys:
        arrays = [npz[k] for k in keys]
        n = arrays[0].shape[0]
        assert all(a.shape == (n, len(tokens)) for a in arrays)
        header = ["row"] + [f"{k[len('readout_'):]}_{t}" for k in keys for t in tokens]
        rows = [[str(i)] + [fmt(a[i, j]) for a in arrays for j in range(len(tokens))] for i in range(n)]
        write_table(out / "readouts.csv.gz", header, rows)

    final = {
        "final_value": float(npz["final_value"]),
        "final_reserves": [float(v) for v in npz["final_reserves"]],
    }
    (out / "final.json").write_text(json.dumps(final, indent=1) + "\n")


def main():
    repo = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", type=Path, default=Path("/work/shared/reference"))
    ap.add_argument("--out", type=Path, default=repo / "testdata" / "reference")
    args = ap.parse_args()
    make_prices(args.reference, args.out / "prices")
    cases = sorted(p for p in (args.reference / "cases").iterdir() if p.is_dir())
    for case_dir in cases:
        make_case(case_dir, args.out / "cases" / case_dir.name)
    shutil.copyfile(args.reference / "cases" / "index.json", args.out / "cases" / "index.json")
    print(f"{len(cases)} cases written to {args.out}")


if __name__ == "__main__":
    main()
