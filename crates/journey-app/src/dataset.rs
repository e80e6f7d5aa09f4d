//! What the research dataset says about itself (`datapackage.json`, a Frictionless Data
//! Package, version 2): every table and column described in words that need no other
//! document (the definitions of the metrics specification are restated where a column
//! relies on them), every closed value set declared (`categories`, and `constraints.enum`
//! for validators of version 1), units stated, and what an empty cell means.

use journey_domain::entry::{
    Basis, Channel, Confidence, DayStatus, ExitReason, Found, Modality, Relationship, Response,
    Substance,
};
use journey_domain::Body;
use serde_json::{json, Value};

/// One column's description.
pub struct Field {
    pub description: String,
    /// `days`, `weeks`, `entries`, `minutes`, `fraction` (0-1), `percent` (0-100); none for
    /// text and flags.
    pub unit: Option<&'static str>,
    /// The closed set of values a cell may hold (an empty cell aside), if there is one.
    pub values: Option<Vec<String>>,
    /// A pattern every cell matches (lists of a closed set), if there is one.
    pub pattern: Option<String>,
}

fn text(description: &str) -> Field {
    Field {
        description: description.to_string(),
        unit: None,
        values: None,
        pattern: None,
    }
}

fn with_unit(description: &str, unit: &'static str) -> Field {
    Field {
        unit: Some(unit),
        ..text(description)
    }
}

fn closed(description: &str, values: &[&str]) -> Field {
    Field {
        values: Some(values.iter().map(|v| v.to_string()).collect()),
        ..text(description)
    }
}

/// A `;`-separated list of substance classes (sorted, each once), or one of `extra`.
fn substance_list(description: &str, extra: &[&str]) -> Field {
    let one = format!("({})", Substance::NAMES.join("|"));
    let mut alternatives = vec![format!("{one}(;{one})*")];
    alternatives.extend(extra.iter().map(|e| e.to_string()));
    Field {
        pattern: Some(format!("({})", alternatives.join("|"))),
        ..text(description)
    }
}

/// The entry types the `events` table holds: all but the journey's start (its attributes
/// are the quasi-identifiers, in `subjects`), notes (private free text) and retractions.
pub fn event_types() -> Vec<&'static str> {
    Body::TYPE_NAMES
        .into_iter()
        .filter(|t| !matches!(*t, "journey_started" | "note" | "retract"))
        .collect()
}

const REL_DAY: &str = "relative day: the number of days after the subject's anchor day (day 0), which is the day the family started practising CRAFT, or the journey's first day when it has no CRAFT start; negative days are before it. Calendar dates are never exported";

const WEEK_DAYS: &str =
    "counted over the week's days that lie between the journey's first day and the last day counted (`subjects.last_rel_day`)";

/// The description of `field` of `table`.
pub fn field(table: &str, field: &str) -> Field {
    let rate = |what: &str, over: &str| {
        with_unit(
            &format!("{what}, divided by the week's {over} days; empty when the week has no {over} day. A fraction from 0 to 1"),
            "fraction",
        )
    };
    let count = |what: &str| with_unit(&format!("number of {what}, {WEEK_DAYS}"), "days");
    match (table, field) {
        (_, "sid") => text("pseudonymous subject id (32 hexadecimal characters): HMAC-SHA256 of the journey's internal random id with a key kept for this project and never exported, first 16 bytes. Stable across exports of the same project name, unlinkable across projects. Never empty"),
        (_, "rel_day") => with_unit(&format!("the day this row is about, as a {REL_DAY}"), "days"),
        ("subjects", "relationship") => closed(
            "who the reporting family member is to the person they support, from the journey's start; 'suppressed' when fewer than k subjects of this export share the subject's combination of relationship and substances (disclosure control)",
            &[Relationship::NAMES, &["suppressed"]].concat(),
        ),
        ("subjects", "substances") => substance_list(
            "substance classes named at the journey's start, sorted and separated by ';' (e.g. 'alcohol;cannabis'); 'suppressed' under the same rule as `relationship`; empty when none was named",
            &["suppressed"],
        ),
        ("subjects", "craft_phase") => text("true when the family started practising CRAFT on or before the last day counted: the subject has baseline weeks (negative) and CRAFT weeks (0 and later); false when all its days are in one unnamed phase"),
        ("subjects", "first_rel_day") => with_unit(&format!("the journey's first day (when the family began recording), as a {REL_DAY}; negative when baseline days came before the CRAFT start, 0 when there is no CRAFT start"), "days"),
        ("subjects", "last_rel_day") => with_unit("the last day counted for this subject (the day the export was computed as of; that day's calendar date is withheld), as a relative day", "days"),
        ("subjects", "suppressed") => text("true when `relationship` and `substances` are suppressed (and the substances of this subject's `events` blanked) because fewer than k subjects of this export share their combination"),
        ("days", "status") => closed(
            "the day's status, the first that applies: 'use' when someone recorded use that day (use wins when reporters disagree); 'controlled' when the day lies in a detox or residential treatment episode (entered on or before the day, not yet exited); 'no_use' when someone recorded a day without use; 'unknown' when nobody reported on it (never read it as a day without use). Controlled days are left out of every rate",
            &["use", "no_use", "controlled", "unknown"],
        ),
        ("events", "type") => closed(
            "what the family recorded: use_observed, clean_day_observed (a day without use), day_status (a day marked use, no_use or unknown), check_in (an agreed check-in kept or missed), communication_broken/restored, treatment_entered/exited, and the family's CRAFT practice: reward_given (for a day without use), reward_withdrawn, stepped_away and natural_consequence_allowed (during use), rescued (shielding from a consequence of use), positive_communication, treatment_suggested, treatment_enabled, safety_check, self_care, wellbeing_checked (the family member's own WHO-5; its score is in `weeks.wellbeing`), craft_started. One row per entry that was not retracted",
            &event_types(),
        ),
        ("events", "basis") => closed("use_observed, clean_day_observed: how the reporter knows (witnessed, told, signs, third_party, test); empty when not given or for other types", Basis::NAMES),
        ("events", "confidence") => closed("use_observed, clean_day_observed: how sure the reporter is; empty when not given or for other types", Confidence::NAMES),
        ("events", "status") => closed("day_status: the status the reporter gave the day; empty for other types", DayStatus::NAMES),
        ("events", "modality") => closed("treatment_entered: the kind of treatment (detox, residential, outpatient, medication, mutual_help, other); empty for other types", Modality::NAMES),
        ("events", "reason") => closed("treatment_exited: how the episode ended; empty for other types", ExitReason::NAMES),
        ("events", "channel") => closed("positive_communication: how it was said; empty when not given or for other types", Channel::NAMES),
        ("events", "response") => closed("treatment_suggested: the person's answer to the suggestion of treatment; empty for other types", Response::NAMES),
        ("events", "found") => closed("safety_check: what the check found; empty when not given or for other types", Found::NAMES),
        ("events", "substances") => substance_list("use_observed: substance classes seen, sorted and separated by ';'; empty when none was named, for other types, or when the subject is suppressed (`subjects.suppressed`)", &[]),
        ("events", "kept") => text("check_in: true when the agreed check-in was kept, false when missed; empty for other types"),
        ("events", "for_safety") => text("rescued: true when the family stepped in because of a risk to safety (not counted against the practice); empty for other types"),
        ("events", "minutes") => with_unit("self_care: how long, in minutes; empty when not given or for other types", "minutes"),
        ("weeks", "week") => with_unit("week number w: the week covers the 7 days from relative day 7w, so week 0 is the first CRAFT week and negative weeks are baseline. A week is listed when at least one of its days lies between the journey's first day and the last day counted", "weeks"),
        ("weeks", "start_rel_day") => with_unit("relative day of the week's first day (7 x week), even when that day lies before the journey's first day", "days"),
        ("weeks", "phase") => closed("'baseline' for weeks before the CRAFT start (week < 0), 'craft' from it (week >= 0); empty when the subject has no CRAFT start", &["baseline", "craft"]),
        ("weeks", "days") => count("the week's days"),
        ("weeks", "use_days") => count("days with status 'use'"),
        ("weeks", "no_use_days") => count("days with status 'no_use'"),
        ("weeks", "unknown_days") => count("days with status 'unknown' (nobody reported)"),
        ("weeks", "controlled_days") => count("days with status 'controlled' (in detox or residential care)"),
        ("weeks", "known_days") => count("known days: use_days + no_use_days"),
        ("weeks", "pda") => with_unit("percent days abstinent, as a fraction from 0 to 1: no_use_days / known_days; empty when the week has no known day", "fraction"),
        ("weeks", "coverage") => with_unit("share of the week's days that are known: known_days / days, from 0 to 1. Read every rate of the week with it", "fraction"),
        ("weeks", "eligible") => text("true when the week has at least 4 known days (only such weeks enter the phase comparisons)"),
        ("weeks", "reward_rate") => rate("no_use days of the week with at least one reward_given that day", "no_use"),
        ("weeks", "withdraw_rate") => rate("use days with at least one reward_withdrawn, stepped_away or natural_consequence_allowed that day", "use"),
        ("weeks", "rescue_rate") => rate("use days with at least one rescued entry that was not for safety that day", "use"),
        ("weeks", "reward_on_use_days") => count("use days with a reward_given that day (reinforcing use: the opposite of CRAFT)"),
        ("weeks", "positive_communications") => with_unit("number of positive_communication entries dated in the week's days", "entries"),
        ("weeks", "self_care_days") => count("days with at least one self_care entry"),
        ("weeks", "practice") => with_unit("how closely the family practised CRAFT that week, from 0 to 1: the mean of those of reward_rate, withdraw_rate, 1 - rescue_rate and min(1, positive_communications / 3) that are not empty (the last never is)", "fraction"),
        ("weeks", "wellbeing") => with_unit("the family member's own wellbeing (not the person they support): the mean WHO-5 percentage score (4 x the sum of the five answers, each 0-5, so 0-100) of the wellbeing_checked entries dated in the week's days, whoever reported them; empty when there was none", "percent"),
        ("treatment_episodes", "start_rel_day") => with_unit("relative day the episode was entered (a treatment_entered entry)", "days"),
        ("treatment_episodes", "end_rel_day") => with_unit("relative day the episode was exited (the next treatment_exited entry); empty while the episode is open on the last day counted", "days"),
        ("treatment_episodes", "modality") => closed("the kind of treatment; days inside a detox or residential episode have status 'controlled'", Modality::NAMES),
        ("treatment_episodes", "reason") => closed("how the episode ended; empty while it is open", ExitReason::NAMES),
        (table, field) => panic!("the research dataset's column {table}.{field} has no description"),
    }
}

/// What one row of `table` is.
pub fn table_description(table: &str) -> &'static str {
    match table {
        "subjects" => "one row per subject (a journey whose family gave research consent), with the quasi-identifiers after disclosure control",
        "days" => "one row per subject and day, from the journey's first day to the last day counted: the day's status",
        "events" => "one row per entry the family recorded, except the journey's start, notes and retractions; retracted entries are left out. Each attribute column applies to the types its description names and is empty for the others",
        "weeks" => "one row per subject and week (weeks anchored on the CRAFT start): day counts by status, percent days abstinent, coverage, the CRAFT practice components and the family member's wellbeing",
        "treatment_episodes" => "one row per treatment episode: from a treatment_entered entry to the next treatment_exited one",
        other => panic!("the research dataset's table {other} has no description"),
    }
}

/// The primary key of `table`, if its rows have one.
fn primary_key(table: &str) -> Option<Value> {
    match table {
        "subjects" => Some(json!("sid")),
        "days" => Some(json!(["sid", "rel_day"])),
        "weeks" => Some(json!(["sid", "week"])),
        _ => None,
    }
}

/// The Table Schema of `table` with columns `columns` (name, Table Schema type), whose
/// `sid` refers to the resource `subjects` (itself aside).
pub fn schema(table: &str, columns: &[(&str, &str)], subjects: &str) -> Value {
    let fields: Vec<Value> = columns
        .iter()
        .map(|(name, kind)| {
            let described = field(table, name);
            let mut out = json!({"name": name, "type": kind, "description": described.description});
            if let Some(unit) = described.unit {
                out["unit"] = json!(unit);
            }
            if let Some(values) = &described.values {
                out["categories"] = json!(values);
                out["constraints"] = json!({ "enum": values });
            }
            if let Some(pattern) = &described.pattern {
                out["constraints"] = json!({ "pattern": pattern });
            }
            if *name == "sid" {
                let mut constraints = json!({"required": true, "pattern": "[0-9a-f]{32}"});
                if table == "subjects" {
                    constraints["unique"] = json!(true);
                }
                out["constraints"] = constraints;
            }
            out
        })
        .collect();
    let mut schema = json!({ "fields": fields, "missingValues": [""] });
    if let Some(key) = primary_key(table) {
        schema["primaryKey"] = key;
    }
    if table != "subjects" {
        schema["foreignKeys"] = json!([{
            "fields": ["sid"],
            "reference": { "resource": subjects, "fields": ["sid"] },
        }]);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_set_is_declared_both_ways_and_a_list_has_a_pattern() {
        let s = schema(
            "events",
            &[
                ("sid", "string"),
                ("modality", "string"),
                ("substances", "string"),
            ],
            "subjects-csv",
        );
        let modality = &s["fields"][1];
        assert_eq!(modality["categories"], json!(Modality::NAMES));
        assert_eq!(modality["constraints"]["enum"], json!(Modality::NAMES));
        let pattern = s["fields"][2]["constraints"]["pattern"].as_str().unwrap();
        assert!(pattern.contains("alcohol|cannabis"), "{pattern}");
        assert_eq!(s["foreignKeys"][0]["reference"]["resource"], "subjects-csv");
        assert!(
            s.get("primaryKey").is_none(),
            "an entry has no key of its own"
        );
    }

    #[test]
    fn no_description_sends_the_reader_to_a_document_outside_the_package() {
        let columns = [
            (
                "subjects",
                vec![
                    "sid",
                    "relationship",
                    "substances",
                    "craft_phase",
                    "first_rel_day",
                    "last_rel_day",
                    "suppressed",
                ],
            ),
            ("days", vec!["sid", "rel_day", "status"]),
            (
                "weeks",
                vec![
                    "week",
                    "pda",
                    "practice",
                    "wellbeing",
                    "reward_rate",
                    "coverage",
                ],
            ),
            (
                "events",
                vec!["type", "basis", "kept", "minutes", "substances"],
            ),
            (
                "treatment_episodes",
                vec!["start_rel_day", "end_rel_day", "modality", "reason"],
            ),
        ];
        for (table, fields) in columns {
            assert!(!table_description(table).is_empty());
            for name in fields {
                let d = field(table, name).description;
                assert!(!d.contains(".md"), "{table}.{name}: {d}");
                assert!(d.len() > 30, "{table}.{name}: {d}");
            }
        }
        assert!(!event_types().contains(&"note"));
        assert_eq!(event_types().len(), 20);
    }
}
