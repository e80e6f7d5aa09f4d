-- `entry_index` is kept by the statement that appends the events (store::INDEX_APPENDED,
-- a data-modifying CTE in every writer's INSERT INTO events), in the same transaction as
-- before, instead of by a statement trigger on `events`: a store distributed by journey
-- (Citus) runs no trigger on a distributed table by default (ARCHITECTURE.md, "A store
-- distributed by journey"). A tool that appends events must now keep `entry_index` too.
DROP TRIGGER entry_index_maintain ON events;
DROP FUNCTION entry_index_maintain();
