-- Sign-in attempts per username, counted over the last minute by every app process on this
-- database (the limit holds across processes). `journey serve` deletes rows older than an
-- hour. Holds no password and no address.
CREATE TABLE sign_in_attempts
(
    username text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_attempts_by_name ON sign_in_attempts (username, at);
