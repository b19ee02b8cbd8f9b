//! Simulation window and burn-in: quantammsim's `get_data_dict` index
//! arithmetic (spec/runners.md §3.3), on a [`PriceTable`]'s rows.
//!
//! The reference first drops `i0 mod 1440` leading rows so the start row sits
//! on a multiple of 1440 (its chunked estimators then see whole "days" of
//! rows), then keeps `max_memory_days` of whole days of history before the
//! start as burn-in. Reproducing that choice of first row matters: the
//! estimators run from row 0 of the kept data, so a different first row gives
//! different weights.

use crate::align::PriceTable;
use crate::error::DataError;
use crate::time::{MS_PER_MINUTE, format_utc};

const DAY: usize = 1440;

/// Rows of a [`PriceTable`] used by one simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// First table row the reference keeps (start of burn-in).
    pub lo: usize,
    /// Row of the start minute, relative to `lo`.
    pub start: usize,
    /// `(end - start) / 1 min + 1`: the reference counts the end minute.
    pub bout_length: usize,
    /// Simulated minutes, `bout_length - 1` (the end minute is not simulated).
    pub n_rows: usize,
    /// `max_memory_days` after the reference's clamp for short histories
    /// (`start_days - 1` when history is shorter than asked; may be negative
    /// when the start is on the first day).
    pub max_memory_days_effective: f64,
}

impl Window {
    /// Table rows simulated: `lo + start .. lo + start + n_rows`.
    pub fn sim_rows(&self) -> std::ops::Range<usize> {
        let first = self.lo + self.start;
        first..first + self.n_rows
    }

    /// Table rows the strategy sees: burn-in plus the simulated minutes.
    pub fn data_rows(&self) -> std::ops::Range<usize> {
        self.lo..self.lo + self.start + self.n_rows
    }

    /// How many rows the reference would keep from `lo` (its `data_len`): it
    /// also keeps the rest of the end's day plus one more day, when present.
    /// We do not need those rows; this is for comparing with its outputs.
    pub fn reference_data_len(&self) -> usize {
        let end_idx = self.start + self.bout_length;
        // The reference rounds up to whole days in its trimmed coordinates,
        // where `lo` is a whole number of days; so rounding the offset from
        // `lo` is the same rounding.
        end_idx.div_ceil(DAY) * DAY + DAY
    }
}

/// Chooses the rows for a simulation from `start_ms` to `end_ms` (inclusive
/// end minute, as the reference counts it) with up to `max_memory_days` of
/// burn-in.
///
/// Unlike the reference we do not need data after the last simulated minute
/// (`end_ms - 1 min`).
pub fn select_window(
    table: &PriceTable,
    start_ms: i64,
    end_ms: i64,
    max_memory_days: f64,
) -> Result<Window, DataError> {
    let err = |detail: String| DataError::Window { detail };
    for (name, ms) in [("start", start_ms), ("end", end_ms)] {
        if ms.rem_euclid(MS_PER_MINUTE) != 0 {
            return Err(err(format!(
                "{name} {ms} ({}) is not on a whole minute",
                format_utc(ms)
            )));
        }
    }
    if end_ms <= start_ms {
        return Err(err(format!(
            "end {} is not after start {}",
            format_utc(end_ms),
            format_utc(start_ms)
        )));
    }
    if !max_memory_days.is_finite() || max_memory_days < 0.0 {
        return Err(err(format!(
            "max_memory_days = {max_memory_days} is not a non-negative number of days"
        )));
    }
    let i0 = table.index_of(start_ms).ok_or_else(|| {
        err(format!(
            "start {} is outside the data (data covers {})",
            format_utc(start_ms),
            table.range_text()
        ))
    })?;
    // end > start, both whole minutes; u64 since the span may exceed i64.
    let minutes = end_ms.abs_diff(start_ms) / MS_PER_MINUTE as u64;
    let n_rows = usize::try_from(minutes).unwrap_or(usize::MAX);
    if n_rows > table.n_rows() - i0 {
        let last_needed = end_ms - MS_PER_MINUTE;
        return Err(err(format!(
            "end {} needs data through {} (the last simulated minute) but the data covers {}",
            format_utc(end_ms),
            format_utc(last_needed),
            table.range_text()
        )));
    }
    let bout_length = n_rows + 1;

    // The reference's coordinates after dropping `r` leading rows.
    let r = i0 % DAY;
    let s = i0 - r;
    let start_days = (s / DAY) as f64;
    let mmd = if start_days < max_memory_days {
        start_days - 1.0
    } else {
        max_memory_days
    };
    // ceil(mmd) <= s / 1440 always (s is whole days), so this never passes s.
    let burn_rows = (mmd.ceil().max(0.0) as usize).saturating_mul(DAY);
    let lo_trimmed = s.saturating_sub(burn_rows) / DAY * DAY;
    let lo = r + lo_trimmed;
    Ok(Window {
        lo,
        start: i0 - lo,
        bout_length,
        n_rows,
        max_memory_days_effective: mmd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize) -> PriceTable {
        PriceTable::from_rows(vec!["A".into()], 0, vec![1.0; rows]).unwrap()
    }

    #[test]
    fn short_history_clamps_memory() {
        // Start 10 days in, ask 30 days: the reference keeps 9 days.
        let t = table(20 * DAY);
        let w = select_window(
            &t,
            (10 * DAY) as i64 * MS_PER_MINUTE,
            (11 * DAY) as i64 * MS_PER_MINUTE,
            30.0,
        )
        .unwrap();
        assert_eq!(w.max_memory_days_effective, 9.0);
        assert_eq!(
            (w.lo, w.start, w.bout_length, w.n_rows),
            (DAY, 9 * DAY, DAY + 1, DAY)
        );
    }

    #[test]
    fn start_on_first_day_has_no_burn_in() {
        let t = table(3 * DAY);
        let w = select_window(&t, 600 * MS_PER_MINUTE, 700 * MS_PER_MINUTE, 365.0).unwrap();
        assert_eq!(w.max_memory_days_effective, -1.0);
        assert_eq!((w.lo, w.start), (600, 0));
    }

    #[test]
    fn fractional_memory_rounds_up_to_whole_days() {
        let t = table(10 * DAY);
        let w = select_window(
            &t,
            (5 * DAY + 30) as i64 * MS_PER_MINUTE,
            (6 * DAY) as i64 * MS_PER_MINUTE,
            1.5,
        )
        .unwrap();
        // r = 30, s = 5 days, burn 2 days: lo = 30 + 3 days.
        assert_eq!((w.lo, w.start), (30 + 3 * DAY, 2 * DAY));
        assert_eq!(w.sim_rows(), 5 * DAY + 30..6 * DAY);
    }
}
