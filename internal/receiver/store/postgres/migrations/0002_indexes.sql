-- Claims find the MetaApps with waiting records (a skip scan over this index, one probe per
-- app instead of a scan of the whole inbox) and each app's oldest records in seq order.
CREATE INDEX inbox_app_seq ON inbox (namespace, app, seq);

-- PruneBodies deletes by age; without this it reads every hash ever seen.
CREATE INDEX bodies_first_seen ON bodies (first_seen);
