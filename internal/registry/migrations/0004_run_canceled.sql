-- A run someone asked to stop is recorded as canceled, not as failed, so
-- the registry tells a person's decision from a broken run.

ALTER TABLE runs
    DROP CONSTRAINT runs_status_check,
    ADD CONSTRAINT runs_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'canceled'));
