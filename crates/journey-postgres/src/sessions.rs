//! The sessions of each account (migration 0018): opened at sign-in, checked on every
//! request (by primary key), listed and ended by their user, ended all at once by an admin
//! and by a password change.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::StoreError;

/// A session as its user sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub session_id: Uuid,
    pub device: String,
    pub via: String,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Opens a session of `user`; its id.
pub async fn open(pool: &PgPool, user: Uuid, device: &str, via: &str) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let device: String = device.chars().take(200).collect();
    sqlx::query(
        "INSERT INTO user_sessions (session_id, user_id, device, via) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(user)
    .bind(device)
    .bind(via)
    .execute(pool)
    .await?;
    Ok(id)
}

/// Marks session `id` as seen now.
pub async fn touch(pool: &PgPool, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE user_sessions SET last_seen = now() WHERE session_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The sessions of `user` that have not timed out (seen within `idle_minutes`, opened
/// within `absolute_hours`), last seen first.
pub async fn list(
    pool: &PgPool,
    user: Uuid,
    idle_minutes: i64,
    absolute_hours: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT session_id, device, via, created_at, last_seen FROM user_sessions
          WHERE user_id = $1
            AND last_seen > now() - make_interval(mins => $2::int)
            AND created_at > now() - make_interval(hours => $3::int)
          ORDER BY last_seen DESC, created_at DESC",
    )
    .bind(user)
    .bind(idle_minutes.clamp(1, i64::from(i32::MAX)) as i32 + 1)
    .bind(absolute_hours.clamp(1, i64::from(i32::MAX)) as i32)
    .fetch_all(pool)
    .await?)
}

/// Ends session `id` of `user`; whether there was one.
pub async fn end(pool: &PgPool, user: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND session_id = $2")
        .bind(user)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Ends every session of `user` but `keep`; how many were ended.
pub async fn end_all(pool: &PgPool, user: Uuid, keep: Option<Uuid>) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM user_sessions WHERE user_id = $1 AND session_id IS DISTINCT FROM $2",
    )
    .bind(user)
    .bind(keep)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Forgets sessions opened more than `absolute_hours` ago (they have timed out).
pub async fn forget_old(pool: &PgPool, absolute_hours: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM user_sessions WHERE created_at < now() - make_interval(hours => $1::int)",
    )
    .bind(absolute_hours.clamp(1, i64::from(i32::MAX)) as i32)
    .execute(pool)
    .await?
    .rows_affected())
}
