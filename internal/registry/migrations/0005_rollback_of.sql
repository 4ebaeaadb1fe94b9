-- A rollback records the move it undid, so that the next rollback goes
-- further back instead of undoing the rollback and bringing back the
-- version it took out of service.

ALTER TABLE alias_history ADD COLUMN rollback_of bigint REFERENCES alias_history (id);

-- Rollbacks made before: a move that exactly reverses the alias's move
-- before it (a rollback, or a promotion by hand of the version before,
-- which the serving fallback already took as one).
UPDATE alias_history h SET rollback_of = p.id
FROM alias_history p
WHERE p.id = (SELECT max(q.id) FROM alias_history q
              WHERE q.model_name = h.model_name AND q.alias = h.alias AND q.id < h.id)
  AND h.from_version = p.to_version AND h.to_version = p.from_version;
