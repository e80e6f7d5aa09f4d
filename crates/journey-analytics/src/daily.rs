//! One polars pass over the entries of every journey: per (journey, day), how many entries
//! of each kind that matter to the day status and the practice components.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::{AnalyticsError, JourneyInput};

/// Counts of one day's entries (not retracted, dated on or before `as_of`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayFacts {
    pub uses: i64,
    pub no_uses: i64,
    pub rewards: i64,
    pub withdrawals: i64,
    pub rescues: i64,
    pub positive: i64,
    pub self_care: i64,
}

/// Facts by journey index (position in `journeys`): `(day number, facts)` of the days with
/// entries, in day order (day number: days since 1970-01-01).
pub type Facts = Vec<Vec<(i32, DayFacts)>>;

const COLUMNS: [&str; 7] = [
    "uses",
    "no_uses",
    "rewards",
    "withdrawals",
    "rescues",
    "positive",
    "self_care",
];

/// The day number of `day`.
pub fn day_number(day: NaiveDate) -> i32 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn flags(kind: &str, status: Option<&str>, for_safety: bool) -> Option<[u32; 7]> {
    let mut row = [0u32; 7];
    match (kind, status) {
        ("use_observed", _) | ("day_status", Some("use")) => row[0] = 1,
        ("clean_day_observed", _) | ("day_status", Some("no_use")) => row[1] = 1,
        ("reward_given", _) => row[2] = 1,
        ("reward_withdrawn" | "stepped_away" | "natural_consequence_allowed", _) => row[3] = 1,
        ("rescued", _) if !for_safety => row[4] = 1,
        ("positive_communication", _) => row[5] = 1,
        ("self_care", _) => row[6] = 1,
        _ => return None,
    }
    Some(row)
}

fn polars_error(err: PolarsError) -> AnalyticsError {
    AnalyticsError::Polars(err.to_string())
}

/// Aggregates the day facts of all `journeys` in one lazy group-by.
pub fn aggregate(journeys: &[&JourneyInput], as_of: NaiveDate) -> Result<Facts, AnalyticsError> {
    let mut journey_col: Vec<u32> = Vec::new();
    let mut day_col: Vec<i32> = Vec::new();
    let mut flag_cols: Vec<Vec<u32>> = vec![Vec::new(); COLUMNS.len()];
    for (index, journey) in journeys.iter().enumerate() {
        for entry in &journey.entries {
            let Some(on) = entry.on.filter(|on| *on <= as_of && !entry.retracted) else {
                continue;
            };
            let Some(row) = flags(&entry.kind, entry.status.as_deref(), entry.for_safety) else {
                continue;
            };
            journey_col.push(index as u32);
            day_col.push(day_number(on));
            for (column, value) in flag_cols.iter_mut().zip(row) {
                column.push(value);
            }
        }
    }
    let mut columns = vec![
        Column::new("journey".into(), journey_col),
        Column::new("day".into(), day_col),
    ];
    for (name, values) in COLUMNS.iter().zip(flag_cols) {
        columns.push(Column::new((*name).into(), values));
    }
    let frame = DataFrame::new_infer_height(columns).map_err(polars_error)?;
    // Eager group-by: polars 0.53's lazy engine needs its `new_streaming` feature (a much
    // larger build) for a group-by; the eager one is the same hash aggregation.
    #[allow(deprecated)]
    let out = frame
        .group_by(["journey", "day"])
        .and_then(|groups| groups.select(COLUMNS).sum())
        .map_err(polars_error)?;
    let journey = out
        .column("journey")
        .and_then(|c| c.u32().cloned())
        .map_err(polars_error)?;
    let day = out
        .column("day")
        .and_then(|c| c.i32().cloned())
        .map_err(polars_error)?;
    let counts: Vec<Int64Chunked> = COLUMNS
        .iter()
        .map(|name| {
            out.column(&format!("{name}_sum"))
                .and_then(|c| c.cast(&DataType::Int64))
                .and_then(|c| c.i64().cloned())
        })
        .collect::<Result<_, _>>()
        .map_err(polars_error)?;
    let counts: Vec<Vec<i64>> = counts
        .iter()
        .map(|c| c.iter().map(|v| v.unwrap_or(0)).collect())
        .collect();
    let mut facts: Facts = vec![Vec::new(); journeys.len()];
    for (row, (j, d)) in journey.iter().zip(day.iter()).enumerate() {
        let (Some(j), Some(d)) = (j, d) else {
            continue;
        };
        let count = |i: usize| counts[i][row];
        let value = DayFacts {
            uses: count(0),
            no_uses: count(1),
            rewards: count(2),
            withdrawals: count(3),
            rescues: count(4),
            positive: count(5),
            self_care: count(6),
        };
        facts[j as usize].push((d, value));
    }
    for days in &mut facts {
        days.sort_unstable_by_key(|(d, _)| *d);
    }
    Ok(facts)
}
