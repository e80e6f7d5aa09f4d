//! "What we did and how the weeks went": one date axis, the family's practice as a line and
//! each week's share of reported days without use as bars, the last 26 weeks. The family's
//! chart on the timeline (the progress report keeps the precise weekly charts).

use chrono::{Datelike, NaiveDate};
use journey_analytics::JourneyMetrics;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Context, Draw, FAMILY};

const GREEN: RGBColor = RGBColor(0, 158, 115);
const BLUE: RGBColor = RGBColor(0, 114, 178);
const SKY: RGBColor = RGBColor(86, 180, 233);
const DARK: RGBColor = RGBColor(40, 40, 40);

/// Weeks the chart shows, newest last.
pub const TOGETHER_WEEKS: usize = 26;

/// The family's practice and days without use, week by week, on one date axis.
pub struct TogetherChart<'a> {
    pub metrics: &'a JourneyMetrics,
}

impl Draw for TogetherChart<'_> {
    fn size(&self) -> (u32, u32) {
        (640, 330)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let m = self.metrics;
        let weeks = &m.weeks[m.weeks.len().saturating_sub(TOGETHER_WEEKS)..];
        let (Some(first), Some(last)) = (weeks.first(), weeks.last()) else {
            return Ok(());
        };
        let day = |d: NaiveDate| d.num_days_from_ce() as f64;
        let (from, to) = (day(first.start) - 1.0, day(last.start) + 8.0);
        let style = |size: u32| (FAMILY, size).into_font().color(&DARK);
        let (top, rest) = area.split_vertically(30);
        top.draw(&Text::new(
            "What you did and how the weeks went",
            (10, 16),
            style(16),
        ))
        .ctx()?;
        let (plot, legend) = rest.split_vertically(250);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(12)
            .margin_right(16)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(from..to, 0f64..100f64)
            .ctx()?;
        let month = |x: &f64| {
            NaiveDate::from_num_days_from_ce_opt(*x as i32)
                .map(|d| d.format("%b %d").to_string())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&month)
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .label_style(style(13))
            .draw()
            .ctx()?;
        for span in &m.treatment {
            let end = span.exited.unwrap_or(last.start + chrono::Days::new(6));
            let (a, b) = (day(span.entered).max(from), day(end).min(to));
            if a < b {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a, 0.0), (b, 100.0)],
                        SKY.mix(0.2).filled(),
                    )))
                    .ctx()?;
            }
        }
        chart
            .draw_series(weeks.iter().filter_map(|w| {
                let x = day(w.start);
                w.pda.map(|pda| {
                    Rectangle::new(
                        [(x + 0.8, 0.0), (x + 6.2, pda * 100.0)],
                        GREEN.mix(0.35 + 0.65 * w.coverage).filled(),
                    )
                })
            }))
            .ctx()?;
        let practice: Vec<(f64, f64)> = weeks
            .iter()
            .map(|w| (day(w.start) + 3.5, w.practice * 100.0))
            .collect();
        chart
            .draw_series(LineSeries::new(practice.clone(), BLUE.stroke_width(3)))
            .ctx()?;
        chart
            .draw_series(practice.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))
            .ctx()?;
        let swatch = |x: i32, color: RGBColor, words: &str| -> Result<(), String> {
            legend
                .draw(&Rectangle::new([(x, 12), (x + 16, 26)], color.filled()))
                .ctx()?;
            legend
                .draw(&Text::new(words.to_string(), (x + 22, 12), style(13)))
                .ctx()
        };
        swatch(10, GREEN, "days without use (of days reported)")?;
        swatch(330, BLUE, "your CRAFT practice")?;
        Ok(())
    }
}
