//! Journey keys (the caller's names) and the internal random ids they map to.

use sqlx::PgPool;
use uuid::Uuid;

/// The internal id of the journey with key `key`, if it exists.
pub async fn journey_id(pool: &PgPool, key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT journey_id FROM journey_keys WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// Gives `key` a new random id, or returns the one a concurrent writer gave it first.
/// A key reserved by a command that then failed keeps its id: it holds no events, and the
/// next `journey_started` uses it.
pub async fn reserve(pool: &PgPool, key: &str) -> Result<String, sqlx::Error> {
    let fresh = Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO journey_keys (key, journey_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(&fresh)
    .execute(pool)
    .await?;
    Ok(journey_id(pool, key)
        .await?
        .expect("the key was just reserved"))
}
