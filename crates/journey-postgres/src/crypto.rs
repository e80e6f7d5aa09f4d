//! Crypto-shredding of private free text. The reporter handle (`by`), the text of notes and
//! the reason of a retraction are sealed before they reach the aggregate, so events, snapshots, the entry index and the
//! read tables only ever hold ciphertext:
//!
//! - Every journey has its own random 256-bit key in `journey_secrets`, wrapped (XChaCha20-
//!   Poly1305, the journey id as associated data) by a master key that never enters the
//!   database; the caller hands it in ([`MasterKey`]: 64 hex digits, or a file made on first
//!   use with mode 0600). This crate reads no environment variable for it.
//! - Sealing is deterministic (XChaCha20-Poly1305 with the nonce taken from an HMAC of the
//!   text under the journey key), so the same line imported twice is still the same entry.
//!   It reveals only whether two texts of one journey are equal.
//! - `journey erase` deletes the journey's key: its ciphertexts can never be opened again.

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use journey_domain::{Body, Entry};
use rand::RngCore;
use sha2::Sha256;
use sqlx::PgPool;

use crate::error::StoreError;

/// What a sealed text starts with.
pub const SEALED: &str = "sealed:v1:";
/// What an opened text of an erased journey reads as.
pub const ERASED: &str = "[erased]";

/// The key that wraps every journey key. It never enters the database; the binary finds it
/// (environment or file) and hands it in as a value.
#[derive(Clone)]
pub struct MasterKey(XChaCha20Poly1305);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

fn parse_hex(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a master key is 64 hexadecimal digits".into());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(key)
}

fn load_or_create(path: &Path) -> Result<[u8; 32], String> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_hex(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder)
                    .map_err(|e| format!("{}: {e}", folder.display()))?;
            }
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut file) => {
                    file.write_all(format!("{hex}\n").as_bytes())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok(key)
                }
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
                Err(e) => Err(format!("{}: {e}", path.display())),
            }
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl MasterKey {
    fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        MasterKey(XChaCha20Poly1305::new_from_slice(bytes).expect("32 bytes"))
    }

    /// The key written as 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Result<MasterKey, String> {
        Ok(Self::from_bytes(&parse_hex(text)?))
    }

    /// The check value of this key: a fixed text sealed with it (a fixed nonce, used for
    /// this text only). It tells whether a key is the one a store was sealed with, and
    /// nothing about the key.
    fn check_value(&self) -> Vec<u8> {
        self.0
            .encrypt(
                &XNonce::from([0u8; 24]),
                Payload {
                    msg: CHECK_TEXT,
                    aad: b"master key check",
                },
            )
            .expect("encryption in memory")
    }

    fn opens_check(&self, sealed: &[u8]) -> bool {
        self.0
            .decrypt(
                &XNonce::from([0u8; 24]),
                Payload {
                    msg: sealed,
                    aad: b"master key check",
                },
            )
            .is_ok_and(|text| text == CHECK_TEXT)
    }

    /// The key in the file `path` (64 hexadecimal digits); a missing file is created with a
    /// new random key, mode 0600.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, String> {
        Ok(Self::from_bytes(&load_or_create(path)?))
    }
}

const CHECK_TEXT: &[u8] = b"journey master key check v1";

/// Whether the store `pool` holds sealed data (a master key check value or a journey key):
/// then no new master key may be made for it.
pub async fn store_is_sealed(pool: &PgPool) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM master_key_check) OR EXISTS (SELECT 1 FROM journey_secrets)",
    )
    .fetch_one(pool)
    .await?)
}

/// Checks that `master` is the key the store `pool` was sealed with (its check value, or
/// for a store from before the check value, one of its journey keys), and records the check
/// value when the store has none. `Ok(false)` when the key does not match.
pub async fn verify_master(pool: &PgPool, master: &MasterKey) -> Result<bool, StoreError> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM master_key_check")
        .fetch_optional(pool)
        .await?;
    if let Some(sealed) = stored {
        return Ok(master.opens_check(&sealed));
    }
    let sample: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT journey_id, wrapped_key FROM journey_secrets LIMIT 1")
            .fetch_optional(pool)
            .await?;
    if let Some((id, wrapped)) = sample {
        if unwrap(master, &id, &wrapped).is_err() {
            return Ok(false);
        }
    }
    sqlx::query("INSERT INTO master_key_check (sealed) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(master.check_value())
        .execute(pool)
        .await?;
    // Another process may have stored its check value first: it must be ours too.
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM master_key_check")
        .fetch_one(pool)
        .await?;
    Ok(master.opens_check(&sealed))
}

/// One journey's key.
#[derive(Clone)]
pub struct JourneyKey {
    aead: XChaCha20Poly1305,
    nonce_key: [u8; 32],
}

impl JourneyKey {
    fn new(material: &[u8; 32]) -> JourneyKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(material).expect("any key length");
        mac.update(b"journey nonce key v1");
        JourneyKey {
            aead: XChaCha20Poly1305::new_from_slice(material).expect("32 bytes"),
            nonce_key: mac.finalize().into_bytes().into(),
        }
    }

    /// `text` sealed: `sealed:v1:` and base64url of nonce and ciphertext. Deterministic.
    pub fn seal(&self, text: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.nonce_key).expect("any key length");
        mac.update(text.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut nonce = [0u8; 24];
        nonce.copy_from_slice(&digest[..24]);
        let sealed = self
            .aead
            .encrypt(&XNonce::from(nonce), text.as_bytes())
            .expect("encryption of a text in memory");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The text of `sealed`; a text that was never sealed comes back as it is.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let Some(body) = sealed.strip_prefix(SEALED) else {
            return Some(sealed.to_string());
        };
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() < 24 + 16 {
            return None;
        }
        let mut nonce = [0u8; 24];
        nonce.copy_from_slice(&bytes[..24]);
        let plain = self.aead.decrypt(&XNonce::from(nonce), &bytes[24..]).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The text of a stored value with `key` (`None`: the journey was erased).
pub fn open(key: Option<&JourneyKey>, stored: &str) -> String {
    if !stored.starts_with(SEALED) {
        return stored.to_string();
    }
    key.and_then(|k| k.open(stored))
        .unwrap_or_else(|| ERASED.to_string())
}

/// `entry` with its handle and note text sealed.
pub fn seal_entry(key: &JourneyKey, mut entry: Entry) -> Entry {
    if let Some(by) = &entry.by {
        entry.by = Some(key.seal(by));
    }
    match &mut entry.body {
        Body::Note { text } => *text = key.seal(text),
        // Why an entry was retracted is the family's free text, like a note.
        Body::Retract {
            reason: Some(reason),
            ..
        } => *reason = key.seal(reason),
        _ => {}
    }
    entry
}

/// `entry` with its handle and note text opened.
pub fn open_entry(key: Option<&JourneyKey>, mut entry: Entry) -> Entry {
    if let Some(by) = &entry.by {
        entry.by = Some(open(key, by));
    }
    match &mut entry.body {
        Body::Note { text } => *text = open(key, text),
        Body::Retract {
            reason: Some(reason),
            ..
        } => *reason = open(key, reason),
        _ => {}
    }
    entry
}

/// The keys of the journeys `ids`; with `create`, journeys without one get a new one.
/// An erased journey has none (and gets none: its id is never written to again).
pub async fn keys(
    pool: &PgPool,
    master: &MasterKey,
    ids: &[String],
    create: bool,
) -> Result<HashMap<String, JourneyKey>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    if create {
        let wrapped: Vec<Vec<u8>> = ids.iter().map(|id| new_key(master, id).0).collect();
        sqlx::query(
            "INSERT INTO journey_secrets (journey_id, wrapped_key)
             SELECT * FROM unnest($1::text[], $2::bytea[])
             ON CONFLICT (journey_id) DO NOTHING",
        )
        .bind(ids)
        .bind(&wrapped)
        .execute(pool)
        .await?;
    }
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT journey_id, wrapped_key FROM journey_secrets WHERE journey_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for (id, wrapped) in rows {
        let key = unwrap(master, &id, &wrapped)?;
        out.insert(id, key);
    }
    Ok(out)
}

/// A new random key for journey `id`: wrapped by `master` (what `journey_secrets` keeps),
/// and open.
pub fn new_key(master: &MasterKey, id: &str) -> (Vec<u8>, JourneyKey) {
    let mut material = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut material);
    (
        seal_bytes(master, id, &material),
        JourneyKey::new(&material),
    )
}

/// `secret` sealed by `master` for `context` (the context must be given again to open it):
/// a random nonce, then XChaCha20-Poly1305's output.
pub fn seal_bytes(master: &MasterKey, context: &str, secret: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = master
        .0
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secret,
                aad: context.as_bytes(),
            },
        )
        .expect("encryption in memory");
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    bytes
}

/// What [`seal_bytes`] sealed for `context`.
pub fn open_bytes(master: &MasterKey, context: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    if sealed.len() < 24 {
        return Err(StoreError::Corrupt(format!(
            "the secret of {context} is cut short"
        )));
    }
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&sealed[..24]);
    master
        .0
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &sealed[24..],
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| {
            StoreError::Unavailable(
                "the master key does not open the store's secrets (it is not the key they were made with)".into(),
            )
        })
}

/// The key of journey `id` from its `journey_secrets.wrapped_key`, read by the caller
/// (the timeline reads it with its page of entries).
pub fn unwrap_key(master: &MasterKey, id: &str, wrapped: &[u8]) -> Result<JourneyKey, StoreError> {
    unwrap(master, id, wrapped)
}

fn unwrap(master: &MasterKey, id: &str, wrapped: &[u8]) -> Result<JourneyKey, StoreError> {
    let material: [u8; 32] = open_bytes(master, id, wrapped)?
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("journey key of {id} is not 32 bytes")))?;
    Ok(JourneyKey::new(&material))
}

/// The store's random id (migration 0016), which names its default master key file.
pub async fn store_id(pool: &PgPool) -> Result<uuid::Uuid, StoreError> {
    Ok(sqlx::query_scalar("SELECT id FROM store_identity")
        .fetch_one(pool)
        .await?)
}
