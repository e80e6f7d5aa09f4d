//! A family member's own WHO-5 scores over time. Drawn at a phone's width (320 px), so its
//! 13-14 px text stays at least 12 px tall on a 390 px screen.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Context, Draw, FAMILY};

const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const DARK: RGBColor = RGBColor(40, 40, 40);

/// The member's check-ins: (day, WHO-5 percentage score 0-100), oldest first.
pub struct WellbeingChart<'a> {
    pub points: &'a [(NaiveDate, f64)],
}

impl Draw for WellbeingChart<'_> {
    fn size(&self) -> (u32, u32) {
        (320, 220)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let first = self.points.first().map(|p| p.0).ok_or("no check-in")?;
        let last = self.points.last().map(|p| p.0).unwrap_or(first);
        let span = (last - first).num_days().max(1) as f64;
        let x = |day: NaiveDate| (day - first).num_days() as f64;
        let style = |size: u32| (FAMILY, size).into_font().color(&DARK);
        let mut chart = ChartBuilder::on(area)
            .caption("Your wellbeing (WHO-5, 0-100)", style(14))
            .margin(8)
            .margin_right(16)
            .x_label_area_size(28)
            .y_label_area_size(34)
            .build_cartesian_2d(-0.5..span + 0.5, 0f64..100f64)
            .ctx()?;
        let label = |v: &f64| {
            let day = first + chrono::TimeDelta::days(v.round() as i64);
            day.format("%b %d").to_string()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(3)
            .y_labels(3)
            .x_label_formatter(&label)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(style(13))
            .draw()
            .ctx()?;
        // The WHO-5 guidance's line: 50 or less is low wellbeing.
        chart
            .draw_series(DashedLineSeries::new(
                [(-0.5, 50.0), (span + 0.5, 50.0)],
                6,
                4,
                ORANGE.stroke_width(2),
            ))
            .ctx()?;
        chart
            .draw_series(LineSeries::new(
                self.points.iter().map(|(d, s)| (x(*d), *s)),
                BLUE.stroke_width(3),
            ))
            .ctx()?;
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|(d, s)| Circle::new((x(*d), *s), 5, BLUE.filled())),
            )
            .ctx()?;
        Ok(())
    }
}
