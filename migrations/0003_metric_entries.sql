-- A narrow read table for the analytics: of each entry only what shared/spec/metrics.md
-- reads. The wide `entries` table (jsonb fields, handles, timestamps) made reading a cohort
-- the bottleneck of `journey metrics` (docs/benchmarks.md). Fed by the projector with
-- `entries`, in the same transaction; rebuilt with it.
CREATE TABLE metric_entries
(
    journey_id text     NOT NULL,
    sequence   bigint   NOT NULL,
    type       text     NOT NULL,
    "on"       date,
    retracted  boolean  NOT NULL DEFAULT false,
    -- Only for the types that carry them: the entry id of a treatment_entered (exits refer
    -- to it), day_status status, treatment modality and exit reason, the exit's episode,
    -- rescued for_safety.
    entry      text,
    status     text,
    modality   text,
    reason     text,
    episode    text,
    for_safety boolean  NOT NULL DEFAULT false,
    PRIMARY KEY (journey_id, sequence)
);

INSERT INTO metric_entries (journey_id, sequence, type, "on", retracted, entry, status, modality,
                            reason, episode, for_safety)
SELECT journey_id, sequence, type, "on", retracted,
       CASE WHEN type = 'treatment_entered' THEN entry END,
       CASE WHEN type = 'day_status' THEN fields ->> 'status' END,
       CASE WHEN type = 'treatment_entered' THEN fields ->> 'modality' END,
       CASE WHEN type = 'treatment_exited' THEN fields ->> 'reason' END,
       episode,
       type = 'rescued' AND coalesce((fields ->> 'for_safety')::boolean, false)
  FROM entries;
