//! What a line of each `type` holds besides `journey`, `entry`, `by`, `on` and `type`: each
//! field, whether it must be given, and its check (interchange.md's tables).
//!
//! Each field's value is read on its own, by serde into the field's type in
//! [`Body`](crate::entry::Body), so a refusal is known to be about that field: nothing reads
//! the field back out of serde's message. `the_shapes_are_the_fields_serde_reads` (below)
//! checks this table against `Body`'s derive, field by field and type by type.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::entry::{
    Basis, Channel, Confidence, DayStatus, ExitReason, Found, Modality, Relationship, Response,
    Substance, Vocabulary,
};
use crate::names::is_key;

/// The longest accepted note, in characters.
pub const NOTE_CHARS_MAX: usize = 10_000;
/// The most minutes of self-care in one entry (a day).
pub const SELF_CARE_MINUTES_MAX: u16 = 1440;
/// The highest answer to one WHO-5 item ("all of the time").
pub const WHO5_ITEM_MAX: u64 = 5;

/// One field of a type: its name, whether a line must give it, and what its value must be
/// (the error says what is wrong with the value; the caller adds the field's name).
pub struct Field {
    pub name: &'static str,
    pub required: bool,
    pub check: fn(&Value) -> Result<(), String>,
}

const fn must(name: &'static str, check: fn(&Value) -> Result<(), String>) -> Field {
    Field {
        name,
        required: true,
        check,
    }
}

const fn may(name: &'static str, check: fn(&Value) -> Result<(), String>) -> Field {
    Field {
        name,
        required: false,
        check,
    }
}

/// The fields of entry type `type_name`; `None` when it is not an entry type.
pub fn fields_of(type_name: &str) -> Option<&'static [Field]> {
    Some(match type_name {
        "journey_started" => {
            const {
                &[
                    must("relationship", one_of::<Relationship>),
                    may("substances", list_of::<Substance>),
                ]
            }
        }
        "use_observed" => {
            const {
                &[
                    may("substances", list_of::<Substance>),
                    may("basis", maybe_one_of::<Basis>),
                    may("confidence", maybe_one_of::<Confidence>),
                ]
            }
        }
        "clean_day_observed" => {
            const {
                &[
                    may("basis", maybe_one_of::<Basis>),
                    may("confidence", maybe_one_of::<Confidence>),
                ]
            }
        }
        "day_status" => const { &[must("status", one_of::<DayStatus>)] },
        "check_in" => const { &[must("kept", boolean)] },
        "treatment_entered" => const { &[must("modality", one_of::<Modality>)] },
        "treatment_exited" => const { &[must("reason", one_of::<ExitReason>)] },
        "rescued" => const { &[may("for_safety", boolean)] },
        "positive_communication" => const { &[may("channel", maybe_one_of::<Channel>)] },
        "treatment_suggested" => const { &[must("response", one_of::<Response>)] },
        "safety_check" => const { &[may("found", maybe_one_of::<Found>)] },
        "self_care" => const { &[may("minutes", minutes)] },
        "note" => const { &[must("text", note_text)] },
        "wellbeing_checked" => const { &[must("who5", who5)] },
        "retract" => const { &[must("target", entry_id), may("reason", maybe_text)] },
        "craft_started"
        | "communication_broken"
        | "communication_restored"
        | "reward_given"
        | "reward_withdrawn"
        | "stepped_away"
        | "natural_consequence_allowed"
        | "treatment_enabled" => const { &[] },
        _ => return None,
    })
}

/// Whether serde reads `value` as a `T`.
fn reads_as<T: DeserializeOwned>(value: &Value) -> bool {
    T::deserialize(value).is_ok()
}

fn one_of<T: Vocabulary>(value: &Value) -> Result<(), String> {
    if reads_as::<T>(value) {
        return Ok(());
    }
    Err(format!("{value} is not one of {}", T::NAMES.join(", ")))
}

fn maybe_one_of<T: Vocabulary>(value: &Value) -> Result<(), String> {
    if reads_as::<Option<T>>(value) {
        return Ok(());
    }
    Err(format!("{value} is not one of {}", T::NAMES.join(", ")))
}

fn list_of<T: Vocabulary>(value: &Value) -> Result<(), String> {
    if reads_as::<Vec<T>>(value) {
        return Ok(());
    }
    match value.as_array() {
        Some(items) => {
            let bad = items
                .iter()
                .find(|item| !reads_as::<T>(item))
                .unwrap_or(value);
            Err(format!(
                "{bad} is not one of {} (a list of them)",
                T::NAMES.join(", ")
            ))
        }
        None => Err(format!("{value} is not a list of {}", T::NAMES.join(", "))),
    }
}

fn boolean(value: &Value) -> Result<(), String> {
    if reads_as::<bool>(value) {
        return Ok(());
    }
    Err(format!("{value} is not true or false"))
}

fn minutes(value: &Value) -> Result<(), String> {
    match Option::<u16>::deserialize(value) {
        Ok(minutes) if minutes.unwrap_or(0) <= SELF_CARE_MINUTES_MAX => Ok(()),
        _ => Err(format!(
            "{value} is outside 0-{SELF_CARE_MINUTES_MAX} (whole minutes)"
        )),
    }
}

fn note_text(value: &Value) -> Result<(), String> {
    let Ok(text) = String::deserialize(value) else {
        return Err(format!("{value} is not a string"));
    };
    let chars = text.chars().count();
    if chars == 0 || chars > NOTE_CHARS_MAX {
        return Err(format!(
            "must be 1-{NOTE_CHARS_MAX} characters, got {chars}"
        ));
    }
    Ok(())
}

fn maybe_text(value: &Value) -> Result<(), String> {
    if reads_as::<Option<String>>(value) {
        return Ok(());
    }
    Err(format!("{value} is not a string"))
}

fn entry_id(value: &Value) -> Result<(), String> {
    match value.as_str() {
        Some(id) if is_key(id) => Ok(()),
        Some(id) => Err(format!("{id:?} is not 1-64 of A-Z a-z 0-9 . _ -")),
        None => Err(format!("{value} is not a string")),
    }
}

/// Exactly 5 whole numbers, each 0-5 (the WHO-5's items in order).
fn who5(value: &Value) -> Result<(), String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("{value} is not an array of the 5 WHO-5 answers"))?;
    if items.len() != 5 {
        return Err(format!(
            "holds {} answers; the WHO-5 has exactly 5",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if item.as_u64().is_none_or(|n| n > WHO5_ITEM_MAX) {
            return Err(format!(
                "answer {} is {item}; each answer is a whole number 0-{WHO5_ITEM_MAX}",
                i + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fields_of;
    use crate::entry::Body;
    use serde::Deserialize;
    use serde_json::{json, Map, Value};

    /// A value the field takes (of `type_name`), and one it does not.
    fn sample(type_name: &str, field: &str) -> (Value, Value) {
        let good = match (type_name, field) {
            (_, "relationship") => json!("parent"),
            (_, "substances") => json!(["alcohol", "opioids"]),
            (_, "basis") => json!("witnessed"),
            (_, "confidence") => json!("high"),
            (_, "status") => json!("no_use"),
            (_, "kept") | (_, "for_safety") => json!(true),
            (_, "modality") => json!("outpatient"),
            ("treatment_exited", "reason") => json!("completed"),
            (_, "channel") => json!("call"),
            (_, "response") => json!("accepted"),
            (_, "found") => json!("safe"),
            (_, "minutes") => json!(30),
            (_, "text") => json!("a good day"),
            (_, "who5") => json!([3, 4, 2, 1, 5]),
            (_, "target") => json!("e1"),
            ("retract", "reason") => json!("typed on the wrong day"),
            other => panic!("no sample for {other:?}"),
        };
        (good, json!({"not": "a value of any field"}))
    }

    fn body(type_name: &str, fields: &[(&str, Value)]) -> Result<Body, serde_json::Error> {
        let mut object = Map::new();
        object.insert("type".into(), json!(type_name));
        for (name, value) in fields {
            object.insert((*name).into(), value.clone());
        }
        Body::deserialize(&Value::Object(object))
    }

    #[test]
    fn the_shapes_are_the_fields_serde_reads() {
        let every_field: Vec<&str> = Body::TYPE_NAMES
            .iter()
            .flat_map(|t| fields_of(t).expect("a shape for every type"))
            .map(|f| f.name)
            .collect();
        assert!(fields_of("party").is_none());
        for type_name in Body::TYPE_NAMES {
            let shape = fields_of(type_name).unwrap();
            let full: Vec<(&str, Value)> = shape
                .iter()
                .map(|f| (f.name, sample(type_name, f.name).0))
                .collect();
            // Every field given: serde reads it, and every check passes.
            body(type_name, &full).unwrap_or_else(|e| panic!("{type_name}: {e}"));
            for (f, (_, good)) in shape.iter().zip(&full) {
                assert_eq!((f.check)(good), Ok(()), "{type_name}.{}", f.name);
            }
            for (i, f) in shape.iter().enumerate() {
                // Without it: serde refuses exactly when the table says it must be given.
                let mut less = full.clone();
                less.remove(i);
                assert_eq!(
                    body(type_name, &less).is_err(),
                    f.required,
                    "{type_name} without {}",
                    f.name
                );
                // A value it does not take: the check and serde both refuse it.
                let bad = sample(type_name, f.name).1;
                let mut wrong = full.clone();
                wrong[i].1 = bad.clone();
                assert!((f.check)(&bad).is_err(), "{type_name}.{}", f.name);
                assert!(body(type_name, &wrong).is_err(), "{type_name}.{}", f.name);
            }
            // A field of another type: serde refuses it too (deny_unknown_fields).
            for other in every_field
                .iter()
                .filter(|n| !shape.iter().any(|f| f.name == **n))
            {
                let mut more = full.clone();
                more.push((other, json!("x")));
                assert!(body(type_name, &more).is_err(), "{type_name} with {other}");
            }
        }
    }

    #[test]
    fn a_value_serde_reads_can_still_be_outside_its_limits() {
        let minutes = fields_of("self_care").unwrap()[0].check;
        assert!(minutes(&json!(1440)).is_ok());
        assert!(minutes(&json!(1441)).unwrap_err().contains("0-1440"));
        assert!(minutes(&Value::Null).is_ok());
        let text = fields_of("note").unwrap()[0].check;
        assert!(text(&json!("")).unwrap_err().contains("got 0"));
        let target = fields_of("retract").unwrap()[0].check;
        assert!(target(&json!("a b")).unwrap_err().contains("\"a b\""));
    }
}
