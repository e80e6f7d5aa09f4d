-- The sessions of each account, so a person can see and end their own, an admin can end
-- all of someone's, and a password change ends the others. The session's data (in
-- tower_sessions.session) holds `session_id`; a request whose session has no row here is
-- not signed in, so ending a session is deleting its row, and every app process refuses
-- it at once. No address is kept; `device` is what the browser's User-Agent says, in
-- words ("Chrome 120 on Android").
CREATE TABLE user_sessions
(
    session_id uuid PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device     text        NOT NULL,
    via        text        NOT NULL CHECK (via IN ('web', 'api')),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);
