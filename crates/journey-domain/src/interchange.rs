//! The journey event file (JSON Lines), `shared/spec/interchange.md`: one line in, one line out.
//!
//! Only the checks that need nothing but the line itself live here (shape, fields, values).
//! Rules that need the journey's history (order, episodes, retracts) are the aggregate's.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::entry::{Body, Entry};
pub use crate::ids::{assign_ids, derived_id, DerivedIds};
use crate::names::is_key;
pub use crate::text::unpaired_surrogate;
use crate::text::{holds_nul, holds_nul_value, mark_lone_surrogates};

/// The longest accepted note, in characters.
pub const NOTE_CHARS_MAX: usize = 10_000;
/// The longest accepted `by` handle, in characters.
pub const BY_CHARS_MAX: usize = 64;
/// The most minutes of self-care in one entry (a day).
pub const SELF_CARE_MINUTES_MAX: u16 = 1440;
/// The highest answer to one WHO-5 item ("all of the time").
pub const WHO5_ITEM_MAX: u64 = 5;

/// One parsed line: an entry of the journey with key `journey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The caller's key of the journey.
    pub journey: String,
    /// The entry; `entry.entry` is empty when the line carried no id (see [`assign_ids`]).
    pub entry: Entry,
}

/// Why a line is not a valid interchange line: the field it is about (none when the line
/// is not a JSON object at all) and a message that names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LineError {}

/// Parses one line of a journey file. The error names the field and the value.
pub fn parse_line(text: &str) -> Result<Line, LineError> {
    if text.starts_with('\u{feff}') {
        return Err(LineError {
            field: None,
            message: "starts with a byte-order mark (U+FEFF): save the file as UTF-8 without a BOM"
                .into(),
        });
    }
    // Unpaired surrogates become U+0000, so that the NUL check below names their field.
    let (text, escapes) = mark_lone_surrogates(text);
    let text = text.as_ref();
    // An object is read as its fields in order, so that a field given twice is refused
    // (JSON leaves it open; a silent "last one wins" would store what nobody checked).
    let value: Value = match serde_json::from_str::<Fields>(text) {
        Ok(Fields(fields)) => {
            let mut map = Map::with_capacity(fields.len());
            for (name, field) in fields {
                if map.contains_key(&name) {
                    return Err(LineError {
                        message: format!("field `{name}` appears twice in the line"),
                        field: Some(name),
                    });
                }
                map.insert(name, field);
            }
            Value::Object(map)
        }
        Err(_) => serde_json::from_str(text).map_err(|e| LineError {
            field: None,
            message: format!("not JSON: {e}"),
        })?,
    };
    let Value::Object(map) = &value else {
        return Err(LineError {
            field: None,
            message: "not a JSON object".into(),
        });
    };
    // PostgreSQL refuses U+0000 in text and jsonb: refused here, with the field, so that it
    // is bad input and never a failure of storage (interchange.md version 2).
    for (name, field) in map {
        if holds_nul(name) || holds_nul_value(field) {
            return Err(LineError {
                field: Some(name.replace('\0', "\\u0000")),
                message: format!(
                    "field `{}`: holds {}",
                    name.replace('\0', "\\u0000"),
                    escapes.what()
                ),
            });
        }
    }
    parse_object(map.clone()).map_err(|message| LineError {
        field: Some(field_of(&message, &value)),
        message,
    })
}

/// A JSON object's fields in the order given, duplicates kept.
struct Fields(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(pair) = map.next_entry::<String, Value>()? {
                    fields.push(pair);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// The field an error of [`parse_object`] is about: named by the message (`field `x``,
/// `missing field `x``, `unknown field `x``, as this module and serde write them), or the
/// field holding the value of an `unknown variant`.
fn field_of(why: &str, object: &Value) -> String {
    let quoted = |marker: &str| {
        why.find(marker)
            .map(|at| &why[at + marker.len()..])
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    if let Some(name) = quoted("field `") {
        return name;
    }
    if let Some(value) = quoted("unknown variant `") {
        let holds = |v: &Value| match v {
            Value::String(s) => *s == value,
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(value.as_str())),
            _ => false,
        };
        if let Some(map) = object.as_object() {
            if map.get("type").is_some_and(holds) {
                return "type".into();
            }
            if let Some((name, _)) = map.iter().find(|(_, v)| holds(v)) {
                return name.clone();
            }
        }
    }
    if why.starts_with("type ") {
        if let Some(map) = object.as_object() {
            if let Some(name) = why
                .split('`')
                .skip(1)
                .step_by(2)
                .find(|token| map.contains_key(*token))
            {
                return name.to_string();
            }
        }
    }
    "entry".into()
}

/// The message of a body serde refused. serde names the field of a missing or unknown
/// field, but not the one of a value of the wrong type or outside its vocabulary (the
/// body is an internally tagged enum, read as a whole): that field is found by removing
/// fields one at a time until the body reads or only misses it.
fn refused_body(type_name: &str, object: &Value, e: serde_json::Error) -> String {
    let why = e.to_string();
    if why.starts_with("missing field `") || why.starts_with("unknown field `") {
        return format!("type {type_name:?}: {why}");
    }
    let map = object.as_object().expect("an object");
    let culprit = map.keys().filter(|k| *k != "type").find(|name| {
        let mut less = map.clone();
        less.remove(*name);
        match Body::deserialize(&Value::Object(less)) {
            Ok(_) => true,
            Err(e) => e.to_string() == format!("missing field `{name}`"),
        }
    });
    match culprit {
        Some(name) => format!("field `{name}`: {} ({why})", map[name]),
        None => format!("field `type`: {type_name:?}: {why}"),
    }
}

fn parse_object(mut map: Map<String, Value>) -> Result<Line, String> {
    let journey = take_string(&mut map, "journey")?.ok_or("missing field `journey`")?;
    if !is_key(&journey) {
        return Err(format!(
            "field `journey`: {journey:?} is not 1-64 of A-Z a-z 0-9 . _ -"
        ));
    }
    let entry = take_string(&mut map, "entry")?;
    if let Some(id) = &entry {
        if !is_key(id) {
            return Err(format!(
                "field `entry`: {id:?} is not 1-64 of A-Z a-z 0-9 . _ -"
            ));
        }
    }
    let by = take_string(&mut map, "by")?;
    if let Some(by) = &by {
        let chars = by.chars().count();
        if chars == 0 || chars > BY_CHARS_MAX {
            return Err(format!("field `by`: must be 1-{BY_CHARS_MAX} characters"));
        }
    }
    let on = match take_string(&mut map, "on")? {
        Some(day) => Some(parse_day(&day)?),
        None => None,
    };
    let type_name = match map.get("type") {
        Some(Value::String(name)) => name.clone(),
        Some(other) => return Err(format!("field `type`: {other} is not a string")),
        None => return Err("missing field `type`".into()),
    };
    if type_name == "wellbeing_checked" {
        check_who5(map.get("who5"))?;
    }
    let object = Value::Object(map);
    let body = Body::deserialize(&object).map_err(|e| refused_body(&type_name, &object, e))?;
    check_values(&body)?;
    match (&body, on) {
        (Body::Retract { .. }, Some(_)) => {
            return Err("field `on`: a retract has no `on` (it applies to its target)".into())
        }
        (Body::Retract { .. }, None) => {}
        (_, None) => return Err("missing field `on`".into()),
        _ => {}
    }
    Ok(Line {
        journey,
        entry: Entry {
            entry: entry.unwrap_or_default(),
            on,
            by,
            body,
        },
    })
}

/// `who5` of a `wellbeing_checked`: exactly 5 integers, each 0-5 (checked before serde, whose
/// message would not say what a WHO-5 answer may be).
fn check_who5(value: Option<&Value>) -> Result<(), String> {
    let Some(value) = value else {
        return Err("missing field `who5`".into());
    };
    let items = value
        .as_array()
        .ok_or_else(|| format!("field `who5`: {value} is not an array of the 5 WHO-5 answers"))?;
    if items.len() != 5 {
        return Err(format!(
            "field `who5`: holds {} answers; the WHO-5 has exactly 5",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if item.as_u64().is_none_or(|n| n > WHO5_ITEM_MAX) {
            return Err(format!(
                "field `who5`: answer {} is {item}; each answer is a whole number 0-{WHO5_ITEM_MAX}",
                i + 1
            ));
        }
    }
    Ok(())
}

fn take_string(map: &mut Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match map.remove(field) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(format!("field `{field}`: {other} is not a string")),
    }
}

/// A `YYYY-MM-DD` day, exactly.
pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let day = shape_ok
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten();
    day.ok_or_else(|| format!("field `on`: {text:?} is not a date YYYY-MM-DD"))
}

fn check_values(body: &Body) -> Result<(), String> {
    match body {
        Body::Note { text } => {
            let chars = text.chars().count();
            if chars == 0 || chars > NOTE_CHARS_MAX {
                return Err(format!(
                    "field `text`: must be 1-{NOTE_CHARS_MAX} characters, got {chars}"
                ));
            }
        }
        Body::SelfCare {
            minutes: Some(minutes),
        } if *minutes > SELF_CARE_MINUTES_MAX => {
            return Err(format!(
                "field `minutes`: {minutes} is outside 0-{SELF_CARE_MINUTES_MAX}"
            ));
        }
        Body::Retract { target, .. } if !is_key(target) => {
            return Err(format!(
                "field `target`: {target:?} is not 1-64 of A-Z a-z 0-9 . _ -"
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Writes an entry of journey `journey` as one interchange line (no trailing newline).
pub fn to_line(journey: &str, entry: &Entry) -> String {
    let mut object = Map::new();
    object.insert("journey".into(), Value::String(journey.into()));
    let body = serde_json::to_value(entry).expect("an entry always serializes");
    let Value::Object(fields) = body else {
        unreachable!("an entry serializes to an object")
    };
    for (key, value) in fields {
        object.insert(key, value);
    }
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_field_given_twice_is_refused_with_its_name() {
        let err = super::parse_line(
            r#"{"journey":"k","type":"reward_given","on":"2025-01-02","on":"2025-01-03"}"#,
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("on"));
        assert!(err.message.contains("twice"), "{err:?}");
    }

    #[test]
    fn a_byte_order_mark_is_named() {
        let err = super::parse_line(
            "\u{feff}{\"journey\":\"k\",\"type\":\"reward_given\",\"on\":\"2025-01-02\"}",
        )
        .unwrap_err();
        assert!(err.message.contains("byte-order mark"), "{err:?}");
        // Not JSON at all is still "not JSON", and an array still "not a JSON object".
        assert!(super::parse_line("{")
            .unwrap_err()
            .message
            .starts_with("not JSON"));
        assert_eq!(
            super::parse_line("[1]").unwrap_err().message,
            "not a JSON object"
        );
    }

    use super::*;
    use crate::entry::{DayStatus, Relationship};

    #[test]
    fn a_full_line_parses_into_its_entry() {
        let line = parse_line(r#"{"journey":"a","type":"day_status","on":"2025-03-06","status":"no_use","by":"dad","entry":"e1"}"#).unwrap();
        assert_eq!(line.journey, "a");
        assert_eq!(line.entry.entry, "e1");
        assert_eq!(line.entry.by.as_deref(), Some("dad"));
        assert_eq!(
            line.entry.body,
            Body::DayStatus {
                status: DayStatus::NoUse
            }
        );
    }

    #[test]
    fn a_nul_character_is_refused_with_its_field() {
        for (line, field) in [
            (
                r#"{"journey":"a","type":"note","on":"2025-03-06","text":"hi\u0000there"}"#,
                "text",
            ),
            (
                r#"{"journey":"a","type":"reward_given","on":"2025-03-06","by":"\u0000"}"#,
                "by",
            ),
            (
                r#"{"journey":"a","type":"retract","target":"x","reason":"oops\u0000"}"#,
                "reason",
            ),
            (
                r#"{"journey":"a\u0000","type":"reward_given","on":"2025-03-06"}"#,
                "journey",
            ),
        ] {
            let err = parse_line(line).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{line}: {err}");
            assert!(err.message.contains("NUL"), "{err}");
        }
    }

    #[test]
    fn an_unknown_field_is_named() {
        let err =
            parse_line(r#"{"journey":"a","type":"reward_given","on":"2025-03-06","colour":"red"}"#)
                .unwrap_err();
        assert!(err.message.contains("colour"), "{err}");
        assert_eq!(err.field.as_deref(), Some("colour"));
    }

    #[test]
    fn an_unknown_field_in_a_typed_line_is_named() {
        let err = parse_line(r#"{"journey":"a","type":"journey_started","on":"2025-03-06","relationship":"parent","mood":"ok"}"#).unwrap_err();
        assert!(err.message.contains("mood"), "{err}");
        assert_eq!(err.field.as_deref(), Some("mood"));
    }

    #[test]
    fn an_unknown_type_is_named() {
        let err = parse_line(r#"{"journey":"a","type":"party","on":"2025-03-06"}"#).unwrap_err();
        assert!(err.message.contains("party"), "{err}");
        assert_eq!(err.field.as_deref(), Some("type"));
    }

    #[test]
    fn a_value_outside_its_list_is_named() {
        let err = parse_line(
            r#"{"journey":"a","type":"journey_started","on":"2025-03-06","relationship":"cousin"}"#,
        )
        .unwrap_err();
        assert!(err.message.contains("cousin"), "{err}");
        assert_eq!(err.field.as_deref(), Some("relationship"));
    }

    #[test]
    fn bad_dates_are_refused() {
        for day in ["2025-02-30", "2025-3-4", "25-03-04", "2025-03-04T00:00"] {
            let text = format!(r#"{{"journey":"a","type":"reward_given","on":"{day}"}}"#);
            let err = parse_line(&text).unwrap_err();
            assert!(err.message.contains("on"), "{day}: {err}");
            assert_eq!(err.field.as_deref(), Some("on"), "{day}");
        }
    }

    #[test]
    fn a_retract_has_no_day_and_every_other_line_has_one() {
        assert!(parse_line(r#"{"journey":"a","type":"retract","target":"x"}"#).is_ok());
        assert!(
            parse_line(r#"{"journey":"a","type":"retract","target":"x","on":"2025-01-01"}"#)
                .is_err()
        );
        let err = parse_line(r#"{"journey":"a","type":"reward_given"}"#).unwrap_err();
        assert!(err.message.contains("`on`"), "{err}");
        assert_eq!(err.field.as_deref(), Some("on"));
        let not_json = parse_line("{").unwrap_err();
        assert_eq!(not_json.field, None, "{not_json}");
    }

    #[test]
    fn limits_on_values_are_enforced() {
        assert!(parse_line(
            r#"{"journey":"a","type":"self_care","on":"2025-01-01","minutes":1441}"#
        )
        .is_err());
        assert!(
            parse_line(r#"{"journey":"a","type":"self_care","on":"2025-01-01","minutes":-1}"#)
                .is_err()
        );
        assert!(
            parse_line(r#"{"journey":"a","type":"note","on":"2025-01-01","text":""}"#).is_err()
        );
        assert!(
            parse_line(r#"{"journey":"a b","type":"note","on":"2025-01-01","text":"x"}"#).is_err()
        );
        assert!(parse_line(
            r#"{"journey":"a","type":"note","on":"2025-01-01","text":"x","by":""}"#
        )
        .is_err());
        assert!(parse_line("[1]").is_err());
        assert!(parse_line("{").is_err());
    }

    #[test]
    fn a_wellbeing_check_holds_exactly_five_answers_of_0_to_5() {
        let line = |who5: &str| {
            parse_line(&format!(
                r#"{{"journey":"a","entry":"w1","type":"wellbeing_checked","on":"2025-01-01","by":"mum","who5":{who5}}}"#
            ))
        };
        let ok = line("[3,4,2,1,5]").unwrap();
        assert_eq!(
            ok.entry.body,
            Body::WellbeingChecked {
                who5: [3, 4, 2, 1, 5]
            }
        );
        assert_eq!(ok.entry.body.who5_score(), Some(60));
        assert_eq!(
            line("[5,5,5,5,5]").unwrap().entry.body.who5_score(),
            Some(100)
        );
        for (bad, says) in [
            ("[3,4,2,1]", "holds 4 answers"),
            ("[3,4,2,1,5,0]", "holds 6 answers"),
            ("[3,4,6,1,5]", "answer 3 is 6"),
            ("[3,4,-1,1,5]", "answer 3 is -1"),
            ("[3,4,2.5,1,5]", "answer 3 is 2.5"),
            ("[3,4,\"2\",1,5]", "answer 3 is \"2\""),
            ("3", "not an array"),
        ] {
            let err = line(bad).unwrap_err();
            assert!(err.message.contains(says), "{bad}: {err}");
            assert_eq!(err.field.as_deref(), Some("who5"), "{bad}: {err}");
        }
        let missing = parse_line(r#"{"journey":"a","type":"wellbeing_checked","on":"2025-01-01"}"#)
            .unwrap_err();
        assert_eq!(missing.field.as_deref(), Some("who5"), "{missing}");
        let written = to_line("a", &ok.entry);
        assert_eq!(parse_line(&written).unwrap(), ok);
    }

    #[test]
    fn identical_lines_get_distinct_stable_ids() {
        let text = r#"{"journey":"a","type":"reward_given","on":"2025-01-01"}"#;
        let mut first = parse_line(text).unwrap();
        let mut second = parse_line(text).unwrap();
        assign_ids([(text, &mut first), (text, &mut second)]);
        assert_ne!(first.entry.entry, second.entry.entry);
        let mut again = parse_line(text).unwrap();
        assign_ids([(text, &mut again)]);
        assert_eq!(again.entry.entry, first.entry.entry);
        assert!(is_key(&first.entry.entry));
    }

    #[test]
    fn a_line_written_back_parses_to_the_same_entry() {
        let text = r#"{"journey":"k","type":"journey_started","on":"2025-01-01","relationship":"partner","substances":["alcohol","opioids"],"entry":"s"}"#;
        let line = parse_line(text).unwrap();
        assert!(matches!(
            line.entry.body,
            Body::JourneyStarted {
                relationship: Relationship::Partner,
                ..
            }
        ));
        let back = parse_line(&to_line("k", &line.entry)).unwrap();
        assert_eq!(back, line);
    }
}
