//! One polars pass over the entries of every journey: per (journey, day), how many entries
//! of each kind that matter to the day status and the practice components.

use chrono::NaiveDate;
use polars::prelude::*;
use polars::series::IsSorted;

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

/// Which of the [`COLUMNS`] an entry counts in (each entry counts in one at most).
fn column_of(kind: &str, status: Option<&str>, for_safety: bool) -> Option<u8> {
    Some(match (kind, status) {
        ("use_observed", _) | ("day_status", Some("use")) => 0,
        ("clean_day_observed", _) | ("day_status", Some("no_use")) => 1,
        ("reward_given", _) => 2,
        ("reward_withdrawn" | "stepped_away" | "natural_consequence_allowed", _) => 3,
        ("rescued", _) if !for_safety => 4,
        ("positive_communication", _) => 5,
        ("self_care", _) => 6,
        _ => return None,
    })
}

/// Bits of one count in a packed row (7 x 9 = 63 bits of a u64).
const FIELD_BITS: u32 = 9;
/// The most entries one (journey, day) may have for the packed sum to stay exact.
const FIELD_MAX: usize = (1 << FIELD_BITS) - 1;

/// The low half of a (journey, day) key: the day number shifted to be unsigned, so that
/// keys sort by journey, then day (days before 1970 included).
fn day_bits(day: i32) -> u64 {
    (i64::from(day) - i64::from(i32::MIN)) as u64
}

fn day_of_bits(key: u64) -> i32 {
    ((key & 0xffff_ffff) as i64 + i64::from(i32::MIN)) as i32
}

fn polars_error(err: PolarsError) -> AnalyticsError {
    AnalyticsError::Polars(err.to_string())
}

/// Aggregates the day facts of all `journeys` in one polars group-by.
pub fn aggregate(journeys: &[&JourneyInput], as_of: NaiveDate) -> Result<Facts, AnalyticsError> {
    // One u64 key per (journey, day): the journey's index in the high half, the day in the
    // low half (`day_bits`); and the column each entry counts in.
    let mut keys: Vec<u64> = Vec::new();
    let mut columns: Vec<u8> = Vec::new();
    let (mut in_order, mut run, mut longest_run) = (true, 0usize, 0usize);
    for (index, journey) in journeys.iter().enumerate() {
        for entry in &journey.entries {
            let Some(on) = entry.on.filter(|on| *on <= as_of && !entry.retracted) else {
                continue;
            };
            let Some(column) = column_of(&entry.kind, entry.status.as_deref(), entry.for_safety)
            else {
                continue;
            };
            let key = ((index as u64) << 32) | day_bits(day_number(on));
            match keys.last() {
                Some(&last) if key == last => run += 1,
                Some(&last) if key < last => (in_order, run) = (false, 1),
                _ => run = 1,
            }
            longest_run = longest_run.max(run);
            keys.push(key);
            columns.push(column);
        }
    }
    let (keys, counts) = if in_order && longest_run <= FIELD_MAX {
        packed_sums(keys, &columns)?
    } else {
        column_sums(keys, &columns)?
    };
    let mut facts: Facts = vec![Vec::new(); journeys.len()];
    for (key, count) in keys.into_iter().zip(counts) {
        let value = DayFacts {
            uses: count[0],
            no_uses: count[1],
            rewards: count[2],
            withdrawals: count[3],
            rescues: count[4],
            positive: count[5],
            self_care: count[6],
        };
        facts[(key >> 32) as usize].push((day_of_bits(key), value));
    }
    for days in &mut facts {
        days.sort_unstable_by_key(|(d, _)| *d);
    }
    Ok(facts)
}

/// The usual case: keys in order (`metric_input` holds each journey's entries in day order)
/// and fewer than 512 entries on any day. The seven counts of an entry are packed in one
/// u64 (9 bits each), so polars sums one column, over groups it takes from the sorted key
/// without hashing. Exact: no count can pass 511.
fn packed_sums(
    keys: Vec<u64>,
    columns: &[u8],
) -> Result<(Vec<u64>, Vec<[i64; 7]>), AnalyticsError> {
    let packed: Vec<u64> = columns
        .iter()
        .map(|&c| 1u64 << (FIELD_BITS * u32::from(c)))
        .collect();
    let mut key = Column::new("key".into(), keys);
    key.set_sorted_flag(IsSorted::Ascending);
    let frame = DataFrame::new_infer_height(vec![key, Column::new("packed".into(), packed)])
        .map_err(polars_error)?;
    #[allow(deprecated)]
    let out = frame
        .group_by(["key"])
        .and_then(|groups| groups.select(["packed"]).sum())
        .map_err(polars_error)?;
    let keys = u64_values(&out, "key")?;
    let counts = u64_values(&out, "packed_sum")?
        .into_iter()
        .map(|sum| {
            std::array::from_fn(|i| ((sum >> (FIELD_BITS * i as u32)) & FIELD_MAX as u64) as i64)
        })
        .collect();
    Ok((keys, counts))
}

/// Any order and any number of entries a day: one count column per component, hash
/// group-by.
fn column_sums(
    keys: Vec<u64>,
    columns: &[u8],
) -> Result<(Vec<u64>, Vec<[i64; 7]>), AnalyticsError> {
    let mut frame_columns = vec![Column::new("key".into(), keys)];
    for (i, name) in COLUMNS.iter().enumerate() {
        let values: Vec<u32> = columns
            .iter()
            .map(|&c| u32::from(usize::from(c) == i))
            .collect();
        frame_columns.push(Column::new((*name).into(), values));
    }
    let frame = DataFrame::new_infer_height(frame_columns).map_err(polars_error)?;
    // Eager group-by: polars 0.53's lazy engine needs its `new_streaming` feature (a much
    // larger build) for a group-by; the eager one is the same aggregation.
    #[allow(deprecated)]
    let out = frame
        .group_by(["key"])
        .and_then(|groups| groups.select(COLUMNS).sum())
        .map_err(polars_error)?;
    let keys = u64_values(&out, "key")?;
    let sums: Vec<Vec<u64>> = COLUMNS
        .iter()
        .map(|name| u64_values(&out, &format!("{name}_sum")))
        .collect::<Result<_, _>>()?;
    let counts = (0..keys.len())
        .map(|row| std::array::from_fn(|i| sums[i][row] as i64))
        .collect();
    Ok((keys, counts))
}

/// The values of column `name` of `frame` as u64 (nulls as 0).
fn u64_values(frame: &DataFrame, name: &str) -> Result<Vec<u64>, AnalyticsError> {
    let column = frame
        .column(name)
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(polars_error)?;
    let values = column.u64().map_err(polars_error)?;
    Ok(values.iter().map(|v| v.unwrap_or(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry of `kind` on `on`, not retracted, with no type-specific field.
    fn entry(kind: &str, on: NaiveDate) -> crate::EntryInput {
        crate::EntryInput {
            kind: kind.into(),
            on: Some(on),
            ..Default::default()
        }
    }

    #[test]
    fn keys_sort_by_journey_then_day_and_give_the_day_back() {
        let days = [i32::MIN, -1, 0, 1, 20_000, i32::MAX];
        for pair in days.windows(2) {
            assert!(day_bits(pair[0]) < day_bits(pair[1]), "{pair:?}");
        }
        for (journey, day) in [(0u64, -5), (3, 0), (7, 19_000), (u32::MAX as u64, i32::MIN)] {
            let key = (journey << 32) | day_bits(day);
            assert_eq!((key >> 32, day_of_bits(key)), (journey, day));
        }
        assert!((1u64 << 32) | day_bits(i32::MIN) > day_bits(i32::MAX));
    }

    #[test]
    fn entries_in_any_order_give_the_same_facts() {
        use crate::JourneyInput;
        let day = |d: u32| NaiveDate::from_ymd_opt(2025, 3, d).unwrap();
        let entry = |kind: &str, d: u32| entry(kind, day(d));
        let in_order = JourneyInput {
            key: "a".into(),
            entries: vec![
                entry("use_observed", 1),
                entry("reward_given", 2),
                entry("clean_day_observed", 2),
                entry("self_care", 5),
            ],
        };
        let mut shuffled = in_order.clone();
        shuffled.entries.reverse();
        let sorted = aggregate(&[&in_order], day(31)).unwrap();
        let other = aggregate(&[&shuffled], day(31)).unwrap();
        assert_eq!(sorted, other);
        let days: Vec<i32> = sorted[0].iter().map(|(d, _)| *d).collect();
        assert_eq!(days, [day(1), day(2), day(5)].map(day_number).to_vec());
        assert_eq!(sorted[0][1].1.rewards, 1);
        assert_eq!(sorted[0][1].1.no_uses, 1);
    }

    #[test]
    fn the_packed_sums_equal_the_column_sums_and_a_crowded_day_is_exact() {
        // Journey 0: days 10 and 11; journey 1: day 10 with one entry of every column.
        let keys: Vec<u64> = [(0u64, 10), (0, 10), (0, 11), (1, 10), (1, 10), (1, 10)]
            .iter()
            .chain(std::iter::repeat_n(&(1u64, 10), 4))
            .map(|&(j, d)| (j << 32) | day_bits(d))
            .collect();
        let columns = [0u8, 2, 1, 0, 1, 2, 3, 4, 5, 6];
        let packed = packed_sums(keys.clone(), &columns).unwrap();
        let plain = column_sums(keys, &columns).unwrap();
        let mut plain: Vec<(u64, [i64; 7])> = plain.0.into_iter().zip(plain.1).collect();
        plain.sort();
        let packed: Vec<(u64, [i64; 7])> = packed.0.into_iter().zip(packed.1).collect();
        assert_eq!(packed, plain);
        assert_eq!(packed[0].1, [1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(packed[2].1, [1, 1, 1, 1, 1, 1, 1]);

        // More entries on one day than a packed count holds: counted by columns, exactly.
        let day = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        let crowded = crate::JourneyInput {
            key: "c".into(),
            entries: (0..FIELD_MAX + 100)
                .map(|_| entry("reward_given", day))
                .collect(),
        };
        let facts = aggregate(&[&crowded], day).unwrap();
        assert_eq!(facts[0][0].1.rewards, (FIELD_MAX + 100) as i64);
    }
}
