//! Chart 3: the CRAFT practice components per week.

use super::*;

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
