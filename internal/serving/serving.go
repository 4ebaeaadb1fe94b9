// Package serving keeps the model a service predicts with: the version an
// alias of a registered model points at (production, usually), loaded from
// the artifact store and swapped in atomically when the alias moves.
//
// A Reloader learns of alias moves from PostgreSQL notifications and, in
// case one is missed, by polling the registry. Before a new version
// replaces the one being served, its file must match the digest the
// registry recorded, decode (which verifies the file's own checksum) and
// answer a smoke prediction sensibly; when anything fails, the old model
// keeps serving and the failure is logged and reported. Readers never
// lock: Current is one atomic load.
//
// Loading a large model takes a noticeable time on a busy machine, so a
// Reloader keeps the versions most likely to be served next in memory,
// already verified: the one it served before (a rollback swaps it back at
// once) and those of standby aliases such as challenger (promoting the
// challenger swaps it in at once).
package serving

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
)

// Model is a loaded model version. It is immutable and safe for concurrent
// use.
type Model struct {
	*model.Model
	// Name and Version identify it in the registry.
	Name    string
	Version int
	// Digest is the SHA-256 of the model file.
	Digest   string
	LoadedAt time.Time
}

// Registry reads the version an alias points at; *registry.Registry
// implements it.
type Registry interface {
	Alias(ctx context.Context, model, alias string) (registry.Version, error)
	// AliasHistory and Version find what to serve when nothing is served
	// and the alias's version cannot be: where a rollback would go.
	AliasHistory(ctx context.Context, model string) ([]registry.AliasMove, error)
	Version(ctx context.Context, model string, v int) (registry.Version, error)
}

// Store reads a model file; *artifact.Store implements it, verifying the
// content digest its keys carry.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
}

// ListenFunc delivers alias events to fn until ctx ends, like
// registry.Listen with its connection string bound.
type ListenFunc func(ctx context.Context, fn func(registry.AliasEvent)) error

// Result is the outcome of a reload that tried to load a version.
type Result string

// Reload results, the values of the reloads metric.
const (
	Loaded Result = "success"
	Failed Result = "failure"
)

// Config configures a Reloader.
type Config struct {
	// Model and Alias name what to serve.
	Model, Alias string
	Registry     Registry
	Store        Store
	// Listen, when set, makes alias moves take effect at once; Interval
	// is the polling fallback.
	Listen   ListenFunc
	Interval time.Duration
	// Log receives every load and failure; nil discards.
	Log logrus.FieldLogger
	// Observe, when set, is called after every attempt to serve a new
	// version, and after every failure to read the alias.
	Observe func(Result)
	// Standby names aliases of the model whose versions are loaded ahead,
	// so that promoting one of them swaps in a model already in memory.
	Standby []string
}

// Reloader serves the version Config.Alias points at. Create it with New.
type Reloader struct {
	cfg     Config
	log     logrus.FieldLogger
	current atomic.Pointer[Model]
	// reloaded is set once the first reload has finished, whatever its
	// outcome.
	reloaded atomic.Bool
	// behind is the version the alias points at when it could not be
	// served (fetching or checking it failed), 0 otherwise.
	behind atomic.Int64

	mu sync.Mutex // serialises Reload and guards the fields below
	// ready holds verified models besides the current one, by version: the
	// one served before it and those of the standby aliases.
	ready    map[int]*Model
	previous int // the version served before the current one
	// rejected and rejectedStandby are the version (and file digest) that
	// last failed validation when it was to be served or preloaded: it is
	// not fetched again until the alias moves.
	rejected, rejectedStandby versionKey
	// rejectedFallbacks are the versions fallback found unloadable.
	rejectedFallbacks map[versionKey]bool
	noModelLogged     bool
	// aliasFailures counts the reloads in a row that could not read the
	// alias: the first is an error, the others of an outage warnings.
	aliasFailures int
}

type versionKey struct {
	version int
	digest  string
}

func keyOf(v registry.Version) versionKey { return versionKey{v.Version, v.ArtifactDigest} }

// Timeouts of one reload and the listener's reconnection back-off.
const (
	reloadTimeout  = 2 * time.Minute
	listenRetryMin = time.Second
	listenRetryMax = 30 * time.Second
)

// The smoke prediction: an ordinary listing, and how far above 1 the top
// probabilities may sum through rounding.
const (
	smokeTitle           = "Lot de 3 stylos bille bleu"
	smokeBody            = "<p>Stylos à bille, encre bleue, pointe moyenne.</p>"
	probabilityTolerance = 1e-6
)

// New returns a Reloader; nothing is loaded before Reload or Run.
func New(cfg Config) (*Reloader, error) {
	switch {
	case cfg.Model == "" || cfg.Alias == "":
		return nil, errors.New("serving: model and alias names are required")
	case cfg.Registry == nil || cfg.Store == nil:
		return nil, errors.New("serving: registry and store are required")
	case cfg.Interval <= 0:
		return nil, fmt.Errorf("serving: polling interval %v: want > 0", cfg.Interval)
	}
	log := cfg.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	return &Reloader{
		cfg:               cfg,
		log:               log.WithFields(logrus.Fields{"component": "serving", "model": cfg.Model, "alias": cfg.Alias}),
		ready:             map[int]*Model{},
		rejectedFallbacks: map[versionKey]bool{},
	}, nil
}

// Current returns the model being served, or nil before the first load.
func (r *Reloader) Current() *Model { return r.current.Load() }

// Loading reports whether no model is served because the first reload has
// not finished yet, as when the service has just started.
func (r *Reloader) Loading() bool { return r.current.Load() == nil && !r.reloaded.Load() }

// Behind returns the version the alias points at when the last reload
// could not serve it, so that another version is served or none is; 0 when
// the alias's version is served or the alias is not set.
func (r *Reloader) Behind() int { return int(r.behind.Load()) }

// Run loads the model, then reloads it whenever the alias moves, until ctx
// ends. Failures are logged and observed, never fatal: the service keeps
// its current model and tries again on the next event or tick.
func (r *Reloader) Run(ctx context.Context) {
	kick := make(chan struct{}, 1)
	wake := func() {
		select {
		case kick <- struct{}{}:
		default: // a reload is already pending; it will see this move too
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	if r.cfg.Listen != nil {
		wg.Go(func() { r.listen(ctx, wake) })
	}
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	wake()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			wake()
		case <-kick:
			rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
			_ = r.Reload(rctx) // logged and observed by Reload
			cancel()
		}
	}
}

// listen wakes the reload loop on every move of the served alias and on
// every (re)connection, reconnecting with back-off until ctx ends.
func (r *Reloader) listen(ctx context.Context, wake func()) {
	backoff := listenRetryMin
	for {
		start := time.Now()
		err := r.cfg.Listen(ctx, func(ev registry.AliasEvent) {
			if r.concerns(ev) {
				wake()
			}
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > listenRetryMax {
			backoff = listenRetryMin
		}
		r.log.WithError(err).WithField("retry_in", backoff.String()).Warn("serving: not listening for alias moves; polling meanwhile")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenRetryMax)
	}
}

// concerns reports whether ev may have moved the served alias or a
// standby one.
func (r *Reloader) concerns(ev registry.AliasEvent) bool {
	if ev.Resync {
		return true
	}
	return ev.Model == r.cfg.Model && (ev.Alias == r.cfg.Alias || slices.Contains(r.cfg.Standby, ev.Alias))
}

// Reload serves the version the alias points at now, if it is not already
// served, then loads the standby aliases' versions ahead. It returns nil
// when the served model did not have to change or changed as it should,
// including when the alias is not set yet or points at a version rejected
// before; preloading never fails a reload, it logs.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.reloaded.Store(true)
	err := r.serve(ctx)
	if failed := int(r.behind.Load()); failed != 0 && r.current.Load() == nil {
		r.fallback(ctx, failed)
	}
	r.preload(ctx)
	return err
}

// maxFallbacks bounds the earlier versions fallback tries.
const maxFallbacks = 3

// fallback serves, when nothing is served and the alias's version (failed)
// cannot be, the first that loads of the versions successive rollbacks
// would go to: an API that starts while production's file is missing or
// broken serves the last good model instead of nothing. Behind goes on naming failed, and
// each reload tries failed again, so the alias's version is served as soon
// as its file can be fetched (a file that fails its checks has the content
// its digest names, and is not tried again until the alias moves).
func (r *Reloader) fallback(ctx context.Context, failed int) {
	hist, err := r.cfg.Registry.AliasHistory(ctx, r.cfg.Model)
	if err != nil {
		r.log.WithError(err).Warn("serving: cannot read the alias history to fall back on an earlier version")
		return
	}
	var moves []registry.AliasMove // the alias's, newest first
	for _, mv := range hist {
		if mv.Alias == r.cfg.Alias {
			moves = append(moves, mv)
		}
	}
	// The versions tried are those successive rollbacks would go to
	// (registry.RollbackTargets), so never one a rollback took out of
	// service, unless someone promoted it again since.
	tried := map[int]bool{failed: true}
	attempts := 0
	targets := registry.RollbackTargets(moves, len(moves))
	if len(targets) == 0 {
		r.log.WithField("alias_version", failed).Warn("serving: no earlier version to fall back on")
	}
	for _, undo := range targets {
		if attempts == maxFallbacks {
			return
		}
		if tried[undo.From] {
			continue
		}
		tried[undo.From] = true
		attempts++
		log := r.log.WithFields(logrus.Fields{"version": undo.From, "alias_version": failed})
		v, err := r.cfg.Registry.Version(ctx, r.cfg.Model, undo.From)
		if err != nil {
			log.WithError(err).Warn("serving: cannot fall back on this version")
			continue
		}
		if r.rejectedFallbacks[keyOf(v)] {
			continue
		}
		m, rejected, err := r.fetch(ctx, v)
		if err != nil {
			if rejected {
				r.rejectedFallbacks[keyOf(v)] = true
			}
			log.WithError(err).Warn("serving: cannot fall back on this version")
			continue
		}
		r.current.Store(m)
		log.Warn("serving: the alias's version cannot be served; serving the version a rollback would go to until it can")
		r.observe(Loaded)
		return
	}
}

// keeping adds to log what is served while the alias's model cannot be:
// the model served so far, or nothing.
func keeping(log logrus.FieldLogger, cur *Model) logrus.FieldLogger {
	if cur == nil {
		return log.WithField("serving", "nothing until it can be, or an earlier version is")
	}
	return log.WithField("serving", "the current one")
}

// serve swaps in the version the alias points at.
func (r *Reloader) serve(ctx context.Context) error {
	start := time.Now()
	v, err := r.cfg.Registry.Alias(ctx, r.cfg.Model, r.cfg.Alias)
	if r.aliasFailures > 0 && (err == nil || errors.Is(err, registry.ErrNotFound)) {
		r.log.WithField("failures", r.aliasFailures).Info("serving: the registry answers again")
		r.aliasFailures = 0
	}
	if errors.Is(err, registry.ErrNotFound) {
		if !r.noModelLogged {
			r.log.Warn("serving: the alias is not set yet; predictions answer 503 until a model is promoted")
			r.noModelLogged = true
		}
		return nil
	}
	if err != nil {
		err = fmt.Errorf("serving: read alias %s of %s: %w", r.cfg.Alias, r.cfg.Model, err)
		r.aliasFailures++
		log := keeping(r.log, r.current.Load()).WithError(err).WithField("failures", r.aliasFailures)
		if r.aliasFailures == 1 {
			log.Error("serving: cannot check for a new model")
		} else {
			log.Warn("serving: cannot check for a new model")
		}
		r.observe(Failed)
		return err
	}
	cur := r.current.Load()
	if cur != nil && cur.Version == v.Version && cur.Digest == v.ArtifactDigest {
		r.behind.Store(0)
		return nil
	}
	if r.rejected == keyOf(v) {
		r.behind.Store(int64(v.Version))
		return nil
	}
	log := r.log.WithFields(logrus.Fields{"version": v.Version, "artifact_key": v.ArtifactKey})
	if cur != nil {
		log = log.WithField("serving_version", cur.Version)
	}
	if m := r.ready[v.Version]; m != nil && m.Digest == v.ArtifactDigest {
		r.swap(cur, m)
		log.WithField("alias_seconds", time.Since(start).Seconds()).Info("serving: model swapped in from memory")
		r.observe(Loaded)
		return nil
	}
	fetched := time.Now()
	data, err := r.cfg.Store.Get(ctx, v.ArtifactKey)
	if err != nil {
		err = fmt.Errorf("serving: load version %d: %w", v.Version, err)
		r.behind.Store(int64(v.Version))
		keeping(log, cur).WithError(err).Error("serving: cannot fetch the alias's model")
		r.observe(Failed)
		return err
	}
	verified := time.Now()
	m, err := Load(v, data)
	if err != nil {
		// The file will not get better: do not fetch it on every tick.
		r.rejected = keyOf(v)
		r.behind.Store(int64(v.Version))
		keeping(log, cur).WithError(err).Error("serving: the alias's model is rejected")
		r.observe(Failed)
		return err
	}
	r.swap(cur, m)
	log.WithFields(logrus.Fields{
		"labels": len(m.Labels), "bytes": len(data),
		// Where the time went: reading the alias, fetching the file, and
		// verifying, decoding and smoke-testing it.
		"alias_seconds": fetched.Sub(start).Seconds(), "fetch_seconds": verified.Sub(fetched).Seconds(),
		"verify_seconds": time.Since(verified).Seconds(),
	}).Info("serving: model loaded and swapped in")
	r.observe(Loaded)
	return nil
}

// swap serves m instead of cur, keeping cur ready for a rollback.
func (r *Reloader) swap(cur, m *Model) {
	r.current.Store(m)
	r.behind.Store(0)
	r.rejected = versionKey{}
	delete(r.ready, m.Version)
	if cur != nil {
		r.ready[cur.Version] = cur
		r.previous = cur.Version
	}
}

// preload loads the versions of the standby aliases that are not in
// memory yet, and forgets the models that are no longer likely to be
// served next.
func (r *Reloader) preload(ctx context.Context) {
	keep := map[int]bool{r.previous: true}
	cur := r.current.Load()
	for _, alias := range r.cfg.Standby {
		log := r.log.WithField("standby", alias)
		v, err := r.cfg.Registry.Alias(ctx, r.cfg.Model, alias)
		if errors.Is(err, registry.ErrNotFound) {
			continue
		}
		if err != nil {
			if r.aliasFailures > 0 {
				return // said already: the registry does not answer
			}
			log.WithError(err).Warn("serving: cannot read a standby alias")
			return // keep what is ready until the registry answers
		}
		keep[v.Version] = true
		if m := r.ready[v.Version]; (m != nil && m.Digest == v.ArtifactDigest) ||
			(cur != nil && cur.Version == v.Version) || r.rejectedStandby == keyOf(v) {
			continue
		}
		log = log.WithField("version", v.Version)
		m, rejected, err := r.fetch(ctx, v)
		if rejected {
			r.rejectedStandby = keyOf(v)
			log.WithError(err).Warn("serving: standby version rejected; promoting it would keep the current model")
			continue
		}
		if err != nil {
			log.WithError(err).Warn("serving: cannot fetch a standby version; it loads when it is promoted")
			continue
		}
		r.ready[v.Version] = m
		log.Info("serving: standby version loaded, ready to be swapped in")
	}
	for version := range r.ready {
		if !keep[version] {
			delete(r.ready, version)
		}
	}
}

// fetch gets version v's file and loads it. rejected says the file failed
// its checks, as it always will: its content is the one its digest names.
// Otherwise an error is a fetch that may succeed later.
func (r *Reloader) fetch(ctx context.Context, v registry.Version) (m *Model, rejected bool, err error) {
	data, err := r.cfg.Store.Get(ctx, v.ArtifactKey)
	if err != nil {
		return nil, false, err
	}
	if m, err = Load(v, data); err != nil {
		return nil, true, err
	}
	return m, false, nil
}

func (r *Reloader) observe(res Result) {
	if r.cfg.Observe != nil {
		r.cfg.Observe(res)
	}
}

// Load checks a model file against its registry version and smoke-tests
// it: the file's SHA-256 must be the digest the registry recorded, the
// file must decode, and a prediction must give sensible probabilities.
func Load(v registry.Version, data []byte) (*Model, error) {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != v.ArtifactDigest {
		return nil, fmt.Errorf("serving: version %d: model file hashes to %s, the registry recorded %s", v.Version, got, v.ArtifactDigest)
	}
	m, err := model.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("serving: version %d: %w", v.Version, err)
	}
	if err := smoke(m); err != nil {
		return nil, fmt.Errorf("serving: version %d: smoke prediction: %w", v.Version, err)
	}
	return &Model{Model: m, Name: v.Model, Version: v.Version, Digest: v.ArtifactDigest, LoadedAt: time.Now()}, nil
}

// smoke runs one prediction and checks that it is well formed. A model
// that decodes but panics or answers nonsense must not reach callers.
func smoke(m *model.Model) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("prediction panicked: %v", p)
		}
	}()
	k := min(3, len(m.Labels))
	p := m.Predict(smokeTitle, smokeBody, k)
	if len(p.Top) != k {
		return fmt.Errorf("asked for the top %d labels, got %d", k, len(p.Top))
	}
	if p.Best.Code == "" || p.Best != p.Top[0] {
		return errors.New("the best label is empty or not the first of the top labels")
	}
	total := 0.0
	for i, s := range p.Top {
		if math.IsNaN(s.Prob) || s.Prob < 0 || s.Prob > 1 {
			return fmt.Errorf("label %s has probability %v", s.Code, s.Prob)
		}
		if i > 0 && s.Prob > p.Top[i-1].Prob {
			return errors.New("top labels are not sorted by probability")
		}
		total += s.Prob
	}
	if total > 1+probabilityTolerance {
		return fmt.Errorf("top probabilities sum to %v", total)
	}
	return nil
}
