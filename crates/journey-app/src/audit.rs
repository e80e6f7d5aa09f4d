//! The audit rows of reads, written in batches: a request hands its row to a channel and
//! goes on; a task stores what has gathered in one statement (commits that do not wait for
//! the disk). A crash of the app or the database server may lose the last fraction of a
//! second of read rows; writes are audited in their own statement, synchronously
//! (`access.rs`).

use chrono::Utc;
use journey_postgres::research::{audit_many, AuditRow};
use journey_postgres::PgPool;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::AppError;

/// Rows waiting at most; when the writer falls this far behind, a request writes its own.
const QUEUE: usize = 10_000;
/// Rows per statement at most.
const BATCH: usize = 1_000;

/// Where reads leave their audit rows.
pub struct AuditWriter {
    queue: mpsc::Sender<AuditRow>,
    pool: PgPool,
}

impl AuditWriter {
    /// Starts the writer's task on the current runtime; it ends with the writer.
    pub fn start(pool: PgPool) -> AuditWriter {
        let (queue, mut rows) = mpsc::channel::<AuditRow>(QUEUE);
        let writer_pool = pool.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rows.recv_many(&mut batch, BATCH).await > 0 {
                // A database that is away gets a few tries before the rows are given up
                // (and said so).
                for attempt in 1..=5u64 {
                    match audit_many(&writer_pool, &batch).await {
                        Ok(()) => break,
                        Err(e) if attempt == 5 => {
                            eprintln!("journey: {} read audit rows not stored: {e}", batch.len())
                        }
                        Err(_) => {
                            tokio::time::sleep(std::time::Duration::from_millis(200 * attempt))
                                .await
                        }
                    }
                }
                batch.clear();
            }
        });
        AuditWriter { queue, pool }
    }

    /// Records that `actor` did `action` (a read) to journey `journey_id`.
    pub async fn read(
        &self,
        actor: &str,
        action: &str,
        journey_id: &str,
        detail: Value,
    ) -> Result<(), AppError> {
        let row = AuditRow {
            at: Utc::now(),
            actor: actor.to_string(),
            action: action.to_string(),
            journey_id: Some(journey_id.to_string()),
            detail,
        };
        match self.queue.try_send(row) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(row) | mpsc::error::TrySendError::Closed(row)) => {
                audit_many(&self.pool, std::slice::from_ref(&row)).await?;
                Ok(())
            }
        }
    }
}
