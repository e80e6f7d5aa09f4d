-- The event store: postgres-es 0.5's tables (its db/init.sql), plus what it lacks.

CREATE TABLE events
(
    aggregate_type  text                         NOT NULL,
    aggregate_id    text                         NOT NULL,
    sequence        bigint CHECK (sequence >= 0) NOT NULL,
    event_type      text                         NOT NULL,
    event_version   text                         NOT NULL,
    payload         json                         NOT NULL,
    metadata        json                         NOT NULL,
    -- A commit-safe global order: read in (tx_id, global_position) order, only below the
    -- oldest running transaction (identity values are not assigned in commit order).
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE INDEX events_global_order ON events (tx_id, global_position);

-- One snapshot row per aggregate (postgres-es updates it in place, checked by current_snapshot).
CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);
CREATE UNIQUE INDEX snapshots_one_per_aggregate ON snapshots (aggregate_type, aggregate_id);

-- The caller's journey key -> the journey's internal random id (the aggregate id).
-- Written in the same transaction as the journey's first event.
CREATE TABLE journey_keys
(
    key        text PRIMARY KEY,
    journey_id text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Write-side index of every entry id of a journey, kept by a trigger in the same transaction
-- as the events: the aggregate asks it "does this entry exist, is it the same, is it
-- retracted" without loading the journey's history.
CREATE TABLE entry_index
(
    journey_id text    NOT NULL,
    entry      text    NOT NULL,
    content    jsonb   NOT NULL,
    retracted  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (journey_id, entry)
);

CREATE FUNCTION entry_index_maintain() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    INSERT INTO entry_index (journey_id, entry, content)
    SELECT n.aggregate_id,
           n.payload -> 'EntryRecorded' ->> 'entry',
           (n.payload -> 'EntryRecorded')::jsonb - 'recorded_at' - 'episode'
      FROM new_rows n
     WHERE n.aggregate_type = 'Journey'
       AND n.payload -> 'EntryRecorded' IS NOT NULL;
    UPDATE entry_index i
       SET retracted = true
      FROM new_rows n
     WHERE n.aggregate_type = 'Journey'
       AND n.payload -> 'EntryRecorded' ->> 'type' = 'retract'
       AND i.journey_id = n.aggregate_id
       AND i.entry = n.payload -> 'EntryRecorded' ->> 'target';
    RETURN NULL;
END
$$;

CREATE TRIGGER entry_index_maintain
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION entry_index_maintain();

-- Read tables, fed by the projector; rebuildable from zero (`journey rebuild`).
CREATE TABLE projector_checkpoint
(
    name     text PRIMARY KEY,
    tx_id    xid8   NOT NULL,
    position bigint NOT NULL
);
INSERT INTO projector_checkpoint VALUES ('read_tables', '0', 0);

CREATE TABLE journeys
(
    journey_id   text PRIMARY KEY,
    key          text        NOT NULL UNIQUE,
    start        date        NOT NULL,
    craft_start  date,
    relationship text        NOT NULL,
    substances   text[]      NOT NULL,
    entries      integer     NOT NULL DEFAULT 0,
    retracted    integer     NOT NULL DEFAULT 0,
    last_recorded timestamptz
);

CREATE TABLE entries
(
    journey_id     text        NOT NULL,
    entry          text        NOT NULL,
    sequence       bigint      NOT NULL,
    type           text        NOT NULL,
    "on"           date,
    "by"           text,
    fields         jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL,
    episode        text,
    retracted      boolean     NOT NULL DEFAULT false,
    retracted_by   text,
    PRIMARY KEY (journey_id, entry)
);
CREATE INDEX entries_by_day ON entries (journey_id, "on");
CREATE INDEX entries_by_sequence ON entries (journey_id, sequence);

CREATE TABLE relapses_after_rehab
(
    journey_id      text    NOT NULL,
    episode         text    NOT NULL,
    modality        text    NOT NULL,
    exited          date    NOT NULL,
    use_entry       text    NOT NULL,
    "on"            date    NOT NULL,
    days_since_exit integer NOT NULL,
    PRIMARY KEY (journey_id, episode)
);
