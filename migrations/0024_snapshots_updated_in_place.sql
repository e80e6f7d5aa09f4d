-- A journey's snapshot row is updated by every write (`last_sequence`, `current_snapshot`,
-- `payload`). postgres-es's primary key (aggregate_type, aggregate_id, last_sequence) holds
-- a column every write changes, so no update could be a heap-only (HOT) one: each left a
-- dead row and two new index entries behind, and under `journey bench writes` (64 families)
-- the table grew to 14 MB of dead rows for 64 live ones within a minute while the lock of
-- a journey's row, which reads the index, slowed down with it (docs/benchmarks.md). The
-- key is now the unique index the store already had, (aggregate_type, aggregate_id): one
-- row per aggregate, none of its columns changed by a write, so the update stays on its
-- page; pages are left a third free for those updates. The table's name and columns are
-- postgres-es's still.
ALTER TABLE snapshots DROP CONSTRAINT snapshots_pkey;
ALTER TABLE snapshots ADD CONSTRAINT snapshots_one_per_aggregate
    PRIMARY KEY USING INDEX snapshots_one_per_aggregate;
ALTER TABLE snapshots SET (fillfactor = 70);
