//! Chart 1: the day-by-day calendar (Timeline Followback).

use super::*;

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
