//! Chart 4: practice and the following week.

use super::*;

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
