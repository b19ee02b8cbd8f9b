//! The bundled font (DejaVu Sans, see testdata/fonts/LICENSE-DejaVu.txt): metrics for layout
//! and glyph outlines for the rasteriser. Same metrics for SVG and PNG, so both lay out alike.

use std::sync::OnceLock;
use ttf_parser::{Face, GlyphId, OutlineBuilder};

static FONT: &[u8] = include_bytes!("../../../testdata/fonts/DejaVuSans.ttf");

/// The family SVG viewers are asked for; DejaVu Sans's metrics are what layout measured.
pub const SVG_FONT_FAMILY: &str = "'DejaVu Sans', Verdana, 'Bitstream Vera Sans', sans-serif";

fn face() -> &'static Face<'static> {
    static FACE: OnceLock<Face<'static>> = OnceLock::new();
    FACE.get_or_init(|| Face::parse(FONT, 0).expect("the bundled font parses"))
}

fn units_per_em() -> f64 {
    f64::from(face().units_per_em())
}

/// Height above the baseline of the font's tallest glyphs, for a font `size` px.
pub fn ascent(size: f64) -> f64 {
    f64::from(face().ascender()) / units_per_em() * size
}

/// Depth below the baseline (positive), for a font `size` px.
pub fn descent(size: f64) -> f64 {
    -f64::from(face().descender()) / units_per_em() * size
}

/// Height of capital letters and digits, for centring a label on a tick.
pub fn cap_height(size: f64) -> f64 {
    let h = face().capital_height().unwrap_or(1493);
    f64::from(h) / units_per_em() * size
}

/// Glyphs of `text` with their pen positions in font units (no shaping beyond the legacy
/// `kern` table; control characters become spaces).
pub fn glyphs(text: &str) -> (Vec<(GlyphId, f64)>, f64) {
    let face = face();
    let kern = face.tables().kern;
    let mut out = Vec::with_capacity(text.len());
    let mut pen = 0.0;
    let mut prev: Option<GlyphId> = None;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        let g = face.glyph_index(c).unwrap_or(GlyphId(0));
        if let (Some(p), Some(kern)) = (prev, kern) {
            let k = kern
                .subtables
                .into_iter()
                .filter(|st| st.horizontal && !st.variable)
                .find_map(|st| st.glyphs_kerning(p, g));
            pen += f64::from(k.unwrap_or(0));
        }
        out.push((g, pen));
        pen += f64::from(face.glyph_hor_advance(g).unwrap_or(0));
        prev = Some(g);
    }
    (out, pen)
}

/// Advance width of `text` at a font `size` px.
pub fn width(text: &str, size: f64) -> f64 {
    glyphs(text).1 / units_per_em() * size
}

/// `text` cut (with an ellipsis) to fit `max_width` px at `size`.
pub fn truncate(text: &str, size: f64, max_width: f64) -> String {
    if width(text, size) <= max_width {
        return text.to_string();
    }
    let face = face();
    let scale = size / units_per_em();
    let advance = |c: char| {
        let g = face.glyph_index(c).unwrap_or(GlyphId(0));
        f64::from(face.glyph_hor_advance(g).unwrap_or(0)) * scale
    };
    let budget = max_width - advance('\u{2026}');
    let mut used = 0.0;
    let mut cut = 0;
    for (i, c) in text.char_indices() {
        used += advance(c);
        if used > budget {
            break;
        }
        cut = i + c.len_utf8();
    }
    if budget < 0.0 {
        return String::new();
    }
    format!("{}\u{2026}", text[..cut].trim_end())
}

/// Feeds the outlines of `text` to `builder` in font units, y up, pen starting at 0; returns
/// the units per em (the scale to pixels is `size / units_per_em`).
pub fn outline(text: &str, builder: &mut dyn OutlineBuilder) -> f64 {
    struct Shifted<'a> {
        inner: &'a mut dyn OutlineBuilder,
        dx: f32,
    }
    impl OutlineBuilder for Shifted<'_> {
        fn move_to(&mut self, x: f32, y: f32) {
            self.inner.move_to(x + self.dx, y);
        }
        fn line_to(&mut self, x: f32, y: f32) {
            self.inner.line_to(x + self.dx, y);
        }
        fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
            self.inner.quad_to(x1 + self.dx, y1, x + self.dx, y);
        }
        fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
            self.inner
                .curve_to(x1 + self.dx, y1, x2 + self.dx, y2, x + self.dx, y);
        }
        fn close(&mut self) {
            self.inner.close();
        }
    }
    let face = face();
    for (g, pen) in glyphs(text).0 {
        let mut shifted = Shifted {
            inner: builder,
            dx: pen as f32,
        };
        face.outline_glyph(g, &mut shifted);
    }
    units_per_em()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_sane() {
        let w = width("2024-01-15", 11.0);
        assert!(w > 50.0 && w < 80.0, "{w}");
        assert!(width("WWW", 12.0) > width("iii", 12.0));
        assert!(ascent(10.0) > cap_height(10.0) && cap_height(10.0) > 6.0);
        assert!(descent(10.0) > 1.0 && descent(10.0) < 4.0);
        let t = truncate("a very long legend label indeed", 12.0, 60.0);
        assert!(t.ends_with('\u{2026}') && width(&t, 12.0) <= 60.0);
        assert_eq!(truncate("short", 12.0, 100.0), "short");
    }
}
