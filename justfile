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

fmt:
    cargo fmt --all

# Stop the embedded PostgreSQL.
stop:
    cargo run -p journey-cli -- stop
