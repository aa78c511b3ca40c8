-- Webhook bodies (up to 3 MB of JSON) with lz4 instead of pglz, the default: pglz spent more
-- server CPU per body than everything else the INSERT does, and an inbox row lives seconds.
-- Dead letters too, for the same bodies. A server built without lz4 keeps pglz.
DO $$ BEGIN
    ALTER TABLE inbox ALTER COLUMN body SET COMPRESSION lz4;
    ALTER TABLE dead_letters ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN NULL;
END $$;
