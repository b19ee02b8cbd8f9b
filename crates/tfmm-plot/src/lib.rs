//! Charts for tfmm runs: line charts (and stacked areas, for pool weights) rendered to SVG
//! text or PNG bytes, in pure Rust with a bundled font — no system libraries.
//!
//! A chart is plain data: a title, an x axis (UTC times or plain numbers), one or more
//! series with one y per x, and a y-axis label. Every chart gets "nice" ticks (dates or
//! months on time axes; `1.02M`, `0.35`, `12%` on value axes), a legend, and Okabe & Ito's
//! colour-blind-safe palette. Non-finite values (NaN) break the line. Long series are cut
//! down per pixel column, keeping each column's first, lowest, highest and last point, so a
//! year of minutes (525,600 points) draws in milliseconds and one-minute spikes still show.
//!
//! ```
//! use tfmm_plot::{Chart, Series, XAxis, render_png, render_svg};
//!
//! let day = 86_400_000;
//! let chart = Chart {
//!     title: "Pool value".into(),
//!     x: XAxis::Time { unix_ms: (0..30).map(|d| 1_704_067_200_000 + d * day).collect() },
//!     y_label: "USD".into(),
//!     series: vec![Series::new("TFMM", (0..30).map(|d| 1e6 + 1e4 * d as f64).collect())],
//!     ..Chart::default()
//! };
//! let svg = render_svg(&chart, 800, 450).unwrap();
//! assert!(svg.starts_with("<svg"));
//! let png = render_png(&chart, 800, 450).unwrap();
//! assert!(png.starts_with(b"\x89PNG"));
//! ```

mod decimate;
mod layout;
mod raster;
mod scene;
mod svg;
mod text;
mod ticks;

/// The largest width or height rendered, in pixels.
pub const MAX_SIDE: u32 = 8_192;

/// One line (or band): a legend label and one y per x; NaN (or ±∞) leaves a gap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub label: String,
    pub values: Vec<f64>,
}

impl Series {
    pub fn new(label: impl Into<String>, values: Vec<f64>) -> Series {
        Series {
            label: label.into(),
            values,
        }
    }
}

/// The x values shared by all series.
#[derive(Debug, Clone, PartialEq)]
pub enum XAxis {
    /// Times in ms since the Unix epoch, shown as UTC dates (or clock times on short spans);
    /// the axis is titled "Date (UTC)" or "Time (UTC)".
    Time { unix_ms: Vec<i64> },
    /// Plain numbers with an axis title. Non-finite x leaves a gap.
    Plain { values: Vec<f64>, label: String },
}

impl Default for XAxis {
    fn default() -> XAxis {
        XAxis::Plain {
            values: Vec::new(),
            label: String::new(),
        }
    }
}

impl XAxis {
    /// Number of x values.
    pub fn len(&self) -> usize {
        match self {
            XAxis::Time { unix_ms } => unix_ms.len(),
            XAxis::Plain { values, .. } => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How the series are drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Style {
    /// One line per series.
    #[default]
    Lines,
    /// Series stacked as filled bands, the first at the bottom — for pool weights, which
    /// add up to 1 (set `y_percent`). Meant for non-negative values; a NaN in any series
    /// leaves a gap in the whole stack.
    StackedArea,
}

/// A chart: plain data, see the crate docs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x: XAxis,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Label y ticks as percentages (0.12 → "12%").
    pub y_percent: bool,
    pub style: Style,
}

/// Why a chart could not be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlotError {
    #[error("chart.series is empty: a chart needs at least one series")]
    NoSeries,
    #[error("chart.series[{index}] ({label:?}) has {len} values but chart.x has {x_len}")]
    LengthMismatch {
        index: usize,
        label: String,
        len: usize,
        x_len: usize,
    },
    #[error("{field} is 0: a chart needs at least one pixel each way")]
    ZeroSize { field: &'static str },
    #[error("{field} is {value}: at most {MAX_SIDE} pixels")]
    TooLarge { field: &'static str, value: u32 },
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

fn validate(chart: &Chart, width: u32, height: u32) -> Result<(), PlotError> {
    for (field, value) in [("width", width), ("height", height)] {
        if value == 0 {
            return Err(PlotError::ZeroSize { field });
        }
        if value > MAX_SIDE {
            return Err(PlotError::TooLarge { field, value });
        }
    }
    if chart.series.is_empty() {
        return Err(PlotError::NoSeries);
    }
    let x_len = chart.x.len();
    for (index, s) in chart.series.iter().enumerate() {
        if s.values.len() != x_len {
            return Err(PlotError::LengthMismatch {
                index,
                label: s.label.clone(),
                len: s.values.len(),
                x_len,
            });
        }
    }
    Ok(())
}

/// The chart as an SVG document `width` × `height` px. Text asks for DejaVu Sans (the
/// bundled font the layout measured), falling back to Verdana or any sans-serif.
pub fn render_svg(chart: &Chart, width: u32, height: u32) -> Result<String, PlotError> {
    validate(chart, width, height)?;
    Ok(svg::write(&layout::build(chart, width, height)))
}

/// The chart as an RGB PNG `width` × `height` px.
pub fn render_png(chart: &Chart, width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    validate(chart, width, height)?;
    raster::rasterize(&layout::build(chart, width, height))
}
