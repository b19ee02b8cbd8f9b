//! What a chart is drawn from: a few primitives in pixel coordinates (y down), laid out once
//! and then written as SVG or rasterised, so both outputs match.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgba(pub u8, pub u8, pub u8, pub u8);

impl Rgba {
    pub const fn hex(rgb: u32) -> Rgba {
        Rgba((rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8, 255)
    }

    pub const fn with_alpha(self, a: u8) -> Rgba {
        Rgba(self.0, self.1, self.2, a)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

#[derive(Debug, Clone)]
pub enum Prim {
    Rect {
        rect: Rect,
        fill: Rgba,
    },
    /// Open polylines, each at least one point; one point draws a dot.
    Lines {
        runs: Vec<Vec<(f64, f64)>>,
        color: Rgba,
        width: f64,
        dash: Option<[f64; 2]>,
        clip: bool,
    },
    /// Closed polygons filled with the non-zero rule.
    Area {
        rings: Vec<Vec<(f64, f64)>>,
        fill: Rgba,
        clip: bool,
    },
    /// One line of text; `y` is the baseline. `vertical` turns it 90° counter-clockwise
    /// about (x, y), to read upwards.
    Text {
        x: f64,
        y: f64,
        text: String,
        size: f64,
        color: Rgba,
        anchor: Anchor,
        vertical: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub title: String,
    pub background: Rgba,
    /// The plot area: primitives with `clip` set are cut to it.
    pub clip: Rect,
    pub prims: Vec<Prim>,
}
