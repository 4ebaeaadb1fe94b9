// Command api serves prodcat's HTTP API: predictions from the production
// model, which it reloads without downtime when the alias moves; trainings
// on Temporal; the model registry; retraining schedules; Prometheus
// metrics; health probes; and a demo page.
//
// Callers authenticate with HTTP Basic credentials, checked against bcrypt
// hashes from PRODCAT_API_USERS or PRODCAT_API_USERS_FILE. Make a hash with
//
//	printf '%s\n' 'the password' | go run ./api -hash-password
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/logging"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/internal/serving"
)

// Server timeouts. Reading a request is quick; writing may wait for
// Temporal or the registry, which handlers bound at dependencyTimeout. A
// hung PostgreSQL holds a registry call past that, up to
// registry.ReadTimeout (lib/pq reads on after the context ends): the
// answer, a 503, must still reach the caller, who would otherwise not know
// whether an alias moved.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = max(dependencyTimeout, registry.ReadTimeout) + 20*time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// shutdownTimeout is how long in-flight requests get to finish; those
	// still running then (a slow upload) are cut, and their handlers get
	// cleanupTimeout to clean up (an upload's temporary file).
	shutdownTimeout = 30 * time.Second
	cleanupTimeout  = 10 * time.Second
	// bucketTimeout bounds the start-up check of S3, which may come later.
	bucketTimeout = 5 * time.Second
)

func main() {
	hashPassword := flag.Bool("hash-password", false, "read a password on standard input, print its bcrypt hash for PRODCAT_API_USERS and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		// A setting given as an argument would otherwise be ignored.
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q: settings come from the environment (PRODCAT_*), flags from -h\n", "api", flag.Arg(0))
		os.Exit(2)
	}
	if *hashPassword {
		if err := printHash(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "api:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(2)
	}
	log, err := logging.New(os.Stderr, cfg.Log.Format, logging.JSON, cfg.Log.Level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; a second one kills.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, cfg, log); err != nil {
		log.WithError(err).Error("api stopped")
		if errors.As(err, new(settingsError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// settingsError is a mistake in the settings found after start-up, such
// as no API users: the API exits 2 for it, as for the others.
type settingsError struct{ error }

func (e settingsError) Unwrap() error { return e.error }

// printHash reads one line, the password, and prints its bcrypt hash.
func printHash(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the password: %w", err)
	}
	h, err := auth.Hash(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(h))
	return err
}

func run(ctx context.Context, cfg config.Config, log *logrus.Logger) error {
	ln, err := net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (PRODCAT_API_ADDR): %w", cfg.API.Addr, err)
	}
	switch n, err := sweepUploads(os.TempDir(), time.Now()); {
	case err != nil:
		log.WithError(err).Warn("api: cannot remove upload files an earlier process left behind")
	case n > 0:
		log.WithFields(logrus.Fields{"files": n, "dir": os.TempDir()}).Info("api: removed upload files an earlier process left behind")
	}
	// Serve at once, before the registry answers: /livez says the process
	// is alive while it waits for PostgreSQL, so a liveness probe does not
	// restart it in a loop through a database outage; the rest answers 503.
	m := newMetrics()
	var h handlerSwitch
	h.set(starting(m, cfg.API.MetricsToken))
	errLog := log.WriterLevel(logrus.WarnLevel)
	defer errLog.Close()
	hs := newHTTPServer(&h, errLog)
	errc := startServing(hs, ln)
	a, err := newApp(ctx, cfg, log, m)
	if err != nil {
		_ = hs.Close()
		<-errc
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil // stopped while waiting for the registry
		}
		return err
	}
	defer a.close()
	h.set(a.srv.handler())
	return a.serve(ctx, hs, ln.Addr(), errc)
}

// handlerSwitch is an http.Handler whose handler can be replaced while it
// serves.
type handlerSwitch struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSwitch) set(h http.Handler) { s.h.Store(&h) }

func (s *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// starting answers while the API waits for the registry: alive, and
// scraped (m, behind token when set), but not ready for anything else.
func starting(m *metrics, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case r.URL.Path == "/livez" && get:
			_ = writeJSON(w, http.StatusOK, map[string]string{"status": "starting"})
			return
		case r.URL.Path == "/metrics" && get:
			m.serve(w, r, token)
			return
		}
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, codeNotReady, "starting: waiting for the model registry (PostgreSQL) and the artifact store; see the logs")
	})
}

// newHTTPServer returns the API's HTTP server, with its limits, answering
// with h and logging its own errors to errLog.
func newHTTPServer(h http.Handler, errLog io.Writer) *http.Server {
	return &http.Server{
		Handler:           &tracked{Handler: h},
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          stdlog.New(errLog, "http: ", 0),
	}
}

// tracked counts the requests its handler is serving, so that a shutdown
// that had to cut some can wait for their handlers to return.
type tracked struct {
	http.Handler
	n atomic.Int64
	// mu guards closed; requests hold it shared while they count
	// themselves in, so that no wg.Add races close's Wait and the hot
	// path takes no exclusive lock.
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

func (t *tracked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.RLock()
	if t.closed {
		t.mu.RUnlock()
		w.Header().Set("Connection", "close")
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	t.n.Add(1)
	t.wg.Add(1)
	t.mu.RUnlock()
	defer func() { t.n.Add(-1); t.wg.Done() }()
	t.Handler.ServeHTTP(w, r)
}

// close refuses requests from now on and returns when those under way
// have returned, or after timeout, reporting whether they all did.
func (t *tracked) close(timeout time.Duration) bool {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// startServing serves hs on ln in a goroutine, which sends Serve's error.
func startServing(hs *http.Server, ln net.Listener) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	return errc
}

// app is the API with its connections: the server, the reloader that
// keeps its model current, the registry and the Temporal client.
type app struct {
	cfg      config.Config
	log      *logrus.Logger
	srv      *server
	reloader *serving.Reloader
	registry *registry.Registry
	temporal client.Client
}

// newApp connects to the registry, waiting for it while it cannot be
// reached (the API cannot work without it), and prepares the rest. S3 and
// Temporal may come later: until then, predictions answer 503 and trainings
// report Temporal unavailable. A bucket that does not exist or credentials
// S3 refuses are mistakes in the configuration, and fail at once.
func newApp(ctx context.Context, cfg config.Config, log *logrus.Logger, m *metrics) (*app, error) {
	users, err := loadUsers(cfg.API, log)
	if err != nil {
		return nil, settingsError{err}
	}
	authn, err := auth.New(users)
	if err != nil {
		return nil, settingsError{err}
	}
	store, err := artifact.New(cfg.S3)
	if err != nil {
		return nil, err
	}
	// Each dependency gets its own deadline, so a hung S3 neither uses up
	// the registry's time nor gets its failure blamed on PostgreSQL.
	bctx, cancel := context.WithTimeout(ctx, bucketTimeout)
	defer cancel()
	switch err := store.CheckBucket(bctx); {
	case errors.Is(err, artifact.ErrNoBucket), errors.Is(err, artifact.ErrCredentials):
		return nil, err // the configuration is wrong; waiting would not mend it
	case err != nil:
		log.WithError(err).Warn("api: the artifact store does not answer yet; the model loads when it does")
	}
	// A PostgreSQL that is down is waited for, as a restart during a
	// database outage should not leave the API dead.
	reg, err := registry.OpenWait(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return nil, err
	}
	tc, err := client.NewLazyClient(client.Options{
		HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Logger: logging.NewTemporal(log),
	})
	if err != nil {
		reg.Close()
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.Temporal.Address, err)
	}
	a := &app{cfg: cfg, log: log, registry: reg, temporal: tc}
	a.reloader, err = serving.New(serving.Config{
		Model: cfg.ModelName, Alias: registry.AliasProduction, Registry: reg, Store: store,
		Listen: func(ctx context.Context, fn func(registry.AliasEvent)) error {
			return registry.Listen(ctx, cfg.DatabaseURL, log, fn)
		},
		Interval: cfg.API.ReloadInterval, Log: log, Observe: m.observeReload,
		// The pipeline leaves a version that is not promoted as challenger:
		// promoting it should not wait for a download.
		Standby: []string{registry.AliasChallenger},
	})
	if err != nil {
		a.close()
		return nil, err
	}
	m.watchModel(cfg.ModelName, a.reloader)
	a.srv, err = newServer(deps{
		logger: log, auth: authn, models: a.reloader, registry: reg, store: store,
		trainer: &temporalTrainer{
			c: tc, queue: cfg.Temporal.TaskQueue, namespace: cfg.Temporal.Namespace, uiURL: cfg.Temporal.UIURL,
		},
		schedules:      schedule.New(tc, cfg.Temporal.Namespace),
		metrics:        m,
		modelName:      cfg.ModelName,
		taskQueue:      cfg.Temporal.TaskQueue,
		trainingQueue:  cfg.Temporal.TrainingQueue,
		maxBodyBytes:   cfg.API.MaxBodyBytes,
		maxUploadBytes: cfg.API.MaxUploadBytes,
		metricsToken:   cfg.API.MetricsToken,
		temporalUI:     cfg.Temporal.UIURL + "/namespaces/" + cfg.Temporal.Namespace + "/workflows",
	})
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) close() {
	a.temporal.Close()
	if err := a.registry.Close(); err != nil {
		a.log.WithError(err).Warn("api: closing the registry")
	}
}

// serve runs the reloader while hs, which serves the API on addr and
// reports its end on errc, answers requests until ctx ends; then it shuts
// down gracefully.
func (a *app) serve(ctx context.Context, hs *http.Server, addr net.Addr, errc <-chan error) error {
	rctx, stopReloader := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.reloader.Run(rctx) })
	defer func() {
		stopReloader()
		wg.Wait()
	}()
	a.log.WithFields(logrus.Fields{
		"addr": addr.String(), "model": a.cfg.ModelName, "reload_interval": a.cfg.API.ReloadInterval.String(),
		"temporal": a.cfg.Temporal.Address,
	}).Info("api: listening")
	return serveHTTP(ctx, hs, errc, a.srv, a.cfg.API.DrainDelay, shutdownTimeout, a.log)
}

// serveHTTP waits for ctx to end while hs serves (Serve's error comes on
// errc), then marks the server as draining (so /readyz fails), keeps
// serving for drainDelay so load balancers see that, stops accepting
// connections and waits up to shutdownTimeout for the requests in flight
// to finish, then cuts those still running. A stop that had to cut some is
// still a stop, not a failure.
func serveHTTP(ctx context.Context, hs *http.Server, errc <-chan error, s *server, drainDelay, grace time.Duration, log logrus.FieldLogger) error {
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if drainDelay > 0 {
		log.WithField("drain_delay", drainDelay.String()).Info("api: draining: /readyz fails, still serving")
		select {
		case <-time.After(drainDelay):
		case err := <-errc:
			return fmt.Errorf("api: serve: %w", err)
		}
	}
	log.Info("api: shutting down; finishing the requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("api: shutdown: %w", err)
		}
		cut(hs, grace, log)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	log.Info("api: stopped")
	return nil
}

// cut closes the connections of the requests still running after grace,
// which makes their handlers fail and return, and waits up to
// cleanupTimeout for them to have cleaned up after themselves.
func cut(hs *http.Server, grace time.Duration, log logrus.FieldLogger) {
	t, _ := hs.Handler.(*tracked)
	if t != nil {
		log = log.WithField("requests", t.n.Load())
	}
	log.WithField("shutdown_timeout", grace.String()).Warn("api: requests still running at the end of the shutdown timeout; cutting them")
	_ = hs.Close()
	if t != nil && !t.close(cleanupTimeout) {
		log.WithField("requests", t.n.Load()).Warn("api: cut requests still running; stopping without them")
	}
}

// loadUsers reads the API users from the configuration. Without any, only
// dev mode starts, with the development accounts and a loud warning.
func loadUsers(c config.API, log logrus.FieldLogger) ([]auth.User, error) {
	var users []auth.User
	if c.Users != "" {
		u, err := auth.ParseUsers("PRODCAT_API_USERS", strings.NewReader(c.Users))
		if err != nil {
			return nil, err
		}
		users = append(users, u...)
	}
	if c.UsersFile != "" {
		f, err := os.Open(c.UsersFile)
		if err != nil {
			return nil, fmt.Errorf("PRODCAT_API_USERS_FILE: %w", err)
		}
		u, err := auth.ParseUsers(c.UsersFile, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		users = append(users, u...)
	}
	if c.DevMode {
		dev, err := auth.DevUsers()
		if err != nil {
			return nil, err
		}
		configured := len(users)
		var added []string
		for _, d := range dev {
			if !hasUser(users, d.Name) {
				users = append(users, d)
				added = append(added, d.Name+"/"+d.Name)
			}
		}
		log.WithFields(logrus.Fields{"added": strings.Join(added, ", "), "configured_users": configured}).
			Warn("api: PRODCAT_DEV_MODE=true: DEVELOPMENT CREDENTIALS ARE ENABLED, beside any configured users; never use dev mode where others can reach the API")
	}
	if len(users) == 0 {
		return nil, errors.New("no API users: set PRODCAT_API_USERS to name:role:bcrypt-hash entries (hash a password with `go run ./api -hash-password`) or PRODCAT_API_USERS_FILE, or PRODCAT_DEV_MODE=true for the development accounts")
	}
	return users, nil
}

func hasUser(users []auth.User, name string) bool {
	for _, u := range users {
		if u.Name == name {
			return true
		}
	}
	return false
}
