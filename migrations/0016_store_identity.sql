-- A random id of this store, made once. The default master key file is named after it
-- (`$XDG_DATA_HOME/journey/keys/<id>.key`), so that every process finds the key of the
-- store it opens, whatever folder it runs in; a restored dump keeps the id, and so finds
-- the same key file.
CREATE TABLE store_identity
(
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO store_identity DEFAULT VALUES;
