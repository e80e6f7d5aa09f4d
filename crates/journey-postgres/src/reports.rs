//! Where `journey report` wrote each journey's files, so that erasure finds them all.

use std::path::{Path, PathBuf};

use sqlx::PgPool;

use crate::StoreError;

/// Remembers that the reports of journey `journey_id` are in `folder` (absolute).
pub async fn remember(pool: &PgPool, journey_id: &str, folder: &Path) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO report_folders (journey_id, folder) VALUES ($1, $2)
         ON CONFLICT (journey_id, folder) DO UPDATE SET written_at = now()",
    )
    .bind(journey_id)
    .bind(folder.to_string_lossy().as_ref())
    .execute(pool)
    .await?;
    Ok(())
}

/// The folders the reports of journey `journey_id` were written to (the erasure deletes
/// these rows in its transaction).
pub async fn folders(pool: &PgPool, journey_id: &str) -> Result<Vec<PathBuf>, StoreError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT folder FROM report_folders WHERE journey_id = $1 ORDER BY folder")
            .bind(journey_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(f,)| PathBuf::from(f)).collect())
}
