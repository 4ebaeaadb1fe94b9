-- A run on a data feed records the feed version it read, so a model
-- version's lineage leads back to the published data, not only to its
-- object keys. Runs on fixed objects leave both columns NULL.

ALTER TABLE runs
    ADD COLUMN feed_name text,
    ADD COLUMN feed_version integer,
    ADD CONSTRAINT runs_feed_version_fkey FOREIGN KEY (feed_name, feed_version)
        REFERENCES feed_versions (feed_name, version),
    ADD CONSTRAINT runs_feed_both CHECK ((feed_name IS NULL) = (feed_version IS NULL));
