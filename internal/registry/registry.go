package registry

import (
	"context"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"
)

// Sentinel errors, wrapped by the errors this package returns.
var (
	// ErrNotFound: the model, version, run, data set or feed does not
	// exist, or the alias is not set.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is already recorded.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed.
	ErrInvalid = errors.New("invalid input")
	// ErrRunFinished: the run already finished with another status. It
	// wraps ErrConflict.
	ErrRunFinished = fmt.Errorf("run already finished: %w", ErrConflict)
)

// pingTimeout bounds the first connection when the caller's context has no
// deadline, so a black-holed address fails instead of hanging start-up.
const pingTimeout = 15 * time.Second

// Registry is a handle on the registry database, safe for concurrent use.
type Registry struct {
	db  *sql.DB
	log logrus.FieldLogger

	ping singleflight.Group // the ping under way, shared
}

// Open connects to the PostgreSQL database at dsn (a postgres:// URL or a
// key=value connection string, as lib/pq takes them), checks that it answers and applies the
// pending schema migrations. log may be nil.
func Open(ctx context.Context, dsn string, log logrus.FieldLogger) (*Registry, error) {
	return openTimed(ctx, dsn, log, ReadTimeout)
}

func openTimed(ctx context.Context, dsn string, log logrus.FieldLogger, readTimeout time.Duration) (*Registry, error) {
	if log == nil {
		log = discard()
	}
	cfg, err := parseURL(dsn)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	conn, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("registry: invalid database URL: %v: %w", err, ErrInvalid)
	}
	conn.Dialer(deadlineDialer{readTimeout: readTimeout})
	mconn, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("registry: invalid database URL: %v: %w", err, ErrInvalid)
	}
	mdial := &closingDialer{deadlineDialer: deadlineDialer{readTimeout: max(readTimeout, migrationReadTimeout)}}
	mconn.Dialer(mdial)
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)

	pctx, cancel := ctx, context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		pctx, cancel = context.WithTimeout(ctx, pingTimeout)
	}
	err = db.PingContext(pctx)
	cancel()
	if err != nil {
		db.Close()
		return nil, connectError(cfg, err)
	}
	r := &Registry{db: db, log: log.WithField("component", "registry")}
	// Migrations get a connection of their own: waiting for another
	// process's migration, or checking every row of a large table, takes
	// longer than any query may. With so long a read timeout, the
	// connection is closed when ctx ends, as a hung server would never
	// answer lib/pq's request to cancel.
	mdb := sql.OpenDB(mconn)
	stop := context.AfterFunc(ctx, mdial.closeAll)
	err = r.migrate(ctx, mdb)
	stop()
	mdb.Close()
	if err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// Close closes the connection pool.
func (r *Registry) Close() error {
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("registry: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers, for readiness probes. It returns
// when ctx ends even if the database hangs (lib/pq would go on waiting for
// it, up to ReadTimeout); pings made meanwhile share the one under way.
func (r *Registry) Ping(ctx context.Context) error {
	ch := r.ping.DoChan("ping", func() (any, error) {
		pctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
		defer cancel()
		return nil, r.db.PingContext(pctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return fmt.Errorf("registry: ping: %w", res.Err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("registry: ping: %w", ctx.Err())
	}
}

// parseURL parses a lib/pq connection string without ever repeating it in
// an error, since it may hold a password.
func parseURL(dsn string) (pq.Config, error) {
	if err := config.CheckDatabaseURL(dsn); err != nil {
		return pq.Config{}, fmt.Errorf("invalid database URL: %v: %w", err, ErrInvalid)
	}
	return pq.NewConfig(dsn)
}

// connectError turns a failed first connection into a message that says
// what to fix.
func connectError(cfg pq.Config, err error) error {
	addr := address(cfg)
	if pe := pq.As(err, pqerror.InvalidPassword, pqerror.InvalidAuthorizationSpecification); pe != nil {
		return fmt.Errorf("registry: authentication failed for user %s at %s: %w", userName(cfg), addr, err)
	}
	if pe := pq.As(err, pqerror.InvalidCatalogName); pe != nil {
		return fmt.Errorf("registry: database %q does not exist at %s: %w", cfg.Database, addr, err)
	}
	if errors.Is(err, pq.ErrSSLNotSupported) {
		return fmt.Errorf("registry: PostgreSQL at %s does not offer TLS (add sslmode=disable to the URL for a local server): %w", addr, err)
	}
	if Unreachable(err) {
		return fmt.Errorf("registry: cannot reach PostgreSQL at %s: %w", addr, err)
	}
	return fmt.Errorf("registry: connect to PostgreSQL at %s as %s: %w", addr, userName(cfg), err)
}

// Unreachable reports whether err says that PostgreSQL could not be
// reached or is not ready yet (starting up, shutting down): an outage to
// wait out, unlike a bad URL or wrong credentials.
func Unreachable(err error) bool {
	var (
		ne    net.Error
		alert tls.AlertError
		dns   *net.DNSError
	)
	switch {
	case errors.As(err, &alert), errors.As(err, &dns) && dns.IsNotFound:
		// The server refused our TLS, or the host name is wrong: a
		// mistake in the URL, which waiting does not mend.
		return false
	}
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) ||
		pq.As(err, pqerror.CannotConnectNow, pqerror.AdminShutdown, pqerror.CrashShutdown) != nil
}

// OpenWait is Open that waits out an outage: while PostgreSQL cannot be
// reached it logs why and tries again, backing off up to 15 s, until ctx
// ends. Any other error returns at once.
func OpenWait(ctx context.Context, dsn string, log logrus.FieldLogger) (*Registry, error) {
	if log == nil {
		log = discard()
	}
	backoff := time.Second
	for {
		r, err := Open(ctx, dsn, log)
		switch {
		case ctx.Err() != nil:
			if r != nil {
				r.Close()
			}
			return nil, ctx.Err()
		case err == nil || !Unreachable(err):
			return r, err
		}
		log.WithError(err).WithFields(logrus.Fields{"dependency": "postgresql", "retry_in": backoff.String()}).Warn("registry: PostgreSQL cannot be reached yet; waiting for it")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

func address(cfg pq.Config) string {
	host := cfg.Host
	if host == "" {
		host = "localhost"
	}
	port := cfg.Port
	if port == 0 {
		port = 5432
	}
	if strings.HasPrefix(host, "/") || strings.HasPrefix(host, "@") {
		return fmt.Sprintf("%s/.s.PGSQL.%d", host, port)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func userName(cfg pq.Config) string {
	if cfg.User == "" {
		return "(default)"
	}
	return cfg.User
}

func discard() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// namePattern is what model and alias names may look like: they appear in
// URLs and object keys, so no spaces, slashes or control characters.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckModelName reports whether name can name a model; the error wraps
// ErrInvalid.
func CheckModelName(name string) error { return checkName("model", name) }

// CheckName reports whether name, of the given kind (a schedule, say), is
// a name as models, aliases and feeds have: 1-128 letters, digits, '.',
// '_' or '-'. The error wraps ErrInvalid.
func CheckName(kind, name string) error { return checkName(kind, name) }

func checkName(kind, s string) error {
	if !namePattern.MatchString(s) {
		return fmt.Errorf("%s name %q: want 1-128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit: %w", kind, s, ErrInvalid)
	}
	return nil
}

// jsonObject returns raw as a JSON object for a jsonb column: "{}" when
// empty, ErrInvalid when it is not an object.
func jsonObject(what string, raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "{}", nil
	}
	if !json.Valid([]byte(s)) || s[0] != '{' {
		return "", fmt.Errorf("%s: not a JSON object: %w", what, ErrInvalid)
	}
	return s, nil
}

// checkMetrics rejects values JSON cannot carry, since the API returns
// metrics as JSON.
func checkMetrics(m map[string]float64) error {
	for k, v := range m {
		if k == "" {
			return fmt.Errorf("metric with an empty name: %w", ErrInvalid)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("metric %s = %v: not a finite number: %w", k, v, ErrInvalid)
		}
	}
	return nil
}

// rollback ends tx after a failure; its own error is irrelevant then.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
