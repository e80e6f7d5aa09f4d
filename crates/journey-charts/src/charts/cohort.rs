//! Chart 5: the cohort's time to treatment entry.

use super::*;

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
