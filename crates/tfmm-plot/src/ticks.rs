//! Axis ticks: "nice" linear steps, engineering number labels and calendar ticks for time
//! axes (UTC dates without a date library).

/// One tick: its position in data units and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub value: f64,
    pub label: String,
}

/// Candidate steps, ascending, from about `lo` up: 1, 2, 5 times powers of ten.
fn nice_steps_from(lo: f64) -> impl Iterator<Item = f64> {
    let lo = if lo.is_finite() && lo > 0.0 {
        lo
    } else {
        f64::MIN_POSITIVE
    };
    let mut exp = lo.log10().floor() as i32 - 1;
    let mut k = 0usize;
    std::iter::from_fn(move || {
        let step = [1.0, 2.0, 5.0][k] * 10f64.powi(exp);
        k += 1;
        if k == 3 {
            k = 0;
            exp += 1;
        }
        Some(step)
    })
    .skip_while(move |&s| s < lo * (1.0 - 1e-9))
    .take(60)
}

/// Multiples of `step` within `[lo, hi]`, with values that are zero up to rounding set to 0.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil();
    let last = (hi / step + 1e-9).floor();
    if !(last >= first) || last - first > 10_000.0 {
        return Vec::new();
    }
    (0..=(last - first) as i64)
        .map(|i| {
            let v = (first + i as f64) * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// Ticks for a value axis of `span_px` pixels over `[lo, hi]`: the smallest nice step that
/// leaves at least `min_gap_px` between ticks.
pub fn value_ticks(lo: f64, hi: f64, span_px: f64, min_gap_px: f64, percent: bool) -> Vec<Tick> {
    let range = hi - lo;
    if !(range > 0.0) || !(span_px > 0.0) {
        return Vec::new();
    }
    let min_step = range * min_gap_px.max(1.0) / span_px;
    let step = nice_steps_from(min_step).next().unwrap_or(range);
    labelled(multiples(lo, hi, step), step, percent)
}

/// Ticks for a horizontal value axis: the smallest nice step at least `min_spacing_px`
/// apart whose labels, `measure`d in pixels, do not collide (`gap_px` between neighbours).
pub fn fitted_ticks(
    lo: f64,
    hi: f64,
    span_px: f64,
    min_spacing_px: f64,
    gap_px: f64,
    measure: &dyn Fn(&str) -> f64,
) -> Vec<Tick> {
    let range = hi - lo;
    if !(range > 0.0) || !(span_px > 0.0) {
        return Vec::new();
    }
    let px_per_unit = span_px / range;
    let mut last = Vec::new();
    for step in nice_steps_from(range * min_spacing_px.max(1.0) / span_px) {
        let ticks = labelled(multiples(lo, hi, step), step, false);
        let fits = ticks.windows(2).all(|w| {
            let dist = (w[1].value - w[0].value) * px_per_unit;
            dist >= (measure(&w[0].label) + measure(&w[1].label)) / 2.0 + gap_px
        });
        if fits {
            return ticks;
        }
        if ticks.len() <= 1 {
            return ticks;
        }
        last = ticks;
    }
    last
}

/// Labels for ticks that are multiples of `step`, all with the same number format.
pub fn labelled(values: Vec<f64>, step: f64, percent: bool) -> Vec<Tick> {
    let fmt = NumFormat::new(&values, step, percent);
    values
        .into_iter()
        .map(|value| Tick {
            label: fmt.format(value),
            value,
        })
        .collect()
}

/// A shared format for the labels of one axis: a divisor with its suffix (k, M, B, T or a
/// power of ten) and a fixed number of decimals.
struct NumFormat {
    div: f64,
    suffix: String,
    decimals: usize,
    percent: bool,
}

impl NumFormat {
    fn new(values: &[f64], step: f64, percent: bool) -> NumFormat {
        let scale = if percent { 100.0 } else { 1.0 };
        let max = values
            .iter()
            .map(|v| (v * scale).abs())
            .fold(0.0, f64::max)
            .max((step * scale).abs());
        let (div, suffix) = if percent || max == 0.0 {
            (1.0, String::new())
        } else if !(1e-3..1e15).contains(&max) {
            let exp = max.log10().floor() as i32;
            (10f64.powi(exp), format!("e{exp}"))
        } else if max >= 1e12 {
            (1e12, "T".to_string())
        } else if max >= 1e9 {
            (1e9, "B".to_string())
        } else if max >= 1e6 {
            (1e6, "M".to_string())
        } else if max >= 1e4 {
            (1e3, "k".to_string())
        } else {
            (1.0, String::new())
        };
        let unit = step * scale / div;
        let mut decimals = 0;
        while decimals < 12 {
            let x = unit * 10f64.powi(decimals as i32);
            if (x - x.round()).abs() <= 1e-6 * x.abs().max(1.0) {
                break;
            }
            decimals += 1;
        }
        NumFormat {
            div,
            suffix,
            decimals,
            percent,
        }
    }

    fn format(&self, value: f64) -> String {
        let scaled = value * if self.percent { 100.0 } else { 1.0 } / self.div;
        let pct = if self.percent { "%" } else { "" };
        if scaled == 0.0 {
            return format!("0{pct}");
        }
        let body = format!("{:.*}", self.decimals, scaled.abs());
        let sign = if scaled < 0.0 { "\u{2212}" } else { "" };
        format!("{sign}{body}{}{pct}", self.suffix)
    }
}

// ---------------------------------------------------------------------------------------------
// Time axes (UTC).

pub const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_MIN: i64 = 60_000;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// "2024-01-15" for a time in ms since the Unix epoch (UTC).
pub fn format_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// A fixed number of ms, ticks at multiples of it since the epoch (`offset` ms shifts
    /// the grid: weeks start on Mondays).
    Fixed {
        ms: i64,
        offset: i64,
    },
    Months(i64),
    Years(i64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Seconds,
    Minutes,
    Days,
    Months,
    Years,
}

const TIME_STEPS: &[(Step, Style)] = &{
    const fn f(ms: i64, style: Style) -> (Step, Style) {
        (Step::Fixed { ms, offset: 0 }, style)
    }
    // 1970-01-05 was a Monday.
    const MONDAY: i64 = 4 * MS_PER_DAY;
    [
        f(1_000, Style::Seconds),
        f(2_000, Style::Seconds),
        f(5_000, Style::Seconds),
        f(10_000, Style::Seconds),
        f(15_000, Style::Seconds),
        f(30_000, Style::Seconds),
        f(MS_PER_MIN, Style::Minutes),
        f(2 * MS_PER_MIN, Style::Minutes),
        f(5 * MS_PER_MIN, Style::Minutes),
        f(10 * MS_PER_MIN, Style::Minutes),
        f(15 * MS_PER_MIN, Style::Minutes),
        f(30 * MS_PER_MIN, Style::Minutes),
        f(MS_PER_HOUR, Style::Minutes),
        f(2 * MS_PER_HOUR, Style::Minutes),
        f(3 * MS_PER_HOUR, Style::Minutes),
        f(6 * MS_PER_HOUR, Style::Minutes),
        f(12 * MS_PER_HOUR, Style::Minutes),
        f(MS_PER_DAY, Style::Days),
        f(2 * MS_PER_DAY, Style::Days),
        (
            Step::Fixed {
                ms: 7 * MS_PER_DAY,
                offset: MONDAY,
            },
            Style::Days,
        ),
        (
            Step::Fixed {
                ms: 14 * MS_PER_DAY,
                offset: MONDAY,
            },
            Style::Days,
        ),
        (Step::Months(1), Style::Months),
        (Step::Months(2), Style::Months),
        (Step::Months(3), Style::Months),
        (Step::Months(6), Style::Months),
        (Step::Years(1), Style::Years),
        (Step::Years(2), Style::Years),
        (Step::Years(5), Style::Years),
        (Step::Years(10), Style::Years),
        (Step::Years(20), Style::Years),
        (Step::Years(50), Style::Years),
        (Step::Years(100), Style::Years),
        (Step::Years(200), Style::Years),
        (Step::Years(500), Style::Years),
        (Step::Years(1000), Style::Years),
    ]
};

impl Step {
    /// Rough length in ms, to skip steps that are far too small.
    fn approx_ms(self) -> f64 {
        match self {
            Step::Fixed { ms, .. } => ms as f64,
            Step::Months(n) => n as f64 * 30.44 * MS_PER_DAY as f64,
            Step::Years(n) => n as f64 * 365.25 * MS_PER_DAY as f64,
        }
    }

    fn ticks(self, t0: i64, t1: i64) -> Vec<i64> {
        let mut out = Vec::new();
        match self {
            Step::Fixed { ms, offset } => {
                let mut t = (t0 - offset).div_euclid(ms) * ms + offset;
                if t < t0 {
                    t += ms;
                }
                while t <= t1 {
                    out.push(t);
                    let Some(next) = t.checked_add(ms) else { break };
                    t = next;
                }
            }
            Step::Months(_) | Step::Years(_) => {
                let months = match self {
                    Step::Months(n) => n,
                    Step::Years(n) => 12 * n,
                    Step::Fixed { .. } => unreachable!(),
                };
                let (y, m, _) = civil_from_days(t0.div_euclid(MS_PER_DAY));
                let mut idx = (y * 12 + m as i64 - 1).div_euclid(months) * months;
                loop {
                    let t = days_from_civil(idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32, 1)
                        * MS_PER_DAY;
                    if t > t1 {
                        break;
                    }
                    if t >= t0 {
                        out.push(t);
                    }
                    idx += months;
                }
            }
        }
        out
    }
}

fn time_label(t: i64, style: Style) -> String {
    let day = t.div_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(day);
    let ms_of_day = t.rem_euclid(MS_PER_DAY);
    let (hh, mm, ss) = (
        ms_of_day / MS_PER_HOUR,
        ms_of_day / MS_PER_MIN % 60,
        ms_of_day / 1000 % 60,
    );
    match style {
        // Midnight shows the date, so a sub-day axis still says which day it is.
        Style::Seconds | Style::Minutes if ms_of_day == 0 => format!("{y:04}-{m:02}-{d:02}"),
        Style::Seconds => format!("{hh:02}:{mm:02}:{ss:02}"),
        Style::Minutes => format!("{hh:02}:{mm:02}"),
        Style::Days => format!("{y:04}-{m:02}-{d:02}"),
        Style::Months => format!("{} {y:04}", MONTHS[m as usize - 1]),
        Style::Years => format!("{y:04}"),
    }
}

/// Ticks for a time axis over `[t0, t1]` (ms, UTC) drawn `span_px` wide: the finest
/// calendar step at least about `min_spacing_px` apart whose labels do not collide. Also
/// returns the axis title.
pub fn time_ticks(
    t0: i64,
    t1: i64,
    span_px: f64,
    min_spacing_px: f64,
    gap_px: f64,
    measure: &dyn Fn(&str) -> f64,
) -> (Vec<Tick>, String) {
    let range = t1 as f64 - t0 as f64;
    let mut chosen: Option<(Vec<i64>, Style)> = None;
    if range > 0.0 && span_px > 0.0 {
        let px_per_ms = span_px / range;
        for &(step, style) in TIME_STEPS {
            if step.approx_ms() * px_per_ms < min_spacing_px {
                continue;
            }
            let ts = step.ticks(t0, t1);
            let labels: Vec<String> = ts.iter().map(|&t| time_label(t, style)).collect();
            let fits = (1..ts.len()).all(|i| {
                let dist = (ts[i] as f64 - ts[i - 1] as f64) * px_per_ms;
                dist >= (measure(&labels[i - 1]) + measure(&labels[i])) / 2.0 + gap_px
            });
            let done = fits || ts.len() <= 1;
            chosen = Some((ts, style));
            if done {
                break;
            }
        }
    }
    let (ts, style) = chosen.unwrap_or((Vec::new(), Style::Days));
    let ticks = ts
        .iter()
        .map(|&t| Tick {
            value: t as f64,
            label: time_label(t, style),
        })
        .collect();
    let title = match style {
        Style::Seconds | Style::Minutes => {
            let (d0, d1) = (t0.div_euclid(MS_PER_DAY), t1.div_euclid(MS_PER_DAY));
            if d0 == d1 {
                format!("Time (UTC), {}", format_date(t0))
            } else {
                "Time (UTC)".to_string()
            }
        }
        _ => "Date (UTC)".to_string(),
    };
    (ticks, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    /// About 6.5 px per character at 11 px, like the tick font.
    fn measure(s: &str) -> f64 {
        s.chars().count() as f64 * 6.5
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(days_from_civil(1900, 3, 1)), (1900, 3, 1));
        for z in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(format_date(1_705_276_800_000), "2024-01-15");
    }

    #[test]
    fn value_ticks_are_nice_and_formatted() {
        let t = value_ticks(0.0, 1.0, 300.0, 50.0, false);
        assert_eq!(labels(&t), ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = value_ticks(0.95e6, 1.1e6, 300.0, 50.0, false);
        assert_eq!(labels(&t), ["0.95M", "1.00M", "1.05M", "1.10M"]);
        let t = value_ticks(-0.05, 0.13, 300.0, 50.0, true);
        assert_eq!(labels(&t), ["\u{2212}5%", "0%", "5%", "10%"]);
        let t = value_ticks(1500.0, 4100.0, 300.0, 50.0, false);
        assert_eq!(labels(&t), ["1500", "2000", "2500", "3000", "3500", "4000"]);
        let t = value_ticks(10_000.0, 60_000.0, 300.0, 50.0, false);
        assert_eq!(labels(&t), ["10k", "20k", "30k", "40k", "50k", "60k"]);
        let t = value_ticks(1.2e-5, 1.9e-5, 300.0, 50.0, false);
        assert_eq!(labels(&t)[0], "1.2e-5");
    }

    #[test]
    fn fitted_ticks_do_not_collide() {
        let t = fitted_ticks(0.0, 1000.0, 600.0, 20.0, 10.0, &measure);
        assert!(t.len() >= 4, "{t:?}");
        for w in t.windows(2) {
            let dist = (w[1].value - w[0].value) * 0.6;
            assert!(dist >= (measure(&w[0].label) + measure(&w[1].label)) / 2.0 + 10.0);
        }
    }

    /// Ticks over many spans: increasing, inside the range, not colliding, and labelled
    /// with dates (or months, years, clock times) that increase with them.
    #[test]
    fn time_ticks_are_increasing_dates() {
        let t0 = 1_704_067_200_000; // 2024-01-01
        for span_ms in [
            90_000,
            3 * MS_PER_HOUR,
            2 * MS_PER_DAY,
            20 * MS_PER_DAY,
            100 * MS_PER_DAY,
            365 * MS_PER_DAY,
            603 * MS_PER_DAY,
            3000 * MS_PER_DAY,
        ] {
            let t1 = t0 + 17 * MS_PER_MIN + span_ms;
            let (ticks, title) = time_ticks(t0 + 17 * MS_PER_MIN, t1, 700.0, 20.0, 12.0, &measure);
            assert!(ticks.len() >= 2, "{span_ms}: {ticks:?}");
            assert!(ticks.len() <= 12, "{span_ms}: {ticks:?}");
            assert!(title.contains("UTC"));
            for w in ticks.windows(2) {
                assert!(w[0].value < w[1].value);
                assert_ne!(w[0].label, w[1].label);
                let dist = (w[1].value - w[0].value) * 700.0 / span_ms as f64;
                assert!(dist >= (measure(&w[0].label) + measure(&w[1].label)) / 2.0 + 12.0);
            }
            for t in &ticks {
                assert!(t.value >= (t0 + 17 * MS_PER_MIN) as f64 && t.value <= t1 as f64);
                let l = &t.label;
                let date_like = l.len() == 10 && &l[4..5] == "-" && &l[7..8] == "-";
                let month_like = l.len() == 8 && MONTHS.contains(&&l[..3]);
                let year_like = l.len() == 4 && l.parse::<u32>().is_ok();
                let clock_like = l.len() >= 5 && &l[2..3] == ":";
                assert!(date_like || month_like || year_like || clock_like, "{l}");
                if date_like {
                    assert_eq!(*l, format_date(t.value as i64));
                }
            }
        }
        // One year: months with the year.
        let (ticks, title) = time_ticks(t0, t0 + 365 * MS_PER_DAY, 700.0, 20.0, 12.0, &measure);
        assert_eq!(title, "Date (UTC)");
        assert!(ticks.iter().any(|t| t.label == "Jul 2024"), "{ticks:?}");
        // Three weeks: Monday-aligned dates.
        let (ticks, _) = time_ticks(t0, t0 + 21 * MS_PER_DAY, 700.0, 20.0, 12.0, &measure);
        assert!(ticks.iter().any(|t| t.label == "2024-01-08"), "{ticks:?}");
    }
}
