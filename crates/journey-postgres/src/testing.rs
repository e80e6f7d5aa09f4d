//! Fresh databases for tests: one per test, on the server in `DATABASE_URL`, else the
//! machine's PostgreSQL at 127.0.0.1:5432, else an embedded cluster of the tests' own (so
//! the tests pass where no server runs). Each is dropped when its [`TestDb`] is.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};

/// Where the tests find a server, and the URL form of it.
#[derive(Clone)]
struct Server {
    admin: PgConnectOptions,
    /// `postgres://...` without the database name, to which `/NAME` (and query) is appended.
    url_base: String,
    url_query: String,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let admin: PgConnectOptions = url.parse().expect("DATABASE_URL is a PostgreSQL URL");
            let (base, query) = match url.split_once('?') {
                Some((base, query)) => (base.to_string(), format!("?{query}")),
                None => (url.clone(), String::new()),
            };
            let base = match base.rfind('/') {
                Some(i) if i > "postgres://".len() => base[..i].to_string(),
                _ => base,
            };
            return Server {
                admin,
                url_base: base,
                url_query: query,
            };
        }
        let local: SocketAddr = "127.0.0.1:5432".parse().expect("an address");
        if TcpStream::connect_timeout(&local, Duration::from_secs(1)).is_ok() {
            return Server {
                admin: "postgres://postgres@127.0.0.1:5432/postgres"
                    .parse()
                    .expect("a URL"),
                url_base: "postgres://postgres@127.0.0.1:5432".into(),
                url_query: String::new(),
            };
        }
        let dir = std::env::temp_dir().join("journey-test-pg");
        let options = crate::embedded::ensure_running(&dir)
            .unwrap_or_else(|e| panic!("no PostgreSQL for the tests: {e}"));
        let dir = dir.canonicalize().expect("the folder exists");
        Server {
            admin: options.database("postgres"),
            url_base: "postgres://postgres@localhost".into(),
            url_query: format!("?host={}", dir.display()),
        }
    })
}

/// A database of one test's own, migrated, dropped on drop.
pub struct TestDb {
    pub pool: PgPool,
    pub options: PgConnectOptions,
    /// A URL for `DATABASE_URL` of a `journey` process under test.
    pub url: String,
    /// This database's master key (a new random one), and its hex form for
    /// `JOURNEY_MASTER_KEY` of a `journey` process under test.
    pub master: crate::crypto::MasterKey,
    pub master_hex: String,
    name: String,
}

impl TestDb {
    /// Creates and migrates a fresh database.
    pub async fn fresh() -> TestDb {
        Self::create(true).await
    }

    /// Creates an empty database without the migrations.
    pub async fn empty() -> TestDb {
        Self::create(false).await
    }

    async fn create(migrated: bool) -> TestDb {
        let server = server();
        let name = format!("journey_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = server
            .admin
            .connect()
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        admin.close().await.expect("close");
        let options = server.admin.clone().database(&name);
        let pool = crate::db::connect(options.clone(), 8)
            .await
            .expect("connect to the test database");
        if migrated {
            crate::db::migrate(&pool).await.expect("migrations apply");
            if let Some(parts) = partitions() {
                partition_by_journey(&pool, parts)
                    .await
                    .expect("the journey tables partition");
            }
        }
        let url = format!("{}/{name}{}", server.url_base, server.url_query);
        let master_hex: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let master = crate::crypto::MasterKey::from_hex(&master_hex).expect("64 hex digits");
        TestDb {
            pool,
            options,
            url,
            master,
            master_hex,
            name,
        }
    }

    /// A data folder for an embedded cluster of a test's own.
    pub fn scratch_dir(label: &str) -> PathBuf {
        std::env::temp_dir().join(format!("journey-{label}-{}", uuid::Uuid::new_v4().simple()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = server().admin.clone();
        let name = self.name.clone();

        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        });
        let _ = dropped.join();
    }
}

/// The first column of the first row of `query`, as an i64 (tests count rows with it).
pub async fn scalar_i64(pool: &PgPool, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(pool)
        .await
        .expect("the query runs")
}

/// Runs `statement` (benchmarks set up their tables with it).
pub async fn execute(pool: &PgPool, statement: &str) {
    sqlx::query(statement)
        .execute(pool)
        .await
        .expect("the statement runs");
}

/// The rows of `query`, each as one JSON value (`SELECT to_jsonb(t) FROM ... t`).
pub async fn json_rows(pool: &PgPool, query: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar(query)
        .fetch_all(pool)
        .await
        .expect("the query runs")
}

/// A transaction on a test database.
pub type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Inserts event 1 of journey `id` (key `key`) inside `tx`, as another writer would.
pub async fn insert_event(tx: &mut Tx, id: &str, key: &str, payload: &serde_json::Value) {
    sqlx::query("INSERT INTO journey_keys (key, journey_id) VALUES ($1, $2)")
        .bind(key)
        .bind(id)
        .execute(&mut **tx)
        .await
        .expect("key inserted");
    // Another writer keeps `entry_index` in the statement that appends, as every writer must.
    sqlx::query(&format!(
        "WITH appended AS (
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('Journey', $1, 1, 'JourneyStarted', '1', $2, '{{}}')
             RETURNING {}),
         {}
         SELECT count(*) FROM appended",
        crate::store::APPENDED_COLUMNS,
        crate::store::INDEX_APPENDED
    ))
    .bind(id)
    .bind(payload)
    .execute(&mut **tx)
    .await
    .expect("event inserted");
}

/// The journey tables: each with the column that holds the journey id.
pub const JOURNEY_TABLES: [(&str, &str); 12] = [
    ("events", "aggregate_id"),
    ("snapshots", "aggregate_id"),
    ("entries", "journey_id"),
    ("entry_index", "journey_id"),
    ("journeys", "journey_id"),
    ("relapses_after_rehab", "journey_id"),
    ("research_consent", "journey_id"),
    ("journey_secrets", "journey_id"),
    ("read_checkpoint", "journey_id"),
    ("metric_weeks", "journey_id"),
    ("report_folders", "journey_id"),
    ("journey_access", "journey_id"),
];

/// `JOURNEY_TEST_PARTITIONS=N` (the test suite's second run of the store tests): fresh test
/// databases get their journey tables hash-partitioned by journey id into N partitions.
fn partitions() -> Option<usize> {
    std::env::var("JOURNEY_TEST_PARTITIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 1)
}

/// Turns every journey table of a migrated database into a table hash-partitioned by
/// journey id (`parts` partitions, PostgreSQL declarative partitioning): the way to check on
/// one machine that the schema keeps the rules of a store distributed by journey (every
/// primary key and unique constraint holds the journey id; see ARCHITECTURE.md). Each table
/// is rebuilt `LIKE` the old one (columns, defaults, identity, constraints, indexes), its
/// rows moved, and the views made again over the new tables.
pub async fn partition_by_journey(pool: &PgPool, parts: usize) -> Result<(), sqlx::Error> {
    let tables: Vec<String> = JOURNEY_TABLES
        .iter()
        .map(|(table, column)| format!("('{table}', '{column}')"))
        .collect();
    let sql = format!(
        r#"DO $$
DECLARE
  t record;
  v record;
  views text[] := '{{}}';
  defs text[] := '{{}}';
  i int;
BEGIN
  FOR v IN SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' LOOP
    views := views || v.viewname::text;
    defs := defs || v.definition;
    EXECUTE format('DROP VIEW %I', v.viewname);
  END LOOP;
  FOR t IN SELECT * FROM (VALUES {tables}) AS x(name, col) LOOP
    EXECUTE format('ALTER TABLE %I RENAME TO %I', t.name, t.name || '_unpartitioned');
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL) PARTITION BY HASH (%I)',
                   t.name, t.name || '_unpartitioned', t.col);
    FOR i IN 0..{last} LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS {parts}, REMAINDER %s)',
                     t.name || '_p' || i, t.name, i);
    END LOOP;
    EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM %I', t.name, t.name || '_unpartitioned');
    EXECUTE format('DROP TABLE %I', t.name || '_unpartitioned');
  END LOOP;
  FOR i IN 1..coalesce(array_length(views, 1), 0) LOOP
    EXECUTE format('CREATE VIEW %I AS %s', views[i], defs[i]);
  END LOOP;
END $$"#,
        tables = tables.join(", "),
        last = parts - 1,
    );
    sqlx::raw_sql(&sql).execute(pool).await?;
    Ok(())
}
