package registry

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockKey is the advisory lock that serialises migrations across
// processes ("prodcat" in ASCII).
const migrationLockKey int64 = 0x70726f64636174

// migrationReadTimeout bounds the wait for one reply while migrating, as
// ReadTimeout does for other queries: a migration may wait for another
// process's, and one that checks every row of a large table takes as long
// as the table is large.
const migrationReadTimeout = time.Hour

type migration struct {
	version int
	name    string // file name, e.g. 0001_init.sql
	sql     string
}

// loadMigrations reads the migration files of fsys. A file is named
// NNNN_description.sql; the number is its version and versions are unique.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	paths, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := make(map[int]string)
	for _, p := range paths {
		name := path.Base(p)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d", prev, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	return ms, nil
}

// migrate applies the pending migrations on db, each in its own
// transaction, holding a session advisory lock so that concurrent Opens
// apply each migration exactly once. A schema with none pending is only
// read, so a role without the right to create tables can run on a
// database that one with it has migrated.
func (r *Registry) migrate(ctx context.Context, db *sql.DB) (err error) {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		return fmt.Errorf("registry: migrations: %w", err)
	}
	// The lock belongs to a session, so every statement must use this one
	// connection.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("registry: migrate: %w", err)
	}
	defer conn.Close()
	applied, err := appliedMigrations(ctx, conn)
	var pqErr *pq.Error
	switch {
	case err == nil && !pending(ms, applied):
		r.warnUnknown(ms, applied)
		return nil
	case err != nil && !(errors.As(err, &pqErr) && pqErr.Code == "42P01"): // undefined_table: a new database
		return fmt.Errorf("registry: migrate: %w", err)
	}
	defer func() {
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "42501" { // insufficient_privilege
			err = fmt.Errorf("%w; the schema needs migrations this role may not apply: run this version once with a role that may create and alter tables in the database, then this one", err)
		}
	}()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("registry: migrate: take advisory lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done; if that fails, drop the connection so
		// the pool never hands out a session that still holds the lock.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey); uerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = fmt.Errorf("registry: migrate: release advisory lock: %w", uerr)
			}
		}
	}()

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("registry: migrate: create schema_migrations: %w", err)
	}
	if applied, err = appliedMigrations(ctx, conn); err != nil {
		return fmt.Errorf("registry: migrate: %w", err)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		r.log.WithField("migration", m.name).Info("registry: applying schema migration")
		if err := applyMigration(ctx, conn, m); err != nil {
			return fmt.Errorf("registry: migrate: %s: %w", m.name, err)
		}
		r.log.WithField("migration", m.name).Info("registry: applied schema migration")
	}
	r.warnUnknown(ms, applied)
	return nil
}

// pending reports whether some of ms are not applied.
func pending(ms []migration, applied map[int]bool) bool {
	for _, m := range ms {
		if !applied[m.version] {
			return true
		}
	}
	return false
}

// warnUnknown warns of applied migrations that are not in ms: a newer
// binary migrated the database. This one may still work if the newer
// migrations were additive, so it is a warning, not a failure.
func (r *Registry) warnUnknown(ms []migration, applied map[int]bool) {
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			r.log.WithField("schema_version", v).Warn("registry: database has a schema migration this binary does not know")
		}
	}
}

func appliedMigrations(ctx context.Context, conn *sql.Conn) (map[int]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := make(map[int]bool)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	// Without arguments lib/pq sends the simple query protocol, which runs a
	// file of several statements.
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return err
	}
	return tx.Commit()
}
