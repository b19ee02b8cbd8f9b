//! `.ticks`: tfmm's compact archive for prices quoted on a decimal tick grid.
//!
//! Exchange and synthetic prices are decimal numbers with a fixed number of
//! fractional digits, so each close is an integer number of ticks. Storing
//! tick deltas as varints and gzipping them is ~3x smaller than gzip CSV and
//! decodes to the very same float64 values (see [`tick_to_price`]). The byte
//! layout is specified in `docs/data-format.md`; in short, the gzip member
//! holds:
//!
//! ```text
//! "TFMMTCK1" | u8 decimals | i64 first_unix_ms | u32 step_ms | u64 n_rows | i64 first_tick
//! | (n_rows-1) x LEB128 (unix delta / step_ms - 1)
//! | (n_rows-1) x LEB128 zigzag(tick delta)
//! ```
//! All fixed-width integers are little-endian.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::error::{DataError, Position};
use crate::series::{Series, SeriesBuilder};
use crate::time::MS_PER_MINUTE;

pub const MAGIC: &[u8; 8] = b"TFMMTCK1";
/// Beyond this, ticks of ordinary prices no longer fit in 53 bits.
pub const MAX_DECIMALS: u8 = 18;
/// Largest tick magnitude: integers up to 2^53 convert to f64 exactly, which
/// the exact-decoding argument needs.
pub const MAX_TICK: i64 = 1 << 53;

const HEADER_LEN: usize = 8 + 1 + 8 + 4 + 8 + 8;

/// Exact powers of ten (every one up to 1e22 is representable).
const POW10: [f64; MAX_DECIMALS as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// The price a tick stands for.
///
/// Both operands are exact (|tick| <= 2^53, 10^d <= 10^22), and IEEE division
/// is correctly rounded, so the result is the float64 nearest to the decimal
/// `tick * 10^-decimals`: exactly what parsing that decimal text yields.
pub fn tick_to_price(tick: i64, decimals: u8) -> f64 {
    tick as f64 / POW10[usize::from(decimals.min(MAX_DECIMALS))]
}

/// The tick whose price is bit-identical to `price`, if there is one.
pub fn price_to_tick(price: f64, decimals: u8) -> Option<i64> {
    if decimals > MAX_DECIMALS || !price.is_finite() {
        return None;
    }
    let scaled = price * POW10[usize::from(decimals)];
    if scaled.abs() > (MAX_TICK as f64) + 1.0 {
        return None;
    }
    // The product is rounded, so the nearest integer may be one off.
    let guess = scaled.round() as i64;
    [guess, guess - 1, guess + 1]
        .into_iter()
        .find(|&t| t.abs() <= MAX_TICK && tick_to_price(t, decimals).to_bits() == price.to_bits())
}

/// The fewest decimals (up to [`MAX_DECIMALS`]) whose grid holds every value.
pub fn grid_decimals(values: &[f64]) -> Option<u8> {
    (0..=MAX_DECIMALS).find(|&d| values.iter().all(|&v| price_to_tick(v, d).is_some()))
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes a series into the uncompressed `.ticks` stream.
///
/// `label` only names the series in errors.
pub fn encode_ticks(series: &Series, decimals: u8, label: &Path) -> Result<Vec<u8>, DataError> {
    if decimals > MAX_DECIMALS {
        return Err(DataError::format(
            label,
            format!("decimals = {decimals} exceeds the maximum of {MAX_DECIMALS}"),
        ));
    }
    if series.unix_ms.len() != series.close.len() {
        return Err(DataError::format(
            label,
            format!(
                "series has {} timestamps but {} closes",
                series.unix_ms.len(),
                series.close.len()
            ),
        ));
    }
    // The archive may only hold what the readers would accept.
    let mut check = SeriesBuilder::new(label, "unix_ms", "close", "price");
    for (i, (&t, &c)) in series.unix_ms.iter().zip(&series.close).enumerate() {
        check.push(Position::Row(i + 1), t, c)?;
    }
    check.finish()?;

    let ticks = series
        .close
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            price_to_tick(c, decimals).ok_or_else(|| {
                DataError::value(
                    label,
                    Position::Row(i + 1),
                    "close",
                    c,
                    format!(
                        "is not on the {decimals}-decimal tick grid (no integer n <= 2^53 with n / 10^{decimals} == close)"
                    ),
                )
            })
        })
        .collect::<Result<Vec<i64>, _>>()?;

    let step = MS_PER_MINUTE;
    let n = series.len();
    let mut out = Vec::with_capacity(HEADER_LEN + 3 * n);
    out.extend_from_slice(MAGIC);
    out.push(decimals);
    out.extend_from_slice(&series.unix_ms[0].to_le_bytes());
    out.extend_from_slice(&(step as u32).to_le_bytes());
    out.extend_from_slice(&(n as u64).to_le_bytes());
    out.extend_from_slice(&ticks[0].to_le_bytes());
    for w in series.unix_ms.windows(2) {
        // Validated above: increasing whole minutes, so the quotient is >= 1.
        write_varint(&mut out, w[1].abs_diff(w[0]) / step as u64 - 1);
    }
    for w in ticks.windows(2) {
        write_varint(&mut out, zigzag(w[1] - w[0]));
    }
    Ok(out)
}

/// Writes `series` to `path` as a gzip `.ticks` archive. Fails, writing
/// nothing, if a close is not exactly on the `decimals` grid.
pub fn write_ticks(path: &Path, series: &Series, decimals: u8) -> Result<(), DataError> {
    let raw = encode_ticks(series, decimals, path)?;
    let write_err = |source| DataError::Write {
        file: path.to_path_buf(),
        source,
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&raw).map_err(write_err)?;
    let bytes = gz.finish().map_err(write_err)?;
    std::fs::write(path, bytes).map_err(write_err)
}

/// Reads a `.ticks` archive.
pub fn read_ticks(path: &Path) -> Result<Series, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    unpack(BufReader::new(file), path)
}

/// A `.ticks` archive held in memory (the embedded data); `label` names it in errors.
pub fn read_ticks_bytes(archive: &[u8], label: &Path) -> Result<Series, DataError> {
    unpack(archive, label)
}

fn unpack(archive: impl std::io::Read, path: &Path) -> Result<Series, DataError> {
    let mut raw = Vec::new();
    GzDecoder::new(archive)
        .read_to_end(&mut raw)
        .map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => {
                DataError::format(path, "truncated tick archive: the gzip stream ends early")
            }
            _ => DataError::format(path, format!("corrupt tick archive: gzip: {e}")),
        })?;
    decode_ticks(&raw, path)
}

/// Walks the uncompressed stream, failing (never panicking) on any
/// inconsistency.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    label: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DataError> {
        let end = self.pos + N;
        let chunk = self.bytes.get(self.pos..end).ok_or_else(|| {
            DataError::format(
                self.label,
                format!("truncated tick archive: stream ends inside the header's {what}"),
            )
        })?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(chunk);
        Ok(out)
    }

    fn varint(&mut self, at: Position, column: &str) -> Result<u64, DataError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(DataError::malformed(
                    self.label,
                    at,
                    format!("truncated tick archive: stream ends inside the {column} column"),
                ));
            };
            self.pos += 1;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DataError::malformed(
            self.label,
            at,
            format!("corrupt tick archive: varint in the {column} column exceeds 64 bits"),
        ))
    }
}

/// Decodes an uncompressed `.ticks` stream; `label` names it in errors.
pub fn decode_ticks(bytes: &[u8], label: &Path) -> Result<Series, DataError> {
    let corrupt =
        |detail: String| DataError::format(label, format!("corrupt tick archive: {detail}"));
    let mut cur = Cursor {
        bytes,
        pos: 0,
        label,
    };
    let magic: [u8; 8] = cur.take("magic")?;
    if &magic != MAGIC {
        return Err(DataError::format(
            label,
            format!(
                "not a tick archive: magic is {:?}, expected \"TFMMTCK1\"",
                String::from_utf8_lossy(&magic)
            ),
        ));
    }
    let [decimals] = cur.take::<1>("decimals")?;
    if decimals > MAX_DECIMALS {
        return Err(corrupt(format!(
            "decimals = {decimals} exceeds the maximum of {MAX_DECIMALS}"
        )));
    }
    let first_ms = i64::from_le_bytes(cur.take("first_unix_ms")?);
    let step = u32::from_le_bytes(cur.take("step_ms")?);
    if step == 0 {
        return Err(corrupt("step_ms = 0".to_string()));
    }
    let n_rows = u64::from_le_bytes(cur.take("n_rows")?);
    let first_tick = i64::from_le_bytes(cur.take("first_tick")?);
    if n_rows == 0 {
        return Err(DataError::Empty {
            file: label.to_path_buf(),
        });
    }
    // Every later row costs at least one byte in each column; checking this
    // before allocating keeps a corrupt count from requesting absurd memory.
    let remaining = (bytes.len() - cur.pos) as u64;
    if (n_rows - 1).saturating_mul(2) > remaining {
        return Err(DataError::format(
            label,
            format!(
                "truncated tick archive: n_rows = {n_rows} needs at least {} more bytes, found {remaining}",
                (n_rows - 1).saturating_mul(2)
            ),
        ));
    }
    let n = n_rows as usize;
    let step = i64::from(step);

    let mut times = Vec::with_capacity(n);
    times.push(first_ms);
    let mut t = first_ms;
    for row in 1..n {
        let at = Position::Row(row + 1);
        let gap = cur.varint(at, "time")?;
        // i128: one step between two valid i64 times may exceed i64.
        let next = i128::from(t) + (i128::from(gap) + 1) * i128::from(step);
        t = i64::try_from(next).map_err(|_| {
            DataError::malformed(label, at, "corrupt tick archive: timestamp overflows")
        })?;
        times.push(t);
    }

    let mut builder = SeriesBuilder::new(label, "unix_ms", "close", "price");
    builder.reserve(n);
    let check_tick = |tick: i64, at: Position| {
        if tick.abs() > MAX_TICK {
            Err(DataError::malformed(
                label,
                at,
                format!("corrupt tick archive: tick {tick} exceeds 2^53 in magnitude"),
            ))
        } else {
            Ok(tick)
        }
    };
    let mut tick = check_tick(first_tick, Position::Row(1))?;
    builder.push(Position::Row(1), first_ms, tick_to_price(tick, decimals))?;
    for (row, &t) in times.iter().enumerate().skip(1) {
        let at = Position::Row(row + 1);
        let delta = unzigzag(cur.varint(at, "tick")?);
        tick = check_tick(tick.saturating_add(delta), at)?;
        builder.push(at, t, tick_to_price(tick, decimals))?;
    }
    if cur.pos != bytes.len() {
        return Err(corrupt(format!(
            "{} unexpected byte(s) after the last row",
            bytes.len() - cur.pos
        )));
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            let mut cur = Cursor {
                bytes: &out,
                pos: 0,
                label: Path::new("x"),
            };
            assert_eq!(cur.varint(Position::Row(1), "time").unwrap(), v);
            assert_eq!(cur.pos, out.len());
        }
        for v in [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let bytes = [0xffu8; 11];
        let mut cur = Cursor {
            bytes: &bytes,
            pos: 0,
            label: Path::new("x.ticks"),
        };
        let e = cur
            .varint(Position::Row(2), "tick")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds 64 bits"), "{e}");
    }

    #[test]
    fn price_to_tick_finds_exact_ticks() {
        assert_eq!(price_to_tick(40010.07, 2), Some(4_001_007));
        assert_eq!(price_to_tick(1.00000517, 8), Some(100_000_517));
        assert_eq!(price_to_tick(0.1, 1), Some(1));
        assert_eq!(price_to_tick(40010.07, 1), None);
        assert_eq!(price_to_tick(f64::NAN, 2), None);
        assert_eq!(price_to_tick(1e300, 2), None);
        assert_eq!(grid_decimals(&[40000.0, 40010.07, 2998.819]), Some(3));
        assert_eq!(grid_decimals(&[0.1 + 0.2]), None);
    }
}
