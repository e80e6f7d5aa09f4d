-- A check value of the master key (never the key): a fixed text sealed with it. A process
-- whose key does not open it refuses to start, instead of answering every timeline with
-- 503; a store that holds it (or any journey key) never gets a newly made master key.
CREATE TABLE master_key_check
(
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    sealed     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
