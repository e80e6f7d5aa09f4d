//! Given/when/then: every rule of the interchange spec, the accepted and the refused case.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;
use journey_domain::entry::Modality;
use journey_domain::interchange::parse_line;
use journey_domain::{
    Journey, JourneyCommand, JourneyError, JourneyEvent, MemoryLookup, Recorded, RelapseAfterRehab,
};

const ID: &str = "journey-1";

fn now() -> DateTime<Utc> {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// An event recording `line` (an interchange object without `journey`).
fn ev(line: &str) -> JourneyEvent {
    ev_closing(line, None)
}

fn ev_closing(line: &str, episode: Option<&str>) -> JourneyEvent {
    let text = format!(r#"{{"journey":"j",{}"#, &line[1..]);
    JourneyEvent::EntryRecorded(Recorded {
        recorded_at: now(),
        episode: episode.map(String::from),
        entry: parse_line(&text).unwrap().entry,
    })
}

fn cmd(line: &str) -> JourneyCommand {
    let text = format!(r#"{{"journey":"j",{}"#, &line[1..]);
    JourneyCommand::Record {
        journey_id: ID.into(),
        entry: parse_line(&text).unwrap().entry,
        recorded_at: now(),
    }
}

fn given(events: Vec<JourneyEvent>) -> cqrs_es::test::AggregateTestExecutor<Journey> {
    let lookup = Arc::new(MemoryLookup::from_events(ID, &events));
    TestFramework::<Journey>::with(lookup).given(events)
}

fn started() -> Vec<JourneyEvent> {
    vec![ev(
        r#"{"entry":"s","type":"journey_started","on":"2025-03-01","relationship":"parent"}"#,
    )]
}

fn with(mut events: Vec<JourneyEvent>, more: &[&str]) -> Vec<JourneyEvent> {
    events.extend(more.iter().map(|line| ev(line)));
    events
}

#[test]
fn a_journey_starts_with_journey_started() {
    let line =
        r#"{"entry":"s","type":"journey_started","on":"2025-03-01","relationship":"parent"}"#;
    given(vec![])
        .when(cmd(line))
        .then_expect_events(vec![ev(line)]);
}

#[test]
fn nothing_comes_before_journey_started() {
    given(vec![])
        .when(cmd(
            r#"{"entry":"u","type":"use_observed","on":"2025-03-01"}"#,
        ))
        .then_expect_error(JourneyError::NotStarted);
}

#[test]
fn a_journey_starts_once() {
    given(started())
        .when(cmd(
            r#"{"entry":"s2","type":"journey_started","on":"2025-03-02","relationship":"friend"}"#,
        ))
        .then_expect_error(JourneyError::AlreadyStarted(day("2025-03-01")));
}

#[test]
fn an_entry_on_the_start_day_is_accepted_and_one_before_is_refused() {
    let line = r#"{"entry":"u","type":"use_observed","on":"2025-03-01"}"#;
    given(started())
        .when(cmd(line))
        .then_expect_events(vec![ev(line)]);
    given(started())
        .when(cmd(
            r#"{"entry":"u","type":"use_observed","on":"2025-02-28"}"#,
        ))
        .then_expect_error(JourneyError::BeforeStart {
            on: day("2025-02-28"),
            start: day("2025-03-01"),
        });
}

#[test]
fn a_day_up_to_tomorrow_is_accepted_and_later_is_refused() {
    let line = r#"{"entry":"u","type":"clean_day_observed","on":"2025-06-02"}"#;
    given(started())
        .when(cmd(line))
        .then_expect_events(vec![ev(line)]);
    given(started())
        .when(cmd(
            r#"{"entry":"u","type":"clean_day_observed","on":"2025-06-03"}"#,
        ))
        .then_expect_error(JourneyError::InTheFuture {
            on: day("2025-06-03"),
            today: day("2025-06-01"),
        });
}

#[test]
fn craft_starts_at_most_once_unless_retracted() {
    let craft = r#"{"entry":"c","type":"craft_started","on":"2025-03-10"}"#;
    let again = r#"{"entry":"c2","type":"craft_started","on":"2025-03-11"}"#;
    given(started())
        .when(cmd(craft))
        .then_expect_events(vec![ev(craft)]);
    given(with(started(), &[craft]))
        .when(cmd(again))
        .then_expect_error(JourneyError::CraftAlreadyStarted(day("2025-03-10")));
    given(with(
        started(),
        &[craft, r#"{"entry":"r","type":"retract","target":"c"}"#],
    ))
    .when(cmd(again))
    .then_expect_events(vec![ev(again)]);
}

#[test]
fn one_treatment_episode_is_open_at_a_time() {
    let enter =
        r#"{"entry":"t1","type":"treatment_entered","on":"2025-03-10","modality":"outpatient"}"#;
    let second =
        r#"{"entry":"t2","type":"treatment_entered","on":"2025-03-12","modality":"detox"}"#;
    given(started())
        .when(cmd(enter))
        .then_expect_events(vec![ev(enter)]);
    given(with(started(), &[enter]))
        .when(cmd(second))
        .then_expect_error(JourneyError::EpisodeOpen {
            since: day("2025-03-10"),
            entry: "t1".into(),
        });
}

#[test]
fn an_exit_closes_the_open_episode_and_needs_one() {
    let enter =
        r#"{"entry":"t1","type":"treatment_entered","on":"2025-03-10","modality":"outpatient"}"#;
    let exit = r#"{"entry":"x1","type":"treatment_exited","on":"2025-03-20","reason":"completed"}"#;
    given(with(started(), &[enter]))
        .when(cmd(exit))
        .then_expect_events(vec![ev_closing(exit, Some("t1"))]);
    given(started())
        .when(cmd(exit))
        .then_expect_error(JourneyError::NoOpenEpisode);
}

#[test]
fn an_exit_before_its_entry_is_refused() {
    let enter =
        r#"{"entry":"t1","type":"treatment_entered","on":"2025-03-10","modality":"outpatient"}"#;
    given(with(started(), &[enter]))
        .when(cmd(
            r#"{"entry":"x1","type":"treatment_exited","on":"2025-03-09","reason":"completed"}"#,
        ))
        .then_expect_error(JourneyError::ExitBeforeEntry {
            entered: day("2025-03-10"),
            exited: day("2025-03-09"),
        });
}

#[test]
fn the_same_entry_again_stores_nothing_and_a_different_one_with_its_id_is_refused() {
    let line = r#"{"entry":"u","type":"use_observed","on":"2025-03-05"}"#;
    given(with(started(), &[line]))
        .when(cmd(line))
        .then_expect_events(vec![]);
    given(with(started(), &[line]))
        .when(cmd(
            r#"{"entry":"u","type":"use_observed","on":"2025-03-06"}"#,
        ))
        .then_expect_error(JourneyError::DuplicateEntry("u".into()));
}

#[test]
fn a_retract_needs_an_earlier_entry_of_the_journey() {
    let use_line = r#"{"entry":"u","type":"use_observed","on":"2025-03-05"}"#;
    let retract = r#"{"entry":"r","type":"retract","target":"u","reason":"wrong day"}"#;
    given(with(started(), &[use_line]))
        .when(cmd(retract))
        .then_expect_events(vec![ev(retract)]);
    given(started())
        .when(cmd(retract))
        .then_expect_error(JourneyError::UnknownTarget("u".into()));
}

#[test]
fn an_entry_is_retracted_once() {
    let use_line = r#"{"entry":"u","type":"use_observed","on":"2025-03-05"}"#;
    let retract = r#"{"entry":"r","type":"retract","target":"u"}"#;
    given(with(started(), &[use_line, retract]))
        .when(cmd(r#"{"entry":"r2","type":"retract","target":"u"}"#))
        .then_expect_error(JourneyError::AlreadyRetracted("u".into()));
}

#[test]
fn journey_started_and_retracts_cannot_be_retracted() {
    given(started())
        .when(cmd(r#"{"entry":"r","type":"retract","target":"s"}"#))
        .then_expect_error(JourneyError::StartNotRetractable);
    let use_line = r#"{"entry":"u","type":"use_observed","on":"2025-03-05"}"#;
    given(with(
        started(),
        &[use_line, r#"{"entry":"r","type":"retract","target":"u"}"#],
    ))
    .when(cmd(r#"{"entry":"r2","type":"retract","target":"r"}"#))
    .then_expect_error(JourneyError::RetractNotRetractable("r".into()));
}

#[test]
fn a_treatment_entry_with_a_standing_exit_cannot_be_retracted() {
    let enter =
        r#"{"entry":"t1","type":"treatment_entered","on":"2025-03-10","modality":"outpatient"}"#;
    let exit = r#"{"entry":"x1","type":"treatment_exited","on":"2025-03-20","reason":"completed"}"#;
    let mut events = with(started(), &[enter]);
    events.push(ev_closing(exit, Some("t1")));
    given(events.clone())
        .when(cmd(r#"{"entry":"r","type":"retract","target":"t1"}"#))
        .then_expect_error(JourneyError::EpisodeHasExit {
            target: "t1".into(),
            exit: "x1".into(),
        });
    events.push(ev(r#"{"entry":"r","type":"retract","target":"x1"}"#));
    let retract_entry = r#"{"entry":"r2","type":"retract","target":"t1"}"#;
    given(events)
        .when(cmd(retract_entry))
        .then_expect_events(vec![ev(retract_entry)]);
}

#[test]
fn retracting_an_exit_reopens_its_episode() {
    let enter =
        r#"{"entry":"t1","type":"treatment_entered","on":"2025-03-10","modality":"outpatient"}"#;
    let exit = r#"{"entry":"x1","type":"treatment_exited","on":"2025-03-20","reason":"completed"}"#;
    let mut events = with(started(), &[enter]);
    events.push(ev_closing(exit, Some("t1")));
    events.push(ev(r#"{"entry":"r","type":"retract","target":"x1"}"#));
    given(events)
        .when(cmd(
            r#"{"entry":"t2","type":"treatment_entered","on":"2025-03-25","modality":"detox"}"#,
        ))
        .then_expect_error(JourneyError::EpisodeOpen {
            since: day("2025-03-10"),
            entry: "t1".into(),
        });
}

#[test]
fn the_first_use_after_rehab_records_a_relapse_after_rehab() {
    let enter =
        r#"{"entry":"t1","type":"treatment_entered","on":"2025-03-10","modality":"residential"}"#;
    let exit = r#"{"entry":"x1","type":"treatment_exited","on":"2025-04-09","reason":"completed"}"#;
    let mut events = with(started(), &[enter]);
    events.push(ev_closing(exit, Some("t1")));
    let use_line = r#"{"entry":"u","type":"day_status","on":"2025-04-20","status":"use"}"#;
    let relapse = JourneyEvent::RelapseAfterRehab(RelapseAfterRehab {
        episode: "t1".into(),
        modality: Modality::Residential,
        exited: day("2025-04-09"),
        use_entry: "u".into(),
        on: day("2025-04-20"),
        days_since_exit: 11,
    });
    given(events.clone())
        .when(cmd(use_line))
        .then_expect_events(vec![ev(use_line), relapse.clone()]);
    events.push(ev(use_line));
    events.push(relapse);
    let second_use = r#"{"entry":"u2","type":"use_observed","on":"2025-04-22"}"#;
    given(events)
        .when(cmd(second_use))
        .then_expect_events(vec![ev(second_use)]);
}

#[test]
fn a_use_after_outpatient_care_is_no_relapse_after_rehab() {
    let enter =
        r#"{"entry":"t1","type":"treatment_entered","on":"2025-03-10","modality":"outpatient"}"#;
    let exit = r#"{"entry":"x1","type":"treatment_exited","on":"2025-04-09","reason":"completed"}"#;
    let mut events = with(started(), &[enter]);
    events.push(ev_closing(exit, Some("t1")));
    let use_line = r#"{"entry":"u","type":"use_observed","on":"2025-04-20"}"#;
    given(events)
        .when(cmd(use_line))
        .then_expect_events(vec![ev(use_line)]);
}

fn consent(granted: bool, version: &str) -> JourneyCommand {
    JourneyCommand::Consent {
        granted,
        text_version: version.into(),
        recorded_at: now(),
    }
}

fn consented(granted: bool, version: &str) -> JourneyEvent {
    JourneyEvent::ResearchConsent(journey_domain::ResearchConsent {
        granted,
        text_version: version.into(),
        recorded_at: now(),
    })
}

#[test]
fn consent_is_granted_and_withdrawn_on_a_started_journey_only() {
    given(vec![])
        .when(consent(true, "v1"))
        .then_expect_error(JourneyError::NotStarted);
    given(started())
        .when(consent(true, "v1"))
        .then_expect_events(vec![consented(true, "v1")]);
    given(with(started(), &[]))
        .when(consent(true, ""))
        .then_expect_error(JourneyError::BadConsentVersion(String::new()));
    let mut history = started();
    history.push(consented(true, "v1"));
    given(history.clone())
        .when(consent(false, "v1"))
        .then_expect_events(vec![consented(false, "v1")]);
    // The same decision again stores nothing; a new text version is a new decision.
    given(history.clone())
        .when(consent(true, "v1"))
        .then_expect_events(vec![]);
    given(history)
        .when(consent(true, "v2"))
        .then_expect_events(vec![consented(true, "v2")]);
}

fn erased() -> JourneyEvent {
    JourneyEvent::JourneyErased(journey_domain::Erased { recorded_at: now() })
}

#[test]
fn an_erased_journey_takes_no_command() {
    given(vec![])
        .when(JourneyCommand::Erase { recorded_at: now() })
        .then_expect_error(JourneyError::NotStarted);
    given(started())
        .when(JourneyCommand::Erase { recorded_at: now() })
        .then_expect_events(vec![erased()]);
    let mut history = started();
    history.push(erased());
    let line = r#"{"entry":"n","type":"note","on":"2025-03-11","text":"again"}"#;
    given(history.clone())
        .when(cmd(line))
        .then_expect_error(JourneyError::Erased);
    given(history.clone())
        .when(consent(true, "v1"))
        .then_expect_error(JourneyError::Erased);
    given(history)
        .when(JourneyCommand::Erase { recorded_at: now() })
        .then_expect_error(JourneyError::Erased);
}
