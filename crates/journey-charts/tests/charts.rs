//! The charts and reports from a small hand-made journey, without a database.

use chrono::NaiveDate;
use journey_analytics::{metrics, EntryInput, JourneyInput};
use journey_charts::pdf::Paper;
use journey_charts::report::{cohort_html, journey_html, Header};
use journey_charts::report_pdf::journey_pdf;
use journey_charts::{
    markers, png, svg, AssociationChart, Calendar, CohortChart, MarkerKind, PracticeChart,
    WeeklyChart,
};

fn day(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

fn entry(id: &str, kind: &str, on: &str) -> EntryInput {
    EntryInput {
        entry: id.into(),
        kind: kind.into(),
        on: Some(day(on)),
        ..Default::default()
    }
}

/// 2025-01-01 .. 2025-04-30: use on Mondays before CRAFT, clean most other days, a detox stay.
fn journey() -> JourneyInput {
    let mut entries = vec![
        entry("s", "journey_started", "2025-01-01"),
        entry("c", "craft_started", "2025-02-01"),
    ];
    let start = day("2025-01-01");
    for offset in 0..120 {
        let on = start + chrono::Days::new(offset);
        let id = format!("d{offset}");
        if offset % 9 == 4 {
            continue; // nobody reported
        }
        if (on < day("2025-02-01") && offset % 3 == 0) || offset % 11 == 0 {
            entries.push(entry(&id, "use_observed", &on.to_string()));
            entries.push(entry(
                &format!("w{offset}"),
                "stepped_away",
                &on.to_string(),
            ));
        } else {
            entries.push(entry(&id, "clean_day_observed", &on.to_string()));
            if offset % 2 == 0 {
                entries.push(entry(
                    &format!("r{offset}"),
                    "reward_given",
                    &on.to_string(),
                ));
            }
        }
        if offset % 3 == 1 {
            entries.push(entry(
                &format!("p{offset}"),
                "positive_communication",
                &on.to_string(),
            ));
        }
    }
    let mut detox = entry("t1", "treatment_entered", "2025-03-10");
    detox.modality = Some("detox".into());
    let mut exit = entry("t2", "treatment_exited", "2025-03-17");
    exit.episode = Some("t1".into());
    exit.reason = Some("completed".into());
    entries.push(detox);
    entries.push(exit);
    entries.push(entry("u", "use_observed", "2025-03-20"));
    entries.push(entry("b", "communication_broken", "2025-01-20"));
    entries.push(entry("r", "communication_restored", "2025-01-24"));
    JourneyInput {
        key: "family-1".into(),
        entries,
    }
}

#[test]
fn every_chart_renders_as_svg_with_its_title_and_axis_labels() {
    let input = journey();
    let as_of = day("2025-04-30");
    let report = metrics(std::slice::from_ref(&input), as_of).expect("metrics");
    let m = &report.journeys[0];
    let marks = markers(&input, m, as_of);
    let kinds: Vec<MarkerKind> = marks.iter().map(|k| k.kind).collect();
    assert!(kinds.contains(&MarkerKind::TreatmentEntered));
    assert!(kinds.contains(&MarkerKind::RelapseAfterRehab), "{marks:?}");
    assert!(kinds.contains(&MarkerKind::CommunicationBroken));

    let calendar = svg(&Calendar {
        metrics: m,
        markers: &marks,
        last_months: None,
    })
    .expect("calendar");
    assert!(calendar.starts_with("<svg"));
    assert!(calendar.contains("Day by day"));
    for month in ["Jan 2025", "Feb 2025", "Mar 2025", "Apr 2025"] {
        assert!(calendar.contains(month), "{month}");
    }
    assert!(calendar.contains("CRAFT start"));
    // One square per day at least (plus the legend).
    assert!(calendar.matches("<rect").count() >= 120);

    // The timeline's calendar keeps only the last months.
    let last_two = svg(&Calendar {
        metrics: m,
        markers: &marks,
        last_months: Some(2),
    })
    .expect("calendar of the last two months");
    assert!(last_two.contains("Apr 2025") && last_two.contains("Mar 2025"));
    assert!(!last_two.contains("Jan 2025") && !last_two.contains("Feb 2025"));
    assert!(last_two.len() < calendar.len());

    let weekly = svg(&WeeklyChart { metrics: m }).expect("weekly");
    assert!(weekly.contains("days without use (%)"));
    assert!(weekly.contains("week (0 = first CRAFT week)"));
    assert!(weekly.contains("baseline  |  CRAFT"));

    let practice = svg(&PracticeChart { metrics: m }).expect("practice");
    assert!(practice.contains("rewards on days without use"));

    let association = svg(&AssociationChart { metrics: m }).expect("association");
    let expected = match m.association.spearman_rho {
        Some(rho) => format!("Spearman rho = {rho:.2}, {} pairs", m.association.pairs),
        None => format!("{} pairs", m.association.pairs),
    };
    assert!(association.contains(&expected), "{expected}");
    assert_eq!(
        AssociationChart { metrics: m }.pairs().len(),
        m.association.pairs
    );

    let cohort = svg(&CohortChart { report: &report }).expect("cohort");
    assert!(cohort.contains("days since CRAFT started"));
    assert!(cohort.contains("clinician-led trials"));
}

#[test]
fn png_draws_text_with_the_shipped_font() {
    let input = journey();
    let as_of = day("2025-04-30");
    let report = metrics(std::slice::from_ref(&input), as_of).expect("metrics");
    let dir = std::env::temp_dir().join(format!("journey-charts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("weekly.png");
    png(
        &WeeklyChart {
            metrics: &report.journeys[0],
        },
        &path,
    )
    .expect("png");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(bytes.len() > 10_000, "a chart, not an empty image");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reports_escape_what_came_from_users_and_explain_missing_figures() {
    let mut input = journey();
    input.key = "a<b>&\"c".into();
    let as_of = day("2025-02-10");
    let report = metrics(std::slice::from_ref(&input), as_of).expect("metrics");
    let m = &report.journeys[0];
    let header = Header {
        key: input.key.clone(),
        relationship: "parent".into(),
        substances: vec!["alcohol".into()],
        back: None,
        path: None,
    };
    let html = journey_html(&header, &input, m, None, as_of).expect("html");
    assert!(!html.contains("a<b>"), "the key is escaped");
    assert!(html.contains("a&lt;b&gt;&amp;"));
    // Only 2 CRAFT weeks by 2025-02-10: the comparison is not computed, and the report says why.
    assert_eq!(m.effect.reason, Some("too_few_weeks"));
    assert!(html.contains("The phases cannot be compared yet"));
    assert!(html.contains("Not computed: fewer than 3 weeks"));
    // Self-contained: no scripts, stylesheets, images or fonts fetched from elsewhere.
    for external in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
    let cohort = cohort_html(&report, "Cohort", false).expect("cohort");
    assert!(cohort.contains("a&lt;b&gt;"));
}

#[test]
fn a_period_report_is_a_pdf_with_its_charts_on_a4_and_letter() {
    let input = journey();
    let as_of = day("2025-02-10");
    let report = metrics(std::slice::from_ref(&input), as_of).expect("metrics");
    let m = &report.journeys[0];
    let header = Header {
        key: "k-1".into(),
        relationship: "parent".into(),
        substances: vec!["alcohol".into()],
        back: Some("/journeys".into()),
        path: Some("/journeys/k-1/report".into()),
    };
    let from = Some(day("2025-01-20"));
    let html = journey_html(&header, &input, m, from, as_of).expect("html");
    let html = html.replace("&#x2f;", "/");
    assert!(
        html.contains("This report shows 2025-01-20 to 2025-02-10"),
        "the period is said"
    );
    assert!(html.contains("From 2025-01-20 to 2025-02-10"));
    assert!(
        html.contains(r#"action="/journeys/k-1/report""#),
        "a form for the period"
    );
    assert!(html
        .contains("/journeys/k-1/report.pdf?from=2025-01-20&amp;to=2025-02-10&amp;paper=letter"));
    for paper in [Paper::A4, Paper::Letter] {
        let pdf = journey_pdf(&header, &input, m, from, as_of, paper).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        let text = String::from_utf8_lossy(&pdf);
        let (w, h) = paper.size();
        // Every page has the paper's MediaBox (krilla writes it as `[0 0 w h]`).
        let media = format!("/MediaBox[0 0 {w} {h}]");
        assert!(text.matches(&media).count() >= 2, "{media}");
        let other = if paper == Paper::A4 {
            "612 792"
        } else {
            "595.28"
        };
        assert!(!text.contains(other), "one paper only");
    }
}
