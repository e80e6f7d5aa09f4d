//! Text that storage cannot hold: NUL characters (PostgreSQL refuses U+0000 in text and
//! jsonb) and unpaired UTF-16 surrogates (`\uD800`-`\uDFFF` escapes without their pair,
//! which are no character at all). interchange.md version 2 refuses both with the line and
//! the field; these helpers let the parser find the field.

use std::borrow::Cow;

use serde_json::Value;

use crate::interchange::LineError;

/// What [`mark_lone_surrogates`] found in a line's escapes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Escapes {
    /// A `\u0000` escape.
    pub nul: bool,
    /// An unpaired surrogate escape, rewritten to `\u0000`.
    pub surrogate: bool,
}

impl Escapes {
    /// What a field holding U+0000 after the rewrite held in the line.
    pub fn what(self) -> &'static str {
        match (self.nul, self.surrogate) {
            (false, true) => "an unpaired surrogate (a \\uD800-\\uDFFF escape without its pair), which is not a character",
            (true, true) => "a NUL character (U+0000) or an unpaired surrogate, which are not accepted",
            _ => "a NUL character (U+0000), which is not accepted",
        }
    }
}

/// The JSON text `line` with every unpaired surrogate escape rewritten to `\u0000`, so that
/// serde_json reads the line (it refuses such escapes without saying where) and the NUL
/// check names the field that held it. Backslashes occur only inside JSON strings, so
/// reading escapes from the start is exact for every line that is JSON.
pub(crate) fn mark_lone_surrogates(line: &str) -> (Cow<'_, str>, Escapes) {
    let mut found = Escapes::default();
    if !line.contains("\\u") {
        return (Cow::Borrowed(line), found);
    }
    let bytes = line.as_bytes();
    let unit = |at: usize| -> Option<u32> {
        let hex = line.get(at + 2..at + 6)?;
        (bytes.get(at + 1) == Some(&b'u') && bytes[at] == b'\\')
            .then(|| u32::from_str_radix(hex, 16).ok())
            .flatten()
    };
    let mut out: Option<String> = None;
    let (mut at, mut copied) = (0, 0);
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            at += 1;
            continue;
        }
        let Some(code) = unit(at) else {
            at += 2; // another escape (\" \\ \n ...): skip its character
            continue;
        };
        let paired = (0xD800..=0xDBFF).contains(&code)
            && unit(at + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low));
        if paired {
            at += 12;
        } else if (0xD800..=0xDFFF).contains(&code) {
            found.surrogate = true;
            let text = out.get_or_insert_with(|| String::with_capacity(line.len()));
            text.push_str(&line[copied..at]);
            text.push_str("\\u0000");
            at += 6;
            copied = at;
        } else {
            found.nul |= code == 0;
            at += 6;
        }
    }
    match out {
        Some(mut text) => {
            text.push_str(&line[copied..]);
            (Cow::Owned(text), found)
        }
        None => (Cow::Borrowed(line), found),
    }
}

pub(crate) fn holds_nul(text: &str) -> bool {
    text.contains('\0')
}

pub(crate) fn holds_nul_value(value: &Value) -> bool {
    match value {
        Value::String(text) => holds_nul(text),
        Value::Array(items) => items.iter().any(holds_nul_value),
        Value::Object(map) => map.iter().any(|(k, v)| holds_nul(k) || holds_nul_value(v)),
        _ => false,
    }
}

/// The refusal of a JSON object (one line, or an API body) that holds an unpaired
/// surrogate escape, naming the top-level field that holds it; `None` when there is none.
/// serde_json refuses such text as not JSON, without saying where.
pub fn unpaired_surrogate(text: &str) -> Option<LineError> {
    let (rewritten, escapes) = mark_lone_surrogates(text);
    if !escapes.surrogate {
        return None;
    }
    let field = match serde_json::from_str::<Value>(&rewritten) {
        Ok(Value::Object(map)) => map
            .iter()
            .find(|(name, value)| holds_nul(name) || holds_nul_value(value))
            .map(|(name, _)| name.replace('\0', "\\u0000")),
        _ => None,
    };
    let message = match &field {
        Some(name) => format!("field `{name}`: holds {}", escapes.what()),
        None => format!("holds {}", escapes.what()),
    };
    Some(LineError { field, message })
}

#[cfg(test)]
mod tests {
    use super::mark_lone_surrogates;

    #[test]
    fn only_unpaired_surrogates_are_rewritten() {
        let (text, found) =
            mark_lone_surrogates(r#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\\ud800"}"#);
        assert_eq!(text, r#"{"a":"x\u0000y","b":"\ud83d\ude00","c":"\\ud800"}"#);
        assert!(found.surrogate && !found.nul);
        let (text, found) = mark_lone_surrogates(r#"{"a":"\udc00\u0000"}"#);
        assert_eq!(text, r#"{"a":"\u0000\u0000"}"#);
        assert!(found.surrogate && found.nul);
        let (text, found) = mark_lone_surrogates(r#"{"a":"\ud800\u0041"}"#);
        assert_eq!(text, r#"{"a":"\u0000\u0041"}"#);
        assert!(found.surrogate);
        let (_, found) = mark_lone_surrogates(r#"{"a":"plain","b":"\u00e9"}"#);
        assert!(!found.surrogate && !found.nul);
        // Cut-off escapes are left to serde_json, which says "not JSON".
        assert_eq!(mark_lone_surrogates(r#"{"a":"\ud8"#).0, r#"{"a":"\ud8"#);
    }
}
