//! The journey domain: what a family records and the rules it must keep.
//!
//! Pure: no clock, no randomness, no I/O. Times and ids arrive in commands. Depends on
//! neither sqlx, axum, polars nor plotters (checked by `tests/purity.rs`).

pub mod aggregate;
pub mod entry;
mod ids;
pub mod interchange;
pub mod lookup;
pub mod names;
mod text;

pub use aggregate::{
    EntryLookup, Erased, Journey, JourneyCommand, JourneyError, JourneyEvent, JourneyServices,
    Recorded, RelapseAfterRehab, ResearchConsent, StoredEntry, AGGREGATE_TYPE,
};
pub use entry::{Body, Entry};
pub use lookup::MemoryLookup;
pub use names::{EntryId, JourneyKey, NameError, ProjectName, Username};
