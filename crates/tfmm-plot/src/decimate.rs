//! Per-pixel-column decimation of long series (min/max kept, so spikes survive).

/// A run of points to join with a line: x in pixels, y in data units.
pub type Run = Vec<(f64, f64)>;

#[derive(Clone, Copy)]
struct Point {
    i: usize,
    x: f64,
    y: f64,
}

/// The first, lowest, highest and last point of one run within one pixel column.
struct Bucket {
    col: f64,
    first: Point,
    min: Point,
    max: Point,
    last: Point,
}

impl Bucket {
    fn new(col: f64, p: Point) -> Bucket {
        Bucket {
            col,
            first: p,
            min: p,
            max: p,
            last: p,
        }
    }

    fn add(&mut self, p: Point) {
        if p.y < self.min.y {
            self.min = p;
        }
        if p.y > self.max.y {
            self.max = p;
        }
        self.last = p;
    }

    /// Appends the kept points to `run` in their original order.
    fn flush(self, run: &mut Run) {
        let mut kept = [self.first, self.min, self.max, self.last];
        kept.sort_unstable_by_key(|p| p.i);
        let mut prev = usize::MAX;
        for p in kept {
            if p.i != prev {
                run.push((p.x, p.y));
                prev = p.i;
            }
        }
    }
}

/// True when the finite values of `xs` never decrease.
fn finite_sorted(xs: &[f64]) -> bool {
    let mut prev = f64::NEG_INFINITY;
    for &x in xs {
        if x.is_finite() {
            if x < prev {
                return false;
            }
            prev = x;
        }
    }
    true
}

/// Splits the points `(xs[i], y(i))` into runs at every non-finite x or y (a gap in the
/// line). When `xs` (pixels) never decrease, each run keeps per pixel column (`x.floor()`)
/// only its first, lowest, highest and last point, in their original order: the line drawn
/// through them covers the same pixels as the full series, so spikes survive, and at most
/// four points per column and run remain. Unsorted x is kept as is.
pub fn decimate(xs: &[f64], y: impl Fn(usize) -> f64) -> Vec<Run> {
    let sorted = finite_sorted(xs);
    let mut runs = Vec::new();
    let mut run: Run = Vec::new();
    let mut bucket: Option<Bucket> = None;
    for (i, &x) in xs.iter().enumerate() {
        let v = y(i);
        if !(x.is_finite() && v.is_finite()) {
            if let Some(b) = bucket.take() {
                b.flush(&mut run);
            }
            if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
            continue;
        }
        if !sorted {
            run.push((x, v));
            continue;
        }
        let p = Point { i, x, y: v };
        let col = x.floor();
        match &mut bucket {
            Some(b) if b.col == col => b.add(p),
            _ => {
                if let Some(b) = bucket.replace(Bucket::new(col, p)) {
                    b.flush(&mut run);
                }
            }
        }
    }
    if let Some(b) = bucket.take() {
        b.flush(&mut run);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_extremes_and_order() {
        let n = 525_600;
        let width = 800.0;
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * width / n as f64).collect();
        let mut ys: Vec<f64> = (0..n).map(|i| (i as f64 * 1e-3).sin()).collect();
        ys[123_457] = 50.0; // one-sample spike up
        ys[400_001] = -70.0; // and down
        let runs = decimate(&xs, |i| ys[i]);
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert!(run.len() <= 4 * width as usize, "{}", run.len());
        assert!(run.len() >= 2 * width as usize - 2, "{}", run.len());
        assert!(run.contains(&(xs[123_457], 50.0)));
        assert!(run.contains(&(xs[400_001], -70.0)));
        assert_eq!(run[0], (xs[0], ys[0]));
        assert_eq!(*run.last().unwrap(), (xs[n - 1], ys[n - 1]));
        assert!(run.windows(2).all(|w| w[0].0 <= w[1].0));
        // Every column's extremes are there.
        for col in [0usize, 17, 399, 799] {
            let (lo, hi) = (col * n / 800, (col + 1) * n / 800);
            let in_col = |p: &&(f64, f64)| p.0.floor() as usize == col;
            let kept: Vec<f64> = run.iter().filter(in_col).map(|p| p.1).collect();
            let max = ys[lo..hi].iter().cloned().fold(f64::MIN, f64::max);
            let min = ys[lo..hi].iter().cloned().fold(f64::MAX, f64::min);
            assert!(kept.contains(&max) && kept.contains(&min));
        }
    }

    #[test]
    fn gaps_break_runs() {
        let xs: Vec<f64> = (0..10).map(|i| i as f64 * 10.0).collect();
        let ys = [
            1.0,
            2.0,
            f64::NAN,
            3.0,
            4.0,
            5.0,
            f64::INFINITY,
            f64::NAN,
            6.0,
            7.0,
        ];
        let runs = decimate(&xs, |i| ys[i]);
        let lens: Vec<usize> = runs.iter().map(Vec::len).collect();
        assert_eq!(lens, [2, 3, 2]);
        // A gap inside one column also breaks the run there.
        let xs = [0.1, 0.2, 0.3, 0.4];
        let ys = [1.0, f64::NAN, 2.0, 3.0];
        assert_eq!(decimate(&xs, |i| ys[i]).len(), 2);
    }

    #[test]
    fn unsorted_x_is_kept_whole() {
        let xs = [0.5, 0.2, 0.3, 0.1];
        let runs = decimate(&xs, |i| i as f64);
        assert_eq!(
            runs,
            vec![vec![(0.5, 0.0), (0.2, 1.0), (0.3, 2.0), (0.1, 3.0)]]
        );
    }
}
