-- A second factor (TOTP, RFC 6238) per account: required of counselors, researchers and
-- admins, a choice for family members. The secret is sealed with the master key (context
-- `totp:<user_id>`), never stored open. `confirmed_at` is NULL while an enrolment from the
-- web waits for its first code (the account is not enrolled until then); `journey user
-- totp` confirms at once. `last_step` is the time step of the last code accepted: a code is
-- accepted only for a later step, so no code is ever accepted twice.
CREATE TABLE second_factors
(
    user_id       uuid PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    sealed_secret bytea       NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint      NOT NULL DEFAULT -1,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Single-use recovery codes, shown once at enrolment; only their SHA-256 is kept (each is
-- 60 random bits, so a slow hash adds nothing). A new enrolment replaces them.
CREATE TABLE recovery_codes
(
    user_id     uuid  NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    code_sha256 bytea NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (user_id, code_sha256)
);
