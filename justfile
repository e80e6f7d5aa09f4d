# Everyday tasks. Get just with: cargo install just --locked

# What CI runs: fmt, clippy, all tests.
ci:
    bash .ci/run

# The demo: synthetic families into the embedded PostgreSQL (or DATABASE_URL).
demo:
    cargo run -p journey-cli -- demo

# All tests.
test:
    cargo test --workspace

# Benchmarks (figures in docs/benchmarks.md). Release build: these measure speed.
bench:
    cargo run --release -p journey-cli -- bench import
    cargo run --release -p journey-cli -- bench append
    cargo run --release -p journey-cli -- bench metrics
    cargo run --release -p journey-cli -- bench report
    cargo run --release -p journey-cli -- bench research

# The report of small.jsonl at 2025-04-01 in headless Chromium (screenshot under
# $CARGO_TARGET_DIR/tmp/report-screenshots/, or target/tmp/...).
screenshot:
    cargo test --workspace --test reports chromium_renders_the_small_report

fmt:
    cargo fmt --all

# Stop the embedded PostgreSQL.
stop:
    cargo run -p journey-cli -- stop
