//! What a family member does on a phone: record a day in a few taps (the quick entry), read
//! the day back as the whole family recorded it, and take care after a return to use; the
//! figures in family words. The form's rules live here; the pages are in `timeline.rs`.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use journey_analytics::{JourneyInput, JourneyMetrics, Status};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// What the "what I did" boxes record (form name = entry type), in the order they are saved.
pub const ACTIONS: [&str; 10] = [
    "reward_given",
    "reward_withdrawn",
    "stepped_away",
    "natural_consequence_allowed",
    "rescued",
    "positive_communication",
    "treatment_suggested",
    "treatment_enabled",
    "safety_check",
    "self_care",
];

/// A detail that says its action happened, so it is saved with it even when the action's
/// own box was not ticked (a detail is never dropped silently): detail field, action.
const DETAILS: [(&str, &str); 5] = [
    ("for_safety", "rescued"),
    ("channel", "positive_communication"),
    ("response", "treatment_suggested"),
    ("found", "safety_check"),
    ("minutes", "self_care"),
];

/// The form as typed: field -> value (every field a text; boxes are "on" when ticked).
pub type Typed = HashMap<String, String>;

/// Problems with a form, by field, in plain words.
pub type Problems = Vec<(String, String)>;

fn one_of(
    typed: &Typed,
    field: &str,
    allowed: &[&str],
    problems: &mut Problems,
    words: &str,
) -> Option<String> {
    let value = typed
        .get(field)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())?;
    if allowed.contains(&value) {
        Some(value.to_string())
    } else {
        problems.push((
            field.into(),
            format!("{words} ({value:?} is not one of the choices)."),
        ));
        None
    }
}

/// The day a quick entry is for: a day picked in the calendar wins, else Today or Yesterday.
pub fn day_of(typed: &Typed, today: NaiveDate, problems: &mut Problems) -> Option<NaiveDate> {
    if let Some(picked) = typed.get("on").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        return match NaiveDate::parse_from_str(picked, "%Y-%m-%d") {
            Ok(day) => Some(day),
            Err(_) => {
                problems.push((
                    "on".into(),
                    format!("{picked:?} is not a day on the calendar. Pick the day again."),
                ));
                None
            }
        };
    }
    match typed.get("day").map(String::as_str).unwrap_or("today") {
        "yesterday" => today.checked_sub_days(Days::new(1)),
        "today" | "" => Some(today),
        other => {
            problems.push((
                "day".into(),
                format!("{other:?} is not Today or Yesterday."),
            ));
            None
        }
    }
}

/// The interchange objects a quick entry stands for, by `by` on journey `key`, or every
/// problem of the form in plain words, each with its field.
pub fn objects(
    key: &str,
    by: &str,
    typed: &Typed,
    today: NaiveDate,
) -> Result<(NaiveDate, Vec<Value>), Problems> {
    let mut problems = Problems::new();
    let day = day_of(typed, today, &mut problems);
    let on = day.map(|d| d.to_string()).unwrap_or_default();
    let object = |kind: &str, extra: Value| -> Value {
        let mut map = Map::new();
        map.insert("journey".into(), json!(key));
        map.insert("type".into(), json!(kind));
        map.insert("on".into(), json!(on));
        map.insert("by".into(), json!(by));
        map.insert(
            "entry".into(),
            json!(format!("w-{}", uuid::Uuid::new_v4().simple())),
        );
        if let Value::Object(extra) = extra {
            map.extend(extra);
        }
        Value::Object(map)
    };
    let field = |name: &str| typed.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut out = Vec::new();
    let saw = one_of(
        typed,
        "saw",
        &["use", "no_use", "unsure", "no_answer"],
        &mut problems,
        "Choose No use, Use or Not sure",
    );
    match saw.as_deref() {
        Some("use") => out.push(object("use_observed", json!({}))),
        Some("no_use") => out.push(object("clean_day_observed", json!({}))),
        Some("unsure") => out.push(object("day_status", json!({ "status": "unknown" }))),
        // The form of version 1 asked "did not answer the check-in" here.
        Some("no_answer") => out.push(object("check_in", json!({ "kept": false }))),
        _ => {}
    }
    match one_of(
        typed,
        "check_in",
        &["kept", "not_kept"],
        &mut problems,
        "Choose kept or not kept",
    )
    .as_deref()
    {
        Some("kept") => out.push(object("check_in", json!({ "kept": true }))),
        Some(_) => out.push(object("check_in", json!({ "kept": false }))),
        None => {}
    }
    match one_of(
        typed,
        "contact",
        &["broken", "restored"],
        &mut problems,
        "Choose broken off or back in touch",
    )
    .as_deref()
    {
        Some("broken") => out.push(object("communication_broken", json!({}))),
        Some(_) => out.push(object("communication_restored", json!({}))),
        None => {}
    }
    let modality = one_of(
        typed,
        "modality",
        &[
            "detox",
            "residential",
            "outpatient",
            "medication",
            "mutual_help",
            "other",
        ],
        &mut problems,
        "Choose the kind of treatment",
    );
    let reason = one_of(
        typed,
        "exit_reason",
        &["completed", "left_early", "discharged", "other"],
        &mut problems,
        "Choose how the treatment ended",
    );
    let treatment = one_of(
        typed,
        "treatment",
        &["entered", "exited"],
        &mut problems,
        "Choose began or ended",
    )
    // A detail says which (never dropped): the kind alone means it began.
    .or_else(|| match (&modality, &reason) {
        (Some(_), None) => Some("entered".into()),
        (None, Some(_)) => Some("exited".into()),
        _ => None,
    });
    match treatment.as_deref() {
        Some("entered") => match &modality {
            Some(m) => out.push(object("treatment_entered", json!({ "modality": m }))),
            None => problems.push((
                "modality".into(),
                "Choose the kind of treatment that began (detox, residential, ...).".into(),
            )),
        },
        Some(_) => match &reason {
            Some(r) => out.push(object("treatment_exited", json!({ "reason": r }))),
            None => problems.push((
                "exit_reason".into(),
                "Choose how the treatment ended (completed, left early, ...).".into(),
            )),
        },
        None if modality.is_some() && reason.is_some() => problems.push((
            "treatment".into(),
            "Choose whether treatment began or ended that day.".into(),
        )),
        None => {}
    }
    let implied: Vec<&str> = DETAILS
        .iter()
        .filter(|(detail, _)| field(detail).is_some())
        .map(|(_, action)| *action)
        .collect();
    for kind in ACTIONS {
        if field(kind).is_none() && !implied.contains(&kind) {
            continue;
        }
        let extra = match kind {
            "rescued" => json!({ "for_safety": field("for_safety").is_some() }),
            "treatment_suggested" => {
                let answer = one_of(
                    typed,
                    "response",
                    &["accepted", "declined", "deferred", "no_response"],
                    &mut problems,
                    "Choose their answer",
                );
                json!({ "response": answer.unwrap_or_else(|| "no_response".into()) })
            }
            "positive_communication" => match one_of(
                typed,
                "channel",
                &["text", "call", "in_person", "other"],
                &mut problems,
                "Choose how you sent it",
            ) {
                Some(channel) => json!({ "channel": channel }),
                None => json!({}),
            },
            "safety_check" => match one_of(
                typed,
                "found",
                &["safe", "unsafe", "not_found"],
                &mut problems,
                "Choose what you found",
            ) {
                Some(found) => json!({ "found": found }),
                None => json!({}),
            },
            "self_care" => match field("minutes") {
                None => json!({}),
                Some(text) => match text.parse::<u16>() {
                    Ok(minutes) if minutes <= 1440 => json!({ "minutes": minutes }),
                    _ => {
                        problems.push((
                            "minutes".into(),
                            format!("Minutes are a whole number from 0 to 1440 (a day); {text:?} is not."),
                        ));
                        json!({})
                    }
                },
            },
            _ => json!({}),
        };
        out.push(object(kind, extra));
    }
    if let Some(note) = field("note") {
        if note.chars().count() > 10_000 {
            problems.push((
                "note".into(),
                "The note is longer than 10,000 characters; shorten it a little.".into(),
            ));
        }
        out.push(object("note", json!({ "text": note })));
    }
    if out.is_empty() && problems.is_empty() {
        problems.push((
            "saw".into(),
            "Nothing to save yet: choose what you saw, what you did, or write a note.".into(),
        ));
    }
    match (day, problems.is_empty()) {
        (Some(day), true) => Ok((day, out)),
        _ => Err(problems),
    }
}

/// A rule of the journey that a saved form broke, in plain words, with the form field it is
/// about (the store's message names the rule; `start` is the journey's first day).
pub fn plain_rule(field: &str, message: &str, start: NaiveDate) -> (String, String) {
    let (field, words) = if message.contains("before the journey's start") {
        (
            "on",
            format!(
                "That day is before this journey began ({start}). Pick that day or a later one."
            ),
        )
    } else if message.contains("after today") {
        (
            "on",
            "That day has not come yet. Pick today or an earlier day.".to_string(),
        )
    } else if message.contains("already open since") {
        let since = message
            .split("since ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .unwrap_or("earlier");
        ("treatment", format!("Treatment that began on {since} is still recorded as going on. Record that it ended first, then the new one."))
    } else if message.contains("no treatment episode open") {
        ("treatment", "No treatment is recorded as going on, so it cannot end. Record when it began first (choose \u{201c}Began\u{201d}).".to_string())
    } else if message.contains("is before its treatment_entered") {
        (
            "treatment",
            "The treatment began after that day, so it cannot have ended then.".to_string(),
        )
    } else if message.contains("erased") {
        (
            "saw",
            "This journey was erased; nothing more can be saved to it.".to_string(),
        )
    } else {
        (
            if field == "body" || field == "type" {
                "saw"
            } else {
                field
            },
            message.to_string(),
        )
    };
    (field.to_string(), words)
}

/// One entry as the day's recap lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RecapLine {
    pub what: String,
    pub by: String,
}

/// The day as everyone in the family recorded it, and whether they disagree about use.
#[derive(Debug, Clone, Serialize)]
pub struct Recap {
    pub day: String,
    pub lines: Vec<RecapLine>,
    /// Who recorded use and who recorded no use that day, when both were recorded.
    pub disagree: Option<(String, String)>,
    /// Use was recorded that day.
    pub use_seen: bool,
    pub contact_broken: bool,
}

/// The recap of `day` from its entries (retracted ones left out).
pub fn recap(day: NaiveDate, entries: &[journey_app::TimelineEntry]) -> Recap {
    let mut lines = Vec::new();
    let (mut use_by, mut no_use_by): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut contact_broken = false;
    for e in entries.iter().filter(|e| !e.retracted) {
        let by = e.by.clone().unwrap_or_else(|| "someone".into());
        let status = e.fields.get("status").and_then(Value::as_str);
        match (e.kind.as_str(), status) {
            ("use_observed", _) | ("day_status", Some("use")) => use_by.push(by.clone()),
            ("clean_day_observed", _) | ("day_status", Some("no_use")) => {
                no_use_by.push(by.clone())
            }
            ("communication_broken", _) => contact_broken = true,
            _ => {}
        }
        let details = crate::entry_words::details(&e.kind, &e.fields);
        let what = if details.is_empty() {
            crate::entry_words::label(&e.kind).to_string()
        } else {
            format!("{}: {details}", crate::entry_words::label(&e.kind))
        };
        lines.push(RecapLine { what, by });
    }
    let names = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v.join(", ")
    };
    let use_seen = !use_by.is_empty();
    let disagree = (use_seen && !no_use_by.is_empty()).then(|| (names(use_by), names(no_use_by)));
    Recap {
        day: day.to_string(),
        lines,
        disagree,
        use_seen,
        contact_broken,
    }
}

/// What the care text after a return to use says the family has already: it is not square one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Care {
    pub craft_start: Option<String>,
    /// Days without use since CRAFT began (or since the journey began, without CRAFT).
    pub no_use_days: i64,
    pub longest_streak: i64,
    /// Days in treatment, every episode counted up to its end (or today).
    pub treatment_days: i64,
    /// Use on or after the end of a detox or residential stay in the last 14 days.
    pub after_rehab: bool,
    pub contact_broken: bool,
    /// (words, count) of what the family practised, most first.
    pub practised: Vec<(String, usize)>,
}

/// The care facts of a journey.
pub fn care(input: &JourneyInput, m: &JourneyMetrics, as_of: NaiveDate) -> Care {
    let since = m.craft_start.unwrap_or(m.start);
    let no_use_days = m
        .days
        .iter()
        .enumerate()
        .filter(|(offset, s)| **s == Status::NoUse && m.start + Days::new(*offset as u64) >= since)
        .count() as i64;
    let treatment_days = m
        .treatment
        .iter()
        .map(|t| {
            (t.exited.unwrap_or(as_of) - t.entered).num_days().max(0)
                + i64::from(t.exited.is_none())
        })
        .sum();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for e in &input.entries {
        if !e.retracted && e.on.is_some_and(|on| on >= since && on <= as_of) {
            *counts.entry(e.kind.as_str()).or_default() += 1;
        }
    }
    let mut practised: Vec<(String, usize)> = [
        ("reward_given", "rewards for a day without use"),
        ("positive_communication", "positive messages"),
        ("stepped_away", "times you stepped away"),
        ("reward_withdrawn", "rewards held back during use"),
        ("natural_consequence_allowed", "consequences you let happen"),
        ("treatment_suggested", "suggestions of treatment"),
        ("self_care", "times you looked after yourself"),
    ]
    .iter()
    .filter_map(|(kind, words)| counts.get(kind).map(|n| (words.to_string(), *n)))
    .collect();
    practised.sort_by_key(|p| std::cmp::Reverse(p.1));
    Care {
        craft_start: m.craft_start.map(|d| d.to_string()),
        no_use_days,
        longest_streak: m.milestones.longest_no_use_streak,
        treatment_days,
        after_rehab: m.attention.recent_use_after_rehab,
        contact_broken: m.attention.contact_broken,
        practised,
    }
}

/// "Is it helping?" in a tired parent's words: days without use before and since CRAFT, over
/// the days someone wrote down, with how many that was. Never "caused".
pub fn helping(m: &JourneyMetrics) -> Vec<String> {
    let count = |from: Option<NaiveDate>, to: Option<NaiveDate>| {
        let (mut no_use, mut known) = (0i64, 0i64);
        for (offset, status) in m.days.iter().enumerate() {
            let day = m.start + Days::new(offset as u64);
            if from.is_some_and(|f| day < f) || to.is_some_and(|t| day >= t) {
                continue;
            }
            match status {
                Status::NoUse => (no_use, known) = (no_use + 1, known + 1),
                Status::Use => known += 1,
                _ => {}
            }
        }
        (no_use, known)
    };
    let days = |n: i64| {
        if n == 1 {
            "1 day".to_string()
        } else {
            format!("{n} days")
        }
    };
    let mut out = Vec::new();
    let Some(craft) = m.craft_start else {
        let (no_use, known) = count(None, None);
        if known == 0 {
            out.push("Nobody has written down yet how a day went. Each day you record makes this picture clearer.".into());
        } else {
            out.push(format!(
                "Of the {} someone wrote down, {} without use.",
                days(known),
                if no_use == 1 {
                    "1 was".to_string()
                } else {
                    format!("{no_use} were")
                }
            ));
        }
        return out;
    };
    let (before_no, before_known) = count(None, Some(craft));
    let (since_no, since_known) = count(Some(craft), None);
    let share = |no: i64, known: i64| (no as f64 / known as f64 * 100.0).round() as i64;
    if before_known > 0 {
        out.push(format!(
            "Before you began CRAFT: {before_no} of the {} someone wrote down were without use ({}%).",
            days(before_known),
            share(before_no, before_known)
        ));
    }
    if since_known > 0 {
        out.push(format!(
            "Since you began on {craft}: {since_no} of the {} someone wrote down were without use ({}%).",
            days(since_known),
            share(since_no, since_known)
        ));
    } else {
        out.push(format!(
            "Since you began CRAFT on {craft}, nobody has written down yet how a day went."
        ));
    }
    if before_known > 0 && since_known > 0 {
        let (before, since) = (share(before_no, before_known), share(since_no, since_known));
        out.push(if since > before {
            "More days are without use since you began. That lines up with what you practise; many things play a part, so it does not show what caused it.".into()
        } else if since < before {
            "Fewer days are without use since you began. Hard stretches are part of many journeys; what you practise still counts.".into()
        } else {
            "About the same share of days is without use as before. Change often comes slowly; what you practise still counts.".into()
        });
    }
    out
}
