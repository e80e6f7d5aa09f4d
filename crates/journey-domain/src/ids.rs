//! The derived ids of lines without an `entry` id (shared/spec/interchange.md).

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::interchange::Line;

/// Gives every line without an `entry` id its derived id: a hash of the journey key, the
/// line's exact text and how many identical lines of that journey came before it, so the
/// same file imported twice gives the same ids, and two identical lines are two entries.
pub fn assign_ids<'a>(lines: impl IntoIterator<Item = (&'a str, &'a mut Line)>) {
    let mut ids = DerivedIds::default();
    for (text, line) in lines {
        ids.assign(text, line);
    }
}

/// What [`assign_ids`] remembers of the lines before, for a file read a line at a time:
/// 20 bytes per line without an id, not its text.
#[derive(Debug, Default)]
pub struct DerivedIds {
    /// Identical lines seen so far, by the digest of (journey, text).
    seen: HashMap<[u8; 16], u32>,
}

impl DerivedIds {
    /// Gives `line` (read from `text`) its derived id when it has none.
    pub fn assign(&mut self, text: &str, line: &mut Line) {
        if !line.entry.entry.is_empty() {
            return;
        }
        let count = self
            .seen
            .entry(digest(&line.journey, text, None))
            .or_insert(0);
        line.entry.entry = derived_id(&line.journey, text, *count);
        *count += 1;
    }
}

fn digest(journey: &str, text: &str, occurrence: Option<u32>) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(journey.as_bytes());
    hasher.update([0]);
    hasher.update(text.trim_end_matches(['\r', '\n']).as_bytes());
    if let Some(occurrence) = occurrence {
        hasher.update([0]);
        hasher.update(occurrence.to_le_bytes());
    }
    let digest = hasher.finalize();
    digest[..16].try_into().expect("16 of 32 bytes")
}

/// The id of a line without one: `d-` and 32 hex digits of SHA-256.
pub fn derived_id(journey: &str, text: &str, occurrence: u32) -> String {
    let hex: String = digest(journey, text, Some(occurrence))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("d-{hex}")
}
