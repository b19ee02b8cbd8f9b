//! The public API end to end: SVG structure, PNG pixels, errors, long and odd series.

use std::collections::HashSet;
use tfmm_plot::{Chart, PlotError, Series, Style, XAxis, render_png, render_svg};

const DAY: i64 = 86_400_000;
const MINUTE: i64 = 60_000;
const JAN_2024: i64 = 1_704_067_200_000;

fn time_chart(n: usize, step_ms: i64, series: Vec<Series>) -> Chart {
    Chart {
        title: "Pool value vs HODL".into(),
        x: XAxis::Time {
            unix_ms: (0..n as i64).map(|i| JAN_2024 + i * step_ms).collect(),
        },
        y_label: "Value (USD)".into(),
        series,
        ..Chart::default()
    }
}

fn wave(n: usize, phase: f64, level: f64) -> Vec<f64> {
    (0..n)
        .map(|i| level * (1.0 + 0.1 * (i as f64 / n as f64 * 12.0 + phase).sin()))
        .collect()
}

/// Checks tags nest and close ("<a><b/></a>"), text has no raw '<', and returns the
/// text content of every `<text>` element with its x attribute.
fn check_balanced(svg: &str) -> Vec<(f64, String)> {
    let mut stack: Vec<String> = Vec::new();
    let mut texts = Vec::new();
    let mut rest = svg;
    let mut last_text_x = None;
    while let Some(start) = rest.find('<') {
        let content = &rest[..start];
        if let Some(x) = last_text_x.take() {
            texts.push((x, content.to_string()));
        }
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap().to_string();
            if name == "text" {
                let x = attr(tag, "x").expect("text has x");
                last_text_x = Some(x.parse::<f64>().unwrap());
            }
            stack.push(name);
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(rest.trim().is_empty());
    texts
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// The `d` of every clipped series path, in order.
fn series_paths(svg: &str) -> Vec<String> {
    svg.lines()
        .filter(|l| l.starts_with("<path") && l.contains("clip-path"))
        .map(|l| attr(l, "d").unwrap().to_string())
        .collect()
}

/// (x, y) pairs of a path's "M x y L x y ..." data.
fn path_points(d: &str) -> Vec<(f64, f64)> {
    let nums: Vec<f64> = d
        .split(|c: char| c.is_ascii_alphabetic())
        .flat_map(|part| part.split_whitespace())
        .map(|n| n.parse().unwrap())
        .collect();
    nums.chunks(2).map(|c| (c[0], c[1])).collect()
}

fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, px)
}

#[test]
fn svg_has_title_axis_labels_legend_and_balanced_tags() {
    let n = 500;
    let chart = time_chart(
        n,
        DAY / 4,
        vec![
            Series::new("TFMM <momentum>", wave(n, 0.0, 1.02e6)),
            Series::new("HODL & rebalance", wave(n, 1.0, 1.0e6)),
            Series::new("CFMM 50/50", wave(n, 2.0, 0.98e6)),
        ],
    );
    let svg = render_svg(&chart, 800, 450).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("width=\"800\" height=\"450\""));
    let texts = check_balanced(&svg);
    let labels: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
    for want in [
        "Pool value vs HODL",
        "Value (USD)",
        "Date (UTC)",
        "TFMM &lt;momentum&gt;",
        "HODL &amp; rebalance",
        "CFMM 50/50",
    ] {
        assert!(labels.contains(&want), "{want} missing from {labels:?}");
    }
    // Engineering-formatted y ticks.
    assert!(labels.iter().any(|l| l.ends_with('M')), "{labels:?}");
    // Three series paths in three distinct colours.
    assert_eq!(series_paths(&svg).len(), 3);
    let strokes: HashSet<&str> = svg
        .lines()
        .filter(|l| l.contains("clip-path"))
        .map(|l| attr(l, "stroke").unwrap())
        .collect();
    assert_eq!(strokes.len(), 3);
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn time_ticks_are_increasing_dates() {
    let n = 603 * 24;
    let chart = time_chart(n, DAY / 24, vec![Series::new("ETH", wave(n, 0.0, 3000.0))]);
    let svg = render_svg(&chart, 900, 450).unwrap();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let dated: Vec<(f64, (i32, usize))> = check_balanced(&svg)
        .into_iter()
        .filter_map(|(x, t)| {
            let (m, y) = t.split_once(' ')?;
            let m = months.iter().position(|&name| name == m)?;
            Some((x, (y.parse().ok()?, m)))
        })
        .collect();
    assert!(dated.len() >= 4, "{dated:?}");
    for w in dated.windows(2) {
        assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1, "{dated:?}");
    }
    // A month span ticks in days.
    let chart = time_chart(
        30 * 24,
        DAY / 24,
        vec![Series::new("ETH", wave(720, 0.0, 3.0))],
    );
    let svg = render_svg(&chart, 800, 450).unwrap();
    let dates: Vec<(f64, String)> = check_balanced(&svg)
        .into_iter()
        .filter(|(_, t)| t.len() == 10 && t.starts_with("2024-01-"))
        .collect();
    assert!(dates.len() >= 3, "{dates:?}");
    for w in dates.windows(2) {
        assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1, "{dates:?}");
    }
}

#[test]
fn png_has_signature_size_and_colours() {
    let n = 2000;
    let chart = time_chart(
        n,
        MINUTE * 60,
        vec![
            Series::new("TFMM", wave(n, 0.0, 1.0)),
            Series::new("HODL", wave(n, 2.0, 1.0)),
        ],
    );
    let bytes = render_png(&chart, 640, 360).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR straight from the bytes: width and height, big-endian.
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 640);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 360);
    let (w, h, px) = decode(&bytes);
    assert_eq!((w, h), (640, 360));
    let distinct: HashSet<[u8; 3]> = px.iter().copied().collect();
    assert!(distinct.len() > 20, "{} colours", distinct.len());
    let white = px.iter().filter(|p| **p == [255, 255, 255]).count();
    assert!(white > px.len() / 2 && white < px.len() * 99 / 100);
    // Both series colours (Okabe-Ito blue and vermillion) are drawn.
    let count = |c: [u8; 3]| px.iter().filter(|p| **p == c).count();
    assert!(count([0x00, 0x72, 0xB2]) > 100);
    assert!(count([0xD5, 0x5E, 0x00]) > 100);
    // Dark text pixels exist.
    assert!(
        px.iter()
            .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
            .count()
            > 200
    );
}

#[test]
fn errors_name_the_field() {
    let ok = time_chart(3, DAY, vec![Series::new("a", vec![1.0, 2.0, 3.0])]);
    let no_series = Chart {
        series: vec![],
        ..ok.clone()
    };
    assert_eq!(render_svg(&no_series, 800, 450), Err(PlotError::NoSeries));
    assert!(
        render_png(&no_series, 800, 450)
            .unwrap_err()
            .to_string()
            .contains("chart.series")
    );
    let short = Chart {
        series: vec![
            Series::new("a", vec![1.0, 2.0, 3.0]),
            Series::new("b", vec![1.0]),
        ],
        ..ok.clone()
    };
    let e = render_svg(&short, 800, 450).unwrap_err();
    assert_eq!(
        e.to_string(),
        "chart.series[1] (\"b\") has 1 values but chart.x has 3"
    );
    assert_eq!(
        render_png(&ok, 0, 450).unwrap_err().to_string(),
        "width is 0: a chart needs at least one pixel each way"
    );
    assert!(
        render_svg(&ok, 800, 0)
            .unwrap_err()
            .to_string()
            .starts_with("height is 0")
    );
    assert!(matches!(
        render_png(&ok, 800, 100_000),
        Err(PlotError::TooLarge {
            field: "height",
            ..
        })
    ));
    for e in [
        PlotError::NoSeries,
        render_svg(&short, 8, 8).unwrap_err(),
        render_svg(&ok, 0, 0).unwrap_err(),
    ] {
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn nan_breaks_the_line_and_constant_series_get_a_range() {
    let mut v = vec![1.0; 100];
    for x in &mut v[40..50] {
        *x = f64::NAN;
    }
    let chart = Chart {
        title: "Gaps".into(),
        x: XAxis::Plain {
            values: (0..100).map(f64::from).collect(),
            label: "Step".into(),
        },
        y_label: "Price".into(),
        series: vec![Series::new("constant with a gap", v)],
        ..Chart::default()
    };
    let svg = render_svg(&chart, 600, 400).unwrap();
    let paths = series_paths(&svg);
    assert_eq!(paths[0].matches('M').count(), 2, "{}", paths[0]);
    let labels: Vec<String> = check_balanced(&svg).into_iter().map(|t| t.1).collect();
    assert!(labels.iter().any(|l| l == "1.00"), "{labels:?}");
    assert!(labels.iter().any(|l| l == "Step"));
    // A constant line sits mid-plot, not on an edge.
    let ys: HashSet<u64> = path_points(&paths[0]).iter().map(|p| p.1 as u64).collect();
    assert_eq!(ys.len(), 1);
    assert!(!svg.contains("NaN"));
    render_png(&chart, 600, 400).unwrap();
}

/// A year of minutes, four series, with a one-minute spike: the SVG keeps a few points per
/// pixel column, and the spike is still drawn.
#[test]
fn long_series_are_decimated_and_keep_spikes() {
    let n = 525_600;
    let mut series: Vec<Series> = (0..4)
        .map(|k| Series::new(format!("pool {k}"), wave(n, k as f64, 100.0 + k as f64)))
        .collect();
    series[2].values[300_001] = 250.0;
    let chart = time_chart(n, MINUTE, series);
    let t = std::time::Instant::now();
    let svg = render_svg(&chart, 800, 450).unwrap();
    let png = render_png(&chart, 800, 450).unwrap();
    let elapsed = t.elapsed();
    assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    let paths = series_paths(&svg);
    assert_eq!(paths.len(), 4);
    for d in &paths {
        assert!(path_points(d).len() <= 4 * 800);
    }
    let top = |d: &str| path_points(d).iter().map(|p| p.1).fold(f64::MAX, f64::min);
    // The spike reaches far above the other lines (y grows down).
    assert!(
        top(&paths[2]) + 100.0 < top(&paths[3]),
        "{}",
        top(&paths[2])
    );
    assert_eq!(&png[..4], b"\x89PNG");
    // Generous: debug builds and a busy CI machine.
    assert!(elapsed.as_secs_f64() < 20.0, "{elapsed:?}");
}

#[test]
fn stacked_weights_fill_bands_to_100_percent() {
    let n = 2000;
    let tokens = ["BTC", "ETH", "SOL", "USDC"];
    let raw: Vec<Vec<f64>> = (0..4)
        .map(|k| wave(n, k as f64 * 1.7, 1.0 + k as f64 * 0.2))
        .collect();
    let series = tokens
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let v = (0..n)
                .map(|i| raw[k][i] / raw.iter().map(|r| r[i]).sum::<f64>())
                .collect();
            Series::new(*t, v)
        })
        .collect();
    let chart = Chart {
        title: "Pool weights".into(),
        y_label: "Weight".into(),
        y_percent: true,
        style: Style::StackedArea,
        ..time_chart(n, 5 * MINUTE * 60, series)
    };
    let svg = render_svg(&chart, 800, 450).unwrap();
    let labels: Vec<String> = check_balanced(&svg).into_iter().map(|t| t.1).collect();
    for want in [
        "0%",
        "100%",
        "BTC",
        "ETH",
        "SOL",
        "USDC",
        "Weight",
        "Pool weights",
    ] {
        assert!(
            labels.iter().any(|l| l == want),
            "{want} missing: {labels:?}"
        );
    }
    let fills: HashSet<&str> = svg
        .lines()
        .filter(|l| l.contains("clip-path"))
        .map(|l| attr(l, "fill").unwrap())
        .collect();
    assert_eq!(fills.len(), 4);
    let (_, _, px) = decode(&render_png(&chart, 800, 450).unwrap());
    let distinct: HashSet<[u8; 3]> = px.iter().copied().collect();
    assert!(distinct.len() > 20);
}

#[test]
fn odd_inputs_render() {
    let base = time_chart(0, DAY, vec![Series::new("empty", vec![])]);
    for chart in [
        base.clone(),
        time_chart(1, DAY, vec![Series::new("one point", vec![5.0])]),
        time_chart(3, DAY, vec![Series::new("all missing", vec![f64::NAN; 3])]),
        time_chart(2, 1, vec![Series::new("1 ms apart", vec![0.0, 1.0])]),
        Chart {
            title: String::new(),
            x: XAxis::Time {
                unix_ms: vec![i64::MIN, 0, i64::MAX],
            },
            series: vec![Series::new("extremes", vec![1e308, -1e308, 0.0])],
            ..base.clone()
        },
        Chart {
            x: XAxis::Plain {
                values: vec![3.0, 1.0, f64::NAN, 2.0],
                label: "unsorted x".into(),
            },
            series: vec![Series::new("zero", vec![0.0; 4])],
            ..base.clone()
        },
        Chart {
            title: "A very long title that will certainly not fit into a tiny picture".into(),
            series: (0..12)
                .map(|k| Series::new(format!("series number {k}"), vec![k as f64; 3]))
                .collect(),
            ..time_chart(3, 400 * DAY, vec![])
        },
    ] {
        // Debug builds rasterise slowly: one large size, for the last chart only.
        let large = chart.series.len() > 1;
        for (w, h) in [(1, 1), (40, 30), (320, 200), (1200, 700)] {
            if w == 1200 && !large {
                continue;
            }
            let svg = render_svg(&chart, w, h).unwrap();
            check_balanced(&svg);
            assert!(!svg.contains("NaN"), "{svg}");
            let (pw, ph, _) = decode(&render_png(&chart, w, h).unwrap());
            assert_eq!((pw, ph), (w, h));
        }
    }
}
