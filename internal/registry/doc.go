// Package registry is prodcat's model registry on PostgreSQL: data sets,
// training runs and their metrics, registered models, model versions with
// their lineage, aliases (production, challenger or any other name), the
// audit history of every alias move, and data feeds (named, versioned
// pointers to the input of a training, see PublishFeed).
//
// # Opening
//
// Open connects, pings with a clear error ("registry: cannot reach
// PostgreSQL at host:port", "registry: authentication failed for user X")
// and applies the schema migrations embedded in the binary. Migrations run
// under a PostgreSQL advisory lock, so a worker and an API starting together
// do not race; each runs in its own transaction and is recorded in the
// schema_migrations table, so applying them again is a no-op.
//
// # Idempotent writes
//
// Every write the training pipeline makes is keyed so that a retried
// Temporal activity finds what its earlier attempt wrote instead of writing
// it again:
//
//   - RecordDataset is keyed by the dataset digest; a second call keeps the
//     first row.
//   - StartRun is keyed by (workflow ID, workflow run ID) and returns the
//     existing run; it only fills in fields the first call left empty.
//   - RecordMetrics upserts by (run, metric name).
//   - FinishRun may be repeated with the same status; finishing a run again
//     with another status is ErrRunFinished, an ErrConflict.
//   - CreateVersion is keyed by (model, workflow ID, workflow run ID) and
//     returns the version that workflow execution already registered.
//     Version numbers start at 1 and grow by one per model, also under
//     concurrent calls: the registered model's row is locked FOR UPDATE
//     while the next number is taken.
//   - SetAlias to the version the alias already points at changes nothing:
//     it returns an AliasMove with Moved false, writes no history row and
//     sends no notification.
//   - PublishFeed of the source the feed already points at adds no
//     version and returns the latest one.
//   - Publish, the end of a successful run, moves an alias (optionally on
//     the compare-and-set condition of CompareAndSetAlias) and finishes the
//     run in one transaction; repeating it after it landed changes nothing.
//
// Rollback goes back one promotion and is deliberately not idempotent: a
// second Rollback goes one further (UndoTarget), never to the version the
// first took out of service. Use RollbackFrom, or SetAlias with an
// explicit version, for a move that may be retried.
//
// # Alias notifications
//
// An alias move updates the alias, appends to alias_history and sends
// NOTIFY on the channel AliasChannel with a JSON AliasEvent payload
// ({"model","alias","from","to"}), all in one transaction: listeners hear of
// a move only once it is committed, and every committed move is notified.
// Listen delivers these events to a callback and reconnects on its own;
// after every (re)connection it delivers an event with Resync set, because
// notifications sent while it was disconnected are lost and the caller
// should read the aliases again. Alias is a single indexed read, cheap
// enough for polling as a fallback.
//
// # Errors
//
// Errors carry context ("registry: create version of m: ...") and wrap the
// sentinels ErrNotFound (unknown model, version, run, data set or feed, or
// unset alias), ErrConflict (the write contradicts what is recorded) and
// ErrInvalid (bad input, rejected before any SQL is sent).
package registry
