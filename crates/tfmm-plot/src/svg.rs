//! A scene as SVG text.

use crate::scene::{Anchor, Prim, Rgba, Scene};
use crate::text::SVG_FONT_FAMILY;
use std::fmt::Write;

/// A coordinate with at most two decimals and no trailing zeros.
fn num(out: &mut String, v: f64) {
    // Layout keeps coordinates finite; absurd data (±1e308) must still give valid SVG.
    let v = if v.is_finite() { v } else { 0.0 };
    let r = (v * 100.0).round() / 100.0;
    let r = if r == 0.0 { 0.0 } else { r }; // no "-0"
    let _ = write!(out, "{r}");
}

fn color(c: Rgba) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn opacity_attr(out: &mut String, name: &str, c: Rgba) {
    if c.3 != 255 {
        let _ = write!(out, " {name}=\"{:.3}\"", f64::from(c.3) / 255.0);
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn path_data(out: &mut String, runs: &[Vec<(f64, f64)>], close: bool) {
    for run in runs {
        for (k, &(x, y)) in run.iter().enumerate() {
            out.push(if k == 0 { 'M' } else { 'L' });
            num(out, x);
            out.push(' ');
            num(out, y);
        }
        if run.len() == 1 {
            out.push_str("h0"); // a dot, drawn by the round cap
        }
        if close {
            out.push('Z');
        }
    }
}

/// A short id, the same for the same chart, so that charts inlined in one page differ.
fn clip_id(scene: &Scene) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scene
        .title
        .bytes()
        .chain(scene.width.to_le_bytes())
        .chain(scene.height.to_le_bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("tfmm-plot-{:08x}", h as u32)
}

pub fn write(scene: &Scene) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let (w, h) = (scene.width, scene.height);
    let id = clip_id(scene);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"{SVG_FONT_FAMILY}\">"
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&scene.title));
    let c = scene.clip;
    out.push_str("<defs><clipPath id=\"");
    out.push_str(&id);
    out.push_str("\"><rect x=\"");
    num(&mut out, c.x);
    out.push_str("\" y=\"");
    num(&mut out, c.y);
    out.push_str("\" width=\"");
    num(&mut out, c.w);
    out.push_str("\" height=\"");
    num(&mut out, c.h);
    out.push_str("\"/></clipPath></defs>\n");
    let _ = writeln!(
        out,
        "<rect width=\"{w}\" height=\"{h}\" fill=\"{}\"/>",
        color(scene.background)
    );
    for prim in &scene.prims {
        match prim {
            Prim::Rect { rect, fill } => {
                out.push_str("<rect x=\"");
                num(&mut out, rect.x);
                out.push_str("\" y=\"");
                num(&mut out, rect.y);
                out.push_str("\" width=\"");
                num(&mut out, rect.w);
                out.push_str("\" height=\"");
                num(&mut out, rect.h);
                let _ = write!(out, "\" fill=\"{}\"", color(*fill));
                opacity_attr(&mut out, "fill-opacity", *fill);
                out.push_str("/>\n");
            }
            Prim::Lines {
                runs,
                color: c,
                width,
                dash,
                clip,
            } => {
                if runs.is_empty() {
                    continue;
                }
                out.push_str("<path d=\"");
                path_data(&mut out, runs, false);
                let _ = write!(out, "\" fill=\"none\" stroke=\"{}\"", color(*c));
                opacity_attr(&mut out, "stroke-opacity", *c);
                out.push_str(" stroke-width=\"");
                num(&mut out, *width);
                out.push_str("\" stroke-linejoin=\"round\" stroke-linecap=\"round\"");
                if let Some([on, off]) = dash {
                    out.push_str(" stroke-dasharray=\"");
                    num(&mut out, *on);
                    out.push(' ');
                    num(&mut out, *off);
                    out.push('"');
                }
                if *clip {
                    let _ = write!(out, " clip-path=\"url(#{id})\"");
                }
                out.push_str("/>\n");
            }
            Prim::Area { rings, fill, clip } => {
                if rings.is_empty() {
                    continue;
                }
                out.push_str("<path d=\"");
                path_data(&mut out, rings, true);
                let _ = write!(out, "\" fill=\"{}\"", color(*fill));
                opacity_attr(&mut out, "fill-opacity", *fill);
                if *clip {
                    let _ = write!(out, " clip-path=\"url(#{id})\"");
                }
                out.push_str("/>\n");
            }
            Prim::Text {
                x,
                y,
                text,
                size,
                color: c,
                anchor,
                vertical,
            } => {
                out.push_str("<text x=\"");
                num(&mut out, *x);
                out.push_str("\" y=\"");
                num(&mut out, *y);
                out.push_str("\" font-size=\"");
                num(&mut out, *size);
                let _ = write!(out, "\" fill=\"{}\"", color(*c));
                match anchor {
                    Anchor::Start => {}
                    Anchor::Middle => out.push_str(" text-anchor=\"middle\""),
                    Anchor::End => out.push_str(" text-anchor=\"end\""),
                }
                if *vertical {
                    out.push_str(" transform=\"rotate(-90 ");
                    num(&mut out, *x);
                    out.push(' ');
                    num(&mut out, *y);
                    out.push_str(")\"");
                }
                let _ = writeln!(out, ">{}</text>", escape(text));
            }
        }
    }
    out.push_str("</svg>\n");
    out
}
