//! The edge cases of each definition of metrics.md, on small hand-made journeys.

use chrono::NaiveDate;
use journey_analytics::{metrics, EntryInput, JourneyInput, Report};
use proptest::prelude::*;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn e(kind: &str, on: &str) -> EntryInput {
    EntryInput {
        entry: format!("{kind}-{on}"),
        kind: kind.into(),
        on: Some(day(on)),
        ..Default::default()
    }
}

fn status(on: &str, value: &str) -> EntryInput {
    EntryInput {
        status: Some(value.into()),
        entry: format!("s-{on}-{value}"),
        ..e("day_status", on)
    }
}

fn journey(key: &str, entries: Vec<EntryInput>) -> JourneyInput {
    let mut all = vec![e("journey_started", "2025-03-03")];
    all.extend(entries);
    JourneyInput {
        key: key.into(),
        entries: all,
    }
}

fn run(entries: Vec<EntryInput>, as_of: &str) -> Report {
    metrics(&[journey("k", entries)], day(as_of)).expect("metrics")
}

#[test]
fn use_wins_over_a_disagreeing_reporter() {
    let report = run(
        vec![
            status("2025-03-04", "no_use"),
            e("use_observed", "2025-03-04"),
        ],
        "2025-03-05",
    );
    let summary = &report.journeys[0].summary;
    assert_eq!(
        (summary.use_days, summary.no_use_days, summary.unknown_days),
        (1, 0, 2)
    );
}

#[test]
fn controlled_days_leave_every_rate() {
    let mut entered = e("treatment_entered", "2025-03-04");
    entered.modality = Some("detox".into());
    let report = run(
        vec![
            entered,
            e("clean_day_observed", "2025-03-05"),
            e("reward_given", "2025-03-05"),
            e("clean_day_observed", "2025-03-03"),
        ],
        "2025-03-06",
    );
    let journey = &report.journeys[0];
    assert_eq!(journey.summary.controlled_days, 3);
    assert_eq!(
        journey.summary.no_use_days, 1,
        "the clean day in detox is controlled"
    );
    assert_eq!(journey.summary.pda, Some(1.0));
    assert_eq!(
        journey.weeks[0].reward_rate,
        Some(0.0),
        "the reward on a controlled day is no reward of a no-use day"
    );
}

#[test]
fn a_retracted_entry_is_gone() {
    let mut wrong = e("use_observed", "2025-03-04");
    wrong.retracted = true;
    let report = run(vec![wrong], "2025-03-05");
    let summary = &report.journeys[0].summary;
    assert_eq!(summary.use_days, 0);
    assert_eq!((summary.entries, summary.retracted), (1, 1));
}

#[test]
fn as_of_hides_later_entries_and_journeys_that_start_later() {
    let later = JourneyInput {
        key: "later".into(),
        entries: vec![e("journey_started", "2025-04-01")],
    };
    let report = metrics(
        &[journey("k", vec![e("use_observed", "2025-03-10")]), later],
        day("2025-03-05"),
    )
    .unwrap();
    assert_eq!(report.journeys.len(), 1);
    assert_eq!(report.journeys[0].summary.use_days, 0);
    assert_eq!(report.journeys[0].summary.days, 3);
}

#[test]
fn weeks_before_the_journey_start_begin_on_their_anchor_day() {
    // CRAFT starts on a Wednesday 9 days after the start: week -2 begins before the start.
    let report = run(vec![e("craft_started", "2025-03-12")], "2025-03-20");
    let weeks = &report.journeys[0].weeks;
    assert_eq!(weeks[0].week, -2);
    assert_eq!(weeks[0].start, day("2025-02-26"));
    assert_eq!(
        weeks[0].days, 2,
        "only days inside [start, as_of] belong to a week"
    );
    assert_eq!(weeks[0].phase, Some("baseline"));
    assert_eq!(weeks.last().unwrap().phase, Some("craft"));
}

#[test]
fn without_craft_the_effect_says_why() {
    let report = run(vec![], "2025-04-30");
    let effect = &report.journeys[0].effect;
    assert_eq!(effect.reason, Some("no_craft_start"));
    assert_eq!(effect.nap, None);
    assert_eq!(report.journeys[0].weeks[0].phase, None);
}

proptest! {
    #[test]
    fn nap_lies_in_zero_one_and_tau_is_two_nap_minus_one(
        a in prop::collection::vec(0u8..=7, 1..12),
        b in prop::collection::vec(0u8..=7, 1..12),
    ) {
        let a: Vec<f64> = a.into_iter().map(|x| f64::from(x) / 7.0).collect();
        let b: Vec<f64> = b.into_iter().map(|x| f64::from(x) / 7.0).collect();
        let nap = journey_analytics::stats::nap(&a, &b);
        prop_assert!((0.0..=1.0).contains(&nap));
        prop_assert!((journey_analytics::stats::tau(&a, &b) - (2.0 * nap - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn the_order_of_entries_changes_no_figure(seed in 0u64..1000) {
        let mut entries = vec![
            e("use_observed", "2025-03-04"), e("clean_day_observed", "2025-03-05"),
            e("reward_given", "2025-03-05"), e("craft_started", "2025-03-06"),
            status("2025-03-07", "no_use"), e("positive_communication", "2025-03-07"),
            e("stepped_away", "2025-03-04"), e("self_care", "2025-03-08"),
        ];
        let before = run(entries.clone(), "2025-03-20");
        // A deterministic shuffle by the seed.
        let n = entries.len();
        for i in 0..n {
            let j = ((seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64 * 1442695040888963407)) >> 33) as usize % n;
            entries.swap(i, j);
        }
        prop_assert_eq!(before, run(entries, "2025-03-20"));
    }
}

fn with_detail(kind: &str, on: &str, detail: &str) -> EntryInput {
    EntryInput {
        detail: Some(detail.into()),
        entry: format!("{kind}-{on}-{detail}"),
        ..e(kind, on)
    }
}

fn who5(on: &str, score: u8) -> EntryInput {
    EntryInput {
        score: Some(score),
        entry: format!("w-{on}-{score}"),
        ..e("wellbeing_checked", on)
    }
}

#[test]
fn wellbeing_is_the_mean_percentage_score_of_a_week_and_of_the_first_and_latest_day() {
    // Journey starts Monday 2025-03-03; no CRAFT: weeks anchor on the start.
    let report = run(
        vec![
            who5("2025-03-04", 40),
            who5("2025-03-04", 60),
            who5("2025-03-06", 80),
            who5("2025-03-20", 28),
        ],
        "2025-03-21",
    );
    let j = &report.journeys[0];
    let weeks: Vec<Option<f64>> = j.weeks.iter().map(|w| w.wellbeing).collect();
    assert_eq!(weeks, [Some(60.0), None, Some(28.0)]);
    assert_eq!(j.summary.wellbeing_checks, 4);
    assert_eq!(
        j.summary.wellbeing_first,
        Some(50.0),
        "the mean of the first day"
    );
    assert_eq!(j.summary.wellbeing_latest, Some(28.0));
    assert_eq!(j.summary.wellbeing_change, Some(-22.0));

    // Checks on one day only: no change. None at all: nulls and 0.
    let one_day = run(
        vec![who5("2025-03-04", 40), who5("2025-03-04", 44)],
        "2025-03-05",
    );
    let s = &one_day.journeys[0].summary;
    assert_eq!(
        (s.wellbeing_first, s.wellbeing_latest, s.wellbeing_change),
        (Some(42.0), Some(42.0), None)
    );
    let none = run(vec![], "2025-03-05");
    let s = &none.journeys[0].summary;
    assert_eq!((s.wellbeing_checks, s.wellbeing_first), (0, None));
    // A retracted check and one after as_of do not count.
    let mut retracted = who5("2025-03-04", 40);
    retracted.retracted = true;
    let hidden = run(vec![retracted, who5("2025-03-09", 80)], "2025-03-05");
    assert_eq!(hidden.journeys[0].summary.wellbeing_checks, 0);
    assert_eq!(hidden.journeys[0].weeks[0].wellbeing, None);
}

#[test]
fn attention_flags_follow_their_windows() {
    let as_of = "2025-04-30";
    let attention = |entries: Vec<EntryInput>| run(entries, as_of).journeys[0].attention.clone();

    let quiet = attention(vec![]);
    assert_eq!(quiet.days_since_last_entry, 58, "journey_started counts");
    assert_eq!(quiet.days_since_last_status, None);
    assert!(!quiet.contact_broken && !quiet.safety_concern && !quiet.treatment_window_open);
    assert_eq!((quiet.pda_last_28, quiet.pda_prior_28), (None, None));

    // Contact: the latest wins; on one day a restore counts as the later.
    assert!(attention(vec![e("communication_broken", "2025-04-20")]).contact_broken);
    assert!(
        !attention(vec![
            e("communication_broken", "2025-04-20"),
            e("communication_restored", "2025-04-20"),
        ])
        .contact_broken
    );
    assert!(
        attention(vec![
            e("communication_restored", "2025-04-10"),
            e("communication_broken", "2025-04-20"),
        ])
        .contact_broken
    );

    // Safety: unsafe or not found within the last 7 days (as_of - on <= 6).
    assert!(attention(vec![with_detail("safety_check", "2025-04-24", "not_found")]).safety_concern);
    assert!(!attention(vec![with_detail("safety_check", "2025-04-23", "unsafe")]).safety_concern);
    assert!(!attention(vec![with_detail("safety_check", "2025-04-29", "safe")]).safety_concern);

    // The window of opportunity: an accepted suggestion within 14 days, no entry since.
    assert!(
        attention(vec![with_detail(
            "treatment_suggested",
            "2025-04-17",
            "accepted"
        )])
        .treatment_window_open
    );
    assert!(
        !attention(vec![with_detail(
            "treatment_suggested",
            "2025-04-16",
            "accepted"
        )])
        .treatment_window_open
    );
    assert!(
        !attention(vec![with_detail(
            "treatment_suggested",
            "2025-04-28",
            "declined"
        )])
        .treatment_window_open
    );
    let mut entered = e("treatment_entered", "2025-04-28");
    entered.modality = Some("outpatient".into());
    assert!(
        !attention(vec![
            with_detail("treatment_suggested", "2025-04-28", "accepted"),
            entered.clone()
        ])
        .treatment_window_open
    );
    let mut earlier = entered.clone();
    earlier.on = Some(day("2025-04-20"));
    assert!(
        attention(vec![
            with_detail("treatment_suggested", "2025-04-28", "accepted"),
            earlier
        ])
        .treatment_window_open
    );

    // Use after rehab: the first use on or after the exit within the last 14 days.
    let mut detox = e("treatment_entered", "2025-04-10");
    detox.modality = Some("detox".into());
    let mut exit = e("treatment_exited", "2025-04-15");
    exit.reason = Some("completed".into());
    exit.episode = Some(detox.entry.clone());
    let relapse = |on: &str| {
        attention(vec![detox.clone(), exit.clone(), e("use_observed", on)]).recent_use_after_rehab
    };
    assert!(relapse("2025-04-17"));
    assert!(!relapse("2025-04-16"), "as_of - day = 14");
    assert!(!attention(vec![detox.clone(), exit.clone()]).recent_use_after_rehab);

    // pda over the last 28 days and the 28 before, each over its known days.
    let last = attention(vec![
        status("2025-04-03", "no_use"),
        status("2025-04-04", "use"),
        status("2025-04-02", "use"),
        status("2025-03-10", "no_use"),
        e("note", "2025-04-29"),
    ]);
    assert_eq!(last.pda_last_28, Some(0.5), "04-03 to 04-30");
    assert_eq!(last.pda_prior_28, Some(0.5), "03-06 to 04-02");
    assert_eq!(last.days_since_last_status, Some(26));
    assert_eq!(last.days_since_last_entry, 1);
}

#[test]
fn a_period_shows_its_days_and_weeks_and_keeps_the_journeys_figures() {
    // Starts 2025-03-03, CRAFT from 2025-03-17 (weeks from then), use on 03-20, no use on
    // 04-01..04-05, as of 04-30.
    let mut entries = vec![
        e("craft_started", "2025-03-17"),
        e("use_observed", "2025-03-20"),
    ];
    for d in 1..=5 {
        entries.push(e("clean_day_observed", &format!("2025-04-0{d}")));
    }
    let report = run(entries, "2025-04-30");
    let whole = &report.journeys[0];
    let (shown, period) = journey_analytics::period::window(whole, day("2025-04-01"));
    assert_eq!(shown.start, day("2025-04-01"));
    assert_eq!(shown.days.len(), 30);
    assert_eq!(
        (period.days, period.use_days, period.no_use_days),
        (30, 0, 5)
    );
    assert_eq!(period.pda, Some(1.0));
    assert!((period.coverage - 5.0 / 30.0).abs() < 1e-12);
    assert!(period.partial);
    assert_eq!(period.to, day("2025-04-30"));
    // Weeks stay anchored on the CRAFT start: the first shown is the one holding 04-01.
    assert_eq!(shown.weeks[0].start, day("2025-03-31"));
    assert_eq!(shown.weeks[0].week, 2);
    assert!(shown.weeks.iter().all(|w| w.start >= day("2025-03-31")));
    // The journey's own figures are the whole journey's.
    assert_eq!(shown.summary, whole.summary);
    assert_eq!(shown.summary.use_days, 1);
    // A period from before the start shows it all; one after its end, its last day.
    let (all, p) = journey_analytics::period::window(whole, day("2024-01-01"));
    assert_eq!((all.days.len(), p.partial), (whole.days.len(), false));
    assert_eq!(all.weeks, whole.weeks);
    let (end, p) = journey_analytics::period::window(whole, day("2026-01-01"));
    assert_eq!((end.days.len(), p.from), (1, day("2025-04-30")));
}
