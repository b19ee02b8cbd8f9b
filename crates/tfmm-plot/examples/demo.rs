//! Renders one chart of each kind to a folder (default /tmp/tfmm-plot-demo) and prints how
//! long the year-of-minutes chart takes:
//!
//! ```text
//! cargo run --release -p tfmm-plot --example demo [-- OUT_DIR]
//! ```

use std::time::Instant;
use tfmm_plot::{Chart, Series, Style, XAxis, render_png, render_svg};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const JAN_2024: i64 = 1_704_067_200_000;

/// A reproducible random walk (xorshift noise), `n` steps of relative size `vol`.
fn walk(n: usize, seed: u64, start: f64, drift: f64, vol: f64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = start;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            v *= 1.0 + drift + vol * u;
            v
        })
        .collect()
}

fn times(n: usize, step: i64) -> XAxis {
    XAxis::Time {
        unix_ms: (0..n as i64).map(|i| JAN_2024 + i * step).collect(),
    }
}

fn save(dir: &str, name: &str, chart: &Chart, w: u32, h: u32) {
    let svg = render_svg(chart, w, h).expect("renders");
    std::fs::write(format!("{dir}/{name}.svg"), svg).expect("writes");
    let png = render_png(chart, w, h).expect("renders");
    std::fs::write(format!("{dir}/{name}.png"), png).expect("writes");
    println!("{dir}/{name}.png and .svg");
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/tfmm-plot-demo".into());
    std::fs::create_dir_all(&dir).expect("creates the output folder");

    // A year of minutes, four pools; a data outage (NaN) and a one-minute spike.
    let n = 525_600;
    let mut series = vec![
        Series::new("TFMM momentum", walk(n, 1, 1.0e6, 6e-7, 2.0e-3)),
        Series::new("TFMM mean-reversion", walk(n, 2, 1.0e6, 3e-7, 1.6e-3)),
        Series::new("HODL", walk(n, 3, 1.0e6, 2e-7, 2.2e-3)),
        Series::new("CFMM 50/50", walk(n, 4, 1.0e6, 1e-7, 1.4e-3)),
    ];
    for v in &mut series[1].values[200_000..215_000] {
        *v = f64::NAN;
    }
    series[3].values[400_000] *= 1.3;
    let year = Chart {
        title: "Pool value, 1-minute data, 2024".into(),
        x: times(n, MINUTE),
        y_label: "Value (USD)".into(),
        series,
        ..Chart::default()
    };
    save(&dir, "value_year_minutes", &year, 1000, 560);
    save(&dir, "value_year_minutes_large", &year, 1920, 1080);
    for (w, h) in [(800, 450), (1600, 900)] {
        let mut best = f64::MAX;
        let mut best_svg = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let png = render_png(&year, w, h).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(png);
            let t = Instant::now();
            let svg = render_svg(&year, w, h).unwrap();
            best_svg = best_svg.min(t.elapsed().as_secs_f64());
            std::hint::black_box(svg);
        }
        println!(
            "525,600 points x 4 series, {w}x{h}: PNG {:.1} ms, SVG {:.1} ms (best of 5)",
            best * 1e3,
            best_svg * 1e3
        );
    }

    // Weights of four tokens, hourly for a year: stacked, and as lines.
    let n = 365 * 24;
    let raw: Vec<Vec<f64>> = (0..4).map(|k| walk(n, 10 + k, 1.0, 0.0, 0.02)).collect();
    let weights: Vec<Series> = ["BTC", "ETH", "SOL", "USDC"]
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let v = (0..n)
                .map(|i| raw[k][i] / raw.iter().map(|r| r[i]).sum::<f64>())
                .collect();
            Series::new(*name, v)
        })
        .collect();
    let stacked = Chart {
        title: "Pool weights (momentum rule)".into(),
        x: times(n, HOUR),
        y_label: "Weight".into(),
        series: weights.clone(),
        y_percent: true,
        style: Style::StackedArea,
    };
    save(&dir, "weights_stacked", &stacked, 800, 450);
    let lines = Chart {
        style: Style::Lines,
        ..stacked.clone()
    };
    save(&dir, "weights_lines", &lines, 800, 450);

    // Eight tokens, to see the whole palette.
    let raw: Vec<Vec<f64>> = (0..8).map(|k| walk(n, 30 + k, 1.0, 0.0, 0.02)).collect();
    let names = ["BTC", "ETH", "SOL", "USDC", "LINK", "AAVE", "UNI", "ARB"];
    let eight = Chart {
        title: "Pool weights, eight tokens".into(),
        series: (0..8)
            .map(|k| {
                let v = (0..n)
                    .map(|i| raw[k][i] / raw.iter().map(|r| r[i]).sum::<f64>())
                    .collect();
                Series::new(names[k], v)
            })
            .collect(),
        ..stacked.clone()
    };
    save(&dir, "weights_eight_stacked", &eight, 800, 450);
    save(
        &dir,
        "weights_eight_lines",
        &Chart {
            style: Style::Lines,
            ..eight
        },
        800,
        450,
    );

    // A plain x axis: a parameter sweep with percentages, negative values and a gap.
    let fees: Vec<f64> = (0..=100).map(|i| f64::from(i) * 2.0).collect();
    let ret = |k: f64| -> Vec<f64> {
        fees.iter()
            .map(|&f| {
                if (120.0..130.0).contains(&f) && k > 1.0 {
                    f64::NAN
                } else {
                    0.12 * (1.0 - (f / 60.0 - k).powi(2) / 9.0) - 0.02 * k
                }
            })
            .collect()
    };
    let sweep = Chart {
        title: "Annualised return by swap fee".into(),
        x: XAxis::Plain {
            values: fees.clone(),
            label: "Swap fee (bps)".into(),
        },
        y_label: "Return vs HODL".into(),
        series: vec![
            Series::new("memory 1 day", ret(0.5)),
            Series::new("memory 7 days", ret(1.5)),
            Series::new("memory 30 days", ret(2.5)),
        ],
        y_percent: true,
        ..Chart::default()
    };
    save(&dir, "plain_sweep", &sweep, 800, 450);

    // Twelve series at a small size: the legend wraps, series past the eighth are dashed.
    let n = 90 * 24;
    let many = Chart {
        title: "Twelve strategies, 90 days".into(),
        x: times(n, HOUR),
        y_label: "Return".into(),
        series: (0..12)
            .map(|k| {
                let v = walk(n, 50 + k, 1.0, 0.0, 0.01)
                    .iter()
                    .map(|v| v - 1.0)
                    .collect();
                Series::new(format!("strategy {}", k + 1), v)
            })
            .collect(),
        y_percent: true,
        ..Chart::default()
    };
    save(&dir, "many_series_small", &many, 640, 400);

    // A constant series and a short intraday span (clock-time ticks), at a small size.
    let n = 6 * 60;
    let intraday = Chart {
        title: "Pool price vs oracle, 6 hours".into(),
        x: XAxis::Time {
            unix_ms: (0..n as i64)
                .map(|i| JAN_2024 + 9 * HOUR + i * MINUTE)
                .collect(),
        },
        y_label: "ETH / USD".into(),
        series: vec![
            Series::new("oracle", walk(n, 7, 2300.0, 0.0, 2e-3)),
            Series::new("pool", walk(n, 7, 2301.0, 0.0, 2e-3)),
            Series::new("target (constant)", vec![2300.0; n]),
        ],
        ..Chart::default()
    };
    save(&dir, "intraday_small", &intraday, 480, 300);
    let flat = Chart {
        title: "A constant series".into(),
        series: vec![Series::new("USDC price", vec![1.0; n])],
        y_label: "USD".into(),
        ..intraday
    };
    save(&dir, "constant", &flat, 800, 450);
}
