//! Second factors (migration 0017): a TOTP secret per account, sealed with the master key,
//! the time step of the last code accepted, and single-use recovery codes (their SHA-256).
//! Every statement here is by primary key.

use sqlx::PgPool;
use uuid::Uuid;

use crate::crypto::{open_bytes, seal_bytes, MasterKey};
use crate::error::StoreError;

/// The context a user's TOTP secret is sealed for.
fn context(user: Uuid) -> String {
    format!("totp:{user}")
}

/// A user's second factor as stored, with the secret opened.
pub struct Stored {
    pub secret: Vec<u8>,
    /// False while an enrolment from the web waits for its first code.
    pub confirmed: bool,
}

/// Enrols `user` with `secret` (replacing any earlier secret and recovery codes). A
/// `confirmed` enrolment holds at once, with the step of the code that confirmed it (or -1);
/// an unconfirmed one waits for [`confirm`].
pub async fn enrol(
    pool: &PgPool,
    master: &MasterKey,
    user: Uuid,
    secret: &[u8],
    confirmed: bool,
    recovery_sha256: &[Vec<u8>],
) -> Result<(), StoreError> {
    let sealed = seal_bytes(master, &context(user), secret);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO second_factors (user_id, sealed_secret, confirmed_at)
         VALUES ($1, $2, CASE WHEN $3 THEN now() END)
         ON CONFLICT (user_id) DO UPDATE
            SET sealed_secret = excluded.sealed_secret, confirmed_at = excluded.confirmed_at,
                last_step = -1, created_at = now()",
    )
    .bind(user)
    .bind(&sealed)
    .bind(confirmed)
    .execute(&mut *tx)
    .await?;
    replace_codes(&mut tx, user, recovery_sha256).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the recovery codes of `user` (their SHA-256).
pub async fn set_recovery_codes(
    pool: &PgPool,
    user: Uuid,
    recovery_sha256: &[Vec<u8>],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    replace_codes(&mut tx, user, recovery_sha256).await?;
    tx.commit().await?;
    Ok(())
}

async fn replace_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user: Uuid,
    recovery_sha256: &[Vec<u8>],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO recovery_codes (user_id, code_sha256) SELECT $1, unnest($2::bytea[])")
        .bind(user)
        .bind(recovery_sha256)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The second factor of `user`, if they have one (confirmed or waiting).
pub async fn stored(
    pool: &PgPool,
    master: &MasterKey,
    user: Uuid,
) -> Result<Option<Stored>, StoreError> {
    let row: Option<(Vec<u8>, bool)> = sqlx::query_as(
        "SELECT sealed_secret, confirmed_at IS NOT NULL FROM second_factors WHERE user_id = $1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await?;
    row.map(|(sealed, confirmed)| {
        Ok(Stored {
            secret: open_bytes(master, &context(user), &sealed)?,
            confirmed,
        })
    })
    .transpose()
}

/// Accepts a code of time step `step` for `user`: true when the step is later than every
/// step accepted before (so a code is never accepted twice, by any process). A waiting
/// enrolment is confirmed by its first code only when `confirm` is set.
pub async fn accept_step(
    pool: &PgPool,
    user: Uuid,
    step: i64,
    confirm: bool,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE second_factors
            SET last_step = $2, confirmed_at = coalesce(confirmed_at, now())
          WHERE user_id = $1 AND last_step < $2
            AND (confirmed_at IS NOT NULL OR $3)",
    )
    .bind(user)
    .bind(step)
    .bind(confirm)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Uses up the recovery code of `user` with this SHA-256: true when it was there, unused
/// (and the second factor confirmed).
pub async fn use_recovery_code(
    pool: &PgPool,
    user: Uuid,
    code_sha256: &[u8],
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE recovery_codes r SET used_at = now()
          FROM second_factors f
         WHERE r.user_id = $1 AND r.code_sha256 = $2 AND r.used_at IS NULL
           AND f.user_id = r.user_id AND f.confirmed_at IS NOT NULL",
    )
    .bind(user)
    .bind(code_sha256)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// How many unused recovery codes `user` has.
pub async fn recovery_codes_left(pool: &PgPool, user: Uuid) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user)
    .fetch_one(pool)
    .await?)
}
