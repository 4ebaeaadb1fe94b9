package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// AliasChannel is the PostgreSQL NOTIFY channel of alias moves. The payload
// is an AliasEvent in JSON.
const AliasChannel = "prodcat_alias"

// Common alias names. Any valid name may be used.
const (
	AliasProduction = "production"
	AliasChallenger = "challenger"
)

// MaxNoteBytes bounds the reason and actor of an alias move, and the actor
// and note of a feed version: the registry cuts longer ones, and the API
// and the starter refuse a longer reason.
const MaxNoteBytes = 1 << 10

// AliasMove is one move of an alias, as recorded in the alias history.
type AliasMove struct {
	// ID is the alias_history row; 0 when nothing moved, when ID, Reason,
	// Actor and MovedAt are left out of the JSON.
	ID    int64  `json:"id,omitzero"`
	Model string `json:"model"`
	Alias string `json:"alias"`
	// From is the version the alias pointed at before, 0 when it was not
	// set; To is the version it points at after, 0 when the move removed
	// it (RemoveAlias).
	From    int       `json:"from"`
	To      int       `json:"to"`
	Reason  string    `json:"reason,omitzero"`
	Actor   string    `json:"actor,omitzero"`
	MovedAt time.Time `json:"moved_at,omitzero"`
	// RollbackOf is the ID of the move a rollback undid; 0 for other
	// moves. Moves recorded before it was are taken as rollbacks when they
	// exactly reverse the move before them.
	RollbackOf int64 `json:"rollback_of,omitzero"`
	// Moved is false when SetAlias found the alias already at To and
	// changed nothing; entries of AliasHistory always have it true.
	Moved bool `json:"moved"`
}

// AliasEvent is the payload of a NOTIFY on AliasChannel, and what Listen
// delivers.
type AliasEvent struct {
	Model string `json:"model"`
	Alias string `json:"alias"`
	// From is 0 when the alias was not set before; To is 0 when it was
	// removed.
	From int `json:"from"`
	To   int `json:"to"`
	// Resync is set, with the other fields empty, on an event Listen makes
	// up after each (re)connection: moves may have been missed, so read the
	// aliases again.
	Resync bool `json:"-"`
}

// Alias returns the version the model's alias points at, or ErrNotFound
// when the model is unknown or the alias is not set. It is one indexed
// query, cheap enough to poll.
func (r *Registry) Alias(ctx context.Context, model, alias string) (Version, error) {
	if err := checkName("model", model); err != nil {
		return Version{}, fmt.Errorf("registry: alias: %w", err)
	}
	if err := checkName("alias", alias); err != nil {
		return Version{}, fmt.Errorf("registry: alias: %w", err)
	}
	v, err := scanVersion(r.db.QueryRowContext(ctx, versionQuery+`
		JOIN aliases al ON al.model_name = v.model_name AND al.version = v.version
		WHERE al.model_name = $1 AND al.alias = $2`, model, alias))
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, fmt.Errorf("registry: alias %s of %s: %w", alias, model, ErrNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("registry: alias %s of %s: %w", alias, model, err)
	}
	return v, nil
}

// Aliases returns the model's aliases and the versions they point at, or
// ErrNotFound for an unknown model.
func (r *Registry) Aliases(ctx context.Context, model string) (map[string]int, error) {
	if err := checkName("model", model); err != nil {
		return nil, fmt.Errorf("registry: aliases: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT a.alias, a.version
		FROM registered_models m LEFT JOIN aliases a ON a.model_name = m.name
		WHERE m.name = $1`, model)
	if err != nil {
		return nil, fmt.Errorf("registry: aliases of %s: %w", model, err)
	}
	defer rows.Close()
	found := false
	aliases := map[string]int{}
	for rows.Next() {
		found = true
		var (
			alias sql.NullString
			v     sql.NullInt64
		)
		if err := rows.Scan(&alias, &v); err != nil {
			return nil, fmt.Errorf("registry: aliases of %s: %w", model, err)
		}
		if alias.Valid {
			aliases[alias.String] = int(v.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: aliases of %s: %w", model, err)
	}
	if !found {
		return nil, fmt.Errorf("registry: aliases of %s: model %w", model, ErrNotFound)
	}
	return aliases, nil
}

// SetAlias points the model's alias at version, recording the move with
// its reason and actor in the alias history and notifying AliasChannel, in
// one transaction. When the alias already points at version nothing is
// written or notified and the move has Moved false, so a retried call is
// harmless. An unknown model or version is ErrNotFound.
func (r *Registry) SetAlias(ctx context.Context, model, alias string, version int, reason, actor string) (AliasMove, error) {
	mv, err := r.inModelTx(ctx, model, alias, func(tx *sql.Tx) (AliasMove, error) {
		if version <= 0 {
			return AliasMove{}, fmt.Errorf("version %d: %w", version, ErrInvalid)
		}
		return r.moveAlias(ctx, tx, model, alias, version, 0, reason, actor)
	})
	if err != nil {
		return AliasMove{}, fmt.Errorf("registry: set alias %s of %s to version %d: %w", alias, model, version, err)
	}
	return mv, nil
}

// CompareAndSetAlias is SetAlias on condition that the alias still points
// at expected (0: that it is not set), or already at version. Otherwise it
// changes nothing and returns ErrConflict, so a caller that chose version
// by comparing it with expected, such as the promotion gate, never
// overwrites a move made meanwhile by someone else.
func (r *Registry) CompareAndSetAlias(ctx context.Context, model, alias string, expected, version int, reason, actor string) (AliasMove, error) {
	mv, err := r.inModelTx(ctx, model, alias, func(tx *sql.Tx) (AliasMove, error) {
		if err := checkExpected(ctx, tx, model, alias, expected, version); err != nil {
			return AliasMove{}, err
		}
		return r.moveAlias(ctx, tx, model, alias, version, 0, reason, actor)
	})
	if err != nil {
		return AliasMove{}, fmt.Errorf("registry: set alias %s of %s to version %d: %w", alias, model, version, err)
	}
	return mv, nil
}

// checkExpected is CompareAndSetAlias's condition, checked inside tx: the
// alias points at expected (0: it is not set) or already at version.
func checkExpected(ctx context.Context, tx *sql.Tx, model, alias string, expected, version int) error {
	if version <= 0 || expected < 0 {
		return fmt.Errorf("version %d, expected %d: %w", version, expected, ErrInvalid)
	}
	return aliasAt(ctx, tx, model, alias, expected, version)
}

// aliasAt returns ErrConflict unless the alias points at expected (0: it is
// not set) or at version.
func aliasAt(ctx context.Context, tx *sql.Tx, model, alias string, expected, version int) error {
	now, err := aliasVersion(ctx, tx, model, alias)
	if err != nil {
		return err
	}
	switch {
	case now == expected || now == version:
	case now == 0:
		return fmt.Errorf("alias is not set, not at the expected version %d: %w", expected, ErrConflict)
	default:
		return fmt.Errorf("alias points at version %d, not the expected %d: %w", now, expected, ErrConflict)
	}
	return nil
}

// aliasVersion returns the version the alias points at inside tx, 0 when
// it is not set.
func aliasVersion(ctx context.Context, tx *sql.Tx, model, alias string) (int, error) {
	var v sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT version FROM aliases WHERE model_name = $1 AND alias = $2`, model, alias).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return int(v.Int64), nil
}

// Publication is the end of a successful training run: its new version
// takes an alias and the run is marked succeeded.
type Publication struct {
	RunID   int64
	Model   string
	Alias   string
	Version int
	// Expected, when set, makes the move conditional as in
	// CompareAndSetAlias.
	Expected *int
	Reason   string
	Actor    string
}

// Publish moves the alias and marks the run succeeded in one transaction,
// so the registry never shows an alias on a version whose run is marked
// failed, nor a succeeded run whose alias move was lost. Either step's
// error (ErrConflict for a stale Expected or a run that already failed,
// ErrNotFound for an unknown model, version or run) leaves both unchanged.
// Repeating a publication that landed changes nothing.
func (r *Registry) Publish(ctx context.Context, p Publication) (AliasMove, error) {
	mv, err := r.inModelTx(ctx, p.Model, p.Alias, func(tx *sql.Tx) (AliasMove, error) {
		if p.Version <= 0 {
			return AliasMove{}, fmt.Errorf("version %d: %w", p.Version, ErrInvalid)
		}
		if p.Expected != nil {
			if err := checkExpected(ctx, tx, p.Model, p.Alias, *p.Expected, p.Version); err != nil {
				return AliasMove{}, err
			}
		}
		mv, err := r.moveAlias(ctx, tx, p.Model, p.Alias, p.Version, 0, p.Reason, p.Actor)
		if err != nil {
			return AliasMove{}, err
		}
		return mv, finishRun(ctx, tx, p.RunID, RunSucceeded, "")
	})
	if err != nil {
		return AliasMove{}, fmt.Errorf("registry: publish run %d as %s of %s version %d: %w", p.RunID, p.Alias, p.Model, p.Version, err)
	}
	return mv, nil
}

// Rollback moves the model's alias back to the version it pointed at
// before its last move that was not a rollback or undone by one (see
// UndoTarget): a second Rollback goes further back, never to the version
// the first took out of service. An alias without history is ErrNotFound;
// one with nothing earlier to go back to is ErrConflict. An empty reason
// is recorded as "rollback of move N".
func (r *Registry) Rollback(ctx context.Context, model, alias, reason, actor string) (AliasMove, error) {
	return r.rollback(ctx, model, alias, -1, 0, reason, actor)
}

// RollbackFrom is Rollback on condition that the alias still points at
// expected; otherwise it changes nothing and returns ErrConflict. Two
// people rolling back the same bad version at once then undo it once,
// instead of the second undoing the first.
func (r *Registry) RollbackFrom(ctx context.Context, model, alias string, expected int, reason, actor string) (AliasMove, error) {
	if expected < 1 {
		return AliasMove{}, fmt.Errorf("registry: roll back alias %s of %s: expected version %d: %w", alias, model, expected, ErrInvalid)
	}
	return r.rollback(ctx, model, alias, expected, 0, reason, actor)
}

// Rollbacker moves aliases back; *Registry implements it.
type Rollbacker interface {
	RollbackTarget(ctx context.Context, model, alias string) (undo AliasMove, latest int64, err error)
	RollbackOf(ctx context.Context, model, alias string, latest int64, reason, actor string) (AliasMove, error)
	RollbackFrom(ctx context.Context, model, alias string, expected int, reason, actor string) (AliasMove, error)
	Rollback(ctx context.Context, model, alias, reason, actor string) (AliasMove, error)
}

// RollbackChecked rolls alias back after check has accepted the version
// it goes to, such as by finding its model file: the alias moves only
// there, and only if it has not moved since (RollbackOf). With expected
// not negative it is RollbackFrom, refused unless the alias points at
// expected. An error of check is returned as it is.
func RollbackChecked(ctx context.Context, r Rollbacker, model, alias string, expected int, check func(version int) error, reason, actor string) (AliasMove, error) {
	undo, latest, err := r.RollbackTarget(ctx, model, alias)
	if err != nil {
		return AliasMove{}, err
	}
	if expected >= 0 && latest > 0 && expected != undo.To {
		return AliasMove{}, fmt.Errorf("alias %s of %s points at version %d, not the expected %d: %w", alias, model, undo.To, expected, ErrConflict)
	}
	if undo.From > 0 {
		if err := check(undo.From); err != nil {
			return AliasMove{}, err
		}
	}
	switch {
	case latest > 0:
		return r.RollbackOf(ctx, model, alias, latest, reason, actor)
	case expected >= 0:
		return r.RollbackFrom(ctx, model, alias, expected, reason, actor)
	}
	return r.Rollback(ctx, model, alias, reason, actor)
}

// RollbackOf is Rollback on condition that the alias's history still ends
// with move latest (as RollbackTarget returns it); otherwise it changes
// nothing and returns ErrConflict. The alias then goes exactly where the
// caller saw a rollback would take it.
func (r *Registry) RollbackOf(ctx context.Context, model, alias string, latest int64, reason, actor string) (AliasMove, error) {
	if latest < 1 {
		return AliasMove{}, fmt.Errorf("registry: roll back alias %s of %s: move %d: %w", alias, model, latest, ErrInvalid)
	}
	return r.rollback(ctx, model, alias, -1, latest, reason, actor)
}

// rollback is Rollback, conditional on the alias pointing at expected when
// expected is positive, and on its last move being latest when latest is.
func (r *Registry) rollback(ctx context.Context, model, alias string, expected int, latest int64, reason, actor string) (AliasMove, error) {
	mv, err := r.inModelTx(ctx, model, alias, func(tx *sql.Tx) (AliasMove, error) {
		if expected > 0 {
			if err := aliasAt(ctx, tx, model, alias, expected, expected); err != nil {
				return AliasMove{}, err
			}
		}
		moves, err := aliasMoves(ctx, tx, model, alias)
		if err != nil {
			return AliasMove{}, err
		}
		if len(moves) == 0 {
			return AliasMove{}, fmt.Errorf("alias has no history: %w", ErrNotFound)
		}
		if latest > 0 && moves[0].ID != latest {
			return AliasMove{}, fmt.Errorf("the alias moved meanwhile: its last move is %d, not %d (now to version %d): %w", moves[0].ID, latest, moves[0].To, ErrConflict)
		}
		undo, err := UndoTarget(moves)
		if err != nil {
			return AliasMove{}, err
		}
		if reason == "" {
			reason = fmt.Sprintf("rollback of move %d", undo.ID)
		}
		return r.moveAlias(ctx, tx, model, alias, undo.From, undo.ID, reason, actor)
	})
	if err != nil {
		return AliasMove{}, fmt.Errorf("registry: roll back alias %s of %s: %w", alias, model, err)
	}
	return mv, nil
}

// UndoTarget returns the move a rollback undoes, given an alias's moves
// newest first (as AliasHistory lists them, for one alias): the newest
// that is neither a rollback nor undone by one. Successive rollbacks so go
// back through the promotions instead of undoing each other, and a move
// made by hand since is undone first. The alias points at the move's To
// and goes back to its From.
func UndoTarget(moves []AliasMove) (AliasMove, error) {
	targets, err := undoTargets(moves, 1)
	if len(targets) == 0 {
		return AliasMove{}, err
	}
	return targets[0], nil
}

// RollbackTargets returns the moves up to n successive rollbacks would
// undo, in order, as UndoTarget finds each: the versions they would go to
// are the moves' From. Fewer are returned when the history has no more.
func RollbackTargets(moves []AliasMove, n int) []AliasMove {
	targets, _ := undoTargets(moves, n)
	return targets
}

// undoTargets walks moves once for up to n targets, and says why it found
// fewer.
func undoTargets(moves []AliasMove, n int) ([]AliasMove, error) {
	if len(moves) == 0 {
		return nil, fmt.Errorf("alias has no history: %w", ErrNotFound)
	}
	undone := make(map[int64]bool)
	current := moves[0].To
	var targets []AliasMove
	for _, mv := range moves {
		if len(targets) == n {
			return targets, nil
		}
		switch {
		case undone[mv.ID]:
			// Undone, and if it was a rollback, what it undid stands.
		case mv.RollbackOf != 0:
			undone[mv.RollbackOf] = true
		case mv.To != current:
			// Cannot happen with a history that records every move.
			return targets, fmt.Errorf("move %d set version %d, but the alias points at %d: %w", mv.ID, mv.To, current, ErrConflict)
		case mv.From == 0 && mv.ID != moves[len(moves)-1].ID:
			return targets, fmt.Errorf("it was not set before it pointed at version %d (it had been removed): there is nothing earlier to go back to; remove it instead: %w", mv.To, ErrConflict)
		case mv.From == 0:
			return targets, fmt.Errorf("version %d is the first it pointed at: there is nothing earlier to go back to: %w", mv.To, ErrConflict)
		default:
			targets = append(targets, mv)
			current = mv.From // where the rollback takes it
		}
	}
	if len(targets) == n {
		return targets, nil
	}
	return targets, fmt.Errorf("every promotion of it has been rolled back: there is nothing earlier to go back to: %w", ErrConflict)
}

// rowsQuerier is what aliasMoves needs of a *sql.DB or *sql.Tx.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// aliasMoves returns the moves of one alias, newest first, with what
// UndoTarget reads.
func aliasMoves(ctx context.Context, q rowsQuerier, model, alias string) ([]AliasMove, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, from_version, to_version, rollback_of FROM alias_history
		WHERE model_name = $1 AND alias = $2 ORDER BY id DESC`, model, alias)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var moves []AliasMove
	for rows.Next() {
		var (
			mv                   AliasMove
			from, to, rollbackOf sql.NullInt64
		)
		if err := rows.Scan(&mv.ID, &from, &to, &rollbackOf); err != nil {
			return nil, err
		}
		mv.Model, mv.Alias, mv.From, mv.To, mv.RollbackOf, mv.Moved = model, alias, int(from.Int64), int(to.Int64), rollbackOf.Int64, true
		moves = append(moves, mv)
	}
	return moves, rows.Err()
}

// inModelTx runs fn in a transaction holding the model's row lock, which
// serialises alias moves of one model, and commits when fn succeeds.
func (r *Registry) inModelTx(ctx context.Context, model, alias string, fn func(*sql.Tx) (AliasMove, error)) (AliasMove, error) {
	if err := checkName("model", model); err != nil {
		return AliasMove{}, err
	}
	if err := checkName("alias", alias); err != nil {
		return AliasMove{}, err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return AliasMove{}, err
	}
	defer rollback(tx)
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE`, model).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return AliasMove{}, fmt.Errorf("model %w", ErrNotFound)
	}
	if err != nil {
		return AliasMove{}, err
	}
	mv, err := fn(tx)
	if err != nil {
		return AliasMove{}, err
	}
	if err := tx.Commit(); err != nil {
		return AliasMove{}, err
	}
	if mv.Moved {
		r.log.WithFields(logrus.Fields{
			"model": model, "alias": alias, "from": mv.From, "to": mv.To, "actor": mv.Actor, "reason": mv.Reason,
		}).Info("registry: moved alias")
	}
	return mv, nil
}

// moveAlias points alias at version inside tx, which holds the model's
// lock: it updates the alias, appends the history row and queues the
// NOTIFY, which PostgreSQL delivers only if tx commits.
func (r *Registry) moveAlias(ctx context.Context, tx *sql.Tx, model, alias string, version int, rollbackOf int64, reason, actor string) (AliasMove, error) {
	if !versionInRange(version) {
		return AliasMove{}, fmt.Errorf("version %w", ErrNotFound)
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM model_versions WHERE model_name = $1 AND version = $2`, model, version).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return AliasMove{}, fmt.Errorf("version %w", ErrNotFound)
	}
	if err != nil {
		return AliasMove{}, err
	}
	from, err := aliasVersion(ctx, tx, model, alias)
	if err != nil {
		return AliasMove{}, err
	}
	if from == version {
		return AliasMove{Model: model, Alias: alias, From: version, To: version}, nil
	}
	if from == 0 {
		// Aliases are case-sensitive: a new one that differs from another
		// only in case is a typo far more often than a wish.
		var other string
		err := tx.QueryRowContext(ctx, `SELECT alias FROM aliases WHERE model_name = $1 AND lower(alias) = lower($2) AND alias <> $2 LIMIT 1`, model, alias).Scan(&other)
		switch {
		case err == nil:
			return AliasMove{}, fmt.Errorf("alias %q would be a new alias beside %q, which differs only in case (aliases are case-sensitive): %w", alias, other, ErrInvalid)
		case !errors.Is(err, sql.ErrNoRows):
			return AliasMove{}, err
		}
	}

	mv := AliasMove{
		Model: model, Alias: alias, From: from, To: version,
		Reason: cleanText(reason, MaxNoteBytes), Actor: cleanText(actor, MaxNoteBytes), Moved: true, RollbackOf: rollbackOf,
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO aliases (model_name, alias, version) VALUES ($1, $2, $3)
		ON CONFLICT (model_name, alias) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
		model, alias, version); err != nil {
		return AliasMove{}, err
	}
	if err := recordMove(ctx, tx, &mv); err != nil {
		return AliasMove{}, err
	}
	return mv, nil
}

// nullVersion is v for a nullable version column: NULL for 0, not set.
func nullVersion(v int) sql.NullInt64 { return sql.NullInt64{Int64: int64(v), Valid: v != 0} }

// recordMove appends mv to the alias history inside tx, setting its ID
// and time, and queues its NOTIFY.
func recordMove(ctx context.Context, tx *sql.Tx, mv *AliasMove) error {
	if err := tx.QueryRowContext(ctx, `INSERT INTO alias_history (model_name, alias, from_version, to_version, reason, actor, rollback_of)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, moved_at`,
		mv.Model, mv.Alias, nullVersion(mv.From), nullVersion(mv.To), mv.Reason, mv.Actor,
		sql.NullInt64{Int64: mv.RollbackOf, Valid: mv.RollbackOf != 0}).Scan(&mv.ID, &mv.MovedAt); err != nil {
		return err
	}
	payload, err := json.Marshal(AliasEvent{Model: mv.Model, Alias: mv.Alias, From: mv.From, To: mv.To})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, AliasChannel, string(payload))
	return err
}

// RemoveAlias removes the model's alias, recording the removal (a move to
// version 0) with its reason and actor and notifying AliasChannel, in one
// transaction. An alias that is not set is ErrNotFound; production is
// ErrConflict, since the API serves it: point it elsewhere or roll it back.
// A rollback of the alias afterwards puts it back.
//
// With expected 0 or more, the alias is removed only if it points at that
// version, else ErrConflict, so a version set meanwhile is not removed
// unseen; if it is not set, nothing is written and the move has Moved
// false, so a retried request is harmless. -1 removes it wherever it
// points.
func (r *Registry) RemoveAlias(ctx context.Context, model, alias string, expected int, reason, actor string) (AliasMove, error) {
	mv, err := r.inModelTx(ctx, model, alias, func(tx *sql.Tx) (AliasMove, error) {
		if alias == AliasProduction {
			return AliasMove{}, fmt.Errorf("production cannot be removed: the API serves it; point it at another version or roll it back: %w", ErrConflict)
		}
		if expected >= 0 {
			now, err := aliasVersion(ctx, tx, model, alias)
			if err != nil {
				return AliasMove{}, err
			}
			switch {
			case now == 0:
				// Removed already, as a retried request finds it:
				// answered as a move is when the alias is already there.
				return AliasMove{Model: model, Alias: alias}, nil
			case now != expected:
				return AliasMove{}, fmt.Errorf("alias points at version %d, not the expected %d: %w", now, expected, ErrConflict)
			}
		}
		return removeAlias(ctx, tx, model, alias, reason, actor)
	})
	if err != nil {
		return AliasMove{}, fmt.Errorf("registry: remove alias %s of %s: %w", alias, model, err)
	}
	return mv, nil
}

// removeAlias removes alias inside tx, which holds the model's lock.
func removeAlias(ctx context.Context, tx *sql.Tx, model, alias, reason, actor string) (AliasMove, error) {
	from, err := aliasVersion(ctx, tx, model, alias)
	if err != nil {
		return AliasMove{}, err
	}
	if from == 0 {
		return AliasMove{}, fmt.Errorf("alias is not set: %w", ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM aliases WHERE model_name = $1 AND alias = $2`, model, alias); err != nil {
		return AliasMove{}, err
	}
	mv := AliasMove{
		Model: model, Alias: alias, From: from,
		Reason: cleanText(reason, MaxNoteBytes), Actor: cleanText(actor, MaxNoteBytes), Moved: true,
	}
	if err := recordMove(ctx, tx, &mv); err != nil {
		return AliasMove{}, err
	}
	return mv, nil
}

// RollbackTarget returns the move Rollback would undo (the alias points at
// its To and would go back to its From) and the ID of the alias's last
// move. When there is nothing to go back to, the move has ID 0 and only
// To, the version the alias points at; latest is 0 when the alias has
// never moved. A caller that checks the
// From version before rolling back passes latest to RollbackOf, so that a
// move made meanwhile is a conflict, not a rollback to a version nobody
// checked.
func (r *Registry) RollbackTarget(ctx context.Context, model, alias string) (undo AliasMove, latest int64, err error) {
	if err := checkName("model", model); err != nil {
		return AliasMove{}, 0, fmt.Errorf("registry: rollback target: %w", err)
	}
	if err := checkName("alias", alias); err != nil {
		return AliasMove{}, 0, fmt.Errorf("registry: rollback target: %w", err)
	}
	moves, err := aliasMoves(ctx, r.db, model, alias)
	if err != nil {
		return AliasMove{}, 0, fmt.Errorf("registry: rollback target of alias %s of %s: %w", alias, model, err)
	}
	if len(moves) == 0 {
		return AliasMove{}, 0, nil
	}
	undo, err = UndoTarget(moves)
	if err != nil {
		return AliasMove{To: moves[0].To}, moves[0].ID, nil // RollbackOf says why
	}
	return undo, moves[0].ID, nil
}

// MovesOf returns the moves of history that point an alias at version or
// away from it, in the order of history: why a version is production or
// challenger, and why it stopped being so.
func MovesOf(history []AliasMove, version int) []AliasMove {
	out := []AliasMove{}
	for _, m := range history {
		if m.To == version || m.From == version {
			out = append(out, m)
		}
	}
	return out
}

// AliasHistory returns every alias move of the model, newest first, or
// ErrNotFound for an unknown model.
func (r *Registry) AliasHistory(ctx context.Context, model string) ([]AliasMove, error) {
	if err := checkName("model", model); err != nil {
		return nil, fmt.Errorf("registry: alias history: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT id, model_name, alias, from_version, to_version, reason, actor, moved_at, rollback_of
		FROM alias_history WHERE model_name = $1 ORDER BY id DESC`, model)
	if err != nil {
		return nil, fmt.Errorf("registry: alias history of %s: %w", model, err)
	}
	defer rows.Close()
	moves := []AliasMove{}
	for rows.Next() {
		var (
			mv                   AliasMove
			from, to, rollbackOf sql.NullInt64
		)
		if err := rows.Scan(&mv.ID, &mv.Model, &mv.Alias, &from, &to, &mv.Reason, &mv.Actor, &mv.MovedAt, &rollbackOf); err != nil {
			return nil, fmt.Errorf("registry: alias history of %s: %w", model, err)
		}
		mv.From, mv.To, mv.RollbackOf = int(from.Int64), int(to.Int64), rollbackOf.Int64
		mv.Moved = true
		moves = append(moves, mv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: alias history of %s: %w", model, err)
	}
	if len(moves) == 0 {
		var one int
		err := r.db.QueryRowContext(ctx, `SELECT 1 FROM registered_models WHERE name = $1`, model).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("registry: alias history of %s: model %w", model, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("registry: alias history of %s: %w", model, err)
		}
	}
	return moves, nil
}
