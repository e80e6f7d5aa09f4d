-- No sequence shared by all journeys on the write path (issue 19, Citus rules): the global
-- order of `events` (an identity, and the transaction id beside it) served the asynchronous
-- projector of migration 0001, which inline projection replaced (0007); nothing reads it.
-- Every insert of an event paid for a shared sequence and a second index. A journey's
-- order is its `sequence`, in the primary key.
DROP INDEX events_global_order;
ALTER TABLE events DROP COLUMN global_position, DROP COLUMN tx_id;
