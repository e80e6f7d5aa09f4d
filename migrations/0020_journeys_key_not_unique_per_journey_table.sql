-- A schema that can be distributed by journey (issue 19): every primary key and unique
-- constraint of a journey's table includes the journey id. `journeys.key` was also UNIQUE;
-- a key is unique through `journey_keys` (its primary key), which every writer goes
-- through, so `journeys` keeps a plain index for lookups by key.
ALTER TABLE journeys DROP CONSTRAINT journeys_key_key;
CREATE INDEX journeys_by_key ON journeys (key);
