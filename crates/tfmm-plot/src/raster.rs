//! A scene rasterised with tiny-skia (anti-aliased, pure Rust) and encoded as an RGB PNG.

use crate::PlotError;
use crate::scene::{Anchor, Prim, Rgba, Scene};
use crate::text;
use tiny_skia::{
    Color, FillRule, LineCap, LineJoin, Mask, Paint, Path, PathBuilder, Pixmap, Stroke, StrokeDash,
    Transform,
};

fn paint(c: Rgba) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(c.0, c.1, c.2, c.3));
    p.anti_alias = true;
    p
}

fn polyline_path(runs: &[Vec<(f64, f64)>], close: bool) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for run in runs {
        let Some(&(x0, y0)) = run.first() else {
            continue;
        };
        pb.move_to(x0 as f32, y0 as f32);
        if run.len() == 1 {
            pb.line_to(x0 as f32, y0 as f32); // a dot, drawn by the round cap
        }
        for &(x, y) in &run[1..] {
            pb.line_to(x as f32, y as f32);
        }
        if close {
            pb.close();
        }
    }
    pb.finish()
}

/// Glyph outlines into a path builder, in font units with y flipped to point down.
struct GlyphPath(PathBuilder);

impl ttf_parser::OutlineBuilder for GlyphPath {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, -y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, -y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, -y1, x, -y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, -y1, x2, -y2, x, -y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_text(
    pm: &mut Pixmap,
    x: f64,
    y: f64,
    s: &str,
    size: f64,
    color: Rgba,
    anchor: Anchor,
    vertical: bool,
) {
    let mut gp = GlyphPath(PathBuilder::new());
    let upem = text::outline(s, &mut gp);
    let Some(path) = gp.0.finish() else {
        return; // blank text
    };
    let shift = match anchor {
        Anchor::Start => 0.0,
        Anchor::Middle => -text::width(s, size) / 2.0,
        Anchor::End => -text::width(s, size),
    };
    let k = (size / upem) as f32;
    let ts = Transform::from_translate(x as f32, y as f32)
        .pre_concat(if vertical {
            Transform::from_rotate(-90.0)
        } else {
            Transform::identity()
        })
        .pre_translate(shift as f32, 0.0)
        .pre_scale(k, k);
    pm.fill_path(&path, &paint(color), FillRule::Winding, ts, None);
}

pub fn rasterize(scene: &Scene) -> Result<Vec<u8>, PlotError> {
    let (w, h) = (scene.width, scene.height);
    let mut pm = Pixmap::new(w, h).ok_or(PlotError::TooLarge {
        field: "width × height",
        value: w.saturating_mul(h),
    })?;
    let bg = scene.background;
    pm.fill(Color::from_rgba8(bg.0, bg.1, bg.2, 255));

    let c = scene.clip;
    let mut mask = Mask::new(w, h).expect("same size as the pixmap");
    let clip_rect = tiny_skia::Rect::from_xywh(
        c.x as f32,
        c.y as f32,
        c.w.max(0.5) as f32,
        c.h.max(0.5) as f32,
    );
    if let Some(r) = clip_rect {
        mask.fill_path(
            &PathBuilder::from_rect(r),
            FillRule::Winding,
            false,
            Transform::identity(),
        );
    }

    for prim in &scene.prims {
        match prim {
            Prim::Rect { rect, fill } => {
                if let Some(r) = tiny_skia::Rect::from_xywh(
                    rect.x as f32,
                    rect.y as f32,
                    rect.w as f32,
                    rect.h as f32,
                ) {
                    pm.fill_rect(r, &paint(*fill), Transform::identity(), None);
                }
            }
            Prim::Lines {
                runs,
                color,
                width,
                dash,
                clip,
            } => {
                let Some(path) = polyline_path(runs, false) else {
                    continue;
                };
                let stroke = Stroke {
                    width: *width as f32,
                    line_cap: LineCap::Round,
                    line_join: LineJoin::Round,
                    dash: dash
                        .and_then(|[on, off]| StrokeDash::new(vec![on as f32, off as f32], 0.0)),
                    ..Stroke::default()
                };
                let mask = clip.then_some(&mask);
                pm.stroke_path(&path, &paint(*color), &stroke, Transform::identity(), mask);
            }
            Prim::Area { rings, fill, clip } => {
                let Some(path) = polyline_path(rings, true) else {
                    continue;
                };
                let mask = clip.then_some(&mask);
                pm.fill_path(
                    &path,
                    &paint(*fill),
                    FillRule::Winding,
                    Transform::identity(),
                    mask,
                );
            }
            Prim::Text {
                x,
                y,
                text,
                size,
                color,
                anchor,
                vertical,
            } => draw_text(&mut pm, *x, *y, text, *size, *color, *anchor, *vertical),
        }
    }
    encode_rgb(&pm)
}

/// The pixmap (opaque: the background is) as an 8-bit RGB PNG.
fn encode_rgb(pm: &Pixmap) -> Result<Vec<u8>, PlotError> {
    let rgb: Vec<u8> = pm
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = png::Encoder::new(&mut out, pm.width(), pm.height());
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let encode_err = |e: png::EncodingError| PlotError::Encode(e.to_string());
    let mut writer = enc.write_header().map_err(encode_err)?;
    writer.write_image_data(&rgb).map_err(encode_err)?;
    writer.finish().map_err(encode_err)?;
    Ok(out)
}
