//! Stored event names and fields are a schema: these are frozen. A failing test here means a
//! change would make stored events unreadable; add a field with a default instead.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use journey_domain::interchange::parse_line;
use journey_domain::{Body, JourneyEvent, Recorded, RelapseAfterRehab};
use serde_json::{json, Value};

fn at() -> DateTime<Utc> {
    "2025-03-10T08:30:00Z".parse().unwrap()
}

fn recorded(line: &str, episode: Option<&str>) -> JourneyEvent {
    let line = parse_line(line).unwrap();
    JourneyEvent::EntryRecorded(Recorded {
        recorded_at: at(),
        episode: episode.map(String::from),
        entry: line.entry,
    })
}

/// (interchange line, stored event_type, stored payload)
fn cases() -> Vec<(&'static str, &'static str, Value)> {
    let r = "2025-03-10T08:30:00Z";
    vec![
        (
            r#"{"journey":"j","entry":"e","by":"mom","type":"journey_started","on":"2025-03-01","relationship":"parent","substances":["alcohol","opioids"]}"#,
            "JourneyStarted",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-01", "by": "mom", "type": "journey_started", "relationship": "parent", "substances": ["alcohol", "opioids"]}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"craft_started","on":"2025-03-02"}"#,
            "CraftStarted",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "craft_started"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"use_observed","on":"2025-03-02","substances":["cannabis"],"basis":"third_party","confidence":"low"}"#,
            "UseObserved",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "use_observed", "substances": ["cannabis"], "basis": "third_party", "confidence": "low"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"clean_day_observed","on":"2025-03-02","basis":"witnessed","confidence":"high"}"#,
            "CleanDayObserved",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "clean_day_observed", "basis": "witnessed", "confidence": "high"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"day_status","on":"2025-03-02","status":"no_use"}"#,
            "DayStatusRecorded",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "day_status", "status": "no_use"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"check_in","on":"2025-03-02","kept":true}"#,
            "CheckInRecorded",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "check_in", "kept": true}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"wellbeing_checked","on":"2025-03-02","by":"mum","who5":[3,4,2,1,5]}"#,
            "WellbeingChecked",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "by": "mum", "type": "wellbeing_checked", "who5": [3, 4, 2, 1, 5]}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"communication_broken","on":"2025-03-02"}"#,
            "CommunicationBroken",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "communication_broken"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"communication_restored","on":"2025-03-02"}"#,
            "CommunicationRestored",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "communication_restored"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"treatment_entered","on":"2025-03-02","modality":"mutual_help"}"#,
            "TreatmentEntered",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "treatment_entered", "modality": "mutual_help"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"reward_given","on":"2025-03-02"}"#,
            "RewardGiven",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "reward_given"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"reward_withdrawn","on":"2025-03-02"}"#,
            "RewardWithdrawn",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "reward_withdrawn"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"stepped_away","on":"2025-03-02"}"#,
            "SteppedAway",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "stepped_away"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"natural_consequence_allowed","on":"2025-03-02"}"#,
            "NaturalConsequenceAllowed",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "natural_consequence_allowed"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"rescued","on":"2025-03-02","for_safety":true}"#,
            "Rescued",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "rescued", "for_safety": true}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"positive_communication","on":"2025-03-02","channel":"in_person"}"#,
            "PositiveCommunicationGiven",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "positive_communication", "channel": "in_person"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"treatment_suggested","on":"2025-03-02","response":"no_response"}"#,
            "TreatmentSuggested",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "treatment_suggested", "response": "no_response"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"treatment_enabled","on":"2025-03-02"}"#,
            "TreatmentEnabled",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "treatment_enabled"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"safety_check","on":"2025-03-02","found":"not_found"}"#,
            "SafetyChecked",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "safety_check", "found": "not_found"}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"self_care","on":"2025-03-02","minutes":45}"#,
            "SelfCareTaken",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "self_care", "minutes": 45}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"note","on":"2025-03-02","text":"A calm call."}"#,
            "NoteWritten",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "on": "2025-03-02", "type": "note", "text": "A calm call."}}),
        ),
        (
            r#"{"journey":"j","entry":"e","type":"retract","target":"x","reason":"typo"}"#,
            "EntryRetracted",
            json!({"EntryRecorded": {"recorded_at": r, "entry": "e", "type": "retract", "target": "x", "reason": "typo"}}),
        ),
    ]
}

#[test]
fn every_entry_event_keeps_its_stored_name_and_fields() {
    for (line, name, payload) in cases() {
        let event = recorded(line, None);
        assert_eq!(event.event_type(), name, "{line}");
        assert_eq!(event.event_version(), "1");
        assert_eq!(serde_json::to_value(&event).unwrap(), payload, "{line}");
        let back: JourneyEvent = serde_json::from_value(payload).unwrap();
        assert_eq!(back, event, "{line}");
    }
}

#[test]
fn a_treatment_exit_keeps_the_episode_it_closes() {
    let line = r#"{"journey":"j","entry":"x","type":"treatment_exited","on":"2025-03-09","reason":"left_early"}"#;
    let event = recorded(line, Some("e"));
    let payload = json!({"EntryRecorded": {"recorded_at": "2025-03-10T08:30:00Z", "episode": "e", "entry": "x", "on": "2025-03-09", "type": "treatment_exited", "reason": "left_early"}});
    assert_eq!(event.event_type(), "TreatmentExited");
    assert_eq!(serde_json::to_value(&event).unwrap(), payload);
    assert_eq!(
        serde_json::from_value::<JourneyEvent>(payload).unwrap(),
        event
    );
}

#[test]
fn a_relapse_after_rehab_keeps_its_stored_name_and_fields() {
    let day = |d: &str| d.parse::<NaiveDate>().unwrap();
    let event = JourneyEvent::RelapseAfterRehab(RelapseAfterRehab {
        episode: "e".into(),
        modality: journey_domain::entry::Modality::Detox,
        exited: day("2025-03-09"),
        use_entry: "u".into(),
        on: day("2025-03-12"),
        days_since_exit: 3,
    });
    let payload = json!({"RelapseAfterRehab": {"episode": "e", "modality": "detox", "exited": "2025-03-09", "use_entry": "u", "on": "2025-03-12", "days_since_exit": 3}});
    assert_eq!(event.event_type(), "RelapseAfterRehab");
    assert_eq!(serde_json::to_value(&event).unwrap(), payload);
    assert_eq!(
        serde_json::from_value::<JourneyEvent>(payload).unwrap(),
        event
    );
}

#[test]
fn the_golden_cases_cover_every_line_type() {
    let mut types: Vec<String> = cases()
        .iter()
        .map(|(line, _, _)| parse_line(line).unwrap().entry.body.type_name().to_string())
        .collect();
    types.push("treatment_exited".into());
    types.sort();
    types.dedup();
    let mut names: Vec<String> = Body::TYPE_NAMES.iter().map(|n| n.to_string()).collect();
    names.sort();
    assert_eq!(types, names, "Body::TYPE_NAMES lists every type once");
}

#[test]
fn a_research_consent_keeps_its_stored_name_and_fields() {
    let granted = JourneyEvent::ResearchConsent(journey_domain::ResearchConsent {
        granted: true,
        text_version: "v1".into(),
        recorded_at: at(),
    });
    let payload = json!({"ResearchConsent": {"granted": true, "text_version": "v1", "recorded_at": "2025-03-10T08:30:00Z"}});
    assert_eq!(granted.event_type(), "ResearchConsentGranted");
    assert_eq!(serde_json::to_value(&granted).unwrap(), payload);
    assert_eq!(
        serde_json::from_value::<JourneyEvent>(payload).unwrap(),
        granted
    );
    let withdrawn = JourneyEvent::ResearchConsent(journey_domain::ResearchConsent {
        granted: false,
        text_version: "v1".into(),
        recorded_at: at(),
    });
    assert_eq!(withdrawn.event_type(), "ResearchConsentWithdrawn");
}

#[test]
fn an_erasure_keeps_its_stored_name_and_fields() {
    let erased = JourneyEvent::JourneyErased(journey_domain::Erased { recorded_at: at() });
    let payload = json!({"JourneyErased": {"recorded_at": "2025-03-10T08:30:00Z"}});
    assert_eq!(erased.event_type(), "JourneyErased");
    assert_eq!(serde_json::to_value(&erased).unwrap(), payload);
    assert_eq!(
        serde_json::from_value::<JourneyEvent>(payload).unwrap(),
        erased
    );
}
