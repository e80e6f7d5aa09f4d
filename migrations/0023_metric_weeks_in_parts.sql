-- A week's metric input in parts of at most 16 entries. One row per journey and week grew
-- with the week: every write of the day appended to arrays of all the week's entries, and
-- PostgreSQL rewrote (and, past ~2 kB, compressed and TOASTed) the whole row, so the cost of
-- a write grew with how much the family had recorded that week (`journey bench writes`,
-- where each family records hundreds of entries in seconds, spent a third of its
-- projection time there: docs/benchmarks.md). A write now appends to the week's last part
-- while it holds fewer than 16 entries, or starts the next part; a week with an earlier day
-- or a retraction is rewritten in parts as before. Readers read a journey's parts in
-- (week, part) order: the same arrays, cut in pieces. A part written whole holds at most 16
-- entries; one started by a write holds that write's (a write of many entries at once).
ALTER TABLE metric_weeks ADD COLUMN part integer NOT NULL DEFAULT 0;
ALTER TABLE metric_weeks DROP CONSTRAINT metric_weeks_pkey;
ALTER TABLE metric_weeks ADD PRIMARY KEY (journey_id, week, part);

-- As in migration 0014, with the week's parts.
CREATE OR REPLACE FUNCTION project_journeys(ids text[]) RETURNS bigint
    LANGUAGE plpgsql AS
$$
DECLARE
    b_journey  text[];
    b_sequence bigint[];
    b_payload  jsonb[];
    i_journey  text[];
    i_type     text[];
    i_on       date[];
    i_recorded timestamptz[];
    i_sequence bigint[];
    a_journey  text[];
    a_week     date[];
    r_journey  text[];
    r_type     text[];
    r_on       date[];
    e_journey  text[];
    w_journey  text[];
    w_week     date[];
    kinds      text[];
BEGIN
    PERFORM 1 FROM snapshots
      WHERE aggregate_type = 'Journey' AND aggregate_id = ANY (ids)
      ORDER BY aggregate_id
        FOR UPDATE;

    SELECT array_agg(e.aggregate_id ORDER BY e.aggregate_id, e.sequence),
           array_agg(e.sequence ORDER BY e.aggregate_id, e.sequence),
           array_agg(e.payload::jsonb ORDER BY e.aggregate_id, e.sequence)
      INTO b_journey, b_sequence, b_payload
      FROM (SELECT DISTINCT unnest(ids) AS id) i
      LEFT JOIN read_checkpoint c ON c.journey_id = i.id
     CROSS JOIN LATERAL (
           SELECT x.aggregate_id, x.sequence, x.payload FROM events x
            WHERE x.aggregate_type = 'Journey' AND x.aggregate_id = i.id
              AND x.sequence > coalesce(c.sequence, 0)
           OFFSET 0) e;
    IF b_journey IS NULL THEN
        RETURN 0;
    END IF;
    -- What the batch holds (event names, and entry types): statements with nothing to do
    -- are skipped.
    SELECT array_agg(DISTINCT coalesce(p -> 'EntryRecorded' ->> 'type', k))
      INTO kinds
      FROM unnest(b_payload) AS p, LATERAL jsonb_object_keys(p) AS k;

    IF 'journey_started' = ANY (kinds) THEN
        INSERT INTO journeys (journey_id, key, start, relationship, substances)
        SELECT b.journey_id, k.key, (b.p -> 'EntryRecorded' ->> 'on')::date,
               b.p -> 'EntryRecorded' ->> 'relationship',
               ARRAY(SELECT jsonb_array_elements_text(coalesce(b.p -> 'EntryRecorded' -> 'substances', '[]')))
          FROM unnest(b_journey, b_payload) AS b(journey_id, p)
          JOIN journey_keys k ON k.journey_id = b.journey_id
         WHERE b.p -> 'EntryRecorded' ->> 'type' = 'journey_started'
        ON CONFLICT (journey_id) DO NOTHING;
    END IF;

    WITH added AS (
        INSERT INTO entries (journey_id, entry, sequence, type, "on", "by", fields, recorded_at, episode)
        SELECT b.journey_id, r ->> 'entry', b.sequence, r ->> 'type', (r ->> 'on')::date, r ->> 'by',
               r - 'entry' - 'on' - 'by' - 'type' - 'recorded_at' - 'episode',
               (r ->> 'recorded_at')::timestamptz, r ->> 'episode'
          FROM unnest(b_journey, b_sequence, b_payload) AS b(journey_id, sequence, p),
               LATERAL (SELECT b.p -> 'EntryRecorded') AS x(r)
         WHERE r IS NOT NULL
        ON CONFLICT (journey_id, entry) DO NOTHING
        RETURNING journey_id, type, "on", recorded_at, sequence)
    SELECT array_agg(journey_id), array_agg(type), array_agg("on"), array_agg(recorded_at),
           array_agg(sequence)
      INTO i_journey, i_type, i_on, i_recorded, i_sequence
      FROM added;

    IF 'retract' = ANY (kinds) THEN
        WITH retracted AS (
            UPDATE entries e
               SET retracted = true, retracted_by = b.p -> 'EntryRecorded' ->> 'entry'
              FROM unnest(b_journey, b_payload) AS b(journey_id, p)
             WHERE b.p -> 'EntryRecorded' ->> 'type' = 'retract'
               AND e.journey_id = b.journey_id
               AND e.entry = b.p -> 'EntryRecorded' ->> 'target'
               AND NOT e.retracted
            RETURNING e.journey_id, e.type, e."on")
        SELECT array_agg(journey_id), array_agg(type), array_agg("on")
          INTO r_journey, r_type, r_on
          FROM retracted;
    END IF;

    IF 'RelapseAfterRehab' = ANY (kinds) THEN
        INSERT INTO relapses_after_rehab (journey_id, episode, modality, exited, use_entry, "on", days_since_exit)
        SELECT b.journey_id, x ->> 'episode', x ->> 'modality', (x ->> 'exited')::date,
               x ->> 'use_entry', (x ->> 'on')::date, (x ->> 'days_since_exit')::int
          FROM unnest(b_journey, b_payload) AS b(journey_id, p),
               LATERAL (SELECT b.p -> 'RelapseAfterRehab') AS r(x)
         WHERE x IS NOT NULL
        ON CONFLICT (journey_id, episode) DO NOTHING;
    END IF;

    IF 'ResearchConsent' = ANY (kinds) THEN
        INSERT INTO research_consent (journey_id, granted, text_version, changed_at)
        SELECT DISTINCT ON (b.journey_id) b.journey_id, (x ->> 'granted')::boolean,
               x ->> 'text_version', (x ->> 'recorded_at')::timestamptz
          FROM unnest(b_journey, b_sequence, b_payload) AS b(journey_id, sequence, p),
               LATERAL (SELECT b.p -> 'ResearchConsent') AS r(x)
         WHERE x IS NOT NULL
         ORDER BY b.journey_id, b.sequence DESC
        ON CONFLICT (journey_id) DO UPDATE
           SET granted = excluded.granted, text_version = excluded.text_version,
               changed_at = excluded.changed_at;
    END IF;

    -- The journey's counts move by what this batch added and retracted.
    IF i_journey IS NOT NULL OR r_journey IS NOT NULL THEN
        UPDATE journeys j
           SET entries = j.entries + d.added - d.unadded,
               retracted = j.retracted + d.retracted,
               last_recorded = greatest(j.last_recorded, d.last_recorded),
               craft_start = CASE
                   WHEN d.craft_retracted THEN
                       (SELECT min(e."on") FROM entries e
                         WHERE e.journey_id = j.journey_id AND e.type = 'craft_started'
                           AND NOT e.retracted)
                   ELSE least(j.craft_start, d.craft_start) END
          FROM (SELECT u.journey_id, sum(u.added) AS added, sum(u.unadded) AS unadded,
                       sum(u.retracted) AS retracted, max(u.recorded_at) AS last_recorded,
                       min(u.craft_start) AS craft_start, bool_or(u.craft_retracted) AS craft_retracted
                  FROM (SELECT a.journey_id, (a.type <> 'retract')::int AS added, 0 AS unadded,
                               0 AS retracted, a.recorded_at,
                               CASE WHEN a.type = 'craft_started' THEN a."on" END AS craft_start,
                               false AS craft_retracted
                          FROM unnest(i_journey, i_type, i_on, i_recorded) AS a(journey_id, type, "on", recorded_at)
                        UNION ALL
                        SELECT t.journey_id, 0, (t.type <> 'retract')::int, 1, NULL, NULL,
                               t.type = 'craft_started'
                          FROM unnest(r_journey, r_type) AS t(journey_id, type)) u
                 GROUP BY u.journey_id) d
         WHERE j.journey_id = d.journey_id;
    END IF;

    -- A week that only gained entries, each on or after the week's last day so far (a family
    -- records today, a file goes in order), gets them appended: the cost is the new entries',
    -- not the week's. A week with an earlier day or a retraction is rewritten (below). A
    -- bulk call (import, rebuild: more journeys than a write batch holds) makes its weeks
    -- new, so it does not look.
    IF i_journey IS NOT NULL AND cardinality(ids) <= 64 THEN
        WITH n AS (
            SELECT c.*, date_trunc('week', c."on")::date AS week
              FROM unnest(i_journey, i_sequence) AS a(journey_id, sequence)
             CROSS JOIN LATERAL (
                   SELECT * FROM entry_metric_columns x
                    WHERE x.journey_id = a.journey_id AND x.sequence = a.sequence
                   OFFSET 0) c
             WHERE c.type <> 'retract' AND c."on" IS NOT NULL),
        g AS (
            SELECT n.journey_id, n.week, min(n."on") AS first_day,
                   array_agg(n.entry ORDER BY n."on", n.sequence) AS entries,
                   array_agg(n.type ORDER BY n."on", n.sequence) AS types,
                   array_agg(n."on" ORDER BY n."on", n.sequence) AS days,
                   array_agg(n.retracted ORDER BY n."on", n.sequence) AS retracted,
                   array_agg(n.status ORDER BY n."on", n.sequence) AS statuses,
                   array_agg(n.modality ORDER BY n."on", n.sequence) AS modalities,
                   array_agg(n.reason ORDER BY n."on", n.sequence) AS reasons,
                   array_agg(n.episode ORDER BY n."on", n.sequence) AS episodes,
                   array_agg(n.for_safety ORDER BY n."on", n.sequence) AS for_safety,
                   array_agg(n.detail ORDER BY n."on", n.sequence) AS details,
                   array_agg(n.score ORDER BY n."on", n.sequence) AS scores
              FROM n
             GROUP BY n.journey_id, n.week),
        last AS (
            -- The week's last part (the one with its latest days), if the new entries
            -- come on or after its last day and nothing of the week was retracted.
            SELECT g.*, l.part, cardinality(l.types) AS size
              FROM g
             CROSS JOIN LATERAL (
                   SELECT x.part, x.types, x.days FROM metric_weeks x
                    WHERE x.journey_id = g.journey_id AND x.week = g.week
                    ORDER BY x.part DESC LIMIT 1) l
             WHERE g.first_day >= l.days[cardinality(l.days)]
               AND NOT EXISTS (
                     SELECT 1 FROM unnest(r_journey, r_on) AS r(journey_id, "on")
                      WHERE r.journey_id = g.journey_id
                        AND date_trunc('week', r."on")::date = g.week)),
        appended AS (
            UPDATE metric_weeks m
               SET entries = m.entries || l.entries,
                   types = m.types || l.types,
                   days = m.days || l.days,
                   retracted = m.retracted || l.retracted,
                   statuses = m.statuses || l.statuses,
                   modalities = m.modalities || l.modalities,
                   reasons = m.reasons || l.reasons,
                   episodes = m.episodes || l.episodes,
                   for_safety = m.for_safety || l.for_safety,
                   details = m.details || l.details,
                   scores = m.scores || l.scores
              FROM last l
             WHERE m.journey_id = l.journey_id AND m.week = l.week AND m.part = l.part
               AND l.size + cardinality(l.types) <= 16
            RETURNING m.journey_id, m.week),
        started AS (
            INSERT INTO metric_weeks (journey_id, week, part, entries, types, days, retracted,
                                      statuses, modalities, reasons, episodes, for_safety,
                                      details, scores)
            SELECT l.journey_id, l.week, l.part + 1, l.entries, l.types, l.days, l.retracted,
                   l.statuses, l.modalities, l.reasons, l.episodes, l.for_safety, l.details,
                   l.scores
              FROM last l
             WHERE l.size + cardinality(l.types) > 16
            RETURNING journey_id, week)
        SELECT array_agg(journey_id), array_agg(week) INTO a_journey, a_week
          FROM (SELECT * FROM appended UNION ALL SELECT * FROM started) AS moved;
    END IF;

    -- The other weeks this batch touched are rewritten from the journey's entries of that
    -- week: their parts deleted, then written again in parts of at most 16 entries.
    IF i_journey IS NOT NULL OR r_journey IS NOT NULL THEN
        SELECT array_agg(t.journey_id), array_agg(t.week) INTO w_journey, w_week
          FROM (SELECT DISTINCT t.journey_id, date_trunc('week', t."on")::date AS week
                  FROM unnest(coalesce(i_journey, '{}') || coalesce(r_journey, '{}'),
                              coalesce(i_type, '{}') || coalesce(r_type, '{}'),
                              coalesce(i_on, '{}') || coalesce(r_on, '{}')) AS t(journey_id, type, "on")
                 WHERE t.type <> 'retract' AND t."on" IS NOT NULL
                   AND NOT EXISTS (
                         SELECT 1 FROM unnest(a_journey, a_week) AS d(journey_id, week)
                          WHERE d.journey_id = t.journey_id
                            AND d.week = date_trunc('week', t."on")::date)) t;
    END IF;
    IF w_journey IS NOT NULL THEN
        DELETE FROM metric_weeks m
         USING unnest(w_journey, w_week) AS w(journey_id, week)
         WHERE m.journey_id = w.journey_id AND m.week = w.week;

        INSERT INTO metric_weeks (journey_id, week, part, entries, types, days, retracted,
                                  statuses, modalities, reasons, episodes, for_safety,
                                  details, scores)
        SELECT c.journey_id, c.week, c.n / 16,
               array_agg(c.entry ORDER BY c.n), array_agg(c.type ORDER BY c.n),
               array_agg(c."on" ORDER BY c.n), array_agg(c.retracted ORDER BY c.n),
               array_agg(c.status ORDER BY c.n), array_agg(c.modality ORDER BY c.n),
               array_agg(c.reason ORDER BY c.n), array_agg(c.episode ORDER BY c.n),
               array_agg(c.for_safety ORDER BY c.n),
               array_agg(c.detail ORDER BY c.n), array_agg(c.score ORDER BY c.n)
          FROM (SELECT w.journey_id, w.week, x.*,
                       row_number() OVER (PARTITION BY w.journey_id, w.week
                                          ORDER BY x."on", x.sequence) - 1 AS n
                  FROM unnest(w_journey, w_week) AS w(journey_id, week)
                 CROSS JOIN LATERAL (
                       SELECT y.entry, y.type, y."on", y.sequence, y.retracted, y.status,
                              y.modality, y.reason, y.episode, y.for_safety, y.detail, y.score
                         FROM entry_metric_columns y
                        WHERE y.journey_id = w.journey_id AND y."on" >= w.week
                          AND y."on" < w.week + 7 AND y.type <> 'retract'
                       OFFSET 0) x) c
         GROUP BY c.journey_id, c.week, c.n / 16;
    END IF;

    -- An erased journey leaves every read table (its events stay, with sealed text only).
    IF 'JourneyErased' = ANY (kinds) THEN
        SELECT array_agg(DISTINCT b.journey_id) INTO e_journey
          FROM unnest(b_journey, b_payload) AS b(journey_id, p)
         WHERE b.p ? 'JourneyErased';
        DELETE FROM metric_weeks WHERE journey_id = ANY (e_journey);
        DELETE FROM entries WHERE journey_id = ANY (e_journey);
        DELETE FROM relapses_after_rehab WHERE journey_id = ANY (e_journey);
        DELETE FROM research_consent WHERE journey_id = ANY (e_journey);
        DELETE FROM journeys WHERE journey_id = ANY (e_journey);
    END IF;

    INSERT INTO read_checkpoint (journey_id, sequence)
    SELECT b.journey_id, max(b.sequence)
      FROM unnest(b_journey, b_sequence) AS b(journey_id, sequence)
     GROUP BY b.journey_id
    ON CONFLICT (journey_id) DO UPDATE SET sequence = greatest(read_checkpoint.sequence, excluded.sequence);

    RETURN cardinality(b_journey);
END
$$;

-- CREATE OR REPLACE drops the function's settings: generic plans again (migration 0009).
ALTER FUNCTION project_journeys(text[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION project_journeys(text[]) SET enable_seqscan = off;
ALTER FUNCTION project_journeys(text[]) SET enable_hashjoin = off;
ALTER FUNCTION project_journeys(text[]) SET enable_mergejoin = off;
