//! Plots as hand-written SVG, with no dependency: line charts of training curves
//! ([`LineChart`]) and labelled grids of grayscale images ([`ImageGrid`]).
//!
//! ```
//! use wengert::plot::LineChart;
//! let svg = LineChart::new("loss", "epoch", "loss")
//!     .series("train", &[(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)])
//!     .series("test", &[(1.0, 1.0), (2.0, 0.7), (3.0, 0.6)])
//!     .to_svg();
//! assert!(svg.starts_with("<svg") && svg.contains(">train</text>") && svg.contains("<polyline"));
//! ```

use std::fmt::Write as _;
use std::path::Path;

use crate::Error;

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes `svg` to `path`, naming the file in the error.
pub fn write_svg(path: impl AsRef<Path>, svg: &str) -> Result<(), Error> {
    let path = path.as_ref();
    std::fs::write(path, svg).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A line chart with several named series, axes with ticks, and a legend.
#[derive(Clone, Debug)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
    log_y: bool,
}

impl LineChart {
    /// An empty chart with a title and axis labels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            log_y: false,
        }
    }

    /// Adds a series of `(x, y)` points (non-finite points are skipped when drawing).
    pub fn series(mut self, name: &str, points: &[(f64, f64)]) -> Self {
        self.series.push((name.into(), points.to_vec()));
        self
    }

    /// Uses a base-10 logarithmic y axis (points with `y <= 0` are skipped).
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self
    }

    /// Renders the chart: a 480 x 330 pixel plot area, widened on the right to fit the legend.
    pub fn to_svg(&self) -> String {
        let longest = self
            .series
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0);
        let (left, right, top, bottom) = (70.0, 50.0 + 7.0 * longest as f64, 40.0, 50.0);
        let (w, h) = (left + 480.0 + right, 420.0);
        let ty = |y: f64| if self.log_y { y.log10() } else { y };
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .filter(|&(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0))
            .map(|(x, y)| (x, ty(y)))
            .collect();
        let (mut x0, mut x1, mut y0, mut y1) = pts.iter().fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
        );
        if pts.is_empty() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 - x0 < 1e-12 {
            x1 = x0 + 1.0;
        }
        if y1 - y0 < 1e-12 {
            y0 -= 0.5;
            y1 += 0.5;
        }
        let pad = 0.05 * (y1 - y0);
        let (y0, y1) = (y0 - pad, y1 + pad);
        let (pw, ph) = (w - left - right, h - top - bottom);
        let sx = |x: f64| left + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| top + (1.0 - (y - y0) / (y1 - y0)) * ph;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = write!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            left + pw / 2.0,
            esc(&self.title)
        );
        for i in 0..=5 {
            let f = i as f64 / 5.0;
            let (xv, yv) = (x0 + f * (x1 - x0), y0 + f * (y1 - y0));
            let ylab = if self.log_y { 10f64.powf(yv) } else { yv };
            let _ = write!(
                s,
                r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#ddd"/><text x="{0}" y="{3}" text-anchor="middle">{4}</text>"##,
                sx(xv),
                top,
                top + ph,
                top + ph + 16.0,
                tick(xv)
            );
            let _ = write!(
                s,
                r##"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#ddd"/><text x="{3}" y="{4}" text-anchor="end">{5}</text>"##,
                left,
                sy(yv),
                left + pw,
                left - 6.0,
                sy(yv) + 4.0,
                tick(ylab)
            );
        }
        let _ = write!(
            s,
            r#"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            left + pw / 2.0,
            h - 10.0,
            esc(&self.x_label)
        );
        let _ = write!(
            s,
            r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>"#,
            top + ph / 2.0,
            esc(&self.y_label)
        );
        for (k, (name, points)) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let line: Vec<String> = points
                .iter()
                .filter(|&&(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0))
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(ty(y))))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                line.join(" ")
            );
            let ly = top + 14.0 + 18.0 * k as f64;
            let _ = write!(
                s,
                r#"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="{color}" stroke-width="3"/><text x="{3}" y="{4}">{5}</text>"#,
                left + pw + 12.0,
                ly,
                left + pw + 32.0,
                left + pw + 38.0,
                ly + 4.0,
                esc(name)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// Renders and writes the chart to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        write_svg(path, &self.to_svg())
    }
}

/// A short tick label.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A grid of grayscale images, each with a caption (e.g. predicted and true class), captions
/// drawn in red when marked wrong, as the Keras classification tutorial shows.
#[derive(Clone, Debug, Default)]
pub struct ImageGrid {
    images: Vec<(Vec<f64>, usize, usize, String, bool)>,
    cols: usize,
}

impl ImageGrid {
    /// An empty grid with `cols` images per row.
    pub fn new(cols: usize) -> Self {
        ImageGrid {
            images: Vec::new(),
            cols: cols.max(1),
        }
    }

    /// Adds a `width x height` image of intensities in `[0, 1]` (row-major; 0 is white, 1 black),
    /// with a caption; `ok == false` draws the caption in red.
    ///
    /// # Panics
    /// If `pixels.len() != width * height`.
    #[track_caller]
    pub fn image(
        mut self,
        pixels: &[f64],
        width: usize,
        height: usize,
        caption: &str,
        ok: bool,
    ) -> Self {
        assert_eq!(
            pixels.len(),
            width * height,
            "ImageGrid::image: {} pixels for a {width}x{height} image",
            pixels.len()
        );
        self.images
            .push((pixels.to_vec(), width, height, caption.into(), ok));
        self
    }

    /// Renders the grid; each pixel is a 3 x 3 square, runs of equal gray merged.
    pub fn to_svg(&self) -> String {
        let scale = 3.0;
        let cell_w = self.images.iter().map(|i| i.1).max().unwrap_or(1) as f64 * scale + 20.0;
        let cell_h = self.images.iter().map(|i| i.2).max().unwrap_or(1) as f64 * scale + 36.0;
        let rows = self.images.len().div_ceil(self.cols);
        let (w, h) = (cell_w * self.cols as f64, cell_h * rows as f64);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11" shape-rendering="crispEdges"><rect width="{w}" height="{h}" fill="white"/>"#
        );
        for (k, (px, iw, ih, caption, ok)) in self.images.iter().enumerate() {
            let ox = (k % self.cols) as f64 * cell_w + 10.0;
            let oy = (k / self.cols) as f64 * cell_h + 6.0;
            for y in 0..*ih {
                let mut x = 0;
                while x < *iw {
                    let level = (255.0 * (1.0 - px[y * iw + x].clamp(0.0, 1.0))).round() as u8;
                    let start = x;
                    while x < *iw
                        && (255.0 * (1.0 - px[y * iw + x].clamp(0.0, 1.0))).round() as u8 == level
                    {
                        x += 1;
                    }
                    if level < 255 {
                        let _ = write!(
                            s,
                            r#"<rect x="{}" y="{}" width="{}" height="{scale}" fill="rgb({level},{level},{level})"/>"#,
                            ox + start as f64 * scale,
                            oy + y as f64 * scale,
                            (x - start) as f64 * scale
                        );
                    }
                }
            }
            let _ = write!(
                s,
                r##"<rect x="{ox}" y="{oy}" width="{}" height="{}" fill="none" stroke="#999"/><text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>"##,
                *iw as f64 * scale,
                *ih as f64 * scale,
                ox + *iw as f64 * scale / 2.0,
                oy + *ih as f64 * scale + 16.0,
                if *ok { "#1f77b4" } else { "#d62728" },
                esc(caption)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// Renders and writes the grid to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        write_svg(path, &self.to_svg())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_maps_points_into_the_plot_area() {
        let svg = LineChart::new("t", "x", "y")
            .series("a", &[(0.0, 0.0), (1.0, 1.0)])
            .to_svg();
        // x from 0 to 1 maps to 70..550; y is padded by 5 % on both sides.
        assert!(svg.contains(r#"points="70.0,"#), "{svg}");
        assert!(svg.contains("550.0,"), "{svg}");
        assert!(svg.ends_with("</svg>\n"));
    }

    #[test]
    fn log_axis_skips_non_positive_values() {
        let svg = LineChart::new("t", "x", "y")
            .log_y(true)
            .series("a", &[(0.0, 0.0), (1.0, 10.0), (2.0, 100.0)])
            .to_svg();
        let line = svg
            .split("points=\"")
            .nth(1)
            .expect("the chart draws its series as a points list")
            .split('"')
            .next()
            .expect("split always yields a first piece");
        assert_eq!(line.split(' ').count(), 2, "{line}");
    }

    #[test]
    fn grid_draws_dark_pixels_and_colours_wrong_captions() {
        let svg = ImageGrid::new(2)
            .image(&[1.0, 0.0, 0.0, 1.0], 2, 2, "ok", true)
            .image(&[0.5; 4], 2, 2, "bad <x>", false)
            .to_svg();
        assert!(svg.contains("rgb(0,0,0)") && svg.contains("rgb(128,128,128)"));
        assert!(
            svg.contains(r##"fill="#d62728">bad &lt;x&gt;</text>"##),
            "{svg}"
        );
    }

    #[test]
    #[should_panic(expected = "ImageGrid::image: 3 pixels for a 2x2 image")]
    fn wrong_pixel_count_panics() {
        let _ = ImageGrid::new(1).image(&[0.0; 3], 2, 2, "x", true);
    }
}
