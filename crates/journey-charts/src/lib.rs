//! Charts of journey metrics (plotters; SVG first, PNG with the font shipped in `fonts/`) and
//! the HTML progress reports that carry them (minijinja templates in `templates/`).
//!
//! Every chart is a value that implements [`Draw`]; [`svg`] and [`png`] render it. Colors come
//! from the Okabe-Ito palette (safe for color-blind readers) and every color also has a shape
//! or pattern, so the charts stay readable in grayscale.

mod charts;
pub mod pdf;
pub mod report;
pub mod report_pdf;
mod together;
mod wellbeing;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use charts::{
    markers, AssociationChart, Calendar, CohortChart, Marker, MarkerKind, PracticeChart,
    WeeklyChart,
};
pub use together::{TogetherChart, TOGETHER_WEEKS};
pub use wellbeing::WellbeingChart;

/// Errors of drawing or rendering.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("template: {0}")]
    Template(String),
}

/// A chart: its size in pixels and how to draw it on any plotters backend.
pub trait Draw {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Turns any displayable error into the `String` the drawing functions return.
pub(crate) trait Context<T> {
    fn ctx(self) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn ctx(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// The font family every chart uses. SVG names it and leaves the glyphs to the reader's
/// browser; PNG draws it with the DejaVu Sans shipped in `fonts/`.
pub(crate) const FAMILY: &str = "sans-serif";

fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in; it parses or the build is broken.
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            panic!("the shipped font fonts/DejaVuSans.ttf does not parse");
        }
    });
}

/// The chart as an SVG document.
pub fn svg(chart: &impl Draw) -> Result<String, ChartError> {
    register_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, chart.size()).into_drawing_area();
        root.fill(&WHITE).ctx().map_err(ChartError::Draw)?;
        chart.draw(&root).map_err(ChartError::Draw)?;
        root.present().ctx().map_err(ChartError::Draw)?;
    }
    Ok(out)
}

/// The chart as a PNG file at `path`.
pub fn png(chart: &impl Draw, path: &Path) -> Result<(), ChartError> {
    register_font();
    let root = BitMapBackend::new(path, chart.size()).into_drawing_area();
    root.fill(&WHITE).ctx().map_err(ChartError::Draw)?;
    chart.draw(&root).map_err(ChartError::Draw)?;
    root.present().ctx().map_err(ChartError::Draw)?;
    Ok(())
}
