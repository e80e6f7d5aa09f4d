//! The five charts of a progress report; text is 13 px or more (plotters writes 10.5 in SVG).

use chrono::{Datelike, Days, NaiveDate};
use journey_analytics::{JourneyInput, JourneyMetrics, Report, Status, Week};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Context, Draw, FAMILY};

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

/// Draws a day square of `status` with its top-left corner at `(x, y)`, `size` pixels wide.
fn draw_day<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    status: Status,
    (x, y): (i32, i32),
    size: i32,
) -> Result<(), String> {
    let corners = [(x, y), (x + size, y + size)];
    match status {
        Status::Use => {
            area.draw(&Rectangle::new(corners, VERMILLION.filled()))
                .ctx()?;
            // A white cross: "use" reads without color.
            let white = WHITE.stroke_width(2);
            let (a, b) = (3, size - 3);
            area.draw(&PathElement::new(
                vec![(x + a, y + a), (x + b, y + b)],
                white,
            ))
            .ctx()?;
            area.draw(&PathElement::new(
                vec![(x + b, y + a), (x + a, y + b)],
                white,
            ))
            .ctx()
        }
        Status::NoUse => area.draw(&Rectangle::new(corners, GREEN.filled())).ctx(),
        Status::Controlled => {
            area.draw(&Rectangle::new(corners, SKY.filled())).ctx()?;
            // Diagonal stripes: "in care" reads without color.
            for offset in [size / 3, 2 * size / 3] {
                area.draw(&PathElement::new(
                    vec![(x, y + offset), (x + offset, y)],
                    BLUE.stroke_width(2),
                ))
                .ctx()?;
                area.draw(&PathElement::new(
                    vec![(x + offset, y + size), (x + size, y + offset)],
                    BLUE.stroke_width(2),
                ))
                .ctx()?;
            }
            Ok(())
        }
        Status::Unknown => {
            // White, as the chart's background is: only the outline and the dot are drawn.
            area.draw(&Rectangle::new(
                [(x, y), (x + size - 1, y + size - 1)],
                GREY.stroke_width(1),
            ))
            .ctx()?;
            area.draw(&Circle::new((x + size / 2, y + size / 2), 1, GREY.filled()))
                .ctx()
        }
    }
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Use => "use",
        Status::NoUse => "no use",
        Status::Controlled => "in detox or residential care",
        Status::Unknown => "unknown (nobody reported)",
    }
}

/// Chart 1: a Timeline Followback calendar, one row per month and one square per day.
pub struct Calendar<'a> {
    pub metrics: &'a JourneyMetrics,
    pub markers: &'a [Marker],
    /// Only the last this many months (the timeline); `None`: the whole journey (the report).
    pub last_months: Option<usize>,
}

const CELL: i32 = 16;
const STEP: i32 = 18;
const CAL_LEFT: i32 = 80;
const CAL_TOP: i32 = 58;

impl Calendar<'_> {
    fn months(&self) -> Vec<NaiveDate> {
        let start = self.metrics.start;
        let last = start + Days::new(self.metrics.days.len().saturating_sub(1) as u64);
        let mut month = start.with_day(1).expect("day 1");
        let mut out = Vec::new();
        while month <= last {
            out.push(month);
            month = month
                .checked_add_months(chrono::Months::new(1))
                .expect("a month later");
        }
        if let Some(keep) = self.last_months {
            out.drain(..out.len().saturating_sub(keep.max(1)));
        }
        out
    }
}

impl Draw for Calendar<'_> {
    fn size(&self) -> (u32, u32) {
        let rows = self.months().len() as i32;
        (
            (CAL_LEFT + 31 * STEP + 130) as u32,
            (CAL_TOP + rows * STEP + 90) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let m = self.metrics;
        text(
            area,
            "Day by day: what was seen",
            (10, 16),
            17,
            Pos::new(HPos::Left, VPos::Center),
        )?;
        text(area, "day of the month", (CAL_LEFT, 36), 11, LEFT)?;
        for day in [1, 5, 10, 15, 20, 25, 31] {
            let x = CAL_LEFT + (day - 1) * STEP + CELL / 2;
            text(area, &day.to_string(), (x, CAL_TOP - 8), 10, CENTER)?;
        }
        let months = self.months();
        let end = m.start + Days::new(m.days.len().saturating_sub(1) as u64);
        for (row, month) in months.iter().enumerate() {
            let y = CAL_TOP + row as i32 * STEP;
            text(
                area,
                &month.format("%b %Y").to_string(),
                (CAL_LEFT - 8, y + CELL / 2),
                11,
                RIGHT,
            )?;
            for day in 1..=31u32 {
                let Some(date) = month.with_day(day) else {
                    continue;
                };
                if date < m.start || date > end {
                    continue;
                }
                let x = CAL_LEFT + (day as i32 - 1) * STEP;
                let status = m.days[(date - m.start).num_days() as usize];
                draw_day(area, status, (x, y), CELL)?;
                if Some(date) == m.craft_start {
                    area.draw(&Rectangle::new(
                        [(x - 2, y - 2), (x + CELL + 1, y + CELL + 1)],
                        BLACK.stroke_width(2),
                    ))
                    .ctx()?;
                }
                let on_day: Vec<&Marker> = self.markers.iter().filter(|k| k.day == date).collect();
                for (i, marker) in on_day.iter().take(2).enumerate() {
                    let cx = x + if i == 0 { CELL / 2 } else { CELL - 3 };
                    draw_marker(area, marker.kind, (cx, y + CELL / 2), 4)?;
                }
            }
            if m.craft_start
                .is_some_and(|c| c.year() == month.year() && c.month() == month.month())
            {
                text(
                    area,
                    "< CRAFT start (boxed)",
                    (CAL_LEFT + 31 * STEP + 6, y + CELL / 2),
                    11,
                    LEFT,
                )?;
            }
        }
        // The legend: statuses, then markers.
        let legend = CAL_TOP + months.len() as i32 * STEP + 16;
        let statuses = [
            Status::NoUse,
            Status::Use,
            Status::Controlled,
            Status::Unknown,
        ];
        let widths = [90, 70, 210, 200];
        let mut x = 10;
        for (status, width) in statuses.into_iter().zip(widths) {
            draw_day(area, status, (x, legend), CELL)?;
            text(
                area,
                status_label(status),
                (x + CELL + 6, legend + CELL / 2),
                11,
                LEFT,
            )?;
            x += width;
        }
        let mut x = 10;
        let y = legend + 30;
        for kind in MarkerKind::ALL {
            draw_marker(area, kind, (x + 5, y + CELL / 2), 5)?;
            text(area, kind.label(), (x + 16, y + CELL / 2), 11, LEFT)?;
            x += 16 + 7 * kind.label().len() as i32 + 14;
        }
        text(
            area,
            "Each square is one day; a boxed square is the day CRAFT started.",
            (10, y + 36),
            11,
            LEFT,
        )
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

/// Chart 2: weekly percent of known days without use; bar shade = coverage.
pub struct WeeklyChart<'a> {
    pub metrics: &'a JourneyMetrics,
}

impl Draw for WeeklyChart<'_> {
    fn size(&self) -> (u32, u32) {
        (760, 400)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let m = self.metrics;
        let (top, rest) = area.split_vertically(34);
        text(
            &top,
            "Days without use per week (% of the days someone reported on)",
            (10, 18),
            16,
            LEFT,
        )?;
        let (plot, legend) = rest.split_vertically(310);
        let mut chart = ChartBuilder::on(&plot)
            .margin_right(20)
            .margin_top(16)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(week_range(&m.weeks), 0f64..100f64)
            .ctx()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("week (0 = first CRAFT week)")
            .y_desc("days without use (%)")
            .x_label_formatter(&week_label)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .max_light_lines(0)
            .axis_desc_style(font(12))
            .label_style(font(11))
            .draw()
            .ctx()?;
        for span in &m.treatment {
            let from = week_of(m, span.entered) - 0.5;
            let to = week_of(m, span.exited.unwrap_or(as_of(m))) + 0.5;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(from, 0.0), (to, 100.0)],
                    SKY.mix(0.22).filled(),
                )))
                .ctx()?;
        }
        for w in &m.weeks {
            let x = w.week as f64;
            if let Some(pda) = w.pda {
                let shade = if w.eligible {
                    GREEN.mix(0.25 + 0.75 * w.coverage).filled()
                } else {
                    WHITE.filled()
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.38, 0.0), (x + 0.38, pda * 100.0)],
                        shade,
                    )))
                    .ctx()?;
                if !w.eligible {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.38, 0.0), (x + 0.38, pda * 100.0)],
                            GREY.stroke_width(1),
                        )))
                        .ctx()?;
                }
            }
        }
        let eligible: Vec<(f64, f64)> = m
            .weeks
            .iter()
            .filter(|w| w.eligible)
            .filter_map(|w| w.pda.map(|p| (w.week as f64, p * 100.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(eligible.clone(), DARK.stroke_width(2)))
            .ctx()?;
        chart
            .draw_series(eligible.iter().map(|p| Circle::new(*p, 3, DARK.filled())))
            .ctx()?;
        chart
            .draw_series(
                m.weeks
                    .iter()
                    .filter(|w| !w.eligible)
                    .filter_map(|w| w.pda.map(|p| (w.week as f64, p * 100.0)))
                    .map(|p| Circle::new(p, 3, DARK.stroke_width(1))),
            )
            .ctx()?;
        if m.craft_start.is_some() && chart.x_range().start < -0.5 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(-0.5, 0.0), (-0.5, 100.0)],
                    BLACK.stroke_width(2),
                )))
                .ctx()?;
            let (x, y) = local(&plot, chart.backend_coord(&(-0.5, 100.0)));
            plot.draw(&Text::new(
                "baseline  |  CRAFT",
                (x, y - 8),
                font(11).pos(CENTER),
            ))
            .ctx()?;
        }
        let y = 14;
        legend
            .draw(&Rectangle::new([(10, y - 6), (24, y + 6)], GREEN.filled()))
            .ctx()?;
        text(
            &legend,
            "bar: darker = more days reported",
            (30, y),
            11,
            LEFT,
        )?;
        legend
            .draw(&Rectangle::new(
                [(250, y - 6), (264, y + 6)],
                GREY.stroke_width(1),
            ))
            .ctx()?;
        text(
            &legend,
            "hollow: fewer than 4 known days",
            (270, y),
            11,
            LEFT,
        )?;
        legend
            .draw(&Rectangle::new(
                [(480, y - 6), (494, y + 6)],
                SKY.mix(0.4).filled(),
            ))
            .ctx()?;
        text(&legend, "in treatment", (500, y), 11, LEFT)?;
        legend
            .draw(&Circle::new((600, y), 3, DARK.filled()))
            .ctx()?;
        text(
            &legend,
            "line: weeks with 4+ known days",
            (610, y),
            11,
            LEFT,
        )?;
        Ok(())
    }
}

/// Chart 3: the weekly practice components, one small panel each, on the weeks of chart 2.
pub struct PracticeChart<'a> {
    pub metrics: &'a JourneyMetrics,
}

type Component = (&'static str, RGBColor, fn(&Week) -> Option<f64>);

const COMPONENTS: [Component; 4] = [
    ("rewards on days without use", GREEN, |w| w.reward_rate),
    ("stepping back on use days", BLUE, |w| w.withdraw_rate),
    ("not rescuing (1 - rescue rate)", ORANGE, |w| {
        w.rescue_rate.map(|r| 1.0 - r)
    }),
    ("positive messages (3 a week = 1)", PURPLE, |w| {
        Some((w.positive_communications as f64 / 3.0).min(1.0))
    }),
];

impl Draw for PracticeChart<'_> {
    fn size(&self) -> (u32, u32) {
        (760, 560)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let m = self.metrics;
        let (top, rest) = area.split_vertically(34);
        text(
            &top,
            "CRAFT practice per week (share of opportunities, 0 to 1)",
            (10, 18),
            16,
            LEFT,
        )?;
        let panels = rest.split_evenly((4, 1));
        let shapes = 4;
        for (i, (panel, (label, color, value))) in panels.iter().zip(COMPONENTS).enumerate() {
            let last = i + 1 == shapes;
            let mut chart = ChartBuilder::on(panel)
                .margin_right(20)
                .margin_top(18)
                .x_label_area_size(if last { 36 } else { 8 })
                .y_label_area_size(56)
                .build_cartesian_2d(week_range(&m.weeks), 0f64..1f64)
                .ctx()?;
            let mut mesh = chart.configure_mesh();
            mesh.disable_x_mesh()
                .y_labels(3)
                .label_style(font(10))
                .axis_desc_style(font(11))
                .max_light_lines(0)
                .y_label_formatter(&|y| format!("{y:.1}"))
                .x_label_formatter(&week_label);
            if last {
                mesh.x_desc("week (0 = first CRAFT week)");
            } else {
                mesh.x_labels(0);
            }
            mesh.draw().ctx()?;
            panel
                .draw(&Text::new(label, (62, 8), font(12).pos(LEFT)))
                .ctx()?;
            if m.craft_start.is_some() && chart.x_range().start < -0.5 {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(-0.5, 0.0), (-0.5, 1.0)],
                        BLACK.stroke_width(2),
                    )))
                    .ctx()?;
            }
            // Runs of weeks with a value, so that a missing week leaves a gap.
            let mut run: Vec<(f64, f64)> = Vec::new();
            let mut runs = Vec::new();
            for w in &m.weeks {
                match value(w) {
                    Some(v) => run.push((w.week as f64, v)),
                    None => runs.push(std::mem::take(&mut run)),
                }
            }
            runs.push(run);
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                chart
                    .draw_series(LineSeries::new(run.clone(), color.stroke_width(2)))
                    .ctx()?;
                // A different point shape per component, for grayscale.
                match i {
                    0 => chart
                        .draw_series(run.iter().map(|p| Circle::new(*p, 3, color.filled())))
                        .map(|_| ()),
                    1 => chart
                        .draw_series(
                            run.iter()
                                .map(|p| TriangleMarker::new(*p, 4, color.filled())),
                        )
                        .map(|_| ()),
                    2 => chart
                        .draw_series(run.iter().map(|p| Cross::new(*p, 3, color.stroke_width(2))))
                        .map(|_| ()),
                    _ => chart
                        .draw_series(
                            run.iter()
                                .map(|p| Circle::new(*p, 3, color.stroke_width(2))),
                        )
                        .map(|_| ()),
                }
                .ctx()?;
            }
        }
        Ok(())
    }
}

/// Chart 4: practice of week w against days without use in week w + 1.
pub struct AssociationChart<'a> {
    pub metrics: &'a JourneyMetrics,
}

impl AssociationChart<'_> {
    /// The pairs of metrics.md: (practice of week w, pda of week w + 1, eligible).
    pub fn pairs(&self) -> Vec<(f64, f64)> {
        let weeks = &self.metrics.weeks;
        weeks
            .iter()
            .filter_map(|w| {
                let next = weeks.iter().find(|n| n.week == w.week + 1)?;
                (next.eligible).then_some((w.practice, next.pda? * 100.0))
            })
            .collect()
    }
}

impl Draw for AssociationChart<'_> {
    fn size(&self) -> (u32, u32) {
        (520, 440)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let a = &self.metrics.association;
        let caption = match (a.spearman_rho, a.reason) {
            (Some(rho), _) => format!("Spearman rho = {rho:.2}, {}", plural(a.pairs, "pair")),
            (None, Some("constant_series")) => {
                format!(
                    "no rho: one series does not vary ({})",
                    plural(a.pairs, "pair")
                )
            }
            (None, _) => format!("no rho: {}, 8 needed", plural(a.pairs, "pair")),
        };
        let (top, rest) = area.split_vertically(52);
        text(&top, "Practice and the following week", (10, 16), 16, LEFT)?;
        text(&top, &caption, (10, 38), 12, LEFT)?;
        let mut chart = ChartBuilder::on(&rest)
            .margin_right(24)
            .margin_top(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, 0f64..100f64)
            .ctx()?;
        chart
            .configure_mesh()
            .x_desc("practice in week w (0 to 1)")
            .max_light_lines(0)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("days without use in week w+1 (%)")
            .axis_desc_style(font(12))
            .label_style(font(11))
            .draw()
            .ctx()?;
        chart
            .draw_series(
                self.pairs()
                    .into_iter()
                    .map(|p| Circle::new(p, 4, BLUE.mix(0.7).filled())),
            )
            .ctx()?;
        Ok(())
    }
}

/// Chart 5: time from CRAFT start to treatment entry (Kaplan-Meier) and the entry rates at
/// 90/180/365 days against published CRAFT trials.
pub struct CohortChart<'a> {
    pub report: &'a Report,
}

impl Draw for CohortChart<'_> {
    fn size(&self) -> (u32, u32) {
        (860, 420)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let observations = journey_analytics::time_to_treatment(&self.report.journeys);
        let curve = journey_analytics::stats::km_curve(&observations);
        let (top, rest) = area.split_vertically(34);
        text(
            &top,
            "Into treatment after CRAFT started",
            (10, 18),
            16,
            LEFT,
        )?;
        let (left, right) = rest.split_horizontally(520);
        let (plot, risk) = left.split_vertically(310);
        let horizon = observations
            .iter()
            .map(|o| o.0)
            .max()
            .unwrap_or(365)
            .max(90) as f64;
        let mut chart = ChartBuilder::on(&plot)
            .margin_right(20)
            .margin_top(24)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..horizon, 0f64..100f64)
            .ctx()?;
        chart
            .configure_mesh()
            .x_desc("days since CRAFT started")
            .max_light_lines(0)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("not yet in treatment (%)")
            .axis_desc_style(font(12))
            .label_style(font(11))
            .draw()
            .ctx()?;
        plot.draw(&Text::new(
            format!("Kaplan-Meier estimate, {} families", observations.len()),
            (62, 10),
            font(12).pos(LEFT),
        ))
        .ctx()?;
        let mut steps = vec![(0.0, 100.0)];
        let mut level = 100.0;
        for (t, _, survival) in &curve {
            steps.push((*t as f64, level));
            level = survival * 100.0;
            steps.push((*t as f64, level));
        }
        steps.push((horizon, level));
        chart
            .draw_series(LineSeries::new(steps, BLUE.stroke_width(2)))
            .ctx()?;
        // Censored journeys as ticks on the curve.
        chart
            .draw_series(observations.iter().filter(|o| !o.1).map(|o| {
                let s = curve
                    .iter()
                    .take_while(|c| c.0 <= o.0)
                    .last()
                    .map_or(100.0, |c| c.2 * 100.0);
                Cross::new((o.0 as f64, s), 3, DARK.stroke_width(1))
            }))
            .ctx()?;
        // Number at risk under the axis, every 90 days.
        let at = |t: f64| local(&risk, chart.backend_coord(&(t, 0.0))).0;
        risk.draw(&Text::new("day", (6, 12), font(10).pos(LEFT)))
            .ctx()?;
        risk.draw(&Text::new("at risk", (6, 28), font(10).pos(LEFT)))
            .ctx()?;
        let mut t = 0.0;
        while t <= horizon {
            let at_risk = observations.iter().filter(|o| o.0 as f64 >= t).count();
            risk.draw(&Text::new(
                format!("{t:.0}"),
                (at(t), 12),
                font(10).pos(CENTER),
            ))
            .ctx()?;
            risk.draw(&Text::new(
                at_risk.to_string(),
                (at(t), 28),
                font(10).pos(CENTER),
            ))
            .ctx()?;
            t += 90.0;
        }
        // Entry rates by horizon against the published trials.
        let (right, key) = right.split_vertically(310);
        let mut bars = ChartBuilder::on(&right)
            .margin_right(20)
            .margin_top(24)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..3f64, 0f64..100f64)
            .ctx()?;
        bars.configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("entered treatment (%)")
            .max_light_lines(0)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .axis_desc_style(font(12))
            .label_style(font(11))
            .draw()
            .ctx()?;
        right
            .draw(&Text::new(
                "Entered by day 90, 180, 365",
                (56, 10),
                font(12).pos(LEFT),
            ))
            .ctx()?;
        bars.draw_series(std::iter::once(Rectangle::new(
            [(0.0, 13.0), (3.0, 40.0)],
            GREY.mix(0.3).filled(),
        )))
        .ctx()?;
        bars.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 66.7), (3.0, 66.7)],
            BLACK.stroke_width(2),
        )))
        .ctx()?;
        for (i, t) in self.report.cohort.treatment_entry.iter().enumerate() {
            let x = i as f64;
            let (px, bottom) = local(&right, bars.backend_coord(&(x + 0.5, 0.0)));
            right
                .draw(&Text::new(
                    format!("day {}", t.horizon_days),
                    (px, bottom + 12),
                    font(11).pos(CENTER),
                ))
                .ctx()?;
            match t.rate {
                Some(rate) => {
                    bars.draw_series(std::iter::once(Rectangle::new(
                        [(x + 0.25, 0.0), (x + 0.75, rate * 100.0)],
                        BLUE.filled(),
                    )))
                    .ctx()?;
                    let (px, py) = local(&right, bars.backend_coord(&(x + 0.5, rate * 100.0)));
                    // Inside the bar in white (clear of the reference line just above it),
                    // above it when the bar is too short.
                    let (y, color) = if rate >= 0.12 {
                        (py + 10, WHITE)
                    } else {
                        (py - 8, DARK)
                    };
                    right
                        .draw(&Text::new(
                            format!("{}/{}", t.entered, t.eligible),
                            (px, y),
                            font(10).color(&color).pos(CENTER),
                        ))
                        .ctx()?;
                }
                None => {
                    let (px, py) = local(&right, bars.backend_coord(&(x + 0.5, 5.0)));
                    right
                        .draw(&Text::new(
                            "none followed yet",
                            (px, py),
                            font(10).pos(CENTER),
                        ))
                        .ctx()?;
                }
            }
        }
        key.draw(&Rectangle::new([(10, 8), (26, 20)], GREY.mix(0.3).filled()))
            .ctx()?;
        text(
            &key,
            "self-directed CRAFT trials: 13-40%",
            (32, 14),
            10,
            LEFT,
        )?;
        key.draw(&PathElement::new(
            vec![(10, 34), (26, 34)],
            BLACK.stroke_width(2),
        ))
        .ctx()?;
        text(
            &key,
            "clinician-led trials: about 2 in 3",
            (32, 34),
            10,
            LEFT,
        )?;
        text(
            &key,
            "numbers: entered / followed that long",
            (10, 54),
            10,
            LEFT,
        )?;
        Ok(())
    }
}
