//! The five charts of a progress report; text is 13 px or more (plotters writes 10.5 in SVG).

use chrono::{Datelike, Days, NaiveDate};
use journey_analytics::{JourneyInput, JourneyMetrics, Report, Status, Week};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Context, Draw, FAMILY};

mod association;
mod calendar;
mod cohort;
mod practice;
mod weekly;

pub use association::AssociationChart;
pub use calendar::Calendar;
pub use cohort::CohortChart;
pub use practice::PracticeChart;
pub use weekly::WeeklyChart;

// The Okabe-Ito palette.
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const SKY: RGBColor = RGBColor(86, 180, 233);
const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const GREY: RGBColor = RGBColor(150, 150, 150);
const DARK: RGBColor = RGBColor(40, 40, 40);

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size.max(13)).into_font().color(&DARK)
}

fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    at: (i32, i32),
    size: u32,
    pos: Pos,
) -> Result<(), String> {
    area.draw(&Text::new(s.to_string(), at, font(size).pos(pos)))
        .ctx()
}

/// A backend pixel (what `backend_coord` gives) in the coordinates of `area`.
fn local<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, (x, y): (i32, i32)) -> (i32, i32) {
    let (bx, by) = area.get_base_pixel();
    (x - bx, y - by)
}

/// "1 pair", "2 pairs".
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

const LEFT: Pos = Pos {
    h_pos: HPos::Left,
    v_pos: VPos::Center,
};
const CENTER: Pos = Pos {
    h_pos: HPos::Center,
    v_pos: VPos::Center,
};
const RIGHT: Pos = Pos {
    h_pos: HPos::Right,
    v_pos: VPos::Center,
};

/// What the calendar marks on a day besides its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    TreatmentEntered,
    TreatmentExited,
    CommunicationBroken,
    CommunicationRestored,
    RelapseAfterRehab,
}

impl MarkerKind {
    const ALL: [MarkerKind; 5] = [
        MarkerKind::TreatmentEntered,
        MarkerKind::TreatmentExited,
        MarkerKind::CommunicationBroken,
        MarkerKind::CommunicationRestored,
        MarkerKind::RelapseAfterRehab,
    ];

    fn label(self) -> &'static str {
        match self {
            MarkerKind::TreatmentEntered => "entered treatment",
            MarkerKind::TreatmentExited => "left treatment",
            MarkerKind::CommunicationBroken => "contact broken",
            MarkerKind::CommunicationRestored => "contact restored",
            MarkerKind::RelapseAfterRehab => "use after rehab",
        }
    }
}

/// A marked day.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub day: NaiveDate,
    pub kind: MarkerKind,
}

/// The marked days of a journey: treatment entered and exited, communication broken and
/// restored (entries that count as of the metrics' last day), and the first use after each
/// rehab exit.
pub fn markers(input: &JourneyInput, metrics: &JourneyMetrics, as_of: NaiveDate) -> Vec<Marker> {
    let mut out: Vec<Marker> = input
        .entries
        .iter()
        .filter(|e| !e.retracted)
        .filter_map(|e| {
            let day = e.on.filter(|d| *d <= as_of)?;
            let kind = match e.kind.as_str() {
                "treatment_entered" => MarkerKind::TreatmentEntered,
                "treatment_exited" => MarkerKind::TreatmentExited,
                "communication_broken" => MarkerKind::CommunicationBroken,
                "communication_restored" => MarkerKind::CommunicationRestored,
                _ => return None,
            };
            Some(Marker { day, kind })
        })
        .collect();
    for episode in &metrics.milestones.rehab_episodes {
        if let Some(days) = episode.days_to_first_use {
            out.push(Marker {
                day: episode.exited + Days::new(days as u64),
                kind: MarkerKind::RelapseAfterRehab,
            });
        }
    }
    out.sort_by_key(|m| (m.day, MarkerKind::ALL.iter().position(|k| *k == m.kind)));
    out.dedup();
    out
}

/// Draws the marker `kind` centred on `(x, y)`, `r` pixels in radius, in black.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    kind: MarkerKind,
    (x, y): (i32, i32),
    r: i32,
) -> Result<(), String> {
    let solid = BLACK.filled();
    match kind {
        MarkerKind::TreatmentEntered => area
            .draw(&Polygon::new(
                vec![(x - r, y + r), (x + r, y + r), (x, y - r)],
                solid,
            ))
            .ctx(),
        MarkerKind::TreatmentExited => area
            .draw(&Polygon::new(
                vec![(x - r, y - r), (x + r, y - r), (x, y + r)],
                solid,
            ))
            .ctx(),
        MarkerKind::CommunicationBroken => {
            area.draw(&Circle::new((x, y), r, WHITE.filled())).ctx()?;
            area.draw(&Circle::new((x, y), r, BLACK.stroke_width(2)))
                .ctx()
        }
        MarkerKind::CommunicationRestored => area.draw(&Circle::new((x, y), r, solid)).ctx(),
        MarkerKind::RelapseAfterRehab => area
            .draw(&Polygon::new(
                vec![
                    (x, y - r - 1),
                    (x + r + 1, y),
                    (x, y + r + 1),
                    (x - r - 1, y),
                ],
                solid,
            ))
            .ctx(),
    }
}

/// A week axis label: whole weeks only (the axis runs from half a week before the first).
fn week_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{:.0}", x.round() + 0.0)
    } else {
        String::new()
    }
}

/// The x range (weeks) of the weekly charts.
fn week_range(weeks: &[Week]) -> std::ops::Range<f64> {
    let first = weeks.first().map_or(0, |w| w.week) as f64;
    let last = weeks.last().map_or(0, |w| w.week) as f64;
    (first - 0.5)..(last + 0.5)
}

fn week_of(m: &JourneyMetrics, day: NaiveDate) -> f64 {
    let anchor = m.craft_start.unwrap_or(m.start);
    (day - anchor).num_days().div_euclid(7) as f64
}

fn as_of(m: &JourneyMetrics) -> NaiveDate {
    m.start + Days::new(m.days.len().saturating_sub(1) as u64)
}
