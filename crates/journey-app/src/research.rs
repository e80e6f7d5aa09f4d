//! `journey research-export`: an anonymized dataset folder for researchers. Pseudonymous
//! subject ids (HMAC-SHA256 of the journey's internal id with the project's key), relative
//! days instead of dates, k-anonymity on the quasi-identifiers, no note text, no handles.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use journey_analytics::tables::{Table, TableWriter};
use journey_analytics::JourneyMetrics;
use journey_domain::ProjectName;
use journey_postgres::{read, research, PgPool};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::research_tables::Subject;
use crate::{metrics, Actor, App, AppError};

/// What `journey research-export` was asked for.
pub struct Request<'a> {
    pub project: &'a ProjectName,
    pub out: &'a Path,
    pub as_of: NaiveDate,
    pub min_cell: usize,
    /// Journeys computed and written at a time ([`CHUNK_JOURNEYS`]; tests use fewer).
    pub chunk_journeys: usize,
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

/// Subjects per chunk: the metrics, the entries and the rows of this many journeys are held
/// at once, whatever the cohort's size.
pub const CHUNK_JOURNEYS: usize = 200;
/// Rows per Parquet part at most.
const PART_ROWS: usize = 250_000;
const TABLES: [&str; 5] = ["subjects", "days", "events", "weeks", "treatment_episodes"];

/// Appends a chunk's tables to their writers (the tables in the writers' order).
fn append(writers: &mut [TableWriter], tables: &[Table]) -> Result<(), AppError> {
    for (table, writer) in tables.iter().zip(writers) {
        writer.append(table).map_err(system)?;
    }
    Ok(())
}

async fn export(pool: &PgPool, request: &Request<'_>) -> Result<Written, AppError> {
    let key = research::project_key(pool, request.project).await?;
    // The journeys that have a day by the as-of day: the metrics leave the others out.
    let consented: Vec<research::Consented> = research::consented(pool)
        .await?
        .into_iter()
        .filter(|c| c.start <= request.as_of)
        .collect();

    // Disclosure control: quasi-identifiers shared by fewer than k subjects are suppressed
    // (a few strings per journey: the whole cohort is needed, and small).
    let quasi: Vec<crate::disclosure::Quasi<'_>> = consented
        .iter()
        .map(|c| (c.relationship.as_str(), c.substances.as_slice()))
        .collect();
    let hidden = crate::disclosure::suppressed(&quasi, request.min_cell);
    // Rows in sid order: the order of journey keys (which families choose) is not exported.
    let mut order: Vec<(String, usize)> = consented
        .iter()
        .enumerate()
        .map(|(i, c)| (sid(&key, &c.journey_id), i))
        .collect();
    order.sort();
    let suppressed = hidden.iter().filter(|h| **h).count();

    std::fs::create_dir_all(request.out)
        .map_err(|e| AppError::Internal(format!("{}: {e}", request.out.display())))?;
    let mut writers = Vec::new();
    for name in TABLES {
        writers.push(TableWriter::new(request.out, name, PART_ROWS).map_err(system)?);
    }
    let mut subjects_written = 0;
    for chunk in order.chunks(request.chunk_journeys.max(1)) {
        let journeys: Vec<(String, String)> = chunk
            .iter()
            .map(|(_, i)| (consented[*i].journey_id.clone(), consented[*i].key.clone()))
            .collect();
        let inputs = metrics::to_inputs(read::metric_rows_for(pool, &journeys).await?);
        let report = journey_analytics::metrics(&inputs, request.as_of).map_err(system)?;
        let metrics_of: HashMap<&str, &JourneyMetrics> = report
            .journeys
            .iter()
            .map(|m| (m.journey.as_str(), m))
            .collect();
        let subjects: Vec<Subject> = chunk
            .iter()
            .filter_map(|(sid, i)| {
                let c = &consented[*i];
                let m = metrics_of.get(c.key.as_str())?;
                Some(Subject {
                    sid: sid.clone(),
                    consent: c,
                    metrics: m,
                    anchor: m.craft_start.unwrap_or(m.start),
                    suppressed: hidden[*i],
                })
            })
            .collect();
        subjects_written += subjects.len();
        let ids: Vec<String> = journeys.into_iter().map(|(id, _)| id).collect();
        let mut entries_of: HashMap<String, Vec<research::ResearchEntry>> = HashMap::new();
        for e in research::entries(pool, &ids, request.as_of).await? {
            entries_of.entry(e.journey_id.clone()).or_default().push(e);
        }
        let tables = crate::research_tables::tables(&subjects, entries_of, request.as_of);
        append(&mut writers, &tables)?;
    }
    if order.is_empty() {
        // No subject: the tables still have their columns (and one empty part each).
        let tables = crate::research_tables::tables(&[], HashMap::new(), request.as_of);
        append(&mut writers, &tables)?;
    }

    let mut files = Vec::new();
    let mut resources = Vec::new();
    let mut counts = Vec::new();
    for (name, writer) in TABLES.into_iter().zip(writers) {
        let columns = writer.columns();
        let columns: Vec<(&str, &str)> = columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let (parts, csv, rows) = writer.finish().map_err(system)?;
        let relative = |path: &Path| -> String {
            path.strip_prefix(request.out)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/")
        };
        let part_paths: Vec<String> = parts.iter().map(|p| relative(p)).collect();
        for (format, media) in [
            ("csv", "text/csv"),
            ("parquet", "application/vnd.apache.parquet"),
        ] {
            let path = if format == "csv" {
                json!(relative(&csv))
            } else {
                json!(part_paths)
            };
            let mut resource = json!({
                "name": format!("{name}-{format}"),
                "type": "table",
                "path": path,
                "format": format,
                "mediatype": media,
                "title": format!("{name} ({format})"),
                "description": crate::dataset::table_description(name),
                "rows": rows,
                "schema": crate::dataset::schema(name, &columns, &format!("subjects-{format}")),
            });
            if format == "csv" {
                resource["encoding"] = json!("utf-8");
                resource["dialect"] = json!({"delimiter": ",", "header": true});
            }
            resources.push(resource);
        }
        counts.push((name, rows, parts.len()));
        files.push(csv);
        files.extend(parts);
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
        readme(request, subjects_written, suppressed, &counts).as_bytes(),
    )?;
    files.push(readme_path);

    let mut hashes = Vec::new();
    for path in &files {
        // Hashed as it is read: the largest file (days.csv) is not held.
        let failed = |e: std::io::Error| AppError::Internal(format!("{}: {e}", path.display()));
        let mut hasher = Sha256::new();
        let mut file = std::fs::File::open(path).map_err(failed)?;
        let bytes = std::io::copy(&mut file, &mut hasher).map_err(failed)?;
        hashes.push(json!({
            "path": path.strip_prefix(request.out).unwrap_or(path).to_string_lossy().replace('\\', "/"),
            "bytes": bytes,
            "sha256": hex(&hasher.finalize()),
        }));
    }
    let manifest = json!({
        "project": request.project,
        "subjects": subjects_written,
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
        subjects: subjects_written,
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

fn readme(
    request: &Request<'_>,
    subjects: usize,
    suppressed: usize,
    tables: &[(&str, usize, usize)],
) -> String {
    let mut counts = String::new();
    for (name, rows, parts) in tables {
        counts.push_str(&format!(
            "| `{name}` | {rows} | `{name}.csv`, `{name}/` ({parts} Parquet part{}) |\n",
            if *parts == 1 { "" } else { "s" }
        ));
    }
    format!(
        "# Anonymized CRAFT journeys: project {project}\n\n\
Families who practise CRAFT recorded what they saw of a person struggling with substance use \
and what they did. This folder holds the journeys of the families who gave research consent, \
de-identified. Every table is given as one CSV file and as a folder of Parquet parts (read the \
folder as one table); `datapackage.json` (a Frictionless \
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
