-- "Remember this device" (family members only, opt-in at sign-in): a device keeps a random
-- token in a cookie for 30 days; only its SHA-256 is stored. A request without a session
-- but with a valid token starts a new session for its user. The member lists and forgets
-- their devices; signing out on a device forgets it.
CREATE TABLE remembered_devices
(
    device_id    uuid PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_sha256 bytea       NOT NULL UNIQUE,
    -- What the browser said it was (its User-Agent, cut to 200 characters).
    description  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX remembered_devices_user ON remembered_devices (user_id);
