-- The metrics' input, one row per journey: the columns of its entries that metrics.md reads,
-- as arrays (element i of every array is one entry; entries in day order, which lets the
-- metrics group days without hashing). The projector rewrites a journey's row
-- whenever a batch touches the journey, from its rows in `entries`, so the metrics of a
-- cohort read one row per journey instead of one per entry (10,000 journeys x 1 year:
-- 10,000 rows, not 5.4 million). Holds no note and no handle.
CREATE TABLE metric_input
(
    journey_id  text      PRIMARY KEY,
    entries     text[]    NOT NULL, -- the entry id of a treatment_entered, else NULL
    types       text[]    NOT NULL,
    days        date[]    NOT NULL, -- NULL for a retract
    retracted   boolean[] NOT NULL,
    statuses    text[]    NOT NULL, -- day_status: status
    modalities  text[]    NOT NULL, -- treatment_entered: modality
    reasons     text[]    NOT NULL, -- treatment_exited: reason
    episodes    text[]    NOT NULL, -- treatment_exited: the treatment_entered it closes
    for_safety  boolean[] NOT NULL  -- rescued: for_safety
);

-- The columns of an entry that metrics.md reads (fields only some types carry are read only
-- for those). The projector fills `metric_input` from it, and the benchmark reads it per entry.
CREATE VIEW entry_metric_columns AS
SELECT e.journey_id, e.sequence,
       CASE WHEN e.type = 'treatment_entered' THEN e.entry END AS entry,
       e.type, e."on", e.retracted,
       CASE WHEN e.type = 'day_status' THEN e.fields ->> 'status' END AS status,
       CASE WHEN e.type = 'treatment_entered' THEN e.fields ->> 'modality' END AS modality,
       CASE WHEN e.type = 'treatment_exited' THEN e.fields ->> 'reason' END AS reason,
       e.episode,
       CASE WHEN e.type = 'rescued'
            THEN coalesce((e.fields ->> 'for_safety')::boolean, false)
            ELSE false END AS for_safety
  FROM entries e;

INSERT INTO metric_input
SELECT journey_id, array_agg(entry), array_agg(type), array_agg("on"), array_agg(retracted),
       array_agg(status), array_agg(modality), array_agg(reason), array_agg(episode),
       array_agg(for_safety)
  FROM (SELECT * FROM entry_metric_columns ORDER BY journey_id, "on", sequence) m
 GROUP BY journey_id;
