-- Crypto-shredding: one random key per journey, wrapped by the master key (which never enters
-- the database). Reporter handles and note text are stored sealed with it; `journey erase`
-- deletes the row, and with it every way to read them.
CREATE TABLE journey_secrets
(
    journey_id  text PRIMARY KEY,
    wrapped_key bytea       NOT NULL CHECK (length(wrapped_key) = 24 + 32 + 16),
    created_at  timestamptz NOT NULL DEFAULT now()
);
