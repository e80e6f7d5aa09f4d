//! The names a person types or a URL carries: a journey key, an entry id, a username, a
//! research project's name. Each is 1-64 of `A-Z a-z 0-9 . _ -` (interchange.md's rule for
//! keys). A value is checked once, by `parse`, where it enters (a line, a URL, a form, an
//! argument); past that point its type says it was checked, and nothing checks it again.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An entry id or a journey key: 1-64 of `A-Z a-z 0-9 . _ -`.
pub fn is_key(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// A name that breaks the rule: which kind of name (`journey`, `entry`, `username`,
/// `project`) and what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// The field the name was given in.
    pub field: &'static str,
    /// What was given (cut to 80 characters).
    pub value: String,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.value.is_empty() {
            "empty".to_string()
        } else {
            format!("{:?}", self.value)
        };
        write!(f, "{} {value} is not 1-64 of A-Z a-z 0-9 . _ -", self.field)
    }
}

impl std::error::Error for NameError {}

macro_rules! name {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The field this kind of name is given in, as errors name it.
            pub const FIELD: &'static str = $field;

            /// `text` if it keeps the rule, else which rule it breaks.
            pub fn parse(text: &str) -> Result<Self, NameError> {
                if is_key(text) {
                    Ok($name(text.to_string()))
                } else {
                    Err(NameError {
                        field: $field,
                        value: text.chars().take(80).collect(),
                    })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// As the text's: `"fam-1"`, so messages quote a name as they quote text.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = NameError;
            fn from_str(text: &str) -> Result<Self, NameError> {
                $name::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(text: String) -> Result<Self, NameError> {
                if is_key(&text) {
                    Ok($name(text))
                } else {
                    $name::parse(&text)
                }
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }
    };
}

name!(
    /// A journey's key, as the family's file and the URLs name it.
    JourneyKey,
    "journey"
);
name!(
    /// An entry's id, unique within its journey.
    EntryId,
    "entry"
);
name!(
    /// An account's username.
    Username,
    "username"
);
name!(
    /// A research project's name (the pseudonyms' key is kept per project).
    ProjectName,
    "project"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_the_rule_or_says_which_it_breaks() {
        let key = JourneyKey::parse("fam-1.a_B").unwrap();
        assert_eq!(key.as_str(), "fam-1.a_B");
        assert_eq!(&*key, "fam-1.a_B");
        assert_eq!(format!("{key:<10}|{key:?}"), "fam-1.a_B |\"fam-1.a_B\"");
        assert!(JourneyKey::parse(&"k".repeat(64)).is_ok());
        for bad in ["", "a b", "a/b", "é", "a\0b", &"k".repeat(65)] {
            let error = JourneyKey::parse(bad).unwrap_err();
            assert_eq!(error.field, "journey");
            assert!(error.to_string().starts_with("journey "), "{error}");
        }
        assert_eq!(
            Username::parse("").unwrap_err().to_string(),
            "username empty is not 1-64 of A-Z a-z 0-9 . _ -"
        );
        assert_eq!(
            ProjectName::parse("a b").unwrap_err().to_string(),
            "project \"a b\" is not 1-64 of A-Z a-z 0-9 . _ -"
        );
        assert_eq!(
            EntryId::parse(&"x".repeat(200)).unwrap_err().value.len(),
            80
        );
    }

    #[test]
    fn serde_checks_a_name_as_parse_does() {
        let key: JourneyKey = serde_json::from_str("\"fam-1\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"fam-1\"");
        let error = serde_json::from_str::<JourneyKey>("\"a b\"").unwrap_err();
        assert!(error.to_string().contains("not 1-64"), "{error}");
    }
}
