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

/// The longest accepted `by` handle, in characters.
pub const BY_CHARS_MAX: usize = 64;
pub use shape::{NOTE_CHARS_MAX, SELF_CARE_MINUTES_MAX, WHO5_ITEM_MAX};

mod shape;

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
    let Value::Object(map) = value else {
        return Err(LineError {
            field: None,
            message: "not a JSON object".into(),
        });
    };
    // PostgreSQL refuses U+0000 in text and jsonb: refused here, with the field, so that it
    // is bad input and never a failure of storage (interchange.md version 2).
    for (name, field) in &map {
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
    parse_object(map)
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

/// A refusal about field `field`.
fn refuse(field: &str, message: String) -> LineError {
    LineError {
        field: Some(field.into()),
        message,
    }
}

fn parse_object(mut map: Map<String, Value>) -> Result<Line, LineError> {
    let journey = take_string(&mut map, "journey")?
        .ok_or_else(|| refuse("journey", "missing field `journey`".into()))?;
    if !is_key(&journey) {
        return Err(refuse(
            "journey",
            format!("field `journey`: {journey:?} is not 1-64 of A-Z a-z 0-9 . _ -"),
        ));
    }
    let entry = take_string(&mut map, "entry")?;
    if let Some(id) = &entry {
        if !is_key(id) {
            return Err(refuse(
                "entry",
                format!("field `entry`: {id:?} is not 1-64 of A-Z a-z 0-9 . _ -"),
            ));
        }
    }
    let by = take_string(&mut map, "by")?;
    if let Some(by) = &by {
        let chars = by.chars().count();
        if chars == 0 || chars > BY_CHARS_MAX {
            return Err(refuse(
                "by",
                format!("field `by`: must be 1-{BY_CHARS_MAX} characters"),
            ));
        }
    }
    let on = match take_string(&mut map, "on")? {
        Some(day) => Some(parse_day(&day).map_err(|message| refuse("on", message))?),
        None => None,
    };
    let type_name = match map.get("type") {
        Some(Value::String(name)) => name.clone(),
        Some(other) => {
            return Err(refuse(
                "type",
                format!("field `type`: {other} is not a string"),
            ))
        }
        None => return Err(refuse("type", "missing field `type`".into())),
    };
    // The type's own fields, each checked on its own (`shape`), so that the field of a
    // refusal is known where it is made.
    let Some(fields) = shape::fields_of(&type_name) else {
        return Err(refuse(
            "type",
            format!(
                "field `type`: {type_name:?} is not an entry type (one of {})",
                Body::TYPE_NAMES.join(", ")
            ),
        ));
    };
    if let Some(name) = map
        .keys()
        .find(|name| *name != "type" && !fields.iter().any(|f| f.name == *name))
    {
        let takes: Vec<String> = ["journey", "entry", "by", "on", "type"]
            .iter()
            .copied()
            .filter(|common| *common != "on" || type_name != "retract")
            .chain(fields.iter().map(|f| f.name))
            .map(|n| format!("`{n}`"))
            .collect();
        return Err(refuse(
            name,
            format!(
                "unknown field `{name}`: a {type_name:?} line takes {}",
                takes.join(", ")
            ),
        ));
    }
    for field in fields {
        match map.get(field.name) {
            None if field.required => {
                return Err(refuse(
                    field.name,
                    format!(
                        "missing field `{}` (a {type_name:?} line needs it)",
                        field.name
                    ),
                ))
            }
            None => {}
            Some(value) => (field.check)(value)
                .map_err(|why| refuse(field.name, format!("field `{}`: {why}", field.name)))?,
        }
    }
    // Every field passed its own check, so serde reads the body (the shapes are tested
    // against `Body`'s derive); were they ever to disagree, the line is still refused.
    let body = Body::deserialize(&Value::Object(map))
        .map_err(|e| refuse("type", format!("type {type_name:?}: {e}")))?;
    match (&body, on) {
        (Body::Retract { .. }, Some(_)) => {
            return Err(refuse(
                "on",
                "field `on`: a retract has no `on` (it applies to its target)".into(),
            ))
        }
        (Body::Retract { .. }, None) => {}
        (_, None) => return Err(refuse("on", "missing field `on`".into())),
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

fn take_string(map: &mut Map<String, Value>, field: &str) -> Result<Option<String>, LineError> {
    match map.remove(field) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(refuse(
            field,
            format!("field `{field}`: {other} is not a string"),
        )),
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
