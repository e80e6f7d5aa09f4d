//! Accounts of the web app (users, roles, who may see which journey), the timeline's entry
//! list, and the stored answers of idempotent API writes. Passwords arrive here hashed.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::StoreError;
use crate::read::JourneyRow;

/// The roles of `users.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Family,
    Counselor,
    Researcher,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Family => "family",
            Role::Counselor => "counselor",
            Role::Researcher => "researcher",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "family" => Some(Role::Family),
            "counselor" => Some(Role::Counselor),
            "researcher" => Some(Role::Researcher),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    /// Enrolled in a second factor (a confirmed TOTP secret: `second_factors`).
    pub second_factor: bool,
}

impl User {
    /// Whether the account must have a second factor before it reaches any journey data:
    /// counselors, researchers and admins (family members may choose one).
    pub fn needs_second_factor(&self) -> bool {
        self.role != Role::Family && !self.second_factor
    }
}

type UserRow = (Uuid, String, String, String, String, bool);

fn user(row: UserRow) -> Result<User, StoreError> {
    let (user_id, username, display_name, role, password_hash, second_factor) = row;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?;
    Ok(User {
        user_id,
        username,
        display_name,
        role,
        password_hash,
        second_factor,
    })
}

const USER_COLUMNS: &str = "user_id, username, display_name, role, password_hash,
     EXISTS (SELECT 1 FROM second_factors f
              WHERE f.user_id = users.user_id AND f.confirmed_at IS NOT NULL)";

/// Creates a user; `Ok(None)` when the username is taken.
pub async fn create_user(
    pool: &PgPool,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> Result<Option<Uuid>, StoreError> {
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO users (user_id, username, display_name, role, password_hash)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
    )
    .bind(id)
    .bind(username)
    .bind(display_name)
    .bind(role.as_str())
    .bind(password_hash)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(id))
}

/// Replaces a user's password hash; false when there is no such user.
pub async fn set_password(
    pool: &PgPool,
    username: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let n = sqlx::query("UPDATE users SET password_hash = $2 WHERE username = $1")
        .bind(username)
        .bind(password_hash)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// The user with `username`.
pub async fn user_by_name(pool: &PgPool, username: &str) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.map(user).transpose()
}

/// The user with id `id`.
pub async fn user_by_id(pool: &PgPool, id: Uuid) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(user).transpose()
}

/// The user of session `session_id` (`user_sessions`), while it has not been ended: the
/// check every signed-in request makes, in one statement by primary keys.
pub async fn user_by_session(pool: &PgPool, session_id: Uuid) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users
          WHERE user_id = (SELECT user_id FROM user_sessions WHERE session_id = $1)"
    ))
    .bind(session_id)
    .fetch_optional(pool)
    .await?;
    row.map(user).transpose()
}

/// Every user, by username.
pub async fn users(pool: &PgPool) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY username"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(user).collect()
}

/// Why an assignment was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AssignError {
    NoUser,
    NoJourney,
    /// Only family members and counselors are assigned to journeys.
    Role(Role),
}

/// Gives the family member or counselor `username` access to the journey `key` (again: no-op).
pub async fn assign(
    pool: &PgPool,
    username: &str,
    key: &str,
) -> Result<Result<bool, AssignError>, StoreError> {
    let Some(user) = user_by_name(pool, username).await? else {
        return Ok(Err(AssignError::NoUser));
    };
    if !matches!(user.role, Role::Family | Role::Counselor) {
        return Ok(Err(AssignError::Role(user.role)));
    }
    let Some(journey_id) = crate::keys::journey_id(pool, key).await? else {
        return Ok(Err(AssignError::NoJourney));
    };
    let added = sqlx::query(
        "INSERT INTO journey_access (user_id, journey_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user.user_id)
    .bind(journey_id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Ok(added > 0))
}

/// Takes the access of `username` to journey `key` away; false when there was none.
pub async fn unassign(pool: &PgPool, username: &str, key: &str) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "DELETE FROM journey_access a USING users u, journey_keys k
          WHERE a.user_id = u.user_id AND a.journey_id = k.journey_id
            AND u.username = $1 AND k.key = $2",
    )
    .bind(username)
    .bind(key)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Every assignment as (username, role, journey key), by key then username.
pub async fn assignments(pool: &PgPool) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT u.username, u.role, k.key
           FROM journey_access a JOIN users u USING (user_id) JOIN journey_keys k USING (journey_id)
          ORDER BY k.key, u.username",
    )
    .fetch_all(pool)
    .await?)
}

/// The journeys `user` is assigned to, in key order.
pub async fn visible_journeys(pool: &PgPool, user: Uuid) -> Result<Vec<JourneyRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT j.journey_id, j.key, j.start, j.craft_start, j.relationship, j.substances,
                j.entries, j.retracted, j.last_recorded
           FROM journeys j JOIN journey_access a USING (journey_id)
          WHERE a.user_id = $1 ORDER BY j.key",
    )
    .bind(user)
    .fetch_all(pool)
    .await?)
}

/// The journey with key `key` if `user` is assigned to it (`None` for a journey that does
/// not exist and for one the user may not see alike: callers answer both with 404) and, when
/// `audit` is given and the journey is visible, its row of `audit_log` (`actor`, `action`,
/// `detail`), in one statement: the access check of a journey request is one round trip.
pub async fn visible_journey(
    pool: &PgPool,
    user: Uuid,
    key: &str,
    audit: Option<(&str, &str, &Value)>,
) -> Result<Option<JourneyRow>, StoreError> {
    let (actor, action, detail) = match audit {
        Some((actor, action, detail)) => (Some(actor), Some(action), Some(detail)),
        None => (None, None, None),
    };
    Ok(sqlx::query_as(
        "WITH visible AS (
             SELECT j.journey_id, j.key, j.start, j.craft_start, j.relationship, j.substances,
                    j.entries, j.retracted, j.last_recorded
               FROM journeys j JOIN journey_access a USING (journey_id)
              WHERE a.user_id = $1 AND j.key = $2),
         audit AS (
             INSERT INTO audit_log (actor, action, journey_id, detail)
             SELECT $3, $4, journey_id, $5 FROM visible WHERE $3::text IS NOT NULL)
         SELECT * FROM visible",
    )
    .bind(user)
    .bind(key)
    .bind(actor)
    .bind(action)
    .bind(detail)
    .fetch_optional(pool)
    .await?)
}

/// One entry as the timeline lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimelineEntry {
    pub entry: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub on: Option<NaiveDate>,
    pub by: Option<String>,
    pub fields: Value,
    pub recorded_at: DateTime<Utc>,
    pub retracted: bool,
}

/// Which of a journey's entries to list (retracts themselves are never listed).
#[derive(Debug, Clone, Copy)]
pub enum Listing<'a> {
    /// A page, newest day first (then newest recorded first).
    Page { limit: i64, offset: i64 },
    /// The entries of one day, newest recorded first.
    Day(NaiveDate),
    /// The entries of one type, newest day first.
    Type(&'a str),
    /// The entry with this id.
    Entry(&'a str),
}

/// A page of the journey's entries, newest day first (then newest recorded first), retracts
/// left out (a retracted entry shows as retracted). How many there are in all is the
/// journey row's `entries + retracted`.
pub async fn timeline(
    pool: &PgPool,
    master: &crate::crypto::MasterKey,
    journey_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<TimelineEntry>, StoreError> {
    list(pool, master, journey_id, Listing::Page { limit, offset }).await
}

/// The journey's entries that `which` names, with handles and note text opened. Each
/// listing is one statement on the `entries_timeline` index (or the primary key).
pub async fn list(
    pool: &PgPool,
    master: &crate::crypto::MasterKey,
    journey_id: &str,
    which: Listing<'_>,
) -> Result<Vec<TimelineEntry>, StoreError> {
    type Row = (
        String,
        String,
        Option<NaiveDate>,
        Option<String>,
        Value,
        DateTime<Utc>,
        bool,
        Option<Vec<u8>>,
    );
    let (filter, limit, offset) = match which {
        Listing::Page { limit, offset } => ("", limit, offset),
        Listing::Day(_) => (r#"AND "on" = $4::date"#, i64::MAX, 0),
        Listing::Type(_) => ("AND type = $4", i64::MAX, 0),
        Listing::Entry(_) => ("AND entry = $4", 1, 0),
    };
    // One statement: the entries and, on each row, the journey's wrapped key.
    let sql = format!(
        r#"SELECT e.entry, e.type, e."on", e."by", e.fields, e.recorded_at, e.retracted,
                  k.wrapped_key
             FROM (SELECT * FROM entries
                    WHERE journey_id = $1 AND type <> 'retract' {filter}
                    ORDER BY "on" DESC NULLS LAST, sequence DESC
                    LIMIT $2 OFFSET $3) e
             LEFT JOIN journey_secrets k ON k.journey_id = $1
            ORDER BY e."on" DESC NULLS LAST, e.sequence DESC"#
    );
    let query = sqlx::query_as::<_, Row>(&sql)
        .bind(journey_id)
        .bind(limit)
        .bind(offset);
    let query = match which {
        Listing::Page { .. } => query,
        Listing::Day(day) => query.bind(day.to_string()),
        Listing::Type(text) | Listing::Entry(text) => query.bind(text),
    };
    let rows: Vec<Row> = query.fetch_all(pool).await?;
    let secret = match rows.iter().find_map(|row| row.7.as_deref()) {
        Some(wrapped) => Some(crate::crypto::unwrap_key(master, journey_id, wrapped)?),
        None => None,
    };
    let secret = secret.as_ref();
    let entries = rows
        .into_iter()
        .map(
            |(entry, kind, on, by, mut fields, recorded_at, retracted, _)| {
                if let Some(Value::String(text)) = fields.get_mut("text") {
                    *text = crate::crypto::open(secret, text);
                }
                TimelineEntry {
                    entry,
                    kind,
                    on,
                    by: by.map(|b| crate::crypto::open(secret, &b)),
                    fields,
                    recorded_at,
                    retracted,
                }
            },
        )
        .collect();
    Ok(entries)
}

/// Counts a sign-in attempt for `username` (lower-cased by the caller); `Some(seconds)` to
/// wait when `per_minute` attempts were made in the last minute already, by any process.
pub async fn sign_in_attempt(
    pool: &PgPool,
    username: &str,
    per_minute: u32,
) -> Result<Option<u64>, StoreError> {
    let (earlier, oldest): (i64, Option<f64>) = sqlx::query_as(
        "WITH counted AS (INSERT INTO sign_in_attempts (username) VALUES ($1))
         SELECT count(*), extract(epoch FROM now() - min(at))::float8
           FROM sign_in_attempts
          WHERE username = $1 AND at > now() - interval '1 minute'",
    )
    .bind(username)
    .fetch_one(pool)
    .await?;
    if earlier < i64::from(per_minute) {
        return Ok(None);
    }
    let waited = oldest.unwrap_or(0.0);
    Ok(Some((60.0 - waited).ceil().max(1.0) as u64))
}

/// Forgets sign-in attempts older than an hour.
pub async fn forget_sign_in_attempts(pool: &PgPool) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM sign_in_attempts WHERE at < now() - interval '1 hour'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// A device a family member chose to be remembered on.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Device {
    pub device_id: Uuid,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Remembers a device of `user` by the SHA-256 of its token, for `days` days.
pub async fn remember_device(
    pool: &PgPool,
    user: Uuid,
    token_sha256: &[u8],
    description: &str,
    days: i32,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let description: String = description.chars().take(200).collect();
    sqlx::query(
        "INSERT INTO remembered_devices (device_id, user_id, token_sha256, description, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(days => $5))",
    )
    .bind(id)
    .bind(user)
    .bind(token_sha256)
    .bind(description)
    .bind(days)
    .execute(pool)
    .await?;
    Ok(id)
}

/// The user a device token (its SHA-256) remembers, when it has not expired; marks it used.
pub async fn remembered_user(
    pool: &PgPool,
    token_sha256: &[u8],
) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "WITH used AS (UPDATE remembered_devices SET last_used = now()
                        WHERE token_sha256 = $1 AND expires_at > now() RETURNING user_id)
         SELECT {USER_COLUMNS} FROM users WHERE user_id = (SELECT user_id FROM used)"
    ))
    .bind(token_sha256)
    .fetch_optional(pool)
    .await?;
    row.map(user).transpose()
}

/// The remembered devices of `user` that have not expired, last used first.
pub async fn devices(pool: &PgPool, user: Uuid) -> Result<Vec<Device>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT device_id, description, created_at, last_used, expires_at FROM remembered_devices
          WHERE user_id = $1 AND expires_at > now() ORDER BY last_used DESC",
    )
    .bind(user)
    .fetch_all(pool)
    .await?)
}

/// Forgets a device of `user` (by id), or the device of a token; whether one was forgotten.
/// Expired devices are forgotten at the same time.
pub async fn forget_device(
    pool: &PgPool,
    user: Uuid,
    device: Option<Uuid>,
    token_sha256: Option<&[u8]>,
) -> Result<bool, StoreError> {
    let forgotten = sqlx::query(
        "DELETE FROM remembered_devices
          WHERE user_id = $1 AND (device_id = $2 OR token_sha256 = $3 OR expires_at <= now())",
    )
    .bind(user)
    .bind(device)
    .bind(token_sha256)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(forgotten > 0)
}
