-- The admin's audit page and `journey audit` list the log by person and by day, newest
-- first: both by index, however long the log grows.
CREATE INDEX audit_log_by_actor ON audit_log (actor, at);
CREATE INDEX audit_log_by_at ON audit_log (at);
