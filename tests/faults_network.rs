//! The fault suite: the connection between the app and PostgreSQL cut at random points,
//! right after a COMMIT was sent included (the app cannot know whether it committed), by a
//! small TCP proxy between them. Retries with the same Idempotency-Key must resolve every
//! write to one stored entry. Figures in docs/reliability.md.

use crate::{common, history};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PASSWORD: &str = "correct horse battery";

/// What the proxy did.
#[derive(Default)]
struct Cuts {
    /// Cutting starts when armed (after the server started and the client signed in).
    armed: AtomicBool,
    connections: AtomicUsize,
    /// Connections cut right after forwarding a COMMIT, before its answer came back.
    after_commit: AtomicUsize,
    /// Connections cut at another point (a chunk in either direction dropped).
    elsewhere: AtomicUsize,
}

/// Where the proxy forwards to: the test server's TCP address or Unix socket.
#[derive(Clone)]
enum Upstream {
    Tcp(String),
    Unix(std::path::PathBuf),
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn connect(upstream: &Upstream) -> std::io::Result<Box<dyn Stream>> {
    Ok(match upstream {
        Upstream::Tcp(addr) => Box::new(TcpStream::connect(addr).await?),
        Upstream::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
    })
}

/// A small random number generator per connection (xorshift), seeded from the counter.
struct Dice(u64);

impl Dice {
    fn one_in(&mut self, n: u64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.is_multiple_of(n)
    }
}

/// Forwards one connection, cutting it at random once armed.
async fn forward(client: TcpStream, upstream: Upstream, cuts: Arc<Cuts>, seed: u64) {
    let Ok(server) = connect(&upstream).await else {
        return;
    };
    let mut dice = Dice(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let (mut up, mut down) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let armed = cuts.armed.load(Ordering::Relaxed);
        tokio::select! {
            read = client_read.read(&mut up) => {
                let Ok(n) = read else { return };
                if n == 0 { return; }
                let chunk = &up[..n];
                // sqlx commits with the simple query "COMMIT" (a 'Q' message).
                let commit = chunk.windows(6).any(|w| w == b"COMMIT");
                if armed && commit && dice.one_in(6) {
                    let _ = server_write.write_all(chunk).await;
                    let _ = server_write.flush().await;
                    cuts.after_commit.fetch_add(1, Ordering::Relaxed);
                    return; // both sides dropped: the answer to the COMMIT never arrives
                }
                if armed && dice.one_in(150) {
                    cuts.elsewhere.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if server_write.write_all(chunk).await.is_err() { return; }
            }
            read = server_read.read(&mut down) => {
                let Ok(n) = read else { return };
                if n == 0 { return; }
                if armed && dice.one_in(150) {
                    cuts.elsewhere.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if client_write.write_all(&down[..n]).await.is_err() { return; }
            }
        }
    }
}

/// Starts the proxy; its address.
async fn proxy(upstream: Upstream, cuts: Arc<Cuts>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let n = cuts.connections.fetch_add(1, Ordering::Relaxed) as u64;
            tokio::spawn(forward(client, upstream.clone(), cuts.clone(), n + 1));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_cut_at_random_points_and_after_commit_store_each_write_once() {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("small.jsonl"));
    add_user(&db, "fam", "family", PASSWORD, Some("small"));
    let options = &db.options;
    let upstream = match options.get_socket() {
        Some(folder) => Upstream::Unix(folder.join(format!(".s.PGSQL.{}", options.get_port()))),
        None => Upstream::Tcp(format!("{}:{}", options.get_host(), options.get_port())),
    };
    let cuts = Arc::new(Cuts::default());
    let addr = proxy(upstream, cuts.clone()).await;
    let url = format!(
        // Without TLS, so that the proxy sees the COMMIT.
        "postgres://{}@{addr}/{}?sslmode=disable",
        options.get_username(),
        options.get_database().expect("a database name")
    );
    let server = Server::start_at(&db, &url);
    let cookie = api_sign_in(&server.url, "fam", PASSWORD).await;
    let before = sqlx_count(&db, "SELECT count(*) FROM entries").await;
    cuts.armed.store(true, Ordering::Relaxed);

    let history = history::run(history::Load {
        workers: 8,
        writes: 30,
        url: Arc::new(RwLock::new(server.url.clone())),
        cookie,
        pause: Duration::from_millis(20),
    })
    .await;
    cuts.armed.store(false, Ordering::Relaxed);

    let figures = history::check(&db, &history, before).await;
    println!(
        "faults (connections cut): {} connections, {} cut after a COMMIT, {} cut elsewhere",
        cuts.connections.load(Ordering::Relaxed),
        cuts.after_commit.load(Ordering::Relaxed),
        cuts.elsewhere.load(Ordering::Relaxed)
    );
    history::assert_exactly_once(&figures);
    assert!(
        cuts.after_commit.load(Ordering::Relaxed) > 0,
        "no COMMIT was cut: the test shows nothing"
    );
    assert!(figures.unavailable > 0, "no write saw the cuts");
    drop(server);
    history::assert_rebuild_agrees(&db).await;
}
