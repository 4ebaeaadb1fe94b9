-- A rollback records the move it undid, so that the next rollback goes
-- further back instead of undoing the rollback and bringing back the
-- version it took out of service.

ALTER TABLE alias_history ADD COLUMN rollback_of bigint REFERENCES alias_history (id);
