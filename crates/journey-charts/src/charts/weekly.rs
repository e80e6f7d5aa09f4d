//! Chart 2: days without use per week.

use super::*;

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
