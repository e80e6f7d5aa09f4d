//! Disclosure control of the research export (k-anonymity on the quasi-identifiers), as a
//! pure function, and the preview a researcher sees before exporting.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::access::Actor;
use crate::{App, AppError, Role};

/// A subject's quasi-identifiers: relationship, and the substances named at the start (in
/// any order).
pub type Quasi<'a> = (&'a str, &'a [String]);

/// For each subject, whether its quasi-identifiers are suppressed: true when fewer than `k`
/// subjects share its relationship and set of substances.
pub fn suppressed(subjects: &[Quasi<'_>], k: usize) -> Vec<bool> {
    let key = |(relationship, substances): &Quasi<'_>| {
        let mut sorted: Vec<&str> = substances.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        (relationship.to_string(), sorted.join(";"))
    };
    let mut cells: HashMap<(String, String), usize> = HashMap::new();
    for subject in subjects {
        *cells.entry(key(subject)).or_default() += 1;
    }
    subjects.iter().map(|s| cells[&key(s)] < k).collect()
}

/// What an export at `k` would hold, before it is made.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub k: usize,
    /// Journeys with research consent.
    pub consented: usize,
    /// Of them, those whose relationship and substances would be suppressed.
    pub suppressed: usize,
    /// Project names used before: (name, first export, last export, exports).
    pub projects: Vec<(String, DateTime<Utc>, DateTime<Utc>, i64)>,
}

impl App {
    /// The preview of an export at `k` (researchers and the operator only). It counts, it
    /// never lists a combination: a rare one is what the export hides.
    pub async fn export_preview(&self, actor: &Actor, k: usize) -> Result<Preview, AppError> {
        self.require(actor, Role::Researcher, "export_preview")
            .await?;
        let consented = journey_postgres::research::consented(self.pool()).await?;
        let quasi: Vec<Quasi<'_>> = consented
            .iter()
            .map(|c| (c.relationship.as_str(), c.substances.as_slice()))
            .collect();
        let suppressed = suppressed(&quasi, k.max(1))
            .into_iter()
            .filter(|s| *s)
            .count();
        Ok(Preview {
            k,
            consented: consented.len(),
            suppressed,
            projects: journey_postgres::research::projects_used(self.pool()).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_combination_shared_by_fewer_than_k_subjects_is_suppressed_in_any_order() {
        let a = vec!["alcohol".to_string(), "opioids".to_string()];
        let b = vec!["opioids".to_string(), "alcohol".to_string()];
        let c = vec!["cannabis".to_string()];
        let subjects: Vec<Quasi<'_>> = vec![
            ("parent", &a),
            ("parent", &b),
            ("parent", &c),
            ("partner", &a),
        ];
        assert_eq!(suppressed(&subjects, 2), [false, false, true, true]);
        assert_eq!(suppressed(&subjects, 1), [false; 4]);
        assert_eq!(suppressed(&subjects, 3), [true; 4]);
        assert!(suppressed(&[], 5).is_empty());
    }
}
