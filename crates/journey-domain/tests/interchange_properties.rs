//! Property tests of the interchange parser: arbitrary text and bytes, and valid lines of
//! every type (taken from the fixtures) with one mutation each. The parser never panics;
//! every refusal says something; a refusal of a JSON object names a field and the message
//! names it too; and a broken field of a valid line is the field the refusal names.
//! (The line number is the import's: `tests/bad_input.rs`.)

use std::collections::BTreeMap;

use journey_domain::interchange::parse_line;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// One valid line of every type in the fixtures (the first one seen with the most fields).
fn seeds() -> &'static [Map<String, Value>] {
    static SEEDS: std::sync::OnceLock<Vec<Map<String, Value>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(read_seeds)
}

fn read_seeds() -> Vec<Map<String, Value>> {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
    let mut by_type: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for file in std::fs::read_dir(folder).expect("the fixtures") {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            assert!(parse_line(line).is_ok(), "a fixture line parses: {line}");
            let kind = map["type"].as_str().unwrap().to_string();
            if by_type.get(&kind).is_none_or(|seen| seen.len() < map.len()) {
                by_type.insert(kind, map);
            }
        }
    }
    assert!(
        by_type.len() >= 20,
        "the fixtures hold most types: {:?}",
        by_type.keys()
    );
    by_type.into_values().collect()
}

/// Any JSON value, small.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("2025-02-30"),
            Just("2025-13-01"),
            Just("2025-1-1"),
            Just("9999-12-31"),
            Just("use"),
            Just("parent"),
            Just("detox"),
            Just(""),
            Just("a b"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, Value),
    Remove(usize),
    Add(String, Value),
    /// The line's text cut after this many characters.
    Cut(usize),
    /// A character put in the line's text at this character position.
    Insert(usize, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0..16usize, value()).prop_map(|(i, v)| Mutation::Set(i, v)),
        2 => (0..16usize).prop_map(Mutation::Remove),
        1 => ("[a-z_]{1,10}", value()).prop_map(|(k, v)| Mutation::Add(k, v)),
        1 => (0..200usize).prop_map(Mutation::Cut),
        1 => (0..200usize, any::<char>()).prop_map(|(i, c)| Mutation::Insert(i, c)),
    ]
}

/// Checks what every refusal must say; for a JSON object, that it names a field.
fn check_refusal(text: &str) -> Result<(), TestCaseError> {
    let Err(err) = parse_line(text) else {
        return Ok(());
    };
    prop_assert!(
        !err.message.trim().is_empty(),
        "an empty message for {text:?}"
    );
    let object = matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)));
    if object && !text.starts_with('\u{feff}') {
        let field = err.field.as_deref();
        prop_assert!(field.is_some(), "{text}: {:?} names no field", err.message);
        let field = field.unwrap();
        prop_assert!(
            err.message.contains(&format!("`{field}`")),
            "{text}: the message {:?} does not name the field {field:?}",
            err.message
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_every_refusal_says_why(text in any::<String>()) {
        check_refusal(&text)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_refusal(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn json_like_text_never_panics(text in r#"\{("[a-z_]{1,8}":( ?"[a-z0-9\\u\-]{0,10}"|[0-9.e-]{1,5}|true|null|\[\]),?){0,6}\}"#) {
        check_refusal(&text)?;
    }

    #[test]
    fn a_mutated_valid_line_is_refused_with_the_field_it_broke(
        seed in 0..64usize,
        mutation in mutation(),
    ) {
        let seeds = seeds();
        let mut map = seeds[seed % seeds.len()].clone();
        let names: Vec<String> = map.keys().cloned().collect();
        let mut broke = None;
        let text = match &mutation {
            Mutation::Set(i, v) => {
                let name = &names[i % names.len()];
                map.insert(name.clone(), v.clone());
                broke = Some(name.clone());
                Value::Object(map).to_string()
            }
            Mutation::Remove(i) => {
                let name = &names[i % names.len()];
                map.remove(name);
                broke = Some(name.clone());
                Value::Object(map).to_string()
            }
            Mutation::Add(name, v) => {
                if !map.contains_key(name) {
                    broke = Some(name.clone());
                }
                map.insert(name.clone(), v.clone());
                Value::Object(map).to_string()
            }
            Mutation::Cut(n) => Value::Object(map).to_string().chars().take(*n).collect(),
            Mutation::Insert(n, c) => {
                let mut chars: Vec<char> = Value::Object(map).to_string().chars().collect();
                let at = (*n).min(chars.len());
                chars.insert(at, *c);
                chars.into_iter().collect()
            }
        };
        check_refusal(&text)?;
        // A broken field other than `type` (a new type changes which fields belong) is
        // the one named.
        if let (Some(name), Err(err)) = (broke, parse_line(&text)) {
            if name != "type" {
                prop_assert_eq!(err.field.as_deref(), Some(name.as_str()), "{}: {}", text, err.message);
            }
        }
    }
}
