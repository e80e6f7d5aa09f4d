-- Accounts of the web app: who may sign in, with which role, and which journeys each may see.
-- Sessions live in tower-sessions' own table (schema tower_sessions), created at `journey serve`.

CREATE TABLE users
(
    user_id       uuid PRIMARY KEY,
    -- What the person types to sign in; also the `by` handle of the entries a family
    -- member records (interchange.md: 1-64 characters).
    username      text        NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9._-]{1,64}$'),
    display_name  text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    role          text        NOT NULL CHECK (role IN ('family', 'counselor', 'researcher', 'admin')),
    -- Argon2id in PHC string form; never the password.
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- A family member or counselor assigned to a journey. Journeys are named by their internal id,
-- so a key never leaks into this table's meaning and survives nothing but the journey.
CREATE TABLE journey_access
(
    user_id     uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    journey_id  text        NOT NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, journey_id)
);
CREATE INDEX journey_access_by_journey ON journey_access (journey_id);

-- The answers of API writes sent with an Idempotency-Key header: a retry with the same key and
-- body gets the stored answer and stores nothing twice.
CREATE TABLE idempotency_keys
(
    user_id      uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    -- NULL while the first request is still being handled.
    status       smallint,
    body         jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
