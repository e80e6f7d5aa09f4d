//! Bad input: every invalid line is reported as `LINE: reason`, exit code 1, nothing stored.

use crate::common;

use common::*;

const START: &str = r#"{"journey":"b","type":"journey_started","on":"2025-01-01","relationship":"parent","entry":"s"}"#;

/// Imports `START` + `lines` into a store that already holds the small fixture; asserts that
/// the import fails naming `line_no` and `needle`, and that nothing was stored.
async fn refused(lines: &[&str], line_no: usize, needle: &str) {
    let db = TestDb::fresh().await;
    let small = fixture("small.jsonl");
    import_file(&db, &small);
    let before = event_count(&db).await;
    let mut text = String::from(START);
    for line in lines {
        text.push('\n');
        text.push_str(line);
    }
    let file = file_with(text);
    let out = journey(&db, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    let expected = format!("journey.jsonl:{line_no}: ");
    let line = message
        .lines()
        .find(|l| l.contains(&expected))
        .unwrap_or_else(|| panic!("no line {line_no} in {message}"));
    assert!(line.contains(needle), "{line} should name {needle}");
    assert_eq!(event_count(&db).await, before, "nothing stored");
    assert!(
        stdout(&journey(&db, &["journeys"])).contains("small"),
        "earlier data kept"
    );
}

#[tokio::test]
async fn a_malformed_line_is_refused() {
    refused(&[r#"{"journey":"b","type":"#], 2, "not JSON").await;
}

#[tokio::test]
async fn an_unknown_type_is_refused() {
    refused(
        &[r#"{"journey":"b","type":"dance","on":"2025-01-02"}"#],
        2,
        "dance",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_field_is_refused() {
    refused(
        &[r#"{"journey":"b","type":"reward_given","on":"2025-01-02","amount":5}"#],
        2,
        "amount",
    )
    .await;
}

#[tokio::test]
async fn a_bad_date_is_refused() {
    refused(
        &[r#"{"journey":"b","type":"reward_given","on":"2025-02-30"}"#],
        2,
        "2025-02-30",
    )
    .await;
}

#[tokio::test]
async fn a_date_before_the_start_is_refused() {
    refused(
        &[r#"{"journey":"b","type":"reward_given","on":"2024-12-31"}"#],
        2,
        "before the journey's start",
    )
    .await;
}

#[tokio::test]
async fn a_date_far_in_the_future_is_refused() {
    refused(
        &[r#"{"journey":"b","type":"reward_given","on":"2999-01-01"}"#],
        2,
        "more than one day after",
    )
    .await;
}

#[tokio::test]
async fn a_second_open_treatment_is_refused() {
    refused(
        &[
            r#"{"journey":"b","type":"treatment_entered","on":"2025-01-02","modality":"detox"}"#,
            r#"{"journey":"b","type":"treatment_entered","on":"2025-01-05","modality":"residential"}"#,
        ],
        3,
        "already open",
    )
    .await;
}

#[tokio::test]
async fn an_exit_without_an_entry_is_refused() {
    refused(
        &[r#"{"journey":"b","type":"treatment_exited","on":"2025-01-02","reason":"completed"}"#],
        2,
        "no treatment episode open",
    )
    .await;
}

#[tokio::test]
async fn a_retract_of_an_unknown_entry_is_refused() {
    refused(
        &[r#"{"journey":"b","type":"retract","target":"nope"}"#],
        2,
        "nope",
    )
    .await;
}

#[tokio::test]
async fn a_retract_of_a_retracted_entry_is_refused() {
    refused(
        &[
            r#"{"journey":"b","type":"reward_given","on":"2025-01-02","entry":"r"}"#,
            r#"{"journey":"b","type":"retract","target":"r"}"#,
            r#"{"journey":"b","type":"retract","target":"r","reason":"again"}"#,
        ],
        4,
        "already retracted",
    )
    .await;
}

#[tokio::test]
async fn a_duplicate_entry_id_is_refused() {
    refused(
        &[
            r#"{"journey":"b","type":"reward_given","on":"2025-01-02","entry":"x"}"#,
            r#"{"journey":"b","type":"reward_given","on":"2025-01-03","entry":"x"}"#,
        ],
        3,
        "duplicate entry id",
    )
    .await;
}

#[tokio::test]
async fn a_line_before_journey_started_is_refused() {
    let db = TestDb::fresh().await;
    let file = file_with(r#"{"journey":"late","type":"reward_given","on":"2025-01-02"}"#);
    let out = journey(&db, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(":1: journey not started"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn an_empty_file_is_refused() {
    let db = TestDb::fresh().await;
    let file = file_with("");
    let out = journey(&db, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no journey lines"),
        "{}",
        stderr(&out)
    );
    // Not "1 of 0 lines invalid".
    assert!(
        stdout(&out).contains("no journey lines: nothing stored"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("of 0 lines"), "{}", stdout(&out));
    assert_eq!(event_count(&db).await, 0);
}

#[tokio::test]
async fn a_non_utf8_file_is_refused() {
    let db = TestDb::fresh().await;
    let mut bytes = START.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"\n{\"journey\":\"b\",\"type\":\"note\",\"on\":\"2025-01-02\",\"text\":\"caf\xe9\"}\n",
    );
    let file = file_with(bytes);
    let out = journey(&db, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(":2: not UTF-8"), "{}", stderr(&out));
    assert_eq!(event_count(&db).await, 0);
}

#[tokio::test]
async fn skip_invalid_stores_the_valid_lines_and_reports_the_rest() {
    let db = TestDb::fresh().await;
    let file = file_with(format!(
        "{START}\n{}\n{}\n",
        r#"{"journey":"b","type":"reward_given","on":"2025-01-02"}"#,
        r#"{"journey":"b","type":"reward_given","on":"yesterday"}"#
    ));
    let out = journey(&db, &["import", "--skip-invalid", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "invalid lines still make a non-zero exit"
    );
    assert!(stderr(&out).contains(":3: "), "{}", stderr(&out));
    assert_eq!(event_count(&db).await, 2);
}

#[tokio::test]
async fn a_million_lines_with_one_bad_line_at_the_end_store_nothing() {
    let db = TestDb::fresh().await;
    let mut text = String::with_capacity(70_000_000);
    text.push_str(START);
    text.push('\n');
    for i in 1..1_000_000 {
        let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Days::new(i % 600);
        text.push_str(&format!(
            r#"{{"journey":"b","type":"clean_day_observed","on":"{day}","entry":"c{i}"}}"#
        ));
        text.push('\n');
    }
    text.push_str(r#"{"journey":"b","type":"clean_day_observed","on":"2025-01-02","mood":"fine"}"#);
    text.push('\n');
    let file = file_with(text);
    let out = journey(&db, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(":1000001: "), "{}", stderr(&out));
    assert!(stderr(&out).contains("mood"), "{}", stderr(&out));
    assert_eq!(event_count(&db).await, 0);
}

#[tokio::test]
async fn a_nul_character_is_refused_with_its_line_and_field_not_as_an_outage() {
    refused(
        &[r#"{"journey":"b","type":"note","on":"2025-01-02","text":"a\u0000b"}"#],
        2,
        "field `text`: holds a NUL character",
    )
    .await;
    refused(
        &[
            r#"{"journey":"b","type":"reward_given","on":"2025-01-02","entry":"r"}"#,
            r#"{"journey":"b","type":"retract","target":"r","reason":"\u0000"}"#,
        ],
        3,
        "field `reason`",
    )
    .await;
    // An unpaired surrogate escape is no character: refused with its line and field too.
    refused(
        &[r#"{"journey":"b","type":"note","on":"2025-01-02","text":"a\udc00b"}"#],
        2,
        "field `text`: holds an unpaired surrogate",
    )
    .await;
}

#[tokio::test]
async fn a_field_given_twice_is_refused_with_its_name() {
    refused(
        &[r#"{"journey":"b","type":"reward_given","on":"2025-01-02","on":"2025-01-03"}"#],
        2,
        "`on` appears twice",
    )
    .await;
}

#[tokio::test]
async fn a_byte_order_mark_is_named() {
    let db = TestDb::fresh().await;
    let file = file_with(format!("\u{feff}{START}\n"));
    let out = journey(&db, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("journey.jsonl:1: starts with a byte-order mark"),
        "{}",
        stderr(&out)
    );
    assert_eq!(event_count(&db).await, 0);
}
