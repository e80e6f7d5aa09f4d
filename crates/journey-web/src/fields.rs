//! A request body's fields (a form's pairs, a JSON object's members) read into a struct, with
//! the field of a refusal known where serde makes it: a missing field, an unknown or repeated
//! one, a value of the wrong kind. Nothing reads the field back out of serde's message.

use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;

/// What is wrong with the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A field the struct needs is not there.
    Missing,
    /// A field the struct does not take, or one given twice.
    Unexpected,
    /// A field's value is not of the field's kind.
    Value,
    /// Anything else serde refuses (the fields are not a struct at all).
    Other,
}

/// Why a body's fields are not the struct: the field at fault (when there is one), what is
/// wrong and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Option<String>,
    pub problem: Problem,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FieldError {
            field: None,
            problem: Problem::Other,
            message: msg.to_string(),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        FieldError {
            field: Some(field.into()),
            problem: Problem::Missing,
            message: format!("missing field `{field}`"),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        FieldError {
            field: Some(field.into()),
            problem: Problem::Unexpected,
            message: format!(
                "unknown field `{field}` (the fields are {})",
                expected
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn duplicate_field(field: &'static str) -> Self {
        FieldError {
            field: Some(field.into()),
            problem: Problem::Unexpected,
            message: format!("field `{field}` is given twice"),
        }
    }
}

/// Reads `fields` (name, value) into a `T`.
pub fn read<T: DeserializeOwned>(
    fields: impl IntoIterator<Item = (String, Value)>,
) -> Result<T, FieldError> {
    let pairs = fields
        .into_iter()
        .map(|(name, value)| (name.clone(), FieldValue { name, value }));
    T::deserialize(de::value::MapDeserializer::new(pairs))
}

/// The value of field `name`: read as the struct's field reads it, any refusal being about
/// `name`.
struct FieldValue {
    name: String,
    value: Value,
}

impl FieldValue {
    fn about(name: String) -> impl FnOnce(serde_json::Error) -> FieldError {
        move |e| FieldError {
            message: format!("field `{name}`: {e}"),
            field: Some(name),
            problem: Problem::Value,
        }
    }
}

impl<'de> IntoDeserializer<'de, FieldError> for FieldValue {
    type Deserializer = FieldValue;
    fn into_deserializer(self) -> FieldValue {
        self
    }
}

impl<'de> de::Deserializer<'de> for FieldValue {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let about = Self::about(self.name);
        self.value.deserialize_any(visitor).map_err(about)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let about = Self::about(self.name);
        self.value.deserialize_option(visitor).map_err(about)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        let about = Self::about(self.name);
        self.value
            .deserialize_newtype_struct(name, visitor)
            .map_err(about)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        let about = Self::about(self.name);
        self.value
            .deserialize_enum(name, variants, visitor)
            .map_err(about)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::{read, FieldError, Problem};
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Form {
        name: String,
        #[serde(default)]
        totp: Option<String>,
        #[serde(default)]
        count: u16,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        name: String,
    }

    fn fields(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.clone()))
            .collect()
    }

    fn problem(e: FieldError) -> (Option<String>, Problem) {
        (e.field, e.problem)
    }

    #[test]
    fn each_refusal_names_its_field() {
        let ok: Form = read(fields(&[("name", json!("a")), ("count", json!(3))])).unwrap();
        assert_eq!(
            ok,
            Form {
                name: "a".into(),
                totp: None,
                count: 3
            }
        );
        let null: Form = read(fields(&[("name", json!("a")), ("totp", Value::Null)])).unwrap();
        assert_eq!(null.totp, None);
        let missing = read::<Form>(fields(&[("totp", json!("123456"))])).unwrap_err();
        assert_eq!(missing.message, "missing field `name`");
        assert_eq!(problem(missing), (Some("name".into()), Problem::Missing));
        let wrong = read::<Form>(fields(&[("name", json!(5))])).unwrap_err();
        assert!(wrong.message.starts_with("field `name`: "), "{wrong}");
        assert_eq!(problem(wrong), (Some("name".into()), Problem::Value));
        let big = read::<Form>(fields(&[("name", json!("a")), ("count", json!(70000))]));
        assert_eq!(
            problem(big.unwrap_err()),
            (Some("count".into()), Problem::Value)
        );
        let twice =
            read::<Form>(fields(&[("name", json!("a")), ("name", json!("b"))])).unwrap_err();
        assert_eq!(problem(twice), (Some("name".into()), Problem::Unexpected));
        let unknown =
            read::<Strict>(fields(&[("name", json!("a")), ("colour", json!("red"))])).unwrap_err();
        assert!(unknown.message.contains("`name`"), "{unknown}");
        assert_eq!(
            problem(unknown),
            (Some("colour".into()), Problem::Unexpected)
        );
    }
}
