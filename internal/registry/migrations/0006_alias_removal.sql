-- An alias can be removed: the history records the removal as a move to no
-- version (to_version NULL), with who removed it and why.

ALTER TABLE alias_history ALTER COLUMN to_version DROP NOT NULL;
