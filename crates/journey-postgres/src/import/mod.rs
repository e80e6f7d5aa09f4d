//! Bulk import of journey files: every line is checked by the same `Journey` aggregate as a
//! single command, and everything is stored in one transaction with a few large statements
//! per block of lines (no round trip per event). All or nothing unless `skip_invalid`; the
//! file is read a block at a time, so memory does not grow with it.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::Aggregate;
use journey_domain::interchange::{parse_line, DerivedIds, Line};
use journey_domain::{
    Body, Entry, JourneyCommand, JourneyError, JourneyServices, MemoryLookup, StoredEntry,
};
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::StoreError;
use crate::store::{insert_events, serialize};
use journeys::{load_journeys, Pending};

mod journeys;

/// Rows per INSERT statement.
const INSERT_ROWS_MAX: usize = 10_000;
/// Lines between two progress reports.
const PROGRESS_LINES: usize = 200_000;

/// Receives progress messages of a large import.
pub type Progress = Box<dyn Fn(&str) + Send + Sync>;

/// Called with each refused line of an import ([`ImportOptions::on_invalid`]).
pub type OnInvalid = Box<dyn Fn(&LineError) + Send + Sync>;

/// How an import behaves.
pub struct ImportOptions {
    /// Store the valid lines and report the rest, instead of storing nothing.
    pub skip_invalid: bool,
    /// The time the entries are recorded at ("today" for the one-day-ahead rule).
    pub recorded_at: DateTime<Utc>,
    /// Called with a progress message for large files.
    pub progress: Option<Progress>,
    /// Lines checked and written at a time ([`BLOCK_LINES`]; fewer in tests).
    pub block_lines: usize,
    /// Called with every refused line, in line order, as the import finds them (a block
    /// at a time): the report keeps only the first [`INVALID_KEPT`], so that a file of
    /// millions of bad lines is reported whole without being held.
    pub on_invalid: Option<OnInvalid>,
    /// Do everything, then roll back instead of committing (a benchmark's import into a
    /// store it keeps unchanged; the report says what would have been stored).
    pub roll_back: bool,
}

impl ImportOptions {
    /// All or nothing, recorded now, silent, in blocks of [`BLOCK_LINES`].
    pub fn all_or_nothing() -> ImportOptions {
        ImportOptions {
            skip_invalid: false,
            recorded_at: Utc::now(),
            progress: None,
            block_lines: BLOCK_LINES,
            on_invalid: None,
            roll_back: false,
        }
    }
}

/// One refused line: its 1-based number and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.line, self.reason)
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: usize,
    /// Entries stored now.
    pub stored: usize,
    /// Lines whose entry was already stored (same id and content): nothing stored.
    pub already_stored: usize,
    /// Derived events stored (relapse after rehab).
    pub derived: usize,
    /// Journeys started by this import.
    pub journeys_new: usize,
    /// Lines refused (nothing was stored unless `skip_invalid`).
    pub invalid_lines: usize,
    /// The first [`INVALID_KEPT`] refused lines, in line order (every one goes to
    /// [`ImportOptions::on_invalid`]).
    pub invalid: Vec<LineError>,
    /// True when something was written.
    pub committed: bool,
}

/// Refused lines an [`ImportReport`] keeps.
pub const INVALID_KEPT: usize = 1_000;

/// Non-blank lines checked, and their events sent to the transaction, at a time: what the
/// import holds in memory besides a few numbers per journey and 20 bytes per line without
/// an id.
pub const BLOCK_LINES: usize = 20_000;

/// The class (first key) of the advisory lock imports take turns by ("JI").
const IMPORT_LOCK_CLASS: i32 = 0x4a49;

/// Reads the next block of `source`: up to `size` lines, the parsed ones with their numbers
/// and derived ids returned, the invalid ones added to `invalid`. Empty at the end of the
/// file.
fn read_block(
    source: &mut (dyn BufRead + Send),
    size: usize,
    number: &mut usize,
    ids: &mut DerivedIds,
    invalid: &mut Vec<LineError>,
) -> Result<Vec<(usize, Line)>, StoreError> {
    let mut lines = Vec::new();
    let mut raw = Vec::new();
    // Refused lines count towards the block too: they are held until it is settled.
    let refused_before = invalid.len();
    while lines.len() + (invalid.len() - refused_before) < size.max(1) {
        raw.clear();
        let read = source
            .read_until(b'\n', &mut raw)
            .map_err(|e| StoreError::Source(e.to_string()))?;
        if read == 0 {
            break;
        }
        *number += 1;
        let bytes = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text.trim_end_matches('\r'),
            Err(e) => {
                invalid.push(LineError {
                    line: *number,
                    reason: format!("not UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
                });
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        match parse_line(text) {
            Ok(mut line) => {
                ids.assign(text, &mut line);
                lines.push((*number, line));
            }
            Err(err) => invalid.push(LineError {
                line: *number,
                reason: err.message,
            }),
        }
    }
    Ok(lines)
}

/// Imports a journey file held in memory (an upload); see [`import_from`].
pub async fn import(
    pool: &PgPool,
    master: &crate::crypto::MasterKey,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<ImportReport, StoreError> {
    import_from(pool, master, &mut &bytes[..], options).await
}

/// Imports a journey file read from `source` a block of lines at a time, in one transaction:
/// each block is checked and its events written into the transaction (where the entry
/// index, kept by a trigger, answers the next blocks' questions about them), and the
/// journeys' snapshots and read rows follow at the end. Memory does not grow with the file.
/// `Err` only for a failure of the system; invalid lines are in the report (and then
/// nothing is stored unless `skip_invalid`).
pub async fn import_from(
    pool: &PgPool,
    master: &crate::crypto::MasterKey,
    source: &mut (dyn BufRead + Send),
    options: &ImportOptions,
) -> Result<ImportReport, StoreError> {
    let mut tx = pool.begin().await?;
    match import_in(pool, &mut tx, master, source, options).await {
        Ok(report) if report.committed && !options.roll_back => {
            tx.commit().await?;
            Ok(report)
        }
        Ok(mut report) => {
            tx.rollback().await?;
            report.committed = false;
            Ok(report)
        }
        // Rolled back at once: the journeys' snapshot rows stay locked until it is.
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn import_in(
    pool: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    master: &crate::crypto::MasterKey,
    source: &mut (dyn BufRead + Send),
    options: &ImportOptions,
) -> Result<ImportReport, StoreError> {
    let progress = |message: &str| {
        if let Some(report) = &options.progress {
            report(message);
        }
    };
    // Imports take turns (a transaction lock: it goes with the transaction, whatever becomes
    // of the process). Each holds the journeys it writes to as it meets them, in file order,
    // so two at once could each hold a journey the other needs next.
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, 0)")
        .bind(IMPORT_LOCK_CLASS)
        .fetch_one(&mut **tx)
        .await?;
    if !free {
        progress("another import is running: this one starts when it ends");
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
            .bind(IMPORT_LOCK_CLASS)
            .execute(&mut **tx)
            .await?;
    }
    let mut report = ImportReport::default();
    let mut journeys: HashMap<String, Pending> = HashMap::new();
    let mut secrets: HashMap<String, crate::crypto::JourneyKey> = HashMap::new();
    let (mut number, mut ids) = (0, DerivedIds::default());
    let mut parsed = 0;
    loop {
        let invalid_before = report.invalid.len();
        let block = read_block(
            source,
            options.block_lines,
            &mut number,
            &mut ids,
            &mut report.invalid,
        )?;
        let refused = report.invalid.len() - invalid_before;
        if block.is_empty() && refused == 0 {
            break;
        }
        let before = parsed;
        parsed += block.len();
        report.lines += block.len() + refused;
        load_journeys(pool, tx, master, &block, &mut journeys, &mut secrets).await?;
        check_block(tx, block, &mut journeys, &secrets, options, &mut report).await?;
        settle_invalid(&mut report, invalid_before, options);
        write_block(tx, &mut journeys).await?;
        if parsed / PROGRESS_LINES > before / PROGRESS_LINES {
            progress(&format!("{parsed} lines checked"));
        }
    }
    if report.lines == 0 {
        report.invalid.push(LineError {
            line: 1,
            reason: "the file holds no journey lines".into(),
        });
        settle_invalid(&mut report, 0, options);
        return Ok(report);
    }
    if report.invalid_lines > 0 && !options.skip_invalid {
        return Ok(report);
    }
    let mut written: Vec<&Pending> = journeys.values().filter(|p| p.written).collect();
    written.sort_by(|a, b| a.id.cmp(&b.id));
    report.journeys_new = written.iter().filter(|p| p.new).count();
    if report.stored > 0 {
        progress(&format!(
            "projecting {} events of {} journeys",
            report.stored + report.derived,
            written.len()
        ));
        write_snapshots(tx, &written).await?;
        let ids: Vec<String> = written.iter().map(|p| p.id.clone()).collect();
        for chunk in ids.chunks(crate::projector::CHUNK_JOURNEYS) {
            crate::projector::project(tx, chunk).await?;
        }
        report.committed = true;
    }
    Ok(report)
}

/// The lines a block refused (`report.invalid[from..]`): put in line order, given to
/// `on_invalid`, counted, and kept only up to [`INVALID_KEPT`].
fn settle_invalid(report: &mut ImportReport, from: usize, options: &ImportOptions) {
    let found = &mut report.invalid[from..];
    found.sort_by_key(|e| e.line);
    if let Some(each) = &options.on_invalid {
        found.iter().for_each(each);
    }
    report.invalid_lines += found.len();
    report.invalid.truncate(INVALID_KEPT);
}

/// Checks the lines of a block in order; their events wait in their journeys.
async fn check_block(
    tx: &mut Transaction<'_, Postgres>,
    block: Vec<(usize, Line)>,
    journeys: &mut HashMap<String, Pending>,
    secrets: &HashMap<String, crate::crypto::JourneyKey>,
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let lookup = Arc::new(prefetch_entries(tx, journeys, &block).await?);
    let services: JourneyServices = lookup.clone();
    let metadata = metadata();
    for (number, line) in block {
        let pending = journeys
            .get_mut(&line.journey)
            .expect("every key was loaded");
        let Some(secret) = secrets.get(&pending.id) else {
            // Only an erased journey has no key; its key name is gone, so this is a journey
            // created concurrently under the same new key by another writer.
            return Err(StoreError::Conflict);
        };
        let entry = crate::crypto::seal_entry(secret, line.entry);
        match check(pending, entry, options.recorded_at, &services).await {
            Ok(events) if events.is_empty() => report.already_stored += 1,
            Ok(events) => {
                lookup.record(&pending.id, &events);
                report.stored += 1;
                report.derived += events.len() - 1;
                for event in &events {
                    pending.sequence += 1;
                    pending
                        .events
                        .push(serialize(&pending.id, pending.sequence, event, &metadata));
                }
            }
            Err(rule) => report.invalid.push(LineError {
                line: number,
                reason: rule.to_string(),
            }),
        }
    }
    Ok(())
}

fn metadata() -> HashMap<String, String> {
    HashMap::from([("via".to_string(), "import".to_string())])
}

/// Runs one line through the aggregate; on success the state already holds its events.
async fn check(
    pending: &mut Pending,
    entry: Entry,
    recorded_at: DateTime<Utc>,
    services: &JourneyServices,
) -> Result<Vec<journey_domain::JourneyEvent>, JourneyError> {
    let command = JourneyCommand::Record {
        journey_id: pending.id.clone(),
        entry,
        recorded_at,
    };
    let sink = EventSink::default();
    pending.state.handle(command, services, &sink).await?;
    Ok(sink.collect().await)
}

/// The stored entries a block's lines name (their own ids and retract targets), read in
/// the import's transaction: earlier blocks' entries are there too.
async fn prefetch_entries(
    tx: &mut Transaction<'_, Postgres>,
    journeys: &HashMap<String, Pending>,
    block: &[(usize, Line)],
) -> Result<MemoryLookup, StoreError> {
    let lookup = MemoryLookup::default();
    let mut ids = Vec::new();
    let mut entries = Vec::new();
    for (_, line) in block {
        let pending = &journeys[&line.journey];
        if pending.new && !pending.written {
            continue;
        }
        ids.push(pending.id.clone());
        entries.push(line.entry.entry.clone());
        if let Body::Retract { target, .. } = &line.entry.body {
            ids.push(pending.id.clone());
            entries.push(target.clone());
        }
    }
    if ids.is_empty() {
        return Ok(lookup);
    }
    let rows: Vec<(String, serde_json::Value, bool)> = sqlx::query_as(
        "SELECT i.journey_id, i.content, i.retracted
           FROM unnest($1::text[], $2::text[]) AS w(journey_id, entry)
           JOIN entry_index i USING (journey_id, entry)",
    )
    .bind(&ids)
    .bind(&entries)
    .fetch_all(&mut **tx)
    .await?;
    for (journey_id, content, retracted) in rows {
        let entry: Entry =
            serde_json::from_value(content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        lookup.insert(&journey_id, StoredEntry { entry, retracted });
    }
    Ok(lookup)
}

/// Sends a block's checked events to the transaction, with the keys of journeys that get
/// their first events, in journey id order (as every writer takes them).
async fn write_block(
    tx: &mut Transaction<'_, Postgres>,
    journeys: &mut HashMap<String, Pending>,
) -> Result<(), StoreError> {
    let mut touched: Vec<&mut Pending> = journeys
        .values_mut()
        .filter(|p| !p.events.is_empty())
        .collect();
    touched.sort_by(|a, b| a.id.cmp(&b.id));
    let (keys, ids): (Vec<String>, Vec<String>) = touched
        .iter()
        .filter(|p| p.new && !p.written)
        .map(|p| (p.key.clone(), p.id.clone()))
        .unzip();
    sqlx::query(
        "INSERT INTO journey_keys (key, journey_id) SELECT * FROM unnest($1::text[], $2::text[])",
    )
    .bind(&keys)
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    let (ids, wrapped): (Vec<String>, Vec<Vec<u8>>) = touched
        .iter_mut()
        .filter_map(|p| p.wrapped.take().map(|w| (p.id.clone(), w)))
        .unzip();
    sqlx::query(
        "INSERT INTO journey_secrets (journey_id, wrapped_key) SELECT * FROM unnest($1::text[], $2::bytea[])",
    )
    .bind(&ids)
    .bind(&wrapped)
    .execute(&mut **tx)
    .await?;
    let events: Vec<SerializedEvent> = touched
        .iter_mut()
        .flat_map(|p| {
            p.written = true;
            std::mem::take(&mut p.events)
        })
        .collect();
    let events: Vec<&SerializedEvent> = events.iter().collect();
    for chunk in events.chunks(INSERT_ROWS_MAX) {
        insert_events(tx, chunk).await?;
    }
    Ok(())
}

async fn write_snapshots(
    tx: &mut Transaction<'_, Postgres>,
    journeys: &[&Pending],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = journeys.iter().map(|p| p.id.as_str()).collect();
    let sequences: Vec<i64> = journeys.iter().map(|p| p.sequence as i64).collect();
    let versions: Vec<i64> = journeys.iter().map(|p| p.snapshot as i64 + 1).collect();
    let states: Vec<String> = journeys
        .iter()
        .map(|p| serde_json::to_string(&p.state).expect("state serializes"))
        .collect();
    let written = sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
         SELECT 'Journey', id, seq, v, s::json
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS r(id, seq, v, s)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
            SET last_sequence = excluded.last_sequence, current_snapshot = excluded.current_snapshot,
                payload = excluded.payload
          WHERE snapshots.current_snapshot = excluded.current_snapshot - 1",
    )
    .bind(&ids)
    .bind(&sequences)
    .bind(&versions)
    .bind(&states)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if written != journeys.len() as u64 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}
