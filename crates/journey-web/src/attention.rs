//! "Who needs attention": a counselor's families ordered by need, each with its reasons in
//! words, from the `attention` object of metrics.md version 2. Pure: no HTTP, no database.

use journey_analytics::Attention;
use serde::Serialize;

/// One reason a family needs the counselor, in words, and how urgent it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub words: String,
    /// "urgent", "soon" or "note" (a note is good news or context, never a flag).
    pub level: &'static str,
}

/// The weight a family's reasons give it in the ordering (higher first: the most urgent
/// reason decides, the others break ties), and the reasons, most urgent first.
pub fn reasons(a: &Attention) -> (u32, Vec<Reason>) {
    let mut out: Vec<(u32, Reason)> = Vec::new();
    let mut flag = |weight: u32, level: &'static str, words: String| {
        out.push((weight, Reason { words, level }));
    };
    if a.recent_use_after_rehab {
        flag(100, "urgent", "Use after leaving detox or residential care, in the last 14 days: overdose risk is higher now".into());
    }
    if a.safety_concern {
        flag(
            90,
            "urgent",
            "A safety check in the last 7 days found them unsafe, or could not find them".into(),
        );
    }
    if a.treatment_window_open {
        flag(80, "urgent", "Said yes to treatment in the last 14 days, and no treatment has begun: the window is open now".into());
    }
    if a.contact_broken {
        flag(60, "soon", "Contact is broken off".into());
    }
    if a.days_since_last_entry >= 7 {
        flag(
            40 + a.days_since_last_entry.min(60) as u32 / 7,
            "soon",
            format!("Nothing recorded for {} days", a.days_since_last_entry),
        );
    }
    let pct = |v: f64| (v * 100.0).round() as i64;
    match (a.pda_last_28, a.pda_prior_28) {
        (Some(last), Some(prior)) if pct(last) + 10 <= pct(prior) => flag(
            30,
            "soon",
            format!(
                "Fewer days without use in the last 28 days ({}%) than in the 28 before ({}%)",
                pct(last),
                pct(prior)
            ),
        ),
        (Some(last), Some(prior)) if pct(last) >= pct(prior) + 10 => flag(
            0,
            "note",
            format!(
                "More days without use in the last 28 days ({}%) than in the 28 before ({}%)",
                pct(last),
                pct(prior)
            ),
        ),
        _ => {}
    }
    out.sort_by_key(|(weight, _)| std::cmp::Reverse(*weight));
    let top = out.first().map_or(0, |(w, _)| *w);
    let need = top * 1000 + out.iter().map(|(w, _)| *w).sum::<u32>();
    (need, out.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calm() -> Attention {
        Attention {
            days_since_last_entry: 1,
            days_since_last_status: Some(1),
            recent_use_after_rehab: false,
            contact_broken: false,
            safety_concern: false,
            treatment_window_open: false,
            pda_last_28: Some(0.5),
            pda_prior_28: Some(0.5),
        }
    }

    #[test]
    fn a_calm_family_needs_nothing_and_use_after_rehab_comes_first() {
        assert_eq!(reasons(&calm()), (0, vec![]));
        let relapse = Attention {
            recent_use_after_rehab: true,
            contact_broken: true,
            ..calm()
        };
        let window = Attention {
            treatment_window_open: true,
            ..calm()
        };
        let (a, words) = reasons(&relapse);
        let (b, _) = reasons(&window);
        assert!(a > b);
        assert!(words[0].words.starts_with("Use after leaving detox"));
        assert_eq!(words[1].words, "Contact is broken off");
        assert_eq!(words[0].level, "urgent");
    }

    #[test]
    fn silence_and_a_worse_month_are_flagged_and_a_better_month_is_only_noted() {
        let quiet = Attention {
            days_since_last_entry: 7,
            ..calm()
        };
        assert_eq!(reasons(&quiet).1[0].words, "Nothing recorded for 7 days");
        let six = Attention {
            days_since_last_entry: 6,
            ..calm()
        };
        assert!(reasons(&six).1.is_empty());
        let worse = Attention {
            pda_last_28: Some(0.3),
            pda_prior_28: Some(0.6),
            ..calm()
        };
        let (need, words) = reasons(&worse);
        assert!(need > 0);
        assert!(
            words[0].words.contains("(30%) than in the 28 before (60%)"),
            "{words:?}"
        );
        let better = Attention {
            pda_last_28: Some(0.8),
            pda_prior_28: Some(0.5),
            ..calm()
        };
        let (need, words) = reasons(&better);
        assert_eq!((need, words[0].level), (0, "note"));
        let unknown = Attention {
            pda_last_28: None,
            ..worse
        };
        assert!(reasons(&unknown).1.is_empty());
    }
}
