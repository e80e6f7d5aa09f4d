-- Research consent (a projection of ResearchConsent events), research projects with their
-- pseudonymization keys, and the audit log.

-- The latest consent decision per journey. Projected from the events; rebuilt with the
-- other read tables.
CREATE TABLE research_consent
(
    journey_id   text PRIMARY KEY,
    granted      boolean     NOT NULL,
    text_version text        NOT NULL,
    changed_at   timestamptz NOT NULL
);

-- One key per research project: subject ids are HMAC-SHA256(journey id, key). The key never
-- leaves the database: two projects' exports cannot be linked, one project's are stable.
CREATE TABLE research_projects
(
    name       text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    hmac_key   bytea       NOT NULL CHECK (length(hmac_key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Who read or changed what, when. Append-only.
CREATE TABLE audit_log
(
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    journey_id text,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_journey ON audit_log (journey_id, at);
