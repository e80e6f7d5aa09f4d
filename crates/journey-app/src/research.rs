//! `journey research-export`: an anonymized dataset folder for researchers. Pseudonymous
//! subject ids (HMAC-SHA256 of the journey's internal id with the project's key), relative
//! days instead of dates, k-anonymity on the quasi-identifiers, no note text, no handles.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use journey_analytics::tables::{write_table, Table, Values};
use journey_analytics::{JourneyMetrics, Status};
use journey_postgres::read::Scope;
use journey_postgres::{research, PgPool};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{metrics, Actor, App, AppError};

/// What `journey research-export` was asked for.
pub struct Request<'a> {
    pub project: &'a str,
    pub out: &'a Path,
    pub as_of: NaiveDate,
    pub min_cell: usize,
}

/// What was written.
pub struct Written {
    pub subjects: usize,
    pub suppressed: usize,
    pub files: Vec<PathBuf>,
    pub manifest_sha256: String,
}

fn sid(key: &[u8], journey_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(journey_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Use => "use",
        Status::NoUse => "no_use",
        Status::Controlled => "controlled",
        Status::Unknown => "unknown",
    }
}

fn system(err: impl std::fmt::Display) -> AppError {
    AppError::Internal(err.to_string())
}

/// Writes the dataset folder; see the README's "Research export".
impl App {
    /// Writes the anonymized dataset of the journeys with research consent to
    /// `request.out` (researchers and the operator only); audited.
    pub async fn research_export(
        &self,
        actor: &Actor,
        request: &Request<'_>,
    ) -> Result<Written, AppError> {
        self.require(actor, crate::Role::Researcher, "research_export")
            .await?;
        if !crate::is_key(request.project) {
            return Err(AppError::invalid(
                "project",
                format!("{:?} is not 1-64 of A-Z a-z 0-9 . _ -", request.project),
            ));
        }
        if request.min_cell < 1 {
            return Err(AppError::invalid("min_cell", "k must be at least 1"));
        }
        let written = export(self.pool(), request).await?;
        journey_postgres::research::audit(
            self.pool(),
            actor.name(),
            "research_export",
            None,
            json!({"project": request.project, "subjects": written.subjects, "manifest_sha256": written.manifest_sha256, "as_of": request.as_of, "via": actor.via().as_str()}),
        )
        .await?;
        Ok(written)
    }
}

async fn export(pool: &PgPool, request: &Request<'_>) -> Result<Written, AppError> {
    let consented = research::consented(pool).await?;
    let key = research::project_key(pool, request.project).await?;
    let ids: Vec<String> = consented.iter().map(|c| c.journey_id.clone()).collect();
    let by_key: HashMap<&str, &research::Consented> =
        consented.iter().map(|c| (c.key.as_str(), c)).collect();
    let inputs: Vec<_> = metrics::inputs(pool, Scope::Consented)
        .await?
        .into_iter()
        .filter(|j| by_key.contains_key(j.key.as_str()))
        .collect();
    let report = journey_analytics::metrics(&inputs, request.as_of).map_err(system)?;
    let metrics_of: HashMap<&str, &JourneyMetrics> = report
        .journeys
        .iter()
        .map(|m| (m.journey.as_str(), m))
        .collect();

    // Disclosure control: quasi-identifiers shared by fewer than k subjects are suppressed.
    let exported: Vec<&research::Consented> = consented
        .iter()
        .filter(|c| metrics_of.contains_key(c.key.as_str()))
        .collect();
    let quasi: Vec<crate::disclosure::Quasi<'_>> = exported
        .iter()
        .map(|c| (c.relationship.as_str(), c.substances.as_slice()))
        .collect();
    let hidden: HashMap<&str, bool> = exported
        .iter()
        .map(|c| c.key.as_str())
        .zip(crate::disclosure::suppressed(&quasi, request.min_cell))
        .collect();

    struct Subject<'a> {
        sid: String,
        consent: &'a research::Consented,
        metrics: &'a JourneyMetrics,
        anchor: NaiveDate,
        suppressed: bool,
    }
    let mut subjects: Vec<Subject> = consented
        .iter()
        .filter_map(|c| {
            let m = metrics_of.get(c.key.as_str())?;
            Some(Subject {
                sid: sid(&key, &c.journey_id),
                consent: c,
                metrics: m,
                anchor: m.craft_start.unwrap_or(m.start),
                suppressed: hidden[c.key.as_str()],
            })
        })
        .collect();
    // Rows in sid order: the order of journey keys (which families choose) is not exported.
    subjects.sort_by(|a, b| a.sid.cmp(&b.sid));
    let suppressed = subjects.iter().filter(|s| s.suppressed).count();
    let rel = |s: &Subject, day: NaiveDate| (day - s.anchor).num_days();

    let mut tables = Vec::new();
    {
        // The quasi-identifiers as exported: suppressed in cells smaller than k.
        let shown = |s: &Subject| {
            if s.suppressed {
                ("suppressed".to_string(), "suppressed".to_string())
            } else {
                let mut substances = s.consent.substances.clone();
                substances.sort();
                (s.consent.relationship.clone(), substances.join(";"))
            }
        };
        let text = |f: &dyn Fn(&Subject) -> String| {
            Values::Text(subjects.iter().map(|s| Some(f(s))).collect())
        };
        tables.push(Table {
            name: "subjects".into(),
            columns: vec![
                ("sid".into(), text(&|s| s.sid.clone())),
                ("relationship".into(), text(&|s| shown(s).0)),
                ("substances".into(), text(&|s| shown(s).1)),
                (
                    "craft_phase".into(),
                    Values::Bool(
                        subjects
                            .iter()
                            .map(|s| Some(s.metrics.craft_start.is_some()))
                            .collect(),
                    ),
                ),
                (
                    "first_rel_day".into(),
                    Values::Int(
                        subjects
                            .iter()
                            .map(|s| Some(rel(s, s.metrics.start)))
                            .collect(),
                    ),
                ),
                (
                    "last_rel_day".into(),
                    Values::Int(
                        subjects
                            .iter()
                            .map(|s| Some(rel(s, request.as_of)))
                            .collect(),
                    ),
                ),
                (
                    "suppressed".into(),
                    Values::Bool(subjects.iter().map(|s| Some(s.suppressed)).collect()),
                ),
            ],
        });
    }
    {
        let (mut sids, mut days, mut statuses) = (Vec::new(), Vec::new(), Vec::new());
        for s in &subjects {
            let first = rel(s, s.metrics.start);
            for (offset, status) in s.metrics.days.iter().enumerate() {
                sids.push(Some(s.sid.clone()));
                days.push(Some(first + offset as i64));
                statuses.push(Some(status_name(*status).to_string()));
            }
        }
        tables.push(Table {
            name: "days".into(),
            columns: vec![
                ("sid".into(), Values::Text(sids)),
                ("rel_day".into(), Values::Int(days)),
                ("status".into(), Values::Text(statuses)),
            ],
        });
    }
    {
        let entries = research::entries(pool, &ids, request.as_of).await?;
        let mut entries_of: HashMap<String, Vec<research::ResearchEntry>> = HashMap::new();
        for e in entries {
            entries_of.entry(e.journey_id.clone()).or_default().push(e);
        }
        let mut sids = Vec::new();
        let mut days = Vec::new();
        let mut kinds = Vec::new();
        let mut text: Vec<Vec<Option<String>>> = vec![Vec::new(); research::TEXT_ATTRIBUTES.len()];
        let (mut kept, mut for_safety, mut minutes) = (Vec::new(), Vec::new(), Vec::new());
        for s in &subjects {
            // Moved out, row by row: the entries are held once.
            let rows = entries_of
                .remove(s.consent.journey_id.as_str())
                .unwrap_or_default();
            for e in rows {
                if e.kind == "journey_started" {
                    continue; // its attributes are the quasi-identifiers, in `subjects`
                }
                sids.push(Some(s.sid.clone()));
                days.push(Some(rel(s, e.on)));
                kinds.push(Some(e.kind));
                for ((column, name), value) in
                    text.iter_mut().zip(research::TEXT_ATTRIBUTES).zip(e.text)
                {
                    column.push(if name == "substances" && s.suppressed {
                        None
                    } else {
                        value
                    });
                }
                kept.push(e.kept);
                for_safety.push(e.for_safety);
                minutes.push(e.minutes);
            }
        }
        let mut columns = vec![
            ("sid".to_string(), Values::Text(sids)),
            ("rel_day".to_string(), Values::Int(days)),
            ("type".to_string(), Values::Text(kinds)),
        ];
        for (name, values) in research::TEXT_ATTRIBUTES.iter().zip(text) {
            columns.push((name.to_string(), Values::Text(values)));
        }
        columns.push(("kept".into(), Values::Bool(kept)));
        columns.push(("for_safety".into(), Values::Bool(for_safety)));
        columns.push(("minutes".into(), Values::Int(minutes)));
        tables.push(Table {
            name: "events".into(),
            columns,
        });
    }
    {
        let weeks: Vec<(&Subject, &journey_analytics::Week)> = subjects
            .iter()
            .flat_map(|s| s.metrics.weeks.iter().map(move |w| (s, w)))
            .collect();
        let int = |f: &dyn Fn(&journey_analytics::Week) -> i64| {
            Values::Int(weeks.iter().map(|(_, w)| Some(f(w))).collect())
        };
        let float = |f: &dyn Fn(&journey_analytics::Week) -> Option<f64>| {
            Values::Float(weeks.iter().map(|(_, w)| f(w)).collect())
        };
        tables.push(Table {
            name: "weeks".into(),
            columns: vec![
                (
                    "sid".into(),
                    Values::Text(weeks.iter().map(|(s, _)| Some(s.sid.clone())).collect()),
                ),
                ("week".into(), int(&|w| w.week)),
                ("start_rel_day".into(), int(&|w| 7 * w.week)),
                (
                    "phase".into(),
                    Values::Text(
                        weeks
                            .iter()
                            .map(|(_, w)| w.phase.map(str::to_string))
                            .collect(),
                    ),
                ),
                ("days".into(), int(&|w| w.days)),
                ("use_days".into(), int(&|w| w.use_days)),
                ("no_use_days".into(), int(&|w| w.no_use_days)),
                ("unknown_days".into(), int(&|w| w.unknown_days)),
                ("controlled_days".into(), int(&|w| w.controlled_days)),
                ("known_days".into(), int(&|w| w.known_days)),
                ("pda".into(), float(&|w| w.pda)),
                ("coverage".into(), float(&|w| Some(w.coverage))),
                (
                    "eligible".into(),
                    Values::Bool(weeks.iter().map(|(_, w)| Some(w.eligible)).collect()),
                ),
                ("reward_rate".into(), float(&|w| w.reward_rate)),
                ("withdraw_rate".into(), float(&|w| w.withdraw_rate)),
                ("rescue_rate".into(), float(&|w| w.rescue_rate)),
                ("reward_on_use_days".into(), int(&|w| w.reward_on_use_days)),
                (
                    "positive_communications".into(),
                    int(&|w| w.positive_communications),
                ),
                ("self_care_days".into(), int(&|w| w.self_care_days)),
                ("practice".into(), float(&|w| Some(w.practice))),
                ("wellbeing".into(), float(&|w| w.wellbeing)),
            ],
        });
    }
    {
        let spans: Vec<(&Subject, &journey_analytics::Span)> = subjects
            .iter()
            .flat_map(|s| s.metrics.treatment.iter().map(move |t| (s, t)))
            .collect();
        tables.push(Table {
            name: "treatment_episodes".into(),
            columns: vec![
                (
                    "sid".into(),
                    Values::Text(spans.iter().map(|(s, _)| Some(s.sid.clone())).collect()),
                ),
                (
                    "start_rel_day".into(),
                    Values::Int(spans.iter().map(|(s, t)| Some(rel(s, t.entered))).collect()),
                ),
                (
                    "end_rel_day".into(),
                    Values::Int(
                        spans
                            .iter()
                            .map(|(s, t)| t.exited.map(|d| rel(s, d)))
                            .collect(),
                    ),
                ),
                (
                    "modality".into(),
                    Values::Text(
                        spans
                            .iter()
                            .map(|(_, t)| Some(t.modality.clone()))
                            .collect(),
                    ),
                ),
                (
                    "reason".into(),
                    Values::Text(spans.iter().map(|(_, t)| t.reason.clone()).collect()),
                ),
            ],
        });
    }

    std::fs::create_dir_all(request.out)
        .map_err(|e| AppError::Internal(format!("{}: {e}", request.out.display())))?;
    let mut files = Vec::new();
    let mut resources = Vec::new();
    for table in &tables {
        let written = write_table(table, request.out).map_err(system)?;
        let columns: Vec<(&str, &str)> = table
            .columns
            .iter()
            .map(|(name, values)| (name.as_str(), values.schema_type()))
            .collect();
        let rows = table.rows();
        for (path, format, media) in [
            (&written[1], "csv", "text/csv"),
            (&written[0], "parquet", "application/vnd.apache.parquet"),
        ] {
            let name = path
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .to_string();
            let mut resource = json!({
                "name": format!("{}-{format}", table.name),
                "type": "table",
                "path": name,
                "format": format,
                "mediatype": media,
                "title": format!("{} ({format})", table.name),
                "description": crate::dataset::table_description(&table.name),
                "rows": rows,
                "schema": crate::dataset::schema(&table.name, &columns, &format!("subjects-{format}")),
            });
            if format == "csv" {
                resource["encoding"] = json!("utf-8");
                resource["dialect"] = json!({"delimiter": ",", "header": true});
            }
            resources.push(resource);
        }
        files.extend(written);
    }
    let package = json!({
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": format!("journey-research-{}", request.project.to_lowercase()),
        "title": "CRAFT recovery journeys, anonymized",
        "description": "Tidy tables keyed by a pseudonymous subject id (`sid`), each given as CSV and as Parquet with the same columns. Days are relative to the CRAFT start (day 0; the journey's first day when there is none). Every column's description states its definition (after the journey metrics specification, version 2), its unit and what an empty cell means; closed value sets are declared as `categories` and `constraints.enum`. No calendar date, note text or reporter handle is included. README.md tells how the data were de-identified.",
        "version": "2",
        "keywords": ["CRAFT", "substance use", "families", "timeline followback"],
        "resources": resources,
    });
    let package_path = request.out.join("datapackage.json");
    write_file(
        &package_path,
        serde_json::to_string_pretty(&package)
            .expect("JSON")
            .as_bytes(),
    )?;
    files.push(package_path);
    let readme_path = request.out.join("README.md");
    write_file(
        &readme_path,
        readme(request, subjects.len(), suppressed, &tables).as_bytes(),
    )?;
    files.push(readme_path);

    let mut hashes = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path)
            .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
        hashes.push(json!({
            "path": path.file_name().expect("a file").to_string_lossy(),
            "bytes": bytes.len(),
            "sha256": hex(&Sha256::digest(&bytes)),
        }));
    }
    let manifest = json!({
        "project": request.project,
        "subjects": subjects.len(),
        "k": request.min_cell,
        "quasi_identifiers": ["relationship", "substances"],
        "suppressed_subjects": suppressed,
        "suppressed_columns": if suppressed > 0 { json!(["subjects.relationship", "subjects.substances", "events.substances"]) } else { json!([]) },
        "files": hashes,
    });
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("JSON");
    let manifest_path = request.out.join("manifest.json");
    write_file(&manifest_path, &manifest_bytes)?;
    files.push(manifest_path);
    let manifest_sha256 = hex(&Sha256::digest(&manifest_bytes));
    Ok(Written {
        subjects: subjects.len(),
        suppressed,
        files,
        manifest_sha256,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    std::fs::write(path, bytes).map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))
}

fn readme(request: &Request<'_>, subjects: usize, suppressed: usize, tables: &[Table]) -> String {
    let mut counts = String::new();
    for table in tables {
        let rows = table.rows();
        counts.push_str(&format!(
            "| `{0}` | {rows} | `{0}.csv`, `{0}.parquet` |\n",
            table.name
        ));
    }
    format!(
        "# Anonymized CRAFT journeys: project {project}\n\n\
Families who practise CRAFT recorded what they saw of a person struggling with substance use \
and what they did. This folder holds the journeys of the families who gave research consent, \
de-identified. Every table is given as CSV and as Parquet; `datapackage.json` (a Frictionless \
Data Package, version 2) describes every table and column: its definition, unit, closed value \
set and what an empty cell means; `manifest.json` lists every file with its SHA-256.\n\n\
| table | rows | files |\n|---|---|---|\n{counts}\n\
## Method of de-identification\n\n\
- **Subjects**: {subjects} journeys with consent granted. A subject id (`sid`) is HMAC-SHA256 of \
the journey's internal random id with a key kept for this project in the database and never \
exported: the ids are stable across exports of this project and cannot be linked to another \
project's.\n\
- **No dates**: every day is a relative day, day 0 being the CRAFT start (the journey's start \
when there is none). No calendar date, month or weekday appears; the export's as-of date is \
withheld too, because with it relative days would map back to calendar dates.\n\
- **No free text, no names**: note text and reporter handles are never read; notes and \
retractions are left out; retracted entries are left out.\n\
- **Disclosure control**: the quasi-identifiers are relationship and substances. Subjects \
whose combination is shared by fewer than k = {k} subjects have both suppressed \
(`suppressed`), and the substances of their use entries are blanked: {suppressed} of \
{subjects} subjects.\n\n\
## Derived fields\n\n\
Day status and the weekly rows follow the journey metrics specification, version 2, whose \
definitions each column's description in `datapackage.json` restates. \
Unknown days are days nobody reported on, never days without use; every rate is over known \
days and comes with its coverage. The phase comparison of one family is an AB design: it \
cannot establish causation.\n\n\
## Reading it\n\n\
- pandas: `pd.read_parquet('weeks.parquet')`; DuckDB: `SELECT * FROM 'weeks.parquet'`; \
R: `arrow::read_parquet('weeks.parquet')`; or the CSV files with any tool.\n\
- frictionless: `frictionless validate datapackage.json --resource-name weeks-csv` checks a \
CSV table against its declared types, value sets and keys (frictionless-py 5 reads empty \
integer cells of the Parquet files as NaN, so validate the CSV resources).\n",
        project = request.project,
        k = request.min_cell,
    )
}

impl App {
    /// How many journeys have research consent (what the researcher's page shows).
    pub async fn consented_count(&self) -> Result<usize, AppError> {
        Ok(research::consented(self.pool()).await?.len())
    }
}
