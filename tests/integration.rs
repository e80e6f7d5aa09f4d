//! Every test of the top-level tests/ folder, as one binary: one link of the workspace
//! instead of one per file. A file is a module; `common`, `history` and `webkit` are the
//! helpers they share. Run one file's tests with a filter on its module:
//! `cargo test -p journey-cli --test integration -- store::`.

mod common;
mod history;
mod webkit;

mod api;
mod api_schema;
mod bad_input;
mod erase;
mod family_pages;
mod faults;
mod faults_commands;
mod faults_network;
mod frontends;
mod group_commit;
mod import_export;
mod layout;
mod metrics_golden;
mod reports;
mod research;
mod second_factor;
mod sessions;
mod staff_pages;
mod store;
mod two_processes;
mod web;
mod web_e2e;
