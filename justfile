# Everyday tasks. Get just with: cargo install just --locked

# What CI runs: fmt, clippy, all tests.
ci:
    bash .ci/run

# The demo: synthetic families into the embedded PostgreSQL (or DATABASE_URL).
demo:
    cargo run -p journey-cli -- demo

# All tests (installs what they need and is missing first).
test:
    scripts/test

# Benchmarks (figures in docs/benchmarks.md). Release build: these measure speed.
bench:
    cargo run --release -p journey-cli --features bench -- bench import
    cargo run --release -p journey-cli --features bench -- bench append
    cargo run --release -p journey-cli --features bench -- bench metrics
    cargo run --release -p journey-cli --features bench -- bench report
    cargo run --release -p journey-cli --features bench -- bench research
    cargo run --release -p journey-cli --features bench -- bench web
    cargo run --release -p journey-cli --features bench -- bench writes
    cargo run --release -p journey-cli --features bench -- bench write-cost

# Load on the web app with wrk (apt-get install wrk): timeline page and entry POST of a
# 3-year journey at 100 connections, next to the sign-in page.
load:
    cargo run --release -p journey-cli --features bench -- bench web

# schemathesis (pip install schemathesis) against /api/v1/openapi.json of a served app.
schemathesis:
    cargo test -p journey-cli --test integration -- api_schema:: --nocapture

# The web app end to end in headless Chromium (selenium); screenshots under
# $CARGO_TARGET_DIR/tmp/e2e-screenshots/.
e2e:
    cargo test -p journey-cli --test integration -- web_e2e::

# The web app on http://127.0.0.1:8080/ (accounts: journey user add, or the demo's).
serve:
    cargo run -p journey-cli -- serve

# The report of small.jsonl at 2025-04-01 in headless Chromium (screenshot under
# $CARGO_TARGET_DIR/tmp/report-screenshots/, or target/tmp/...).
screenshot:
    cargo test -p journey-cli --test integration -- reports::chromium_renders_the_small_report

fmt:
    cargo fmt --all

# Stop the embedded PostgreSQL.
stop:
    cargo run -p journey-cli -- stop

# The fault suite: the app killed, PostgreSQL restarted, connections cut, commands killed,
# backup and restore, two processes
# (docs/reliability.md). Also part of `cargo test --workspace`.
faults:
    cargo test -p journey-cli --test integration -- faults:: faults_network:: faults_commands:: two_processes:: --nocapture
