-- Where `journey report` wrote a journey's files (absolute folders), so that `journey erase`
-- removes them wherever they were written, whatever folder it is run from. Rows go with the
-- erasure, in its transaction.
CREATE TABLE report_folders
(
    journey_id text NOT NULL,
    folder     text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (journey_id, folder)
);
