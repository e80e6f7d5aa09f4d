//! The fault suite (`just faults`; also part of the README's test command, bounded to about
//! half a minute): histories of concurrent API writes with Idempotency-Keys while the app
//! is killed (SIGKILL) and restarted, checked against what is stored and against a rebuild.
//! The figures of the last run are in docs/reliability.md.

use crate::{common, history};

use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::*;
use journey_postgres::testing::TestDb;

const PASSWORD: &str = "correct horse battery";
const WORKERS: usize = 8;
const WRITES_PER_WORKER: usize = 60;

use history::Op;

async fn sign_in(base: &str) -> String {
    api_sign_in(base, "fam", PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_app_under_idempotent_writes_loses_and_duplicates_nothing() {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("small.jsonl"));
    add_user(&db, "fam", "family", PASSWORD, Some("small"));
    let server = Server::start(&db);
    let url = Arc::new(RwLock::new(server.url.clone()));
    let cookie = sign_in(&server.url).await;
    let before = sqlx_count(&db, "SELECT count(*) FROM entries").await;

    let load = tokio::spawn(history::run(history::Load {
        workers: WORKERS,
        writes: WRITES_PER_WORKER,
        url: url.clone(),
        cookie: cookie.clone(),
        pause: Duration::from_millis(50),
    }));

    // Kill the app twice mid-load; a new one takes over at another address each time.
    let mut servers = vec![server];
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        servers.last_mut().expect("a server").kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let next = Server::start(&db);
        *url.write().expect("url") = next.url.clone();
        servers.push(next);
    }
    let history = load.await.expect("the load ends");
    let figures = history::check(&db, &history, before).await;
    history::assert_exactly_once(&figures);
    assert!(
        figures.unknown > 0,
        "the kills hit writes in flight (else the test shows nothing)"
    );
    drop(servers);
    history::assert_rebuild_agrees(&db).await;
}

/// `journey` over the embedded cluster of `dir` (no DATABASE_URL), with a fixed master key.
fn embedded(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_journey"));
    command
        .arg("--data-dir")
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env("JOURNEY_MASTER_KEY", "5a".repeat(32));
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_immediate_restart_of_postgresql_under_idempotent_writes_loses_and_duplicates_nothing() {
    use std::io::{BufRead, BufReader, Write};
    // A cluster of this test's own (never the machine's shared server).
    let dir = TestDb::scratch_dir("faults-pg");
    let small = fixture("small.jsonl");
    let out = embedded(&dir)
        .arg("import")
        .arg(&small)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut add = embedded(&dir)
        .args(["user", "add", "fam", "--role", "family", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(add.wait_with_output().unwrap().status.success());
    let out = embedded(&dir)
        .args(["user", "assign", "fam", "--journey", "small"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut serve = embedded(&dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve runs");
    let mut first = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the URL")
        .trim_end_matches('/')
        .to_string();
    let cookie = sign_in(&base).await;

    let load = tokio::spawn(history::run(history::Load {
        workers: WORKERS,
        writes: 40,
        url: Arc::new(RwLock::new(base.clone())),
        cookie,
        pause: Duration::from_millis(50),
    }));

    tokio::time::sleep(Duration::from_millis(600)).await;
    let bin = journey_postgres::embedded::find_bin_dir().expect("PostgreSQL's binaries");
    let cluster = dir.canonicalize().expect("the data folder");
    // As root the cluster runs as `postgres` (embedded.rs), so pg_ctl does too.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut stop = if root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join("pg_ctl"));
        c
    } else {
        std::process::Command::new(bin.join("pg_ctl"))
    };
    let stop = stop
        .arg("-D")
        .arg(&cluster)
        .args(["-m", "immediate", "-w", "stop"])
        .output()
        .expect("pg_ctl runs");
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let options = journey_postgres::embedded::ensure_running(&dir).expect("started again");

    let ops: Vec<Op> = load.await.expect("the load ends").into_values().collect();
    let pool = sqlx::PgPool::connect_with(options).await.expect("connects");
    let ids: Vec<String> = ops.iter().filter_map(|op| op.entry.clone()).collect();
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT entry, count(*) FROM entries WHERE entry = ANY($1) GROUP BY entry")
            .bind(&ids)
            .fetch_all(&pool)
            .await
            .expect("the query");
    // Entry ids made from an Idempotency-Key start with "i-"; the fixture's do not.
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM entries WHERE entry LIKE 'i-%'")
        .fetch_one(&pool)
        .await
        .expect("the query");
    let unavailable = ops
        .iter()
        .filter(|op| op.answers.contains(&Some(503)))
        .count();
    let unknown = ops
        .iter()
        .filter(|op| op.answers.iter().any(Option::is_none))
        .count();
    let duplicated = counts.iter().filter(|(_, n)| *n > 1).count();
    println!(
        "faults (PostgreSQL restart): {} writes, {} acknowledged, {} stored, {} lost, {duplicated} duplicated, {} stored beyond the acknowledged; {unavailable} answered 503 first, {unknown} had an unknown outcome",
        ops.len(),
        ids.len(),
        counts.len(),
        ids.len() - counts.len(),
        total as usize - counts.len()
    );
    pool.close().await;
    let _ = serve.kill();
    let _ = serve.wait();
    let _ = journey_postgres::embedded::stop(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(ids.len(), ops.len(), "every write ends acknowledged");
    assert_eq!(
        counts.len(),
        ops.len(),
        "every acknowledged write is stored"
    );
    assert_eq!(duplicated, 0);
    assert_eq!(
        total as usize,
        ops.len(),
        "nothing stored that was not asked for"
    );
    assert!(
        unavailable > 0,
        "the restart hit writes (else the test shows nothing)"
    );
}
